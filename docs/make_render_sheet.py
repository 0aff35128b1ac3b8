"""Contact sheet of vivid.synth renders next to real frames: docs/renders_vs_real.png.

Run from the repository root: ``python docs/make_render_sheet.py`` (about a minute on a CPU).

Rows:

1. *real*: the real inputs shipped in ``vivid/assets`` (``basketball1.png`` and frames of
   ``vtest_clip.mp4``, both from Debian's ``opencv-doc``; a frame of ``bbb_clip.mp4``; see the
   licence files there);
2. *plain renders*: ``vivid synth``'s default (procedural backdrops and garments, no effects);
3. *renders with the realism of the training recipes*: HDR panorama backdrop and lighting,
   camera effects (motion blur, defocus, exposure, white balance, noise, JPEG), occluders and
   other people in front; the last cells are :class:`vivid.synth.people_scenes.PeopleScenes`
   images (several people, for detection).

What goes into the committed picture: only vivid's own renders and ``vivid/assets``. The renders
here use procedural backdrops and one HDR panorama that this script makes itself (a sky with a sun
over a ground plane, written with :func:`vivid.synth.hdr.write_hdr`), never the photos,
panoramas or garment photos of ``../shared/data``: a render over a shared background would be a
derived picture of it. ``--shared`` renders with the shared assets instead (for looking at the gap
locally); it writes ``docs/renders_vs_real_shared.png``, which must not be committed.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
sys.path.insert(0, str(REPO))
CELL = 192


def _fit(img: np.ndarray, size: int = CELL) -> np.ndarray:
    """Centre crop to a square and resize to ``size``."""
    h, w = img.shape[:2]
    s = min(h, w)
    y0, x0 = (h - s) // 2, (w - s) // 2
    return np.asarray(Image.fromarray(img[y0 : y0 + s, x0 : x0 + s]).resize((size, size), Image.LANCZOS))


def real_frames() -> list[np.ndarray]:
    import av

    assets = REPO / "vivid" / "assets"
    out = [_fit(np.asarray(Image.open(assets / "basketball1.png").convert("RGB")))]
    for name, picks in (("vtest_clip.mp4", (0, 40)), ("bbb_clip.mp4", (10,))):
        with av.open(str(assets / name)) as inp:
            for k, fr in enumerate(inp.decode(video=0)):
                if k in picks:
                    out.append(_fit(fr.to_ndarray(format="rgb24")))
                if k >= max(picks):
                    break
    return out


def sky_panorama(height: int = 256) -> np.ndarray:
    """A made-up outdoor panorama (H, 2H, 3) linear radiance: blue sky brighter at the horizon, a
    small sun at 35 degrees elevation, grey-green ground with soft value noise."""
    rng = np.random.default_rng(0)
    W = 2 * height
    lat = math.pi / 2 - math.pi * (np.arange(height) + 0.5) / height
    lon = math.pi - 2 * math.pi * (np.arange(W) + 0.5) / W
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    sky = np.stack([0.35 + 0.5 * np.exp(-3 * la), 0.55 + 0.4 * np.exp(-3 * la), 0.95 + 0.1 * np.exp(-3 * la)], -1)
    noise = np.kron(rng.random((height // 8, W // 8)), np.ones((8, 8)))[..., None]
    ground = np.array([0.22, 0.24, 0.16]) * (0.7 + 0.6 * noise)
    img = np.where(la[..., None] > 0, sky, ground)
    sun = np.array([math.cos(0.6) * math.cos(1.0), math.cos(0.6) * math.sin(1.0), math.sin(0.6)])
    d = np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], -1)
    img = img + 400.0 * (d @ sun > math.cos(math.radians(2.0)))[..., None]
    return img.astype(np.float32)


def renders(shared: bool) -> tuple[list[np.ndarray], list[np.ndarray]]:
    import torch

    from vivid.synth.assets import realistic_config, shared_render_assets
    from vivid.synth.hdr import write_hdr
    from vivid.synth.people_scenes import PeopleConfig, PeopleScenes
    from vivid.synth.scenes import SceneConfig, make_generator

    torch.set_grad_enabled(False)
    base = SceneConfig(kind="body", height=CELL, width=CELL, seed=7)
    plain = [s.image for s in make_generator(base).generate_batch(list(range(4)))]
    with tempfile.TemporaryDirectory() as tmp:
        if shared:
            assets = shared_render_assets("train")
            cfg = realistic_config(base, assets)
        else:
            hdri = Path(tmp) / "hdri"
            hdri.mkdir()
            write_hdr(hdri / "sky.hdr", sky_panorama())
            cfg = realistic_config(base, None)
            cfg.hdri_dir, cfg.hdri_prob = str(hdri), 0.5
        gen = make_generator(cfg)
        real = [s.image for s in gen.generate_batch(list(range(3)))]
        people = PeopleScenes(cfg, people=PeopleConfig(count=(2, 4))).generate(1)
        real.append(people.image)
    return plain, real


def label(img: np.ndarray, text: str) -> np.ndarray:
    im = Image.fromarray(img.copy())
    dr = ImageDraw.Draw(im)
    dr.rectangle([0, 0, 7 * len(text) + 6, 14], fill=(0, 0, 0))
    dr.text((3, 1), text, fill=(255, 255, 255))
    return np.asarray(im)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", action="store_true", help="render with ../shared/data assets (do not commit)")
    args = ap.parse_args()
    real = real_frames()
    plain, realistic = renders(args.shared)
    rows = [
        [label(real[0], "real")] + real[1:],
        [label(plain[0], "plain render")] + plain[1:],
        [label(realistic[0], "realism on")] + realistic[1:],
    ]
    gap = 4
    cols = max(len(r) for r in rows)
    sheet = np.full((len(rows) * (CELL + gap) - gap, cols * (CELL + gap) - gap, 3), 255, np.uint8)
    for i, r in enumerate(rows):
        for j, img in enumerate(r):
            sheet[i * (CELL + gap) : i * (CELL + gap) + CELL, j * (CELL + gap) : j * (CELL + gap) + CELL] = img
    out = DOCS / ("renders_vs_real_shared.png" if args.shared else "renders_vs_real.png")
    Image.fromarray(sheet).save(out, optimize=True)


if __name__ == "__main__":
    main()
