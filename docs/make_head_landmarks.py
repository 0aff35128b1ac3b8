"""How the 68 face landmark vertices of vivid.core.body.HeadModel were chosen, and their picture.

Run from the repository root: ``python docs/make_head_landmarks.py``. It prints the vertex
indices (kept as ``HEAD_LANDMARK_VERTICES`` in vivid/core/body.py) and writes
docs/head_landmarks.png. The layout is the usual 68-point one (0-16 jaw line from the subject's
right, 17-26 brows, 27-30 nose bridge, 31-35 nose base, 36-47 eyes, 48-59 outer lips, 60-67
inner lips), found on the rest head of the default phenotype from the mesh and Anny's own
assets: eyelid rims are the edges between skin and eye faces, the inner lip line the edges
between skin and mouth-cavity faces (Anny's face segmentation), the outer lip line and the jaw
line the borders of Anny's lips and face skin masks (MPFB textures, sampled at the vertices'
texture coordinates); brows and nose points come from the midline profile and fixed offsets from
the eyes.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from vivid.core.body import _texture_mask  # per-vertex mean of one of Anny's UV mask textures

DOCS = Path(__file__).resolve().parent


def _face_labels(model) -> dict[str, torch.Tensor]:
    from anny.face_segmentation import get_face_segmentation_mask

    names = ["head", "eye_cavity.L", "eye_cavity.R", "eye_front.L", "eye_front.R", "eye_back.L", "mouth_cavity",
             "tongue"]
    return {n: get_face_segmentation_mask(model, [n]) for n in names}


def _border(faces: torch.Tensor, a: torch.Tensor, b: torch.Tensor, n: int) -> torch.Tensor:
    """Vertices shared by a face of set ``a`` and a face of set ``b`` (bool face masks)."""
    in_a = torch.zeros(n, dtype=torch.bool)
    in_b = torch.zeros(n, dtype=torch.bool)
    in_a[faces[a].reshape(-1)] = True
    in_b[faces[b].reshape(-1)] = True
    return in_a & in_b


def _vertex_border(faces: torch.Tensor, inside: torch.Tensor, domain: torch.Tensor) -> torch.Tensor:
    """Vertices of ``inside`` (bool per vertex) with a neighbour in ``domain & ~inside``."""
    e = torch.cat([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    e = torch.cat([e, e.flip(1)])
    out = torch.zeros_like(inside)
    hit = inside[e[:, 0]] & domain[e[:, 1]] & ~inside[e[:, 1]]
    out[e[hit, 0]] = True
    return out


def select_landmarks(model) -> list[int]:
    """The 68 landmark vertex indices on an Anny head model (rig 'makehuman-head', topology 'head')."""
    with torch.no_grad():
        v = model()["vertices"][0].float()
    faces = model.faces
    n = v.shape[0]
    labels = _face_labels(model)
    skin_f = labels["head"]
    skin = torch.zeros(n, dtype=torch.bool)
    skin[faces[skin_f].reshape(-1)] = True
    normals = torch.zeros_like(v)
    fn = torch.linalg.cross(v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 0]])
    for k in range(3):
        normals.index_add_(0, faces[:, k], fn)
    normals = torch.nn.functional.normalize(normals, dim=1)
    front = skin & (normals[:, 1] < -0.3)  # facing forwards (-y)
    x, y, z = v[:, 0], v[:, 1], v[:, 2]

    def nearest(cands: torch.Tensor, px: float, pz: float) -> int:
        idx = torch.nonzero(cands).squeeze(1)
        d = (x[idx] - px) ** 2 + (z[idx] - pz) ** 2
        return int(idx[torch.argmin(d)])

    def nearest_x(cands: torch.Tensor, px: float) -> int:
        idx = torch.nonzero(cands).squeeze(1)
        return int(idx[torch.argmin((x[idx] - px).abs())])

    # Eyes: rims between skin and eye faces. Body x is the subject's left.
    eyes = {}
    for side, sign in (("R", -1.0), ("L", 1.0)):
        eye_f = labels[f"eye_cavity.{side}"] | labels[f"eye_front.{side}"]
        if side == "L":
            eye_f = eye_f | labels["eye_back.L"]
        rim = _border(faces, skin_f, eye_f, n) & (sign * x > 0)
        idx = torch.nonzero(rim).squeeze(1)
        outer = int(idx[torch.argmax(sign * x[idx])])
        inner = int(idx[torch.argmin(sign * x[idx])])
        zmid = 0.5 * (z[outer] + z[inner])
        xo, xi = float(x[outer]), float(x[inner])
        up = rim & (z > zmid)
        low = rim & (z < zmid)
        eyes[side] = dict(
            outer=outer, inner=inner, zmid=float(zmid), width=abs(xo - xi),
            up=[nearest_x(up, xo + (xi - xo) * s) for s in (1 / 3, 2 / 3)],
            low=[nearest_x(low, xo + (xi - xo) * s) for s in (1 / 3, 2 / 3)],
        )
    eye_z = 0.5 * (eyes["R"]["zmid"] + eyes["L"]["zmid"])
    icd = float(x[eyes["L"]["inner"]] - x[eyes["R"]["inner"]])  # inner canthal distance

    # Lips: outer line = border of the lips mask, inner line = border with the mouth cavity.
    lips = _texture_mask(model, "mpfb_lips.jpg") > 0.5
    outer_line = _vertex_border(faces, lips & skin, skin) & front
    inner_line = _border(faces, skin_f, labels["mouth_cavity"], n)
    idx = torch.nonzero(outer_line).squeeze(1)
    m_r, m_l = int(idx[torch.argmin(x[idx])]), int(idx[torch.argmax(x[idx])])
    half = 0.5 * float(x[m_l] - x[m_r])
    zc = 0.5 * float(z[m_r] + z[m_l])
    upper_o = outer_line & (z > zc)
    lower_o = outer_line & (z < zc)
    top = [nearest_x(upper_o, s * half) for s in (-0.6, -0.25, 0.0, 0.25, 0.6)]
    bottom = [nearest_x(lower_o, s * half) for s in (0.6, 0.25, 0.0, -0.25, -0.6)]
    idx = torch.nonzero(inner_line).squeeze(1)
    i_r, i_l = int(idx[torch.argmin(x[idx])]), int(idx[torch.argmax(x[idx])])
    ihalf = 0.5 * float(x[i_l] - x[i_r])
    # The closed lips meet along the inner line: split it by which lip (above or below the
    # line between the corners, measured on the neighbouring outer-lip points) a vertex is nearer.
    zi = 0.5 * float(z[i_r] + z[i_l])
    upper_i = inner_line & (z >= zi)
    lower_i = inner_line & (z < zi)
    if not lower_i.any():
        lower_i = inner_line
    inner_up = [nearest_x(upper_i, s * ihalf) for s in (-0.5, 0.0, 0.5)]
    inner_low = [nearest_x(lower_i, s * ihalf) for s in (0.5, 0.0, -0.5)]

    # Nose: midline profile between the eyes and the upper lip.
    midline = skin & (x.abs() < 2e-3) & (y < 0)
    z_lip_top = float(z[top[2]])
    band = midline & (z > z_lip_top) & (z < eye_z)
    idx = torch.nonzero(band).squeeze(1)
    tip = int(idx[torch.argmin(y[idx])])
    nasion = nearest(midline & (y < float(y[tip]) + 0.04), 0.0, eye_z)
    bridge = [nearest(midline, 0.0, float(z[nasion] + (z[tip] - z[nasion]) * s)) for s in (1 / 3, 2 / 3)]
    # Subnasale: the deepest (largest y) midline point between the tip and the upper lip, above
    # the lip's own bulge.
    below = midline & (z < float(z[tip])) & (z > z_lip_top + 0.35 * (float(z[tip]) - z_lip_top))
    idx = torch.nonzero(below).squeeze(1)
    subnasale = int(idx[torch.argmax(y[idx])])
    zb = float(z[subnasale]) + 0.003
    base = [nearest(front, s * icd, zb) for s in (-0.45, -0.22)] + [subnasale] + [
        nearest(front, s * icd, zb) for s in (0.22, 0.45)]

    # Brows: five points per side above each eye, from outside in (subject's right first).
    brows = []
    for side, order in (("R", (0, 1, 2, 3, 4)), ("L", (4, 3, 2, 1, 0))):
        e = eyes[side]
        xo, xi = float(x[e["outer"]]), float(x[e["inner"]])
        w = xi - xo
        pts = []
        for k in order:
            s = k / 4
            px = xo - 0.25 * w + s * 1.3 * w
            pz = e["zmid"] + 0.013 + 0.005 * math.sin(math.pi * (0.2 + 0.7 * s))
            pts.append(nearest(front, px, pz))
        brows += pts

    # Jaw: 17 points evenly spaced along the lower border of the face skin mask, from the
    # subject's right (level with the eyes' lower lids) round the chin.
    face = _texture_mask(model, "mpfb_face.jpg") > 0.5
    rim = _vertex_border(faces, face & skin, skin) & (z < eye_z - 0.012)
    idx = torch.nonzero(rim).squeeze(1)
    ang = torch.atan2(x[idx], -(z[idx] - eye_z))  # 0 straight down, -pi/2 towards the right
    radius = torch.hypot(x[idx], z[idx] - eye_z)
    # The mask's border also runs round the lips; keep the outermost border in each direction.
    outer = torch.tensor([bool(radius[i] >= radius[(ang - ang[i]).abs() < 0.05].max() - 0.005)
                          for i in range(len(idx))])
    idx, ang = idx[outer], ang[outer]
    order = torch.argsort(ang)
    idx = idx[order]
    pts = torch.stack([x[idx], z[idx]], 1)
    seg = (pts[1:] - pts[:-1]).norm(dim=1)
    arc = torch.cat([torch.zeros(1), seg.cumsum(0)])
    jaw = [int(idx[torch.argmin((arc - arc[-1] * k / 16).abs())]) for k in range(17)]

    r, lf = eyes["R"], eyes["L"]
    right_eye = [r["outer"], r["up"][0], r["up"][1], r["inner"], r["low"][1], r["low"][0]]
    left_eye = [lf["inner"], lf["up"][1], lf["up"][0], lf["outer"], lf["low"][0], lf["low"][1]]
    landmarks = (jaw + brows + [nasion, *bridge, tip] + base + right_eye + left_eye + [m_r, *top, m_l, *bottom]
                 + [i_r, *inner_up, i_l, *inner_low])
    assert len(landmarks) == 68
    # The mesh is left-right symmetric: take the subject's right side (and the midline) as found
    # above and mirror it, so that both sides are the same anatomical points.
    mirror_pairs = [(i, 16 - i) for i in range(8)] + [(17 + i, 26 - i) for i in range(5)] + [
        (31, 35), (32, 34), (36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46), (48, 54), (49, 53),
        (50, 52), (59, 55), (58, 56), (60, 64), (61, 63), (67, 65)]
    for right, left in mirror_pairs:
        target = v[landmarks[right]] * torch.tensor([-1.0, 1.0, 1.0])
        landmarks[left] = int(torch.argmin((v - target).norm(dim=1)))
    return landmarks


def make_picture(path: Path = DOCS / "head_landmarks.png") -> Path:
    from vivid.core import render as R
    from vivid.core.body import HeadModel
    from vivid.core.geometry import project

    head = HeadModel()
    with torch.no_grad():
        out = head()
    size = 640
    K = R.intrinsics(2600.0, 2600.0, (size - 1) / 2, (size - 1) / 2)
    rot = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    centre = out.vertices[0].mean(0)
    t = torch.tensor([0.0, 0.0, 0.75]) - centre @ rot.T
    verts = out.vertices @ rot.T + t
    img = R.render(verts, head.faces, K, size, size, albedo=head.albedo(), background=torch.ones(3), supersample=2)
    pil = Image.fromarray((img.rgb[0].clamp(0, 1).permute(1, 2, 0).numpy() * 255).astype(np.uint8))
    uv = project(out.landmarks[0] @ rot.T + t, K).numpy()
    d = ImageDraw.Draw(pil)
    for i, (px, py) in enumerate(uv):
        d.ellipse([px - 3, py - 3, px + 3, py + 3], fill=(230, 30, 30), outline=(0, 0, 0))
        d.text((px + 4, py - 12), str(i), fill=(0, 0, 120))
    d.text((8, 8), "HeadModel landmarks (68-point layout) on the rest head", fill=(0, 0, 0))
    pil.save(path)
    return path


if __name__ == "__main__":
    from vivid.core.body import HeadModel

    head = HeadModel()
    print(select_landmarks(head.anny))
    print(make_picture())
