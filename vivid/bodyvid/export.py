"""Exports of a predicted body animation: per-frame meshes (OBJ, PLY), glTF binary (GLB) with the
Anny mesh, its skeleton, skinning and the animation with root motion, and BVH (the skeleton of
the predicted bones with root motion).

Frames: the predictions are in the camera frame (x right, y down, z forward). Both animation
formats use y up: glTF with the camera's x, -y, -z (the person faces +z, towards the viewer when
the camera saw the front), BVH the same. Root motion is the pelvis path relative to its place in
the first frame. Lengths: metres in glTF, centimetres in BVH.

The GLB is written with numpy and json only (no glTF library): one buffer, little-endian, four
joint influences per vertex (Anny's largest four, renormalised), linear keyframes at the frames'
own timestamps. Its bind pose is Anny's rest pose (inverse bind matrices = inverse rest bone
poses), so glTF skinning reproduces Anny's linear blend skinning exactly up to the dropped
influences.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np
import torch

from vivid.core.errors import VividError
from vivid.core.fileio import atomic_write

# Camera frame (y down, z forward) -> y-up frames of glTF and BVH.
CAMERA_TO_YUP = np.diag([1.0, -1.0, -1.0])
# Anny's body frame (x left, y back, z up) -> BVH's local axes (y up, z the subject's front).
BODY_TO_BVH = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


# ----------------------------------------------------------------------------- meshes


def write_obj(path: str | os.PathLike, vertices: np.ndarray, faces: np.ndarray) -> None:
    """(V, 3) vertices and (F, 3) 0-based faces -> Wavefront OBJ (atomic)."""
    lines = [f"v {x:.5f} {y:.5f} {z:.5f}" for x, y, z in np.asarray(vertices, dtype=np.float64)]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in np.asarray(faces)]
    with atomic_write(path) as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n")


def write_ply(path: str | os.PathLike, vertices: np.ndarray, faces: np.ndarray) -> None:
    """(V, 3) vertices and (F, 3) faces -> binary little-endian PLY (atomic)."""
    v = np.asarray(vertices, dtype="<f4")
    f = np.asarray(faces, dtype="<i4")
    header = (f"ply\nformat binary_little_endian 1.0\nelement vertex {len(v)}\nproperty float x\nproperty float y\n"
              f"property float z\nelement face {len(f)}\nproperty list uchar int vertex_indices\nend_header\n")  # fmt: skip
    rows = np.empty(len(f), dtype=[("n", "u1"), ("i", "<i4", (3,))])
    rows["n"], rows["i"] = 3, f
    with atomic_write(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(header.encode())
            fh.write(v.tobytes())
            fh.write(rows.tobytes())


# ----------------------------------------------------------------------------- animation data


def _quaternions(R: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotations -> (..., 4) unit quaternions (x, y, z, w), as glTF stores them."""
    from scipy.spatial.transform import Rotation

    shape = R.shape[:-2]
    q = Rotation.from_matrix(R.reshape(-1, 3, 3)).as_quat()
    q = q.reshape(*shape, 4)
    if q.ndim == 3:  # (T, J, 4) keys: consecutive ones on one hemisphere, so interpolation takes the short way
        for t in range(1, q.shape[0]):
            flip = (q[t] * q[t - 1]).sum(-1) < 0
            q[t, flip] *= -1
    return q


