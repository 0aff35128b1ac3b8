"""The face3d section of ``vivid demo``: ``vivid face`` on the two bundled real portraits (input,
overlay, the mesh from the side, the strongest ARKit-52 weights), with each portrait's source and terms."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vivid.core.report import Report

PORTRAITS = ("astronaut_portrait.jpg", "grace_hopper_portrait.jpg")


def picture_row(rec, image: np.ndarray, results, size: int = 256) -> np.ndarray:
    """input | overlay | mesh from the side, each ``size`` high, uint8 (size, W, 3)."""
    from PIL import Image

    def fit(a: np.ndarray) -> np.ndarray:
        h, w = a.shape[:2]
        return np.asarray(Image.fromarray(a).resize((max(1, round(w * size / h)), size), Image.BILINEAR))

    side = rec.side_view(results[0], size) if results else np.full((size, size, 3), 255, np.uint8)
    return np.concatenate([fit(image), fit(rec.overlay(image, results)), side], axis=1)


def run_demo(out_dir: Path, report: Report, *, device: str = "cpu", quick: bool = False) -> None:
    from vivid.core.assets import demo_input
    from vivid.core.fileio import read_image, write_image
    from vivid.face3d.apply import FaceReconstructor
    from vivid.face3d.export import arkit_weights

    rec = FaceReconstructor("face3d-default", device=device)
    report.section("face3d", "vivid face on two real portraits shipped in vivid/assets: the input, the reconstruction "
                             "rendered over it with the detected landmarks, and the mesh from the side. The model was "
                             "trained on synthetic faces (and a few real portraits, not these).")
    rows = []
    for name in PORTRAITS:
        item = demo_input(name)
        image = read_image(item.path)
        results = rec.reconstruct(image)
        pic = picture_row(rec, image, results)
        path = Path(out_dir) / f"face3d_{Path(name).stem}.png"
        write_image(path, pic)
        report.image(path, item.credit())
        if results:
            w = arkit_weights(results[0].expression, rec.expression_names)
            top = sorted(w.items(), key=lambda kv: -kv[1])[:6]
            rows.append({"portrait": name, **{f"#{i + 1}": f"{k} {v:.2f}" for i, (k, v) in enumerate(top)}})
        else:
            rows.append({"portrait": name, "#1": "no face found"})
    report.table(rows, "The six strongest of the 52 ARKit-named expression weights per portrait.")
