import numpy as np
import pytest
import torch
from pathlib import Path

from vivid.people.data import (
    MAX_OBJECTS, Backgrounds, CachedComposites, CompositeDataset, background_key, cache_composites, compose,
    mask_box, perspective_view, split_backgrounds,
)


def test_cutouts_are_cropped_people(cutouts):
    assert len(cutouts) == 2 and cutouts.rgb.shape == (2, 96, 96, 3)
    for i in range(2):
        np.testing.assert_array_equal(cutouts.box[i], mask_box(cutouts.mask[i]))
        assert cutouts.mask[i].sum() > 200 and (cutouts.rgb[i][~cutouts.mask[i]] == 0).all()
        rgb, alpha = cutouts.person(i)
        x0, y0, x1, y1 = cutouts.box[i]
        assert rgb.shape == (3, y1 - y0, x1 - x0) and alpha.shape == (y1 - y0, x1 - x0)


def test_composites_are_seeded_and_their_boxes_lie_on_the_people(cutouts):
    bg = Backgrounds("procedural", "train")
    a = compose(np.random.default_rng(3), cutouts, bg, 128, max_people=4, empty_share=0.0)
    b = compose(np.random.default_rng(3), cutouts, bg, 128, max_people=4, empty_share=0.0)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.boxes, b.boxes)
    seen = 0
    for seed in range(12):
        c = compose(np.random.default_rng(seed), cutouts, bg, 128, max_people=4, empty_share=0.0)
        assert c.image.shape == (128, 128, 3) and c.image.dtype == np.uint8
        assert ((c.boxes >= 0) & (c.boxes <= 128)).all() and (c.boxes[:, 2:] > c.boxes[:, :2]).all()
        seen += len(c.boxes)
    assert seen >= 12
    empty = compose(np.random.default_rng(0), cutouts, bg, 128, empty_share=0.999)
    assert len(empty.boxes) == 0


def test_cached_composites_read_back_as_made(cutouts, tmp_path):
    ds = CompositeDataset(cutouts, Backgrounds("procedural", "val"), 3, 64, 7, max_people=3, empty_share=0.0)
    cached = CachedComposites(cache_composites(tmp_path / "val.npz", ds))
    for i in range(3):
        x, y = ds[i], cached[i]
        assert x["image"].shape == (3, 64, 64) and x["boxes"].shape == (MAX_OBJECTS, 4)
        for k in ("image", "boxes", "count", "ignore"):
            assert torch.equal(x[k], y[k])


def test_background_split_keeps_cube_maps_whole():
    files = [Path(f"humus_{place}_{face}.jpg") for place in "abcdefgh" for face in ("posx", "negx", "posz")]
    files += [Path(f"photo_{i}.jpg") for i in range(12)]
    split = split_backgrounds(files)
    assert background_key("humus_creek_negz.jpg") == "humus_creek" and background_key("x/pexels_bar.jpg") == "pexels_bar"
    for place in "abcdefgh":
        assert len({split[p] for p in files if background_key(p) == f"humus_{place}"}) == 1
    n_val = sum(s == "val" for s in split.values())
    assert 0 < n_val < len(files) / 3


def test_perspective_view_of_a_panorama_looks_at_its_horizon():
    pano = torch.zeros(3, 64, 128)
    pano[:, :32] = 1.0  # bright sky above the horizon
    view = perspective_view(pano, np.random.default_rng(0), 48)
    assert view.shape == (3, 48, 48)
    assert view[:, :8].mean() > 0.9 and view[:, -8:].mean() < 0.1