def body_animation(rotations: np.ndarray, phenotype: np.ndarray, root: np.ndarray) -> dict[str, np.ndarray]:
    """Posed bone transforms of an animation through :class:`vivid.core.body.BodyModel`.

    Args:
        rotations: (T, 24, 3, 3) :data:`vivid.bodyvid.skeleton.BONES` rotations per frame.
        phenotype: (6,) the body's shape (one for the whole animation).
        root: (T, 3) pelvis positions, camera frame, metres.
    Returns:
        ``rest_vertices`` (V, 3) and ``rest_poses`` (J, 4, 4) of the rest pose, ``poses`` (T, J, 4, 4)
        world bone poses (y-up frame, root motion from the first frame), ``faces``, ``parents``,
        ``names``, ``weights`` and ``indices`` (V, K) of the skinning.
    """
    from vivid.bodyvid.skeleton import full_pose, shared_body_model

    body = shared_body_model()
    a = body.anny
    phen = torch.as_tensor(np.asarray(phenotype, dtype=np.float32)).view(1, 6)
    with torch.no_grad():
        coef = a._get_phenotype_blendshape_coefficients(phen, torch.zeros(1, 0), torch.zeros(1, 0))
        rest = a.get_rest_model(coef)
        poses = []
        rot = torch.as_tensor(np.asarray(rotations, dtype=np.float32))
        for chunk in rot.split(32):
            pose, glob = full_pose(chunk, body.bone_names)
            poses.append(body(pose=pose, phenotype=phen, global_rot=glob).bone_poses.double())
    P = torch.cat(poses).numpy()
    # Root motion: the pelvis path relative to the first frame, all in the y-up frame.
    shift = np.asarray(root, dtype=np.float64) - np.asarray(root, dtype=np.float64)[:1]
    Y = np.eye(4)
    Y[:3, :3] = CAMERA_TO_YUP
    P = Y @ P
    P[..., :3, 3] += (shift @ CAMERA_TO_YUP.T)[:, None]
    return {
        "rest_vertices": rest["rest_vertices"][0].double().numpy(),
        "rest_poses": rest["rest_bone_poses"][0].double().numpy(),
        "poses": P,
        "faces": body.faces.numpy(),
        "parents": np.asarray(body.bone_parents),
        "names": list(body.bone_names),
        "weights": a.vertex_bone_weights.double().numpy(),
        "indices": a.vertex_bone_indices.long().numpy(),
    }


# ----------------------------------------------------------------------------- glTF


