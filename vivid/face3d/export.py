"""Mesh and expression exports: OBJ (+ MTL, UV texture from the photo, per-vertex albedo as vertex
colours), PLY (vertex colours), GLB (positions, normals, colours, UVs), and the 52 expression
weights named as ARKit names its blendshapes."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import torch

from vivid.core.fileio import atomic_write, write_image

__all__ = ["write_obj", "write_ply", "write_glb", "arkit_weights", "uv_texture", "ARKIT_NAMES"]

# ARKit's 52 blendshape locations (ARFaceAnchor.BlendShapeLocation raw values), as the head
# model's facial actions are named.
ARKIT_NAMES = (
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight", "cheekPuff",
    "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft", "eyeLookDownRight",
    "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight",
    "eyeSquintLeft", "eyeSquintRight", "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft", "jawOpen", "jawRight",
    "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight", "mouthFunnel",
    "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft", "mouthPressRight", "mouthPucker",
    "mouthRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthSmileLeft",
    "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight",
    "noseSneerLeft", "noseSneerRight", "tongueOut",
)  # fmt: skip


def arkit_weights(expression: np.ndarray, names: list[str]) -> dict[str, float]:
    """(52,) weights in the model's order -> {ARKit name: weight} in ARKit's order."""
    by_name = dict(zip(names, np.asarray(expression, dtype=float)))
    missing = [n for n in ARKIT_NAMES if n not in by_name]
    if missing:
        raise ValueError(f"the face model lacks ARKit blendshapes {missing[:3]}")
    return {n: round(float(by_name[n]), 4) for n in ARKIT_NAMES}


def uv_texture(image: np.ndarray, cam_vertices: torch.Tensor, K: torch.Tensor, faces: torch.Tensor, uv: torch.Tensor,
               uv_faces: torch.Tensor, albedo: torch.Tensor, size: int = 256) -> np.ndarray:
    """A (size, size, 3) uint8 UV texture map: each texel takes the photo's colour where its surface
    point faces the camera and is not hidden, the per-vertex albedo elsewhere.

    Args:
        image: uint8 (H, W, 3); cam_vertices: (V, 3) camera frame; K: (3, 3) the photo's intrinsics;
        faces (F, 3), uv (T, 2), uv_faces (F, 3): the mesh and its UV layout; albedo (V, 3).
    """
    from vivid.core.geometry import project
    from vivid.core.render import interpolate, rasterize, vertex_normals

    H, W = image.shape[:2]
    flat = torch.stack([uv[:, 0] * size - 0.5, (1 - uv[:, 1]) * size - 0.5, torch.ones(len(uv))], -1)
    rast = rasterize(flat[None].float(), uv_faces, torch.eye(3), size, size)
    # attributes per UV point: its mesh vertex (any corner that uses it)
    vert_of_uv = torch.zeros(len(uv), dtype=torch.long)
    vert_of_uv[uv_faces.reshape(-1)] = faces.reshape(-1)
    normals = vertex_normals(cam_vertices[None], faces)[0]
    attrs = torch.cat([cam_vertices, normals, albedo], -1)[vert_of_uv]
    px = interpolate(attrs[None].float(), uv_faces, rast)[0]  # (S, S, 9)
    pos, nrm, alb = px[..., :3], px[..., 3:6], px[..., 6:]
    uvp = project(pos.reshape(-1, 3), K.float()).reshape(size, size, 2)
    facing = (nrm * -pos).sum(-1) > 0
    # hidden points: farther than the surface the camera sees at their pixel
    zbuf = rasterize(cam_vertices[None].float(), faces, K.float(), H, W).depth[0]
    u = uvp[..., 0].round().long().clamp(0, W - 1)
    v = uvp[..., 1].round().long().clamp(0, H - 1)
    inside = (uvp[..., 0] >= 0) & (uvp[..., 0] <= W - 1) & (uvp[..., 1] >= 0) & (uvp[..., 1] <= H - 1)
    seen = rast.mask[0] & facing & inside & ((pos[..., 2] - zbuf[v, u]).abs() < 0.01)
    photo = torch.from_numpy(image).float()[v, u] / 255.0
    tex = torch.where(seen[..., None], photo, alb)
    tex = torch.where(rast.mask[0][..., None], tex, torch.full_like(tex, 0.5))
    return (tex.clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def write_obj(path: str | Path, vertices: np.ndarray, faces: np.ndarray, *, colours: np.ndarray | None = None,
              uv: np.ndarray | None = None, uv_faces: np.ndarray | None = None, texture: np.ndarray | None = None) -> Path:
    """OBJ with optional vertex colours (``v x y z r g b``), UVs and a texture (``<stem>.mtl`` +
    ``<stem>_texture.png`` beside it). vertices (V, 3); faces (F, 3) 0-based; colours (V, 3) in [0, 1]."""
    path = Path(path)
    lines = []
    if texture is not None:
        mtl, png = path.with_suffix(".mtl"), path.with_name(path.stem + "_texture.png")
        write_image(png, texture)
        with atomic_write(mtl) as tmp:
            tmp.write_text(f"newmtl face\nKd 1 1 1\nmap_Kd {png.name}\n")
        lines += [f"mtllib {mtl.name}"]
    for i, v in enumerate(vertices):
        c = "" if colours is None else " " + " ".join(f"{x:.4f}" for x in colours[i])
        lines.append(f"v {v[0]:.6f} {v[1]:.6f} {v[2]:.6f}{c}")
    if uv is not None:
        lines += [f"vt {t[0]:.6f} {t[1]:.6f}" for t in uv]
    if texture is not None:
        lines.append("usemtl face")
    for k, f in enumerate(faces + 1):
        if uv is not None and uv_faces is not None:
            t = uv_faces[k] + 1
            lines.append(f"f {f[0]}/{t[0]} {f[1]}/{t[1]} {f[2]}/{t[2]}")
        else:
            lines.append(f"f {f[0]} {f[1]} {f[2]}")
    with atomic_write(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return path


def write_ply(path: str | Path, vertices: np.ndarray, faces: np.ndarray, colours: np.ndarray | None = None) -> Path:
    """Binary little-endian PLY with optional uint8 vertex colours (colours in [0, 1])."""
    V, F = len(vertices), len(faces)
    head = ["ply", "format binary_little_endian 1.0", f"element vertex {V}", "property float x", "property float y",
            "property float z"]
    if colours is not None:
        head += ["property uchar red", "property uchar green", "property uchar blue"]
    head += [f"element face {F}", "property list uchar int vertex_indices", "end_header"]
    vdt = [("p", "<f4", 3)] + ([("c", "u1", 3)] if colours is not None else [])
    vrec = np.zeros(V, dtype=vdt)
    vrec["p"] = vertices
    if colours is not None:
        vrec["c"] = np.clip(np.round(np.asarray(colours) * 255), 0, 255)
    frec = np.zeros(F, dtype=[("n", "u1"), ("i", "<i4", 3)])
    frec["n"], frec["i"] = 3, faces
    with atomic_write(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(("\n".join(head) + "\n").encode())
            f.write(vrec.tobytes())
            f.write(frec.tobytes())
    return Path(path)


def write_glb(path: str | Path, vertices: np.ndarray, faces: np.ndarray, *, colours: np.ndarray | None = None,
              normals: np.ndarray | None = None) -> Path:
    """Binary glTF 2.0 with one mesh: POSITION, optional NORMAL and COLOR_0, uint32 indices.
    Written as is (camera frame: x right, y down, z forward)."""
    arrays = [("POSITION", np.asarray(vertices, np.float32), "VEC3")]
    if normals is not None:
        arrays.append(("NORMAL", np.asarray(normals, np.float32), "VEC3"))
    if colours is not None:
        arrays.append(("COLOR_0", np.asarray(colours, np.float32), "VEC3"))
    blob, views, accessors, attrs = b"", [], [], {}
    for name, arr, kind in arrays:
        views.append({"buffer": 0, "byteOffset": len(blob), "byteLength": arr.nbytes, "target": 34962})
        acc = {"bufferView": len(views) - 1, "componentType": 5126, "count": len(arr), "type": kind}
        if name == "POSITION":
            acc["min"], acc["max"] = arr.min(0).tolist(), arr.max(0).tolist()
        accessors.append(acc)
        attrs[name] = len(accessors) - 1
        blob += arr.tobytes()
    idx = np.asarray(faces, np.uint32).reshape(-1)
    views.append({"buffer": 0, "byteOffset": len(blob), "byteLength": idx.nbytes, "target": 34963})
    accessors.append({"bufferView": len(views) - 1, "componentType": 5125, "count": len(idx), "type": "SCALAR"})
    blob += idx.tobytes()
    blob += b"\0" * (-len(blob) % 4)
    meta = {"asset": {"version": "2.0", "generator": "vivid face3d"}, "scene": 0, "scenes": [{"nodes": [0]}],
            "nodes": [{"mesh": 0, "name": "face"}],
            "meshes": [{"primitives": [{"attributes": attrs, "indices": len(accessors) - 1}]}],
            "buffers": [{"byteLength": len(blob)}], "bufferViews": views, "accessors": accessors}
    js = json.dumps(meta).encode()
    js += b" " * (-len(js) % 4)
    total = 12 + 8 + len(js) + 8 + len(blob)
    with atomic_write(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(struct.pack("<III", 0x46546C67, 2, total))
            f.write(struct.pack("<II", len(js), 0x4E4F534A) + js)
            f.write(struct.pack("<II", len(blob), 0x004E4942) + blob)
    return Path(path)
