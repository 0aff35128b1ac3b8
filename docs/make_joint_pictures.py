"""Draw the joint sets of vivid.core.body on the rendered Anny body (docs/joints_*.png).

Run from the repository root: ``python docs/make_joint_pictures.py``. The pictures are made with
vivid's own renderer and PIL; nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from vivid.core import render as R
from vivid.core.body import COCO_BONES, COCO_JOINTS, H36M_BONES, H36M_JOINTS, BodyModel
from vivid.core.geometry import project

DOCS = Path(__file__).resolve().parent

# Body frame (x = subject's left, y = back, z = up) -> camera frame (x right, y down, z forward).
FRONT = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
SIDE = torch.tensor([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])  # seen from its left


def _view(body: BodyModel, vertices: torch.Tensor, joints: torch.Tensor, rot: torch.Tensor, size: tuple[int, int],
          focal: float, distance: float, colours: np.ndarray | None = None, centre=(0.0, 0.05, 0.0)):
    H, W = size
    t = torch.tensor([0.0, 0.0, distance]) - torch.tensor(centre) @ rot.T
    K = R.intrinsics(focal, focal, (W - 1) / 2, (H - 1) / 2)
    v = vertices @ rot.T + t
    albedo = None if colours is None else torch.from_numpy(colours).float()
    out = R.render(v[None], body.faces, K, H, W, albedo=albedo, background=torch.tensor([1.0, 1.0, 1.0]),
                   supersample=3)
    img = (out.rgb[0].clamp(0, 1).permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    return Image.fromarray(img), project(joints @ rot.T + t, K).numpy()


def _draw(img: Image.Image, uv: np.ndarray, names: list[str], bones: list[tuple[int, int]], labels: bool) -> None:
    d = ImageDraw.Draw(img)
    for a, b in bones:
        d.line([tuple(uv[a]), tuple(uv[b])], fill=(40, 90, 200), width=2)
    for i, (x, y) in enumerate(uv):
        left = names[i].startswith(("l_", "left"))
        right = names[i].startswith(("r_", "right"))
        colour = (220, 40, 40) if left else (40, 160, 40) if right else (200, 120, 0)
        d.ellipse([x - 4, y - 4, x + 4, y + 4], fill=colour, outline=(0, 0, 0))
        if labels:
            text = f"{i} {names[i]}"
            tx = x + 7 if (left or not right) else x - 7 - 6 * len(text)
            ty = y + 6 if names[i] in ("pelvis",) else y - 6
            if names[i] == "pelvis":
                tx = x - 3 * len(text)
            d.text((tx, ty), text, fill=(0, 0, 0))


def make_pictures(out_dir: Path = DOCS) -> list[Path]:
    body = BodyModel()
    with torch.no_grad():
        out = body()
    verts = out.vertices[0]
    paths = []
    for name, names, bones in (("h36m", H36M_JOINTS, H36M_BONES), ("coco", COCO_JOINTS, COCO_BONES)):
        joints = out.joints[name][0]
        front, uv_f = _view(body, verts, joints, FRONT, (720, 520), 560.0, 2.6)
        side, uv_s = _view(body, verts, joints, SIDE, (720, 260), 560.0, 2.6)
        head_centre = joints[names.index("nose" if "nose" in names else "neck_nose")].tolist()
        head, uv_h = _view(body, verts, joints, FRONT, (360, 300), 2400.0, 2.6, centre=(0.0, 0.0, head_centre[2] - 0.02))
        _draw(front, uv_f, names, bones, labels=True)
        _draw(side, uv_s, names, bones, labels=False)
        _draw(head, uv_h, names, bones, labels=True)
        sheet = Image.new("RGB", (front.width + side.width + head.width, front.height), (255, 255, 255))
        sheet.paste(front, (0, 0))
        sheet.paste(side, (front.width, 0))
        sheet.paste(head, (front.width + side.width, 0))
        ImageDraw.Draw(sheet).text((8, 8), f"{name.upper()}-17 on Anny (front; side from the left; head). "
                                   "Red: left, green: right.", fill=(0, 0, 0))
        path = out_dir / f"joints_{name}.png"
        sheet.save(path)
        paths.append(path)
    return paths


if __name__ == "__main__":
    for p in make_pictures():
        print(p)