class _Buffer:
    """The GLB's binary chunk and its buffer views and accessors."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.views: list[dict] = []
        self.accessors: list[dict] = []

    def add(self, array: np.ndarray, kind: str, component: int, *, target: int | None = None,
            minmax: bool = False) -> int:  # fmt: skip
        while len(self.data) % 4:
            self.data.append(0)
        raw = np.ascontiguousarray(array).tobytes()
        view = {"buffer": 0, "byteOffset": len(self.data), "byteLength": len(raw)}
        if target is not None:
            view["target"] = target
        self.views.append(view)
        self.data.extend(raw)
        count = int(array.shape[0])
        acc = {"bufferView": len(self.views) - 1, "componentType": component, "count": count, "type": kind}
        if minmax:
            flat = array.reshape(count, -1)
            acc["min"] = [float(v) for v in flat.min(0)]
            acc["max"] = [float(v) for v in flat.max(0)]
        self.accessors.append(acc)
        return len(self.accessors) - 1


_FLOAT, _UINT, _USHORT = 5126, 5125, 5123


def _local_transforms(world: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """(..., J, 4, 4) world transforms -> local ones relative to each parent."""
    local = world.copy()
    for j, p in enumerate(parents):
        if p >= 0:
            local[..., j, :, :] = np.linalg.inv(world[..., p, :, :]) @ world[..., j, :, :]
    return local


def write_glb(path: str | os.PathLike, anim: dict[str, np.ndarray], times: np.ndarray, *, influences: int = 4) -> None:
    """Write an animated, skinned Anny body (``anim`` from :func:`body_animation`) as a GLB.

    ``times``: (T,) seconds of the frames. One node per bone (bind pose: Anny's rest pose in the
    y-up frame), a skinned mesh node, and one animation: every bone's rotation and the root's
    translation (root motion), keyed at every frame.
    """
    times = np.asarray(times, dtype=np.float32)
    poses, parents, names = anim["poses"], np.asarray(anim["parents"]), anim["names"]
    T, J = poses.shape[:2]
    if len(times) != T:
        raise ValueError(f"{len(times)} times for {T} frames")
    Y = np.eye(4)
    Y[:3, :3] = CAMERA_TO_YUP
    bind = Y @ anim["rest_poses"]  # (J, 4, 4) world bind pose
    verts = (anim["rest_vertices"] @ CAMERA_TO_YUP.T).astype(np.float32)
    order = np.argsort(-anim["weights"], axis=1)[:, :influences]
    w = np.take_along_axis(anim["weights"], order, 1)
    w = (w / w.sum(1, keepdims=True)).astype(np.float32)
    idx = np.take_along_axis(anim["indices"], order, 1).astype(np.uint16)

    buf = _Buffer()
    pos = buf.add(verts, "VEC3", _FLOAT, target=34962, minmax=True)
    ind = buf.add(anim["faces"].astype(np.uint32).reshape(-1), "SCALAR", _UINT, target=34963)
    jnt = buf.add(idx, "VEC4", _USHORT, target=34962)
    wgt = buf.add(w, "VEC4", _FLOAT, target=34962)
    # glTF matrices are column-major: a transposed row-major matrix has the same bytes.
    ibm = buf.add(np.linalg.inv(bind).transpose(0, 2, 1).astype(np.float32).reshape(J, 16), "MAT4", _FLOAT)

    bind_local = _local_transforms(bind, parents)
    bind_q = _quaternions(bind_local[:, :3, :3])
    nodes = []
    for j in range(J):
        node = {"name": names[j], "rotation": bind_q[j].tolist(), "translation": bind_local[j, :3, 3].tolist()}
        kids = [int(c) for c in np.nonzero(parents == j)[0]]
        if kids:
            node["children"] = kids
        nodes.append(node)
    nodes.append({"name": "anny", "mesh": 0, "skin": 0})
    roots = [int(j) for j in np.nonzero(parents < 0)[0]]

    local = _local_transforms(poses, parents)
    quats = _quaternions(local[..., :3, :3])  # (T, J, 4)
    t_in = buf.add(times, "SCALAR", _FLOAT, minmax=True)
    samplers, channels = [], []

    def key(node: int, path: str, values: np.ndarray) -> None:
        samplers.append({"input": t_in, "output": buf.add(values.astype(np.float32), "VEC4" if path == "rotation" else "VEC3",
                                                          _FLOAT), "interpolation": "LINEAR"})  # fmt: skip
        channels.append({"sampler": len(samplers) - 1, "target": {"node": node, "path": path}})

    for j in range(J):
        key(j, "rotation", quats[:, j])
    for j in roots:
        key(j, "translation", local[:, j, :3, 3])
    gltf = {
        "asset": {"version": "2.0", "generator": "vivid bodyvid"},
        "scene": 0,
        "scenes": [{"nodes": [*roots, J]}],
        "nodes": nodes,
        "meshes": [{"name": "anny", "primitives": [{"attributes": {"POSITION": pos, "JOINTS_0": jnt, "WEIGHTS_0": wgt},
                                                     "indices": ind, "mode": 4}]}],  # fmt: skip
        "skins": [{"joints": list(range(J)), "inverseBindMatrices": ibm, "skeleton": roots[0]}],
        "animations": [{"name": "bodyvid", "samplers": samplers, "channels": channels}],
        "buffers": [{"byteLength": len(buf.data)}],
        "bufferViews": buf.views,
        "accessors": buf.accessors,
    }
    _write_glb_container(path, gltf, bytes(buf.data))


def _write_glb_container(path: str | os.PathLike, gltf: dict, binary: bytes) -> None:
    text = json.dumps(gltf, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)
    binary += b"\0" * (-len(binary) % 4)
    total = 12 + 8 + len(text) + 8 + len(binary)
    with atomic_write(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(struct.pack("<4sII", b"glTF", 2, total))
            fh.write(struct.pack("<I4s", len(text), b"JSON") + text)
            fh.write(struct.pack("<I4s", len(binary), b"BIN\0") + binary)


def read_glb(path: str | os.PathLike) -> tuple[dict, bytes]:
    """A GLB's JSON and binary chunk (VividError when the container is malformed)."""
    data = Path(path).read_bytes()
    if len(data) < 20 or data[:4] != b"glTF":
        raise VividError(f"{path} is not a GLB file")
    magic, version, total = struct.unpack("<4sII", data[:12])
    if version != 2 or total != len(data):
        raise VividError(f"{path}: GLB version {version}, length {total} of {len(data)} bytes")
    n, kind = struct.unpack("<I4s", data[12:20])
    if kind != b"JSON":
        raise VividError(f"{path}: the first GLB chunk is not JSON")
    gltf = json.loads(data[20 : 20 + n])
    off = 20 + n
    m, kind = struct.unpack("<I4s", data[off : off + 8])
    if kind != b"BIN\0":
        raise VividError(f"{path}: the second GLB chunk is not binary")
    return gltf, data[off + 8 : off + 8 + m]


def read_accessor(gltf: dict, binary: bytes, index: int) -> np.ndarray:
    """The array of accessor ``index`` of a GLB read with :func:`read_glb`."""
    acc = gltf["accessors"][index]
    view = gltf["bufferViews"][acc["bufferView"]]
    dtype = {_FLOAT: "<f4", _UINT: "<u4", _USHORT: "<u2"}[acc["componentType"]]
    width = {"SCALAR": 1, "VEC3": 3, "VEC4": 4, "MAT4": 16}[acc["type"]]
    start = view["byteOffset"] + acc.get("byteOffset", 0)
    out = np.frombuffer(binary, dtype=dtype, count=acc["count"] * width, offset=start)
    return out.reshape(acc["count"], width) if width > 1 else out


# ----------------------------------------------------------------------------- BVH


def _zxy_degrees(R: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotations -> (..., 3) intrinsic Z, X, Y angles in degrees (``R = Rz Rx Ry``)."""
    from scipy.spatial.transform import Rotation

    shape = R.shape[:-2]
    return Rotation.from_matrix(R.reshape(-1, 3, 3)).as_euler("ZXY", degrees=True).reshape(*shape, 3)


def bvh_clip(rotations: np.ndarray, reference_heads: np.ndarray, root: np.ndarray, times: np.ndarray):
    """The predicted skeleton as a :class:`vivid.synth.bvh.BvhClip` (centimetres, y up); joints
    named after :data:`vivid.bodyvid.skeleton.BONES` (``.`` as ``_``), in depth-first order.

    Args:
        rotations: (T, 24, 3, 3) :data:`vivid.bodyvid.skeleton.BONES` rotations (root: camera frame).
        reference_heads: (24, 3) bone heads of the body at its reference pose (identity pose), metres.
        root: (T, 3) pelvis positions, camera frame, metres (root motion from the first frame).
        times: (T,) seconds; the BVH frame time is their mean step.
    """
    from vivid.bodyvid.skeleton import BONE_PARENTS, BONES
    from vivid.synth.bvh import BvhClip, BvhJoint

    rotations = np.asarray(rotations, dtype=np.float64)
    T = rotations.shape[0]
    M = BODY_TO_BVH
    heads = np.asarray(reference_heads, dtype=np.float64) @ M.T * 100.0
    children = {p: [c for c, q in enumerate(BONE_PARENTS) if q == p] for p in range(-1, len(BONES))}
    # Depth-first order, as BVH lists joints (and as the writer emits them): channels follow it.
    order: list[int] = []
    stack = list(reversed(children[-1]))
    while stack:
        j = stack.pop()
        order.append(j)
        stack.extend(reversed(children[j]))
    slot = {j: k for k, j in enumerate(order)}
    joints = []
    for j in order:
        p = BONE_PARENTS[j]
        offset = heads[j] - heads[p] if p >= 0 else np.zeros(3)
        chans = (["Xposition", "Yposition", "Zposition"] if p < 0 else []) + ["Zrotation", "Xrotation", "Yrotation"]
        end = None if children[j] else np.array([0.0, 5.0, 0.0])
        joints.append(BvhJoint(BONES[j].replace(".", "_"), slot[p] if p >= 0 else -1, offset, chans, end))
    root_rot = CAMERA_TO_YUP @ rotations[:, 0] @ M.T
    local = M @ rotations[:, 1:] @ M.T
    pos = (np.asarray(root, dtype=np.float64) - np.asarray(root, dtype=np.float64)[:1]) @ CAMERA_TO_YUP.T * 100.0
    angles = _zxy_degrees(np.concatenate([root_rot[:, None], local], 1))[:, order]  # (T, 24, 3)
    motion = np.concatenate([pos, angles.reshape(T, -1)], 1)
    step = float(np.mean(np.diff(times))) if T > 1 else 1.0 / 30
    return BvhClip(joints, motion, step, "vivid body")


def write_bvh_file(path: str | os.PathLike, clip) -> None:
    from vivid.synth.bvh import write_bvh

    write_bvh(path, clip)
