"""Realism features of vivid.synth: HDR files, panorama views and SH light, fabrics, camera
effects, occluders, several people per image, and the shared-asset lookup."""

import math

import numpy as np
import pytest
import torch

from vivid.core.errors import VividError
from vivid.core.geometry import intrinsics_from_fov, look_at
from vivid.core.render import render, sh_basis, shade_sh
from vivid.synth import camera_effects as fx
from vivid.synth import panorama as pano
from vivid.synth.hdr import float_to_rgbe, read_hdr, rgbe_to_float, write_hdr

UP = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)


def _camera(eye, target):
    R, _ = look_at(torch.tensor(eye, dtype=torch.float64), torch.tensor(target, dtype=torch.float64), UP)
    return R


def _sky(h=32, bright=5.0, ground=0.2):
    """A panorama bright above the horizon (a sky) and dim below, slightly coloured."""
    img = np.full((h, 2 * h, 3), ground, np.float32)
    img[: h // 2] = bright * np.array([0.8, 0.9, 1.0], np.float32)
    return img


# ----------------------------------------------------------------------------- HDR files


@pytest.mark.parametrize("rle", [True, False])
def test_hdr_round_trip_rle_and_flat(tmp_path, rle):
    rng = np.random.default_rng(0)
    img = (rng.random((6, 40, 3)) ** 3 * 50).astype(np.float32)
    img[:, 10:30] = [1.5, 0.25, 0.125]  # long runs, so that the encoder emits run codes
    img[0, 0] = [0.0, 0.0, 0.0]  # black pixels (exponent 0)
    img[1, 0] = [10.0, 10.0, 10.0]  # so no flat scanline starts with the RLE marker 2 2
    path = tmp_path / "x.hdr"
    write_hdr(path, img, rle=rle)
    back = read_hdr(path)
    assert back.shape == img.shape and back.dtype == np.float32
    np.testing.assert_array_equal(back, rgbe_to_float(float_to_rgbe(img)))  # the format's quantisation only
    # one shared exponent: every channel is within 1/128 of the pixel's largest one
    assert (np.abs(back - img) <= img.max(-1, keepdims=True) / 128 + 1e-12).all()
    # mantissas 192, 32, 16 at exponent 129 decode to (m + 0.5) / 128
    np.testing.assert_array_equal(back[:, 10:30], np.broadcast_to(np.float32([192.5, 32.5, 16.5]) / 128, (6, 20, 3)))
    assert (back[0, 0] == 0).all()
    size = path.stat().st_size
    flat_size = 6 * 40 * 4
    assert (size < flat_size + 40) if rle else (size > flat_size)


def test_rgbe_decoding_hand_value():
    # mantissa 128, exponent 129: (128 + 0.5) * 2 ** (129 - 136) = 1.00390625
    assert rgbe_to_float(np.array([[128, 64, 0, 129]], np.uint8))[0, 0] == pytest.approx(128.5 / 128)
    assert float_to_rgbe(np.array([[1.0, 0.5, 0.0]]))[0].tolist() == [128, 64, 0, 129]


def test_hdr_reader_refuses_bad_files(tmp_path):
    bad = tmp_path / "bad.hdr"
    bad.write_bytes(b"P6\n1 1\n255\n\x00\x00\x00")
    with pytest.raises(VividError, match="not a Radiance"):
        read_hdr(bad)
    write_hdr(tmp_path / "ok.hdr", np.ones((4, 16, 3), np.float32))
    (tmp_path / "cut.hdr").write_bytes((tmp_path / "ok.hdr").read_bytes()[:-5])
    with pytest.raises(VividError, match="ends before"):
        read_hdr(tmp_path / "cut.hdr")


# ----------------------------------------------------------------------------- SH light and views


def test_solid_angles_cover_the_sphere():
    d, omega = pano.equirect_directions(16, 32)
    assert float(omega.sum()) == pytest.approx(4 * math.pi)
    torch.testing.assert_close(d.norm(dim=-1), torch.ones(16, 32, dtype=torch.float64))


def test_constant_panorama_gives_only_the_dc_term():
    c = 0.7
    sh = pano.panorama_sh(torch.full((32, 64, 3), c), _camera([2.0, 1.0, 1.5], [0.0, 0.0, 1.0]), yaw=0.4)
    # irradiance of a uniform radiance c is pi c in every direction
    assert sh[0] * pano.sh_basis(torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64))[0, 0] == pytest.approx(
        torch.full((3,), math.pi * c, dtype=torch.float64), rel=1e-3
    )
    assert sh[1:].abs().max() < 1e-3 * sh[0].abs().min()


def test_zenith_light_has_the_expected_sign_and_shading():
    sky = torch.zeros(32, 64, 3)
    sky[0] = 10.0  # only the top row: light from straight above
    R = _camera([3.0, 0.0, 1.0], [0.0, 0.0, 1.0])  # a level camera: world up is camera -y
    sh = pano.panorama_sh(sky, R)
    assert (sh[1] < 0).all()  # Y_{1,-1} ~ y: light from -y (up)
    assert (sh[1].abs() > 20 * sh[2].abs()).all() and (sh[1].abs() > 20 * sh[3].abs()).all()
    up, down = torch.tensor([0.0, -1.0, 0.0]), torch.tensor([0.0, 1.0, 0.0])
    shade = shade_sh(torch.ones(1, 2, 3), torch.stack([up, down])[None], sh.float()[None])[0]
    assert (shade[0] > 5 * shade[1].clamp(min=1e-6)).all()


def _sphere(n=24):
    th, ph = torch.meshgrid(torch.linspace(0, math.pi, n), torch.linspace(0, 2 * math.pi, 2 * n), indexing="ij")
    v = torch.stack([th.sin() * ph.cos(), th.cos(), th.sin() * ph.sin()], -1).reshape(-1, 3)
    faces = []
    for i in range(n - 1):
        for j in range(2 * n - 1):
            a, b, c, d = i * 2 * n + j, i * 2 * n + j + 1, (i + 1) * 2 * n + j, (i + 1) * 2 * n + j + 1
            faces += [[a, c, b], [b, c, d]]
    f = torch.tensor(faces)
    tri = v[f]
    normal = torch.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0], dim=-1)
    flip = (normal * tri.mean(1)).sum(-1) < 0  # wind every face outwards
    f[flip] = f[flip][:, [0, 2, 1]]
    return v, f


def test_renderer_shades_a_sphere_from_where_the_panorama_is_bright():
    sky = torch.zeros(32, 64, 3)
    sky[:4] = 4.0  # a bright cap around the zenith
    R = _camera([3.0, 0.0, 1.0], [0.0, 0.0, 1.0])
    lit, exposure = pano.exposed_lighting(pano.panorama_sh(sky, R), 0.9)
    v, f = _sphere()
    v = v + torch.tensor([0.0, 0.0, 4.0])
    K = intrinsics_from_fov(fov_deg=40, height=64, width=64)
    out = render(v[None], f, K, 64, 64, sh=lit.float()[None], albedo=torch.ones(v.shape[0], 3))
    col = out.rgb[0].mean(0)[:, 32]
    rows = torch.nonzero(out.mask[0][:, 32]).squeeze(1)
    top, bottom = col[rows[:3]].mean(), col[rows[-3:]].mean()
    assert top > 0.6 and bottom < 0.2 * top
    assert float(out.rgb.max()) <= 0.9 + 1e-3 + 0.05  # the brightest white surface shows about the key


def test_exposed_lighting_maps_the_brightest_direction_to_the_key():
    sh = pano.panorama_sh(torch.from_numpy(_sky()), torch.eye(3, dtype=torch.float64))
    lit, exposure = pano.exposed_lighting(sh, 0.8)
    assert pano.peak_irradiance(lit) == pytest.approx(0.8, rel=1e-6)
    assert exposure == pytest.approx(0.8 * math.pi / pano.peak_irradiance(sh))


def test_panorama_view_looks_where_the_camera_looks():
    img = torch.zeros(64, 128, 3)
    # pixel column u holds longitude pi - 2 pi (u + 0.5) / W: the centre column (u = 64) is ~0, world +x
    img[28:36, 60:68] = torch.tensor([1.0, 0.0, 0.0])
    K = intrinsics_from_fov(fov_deg=60, height=33, width=33)
    R = _camera([0.0, 0.0, 0.0], [1.0, 0.0, 0.0])
    view = pano.panorama_view(img, R, K, 33, 33)
    assert view.shape == (33, 33, 3)
    assert view[16, 16, 0] > 0.9 and view[0, 0, 0] == 0
    # turning the panorama by 90 degrees moves the patch to world +y
    turned = pano.panorama_view(img, _camera([0.0, 0.0, 0.0], [0.0, 1.0, 0.0]), K, 33, 33, yaw=math.pi / 2)
    assert turned[16, 16, 0] > 0.9
    # right in the image is right in the world: the patch seen from a camera turned left sits on the right
    left = pano.panorama_view(img, _camera([0.0, 0.0, 0.0], [1.0, 0.3, 0.0]), K, 33, 33)
    cols = torch.nonzero(left[16, :, 0] > 0.5).squeeze(1)
    assert len(cols) and cols.float().mean() > 16


def test_downsample_keeps_the_energy():
    rng = np.random.default_rng(1)
    img = torch.from_numpy(rng.random((64, 128, 3)).astype(np.float32))
    img[3, 7] = 1000.0  # a sun
    _, om = pano.equirect_directions(64, 128)
    _, oms = pano.equirect_directions(32, 64)
    small = pano.downsample_panorama(img, 32)
    torch.testing.assert_close((small.double() * oms[..., None]).sum((0, 1)), (img.double() * om[..., None]).sum((0, 1)))


# ----------------------------------------------------------------------------- camera effects


def test_effects_are_off_by_default_and_draw_nothing():
    rng = np.random.default_rng(0)
    assert fx.draw_effects(rng, fx.CameraEffects()) is None
    assert rng.random() == np.random.default_rng(0).random()
    assert fx.CameraEffects.training().enabled()


def test_line_blur_spreads_along_the_motion_and_keeps_the_mass():
    x = torch.zeros(1, 21, 21)
    x[0, 10, 10] = 1.0
    y = fx.line_blur(x, np.array([6.0, 0.0]))
    assert float(y.sum()) == pytest.approx(1.0)
    assert torch.nonzero(y[0]).tolist() == [[10, c] for c in range(7, 14)]


def test_gaussian_blur_keeps_the_mean_and_blurs():
    x = torch.rand(3, 40, 40)
    for sigma in (1.0, 3.0):
        y = fx.gaussian_blur(x, sigma)
        assert y.shape == x.shape
        assert float(y.mean()) == pytest.approx(float(x.mean()), abs=0.01)
        assert float(y.std()) < 0.7 * float(x.std())


def test_sensor_effects_identity_gains_noise_and_jpeg():
    img = torch.rand(3, 32, 32)
    d = fx.EffectDraw(np.zeros(2), np.zeros(2), 0.0, 0.0, np.ones(3), None, None, None, 0)
    torch.testing.assert_close(fx.sensor_effects(d, img), img)
    d.gains = np.array([2.0 ** 2.2, 1.0, 1.0])  # +2.2 stops in red: display value doubles (clipped)
    out = fx.sensor_effects(d, img)
    torch.testing.assert_close(out[0], (2 * img[0]).clamp(max=1), atol=1e-5, rtol=1e-5)
    d.gains, d.noise = np.ones(3), (0.01, 0.01)
    noisy = fx.sensor_effects(d, img)
    assert 0.005 < float((noisy - img).std()) < 0.2
    torch.testing.assert_close(noisy, fx.sensor_effects(d, img))  # seeded
    d.noise, d.jpeg = None, 90
    smooth = torch.linspace(0, 1, 32)[None, None].expand(3, 32, 32).contiguous()
    assert float((fx.sensor_effects(d, smooth) - smooth).abs().mean()) < 0.02


def test_h264_round_trip_keeps_shape_and_content():
    frames = np.zeros((5, 33, 47, 3), np.uint8)
    frames[:, 10:20, 10:30] = 200
    back = fx.h264_roundtrip(frames, crf=20)
    assert back.shape == frames.shape and back.dtype == np.uint8
    assert np.abs(back.astype(int) - frames).mean() < 6


def test_flow_motion_blur_follows_the_flow():
    T, H, W = 3, 16, 24
    frames = torch.zeros(T, 3, H, W)
    frames[:, :, 8, 12] = 1.0
    zero = torch.zeros(T - 1, H, W, 2)
    torch.testing.assert_close(fx.flow_motion_blur(frames, zero, zero, 0.8), frames)
    fw = zero.clone()
    fw[..., 0] = 8.0  # everything moves 8 px right per frame
    bw = -fw
    out = fx.flow_motion_blur(frames, fw, bw, 1.0)
    row = out[1, 0, 8]
    # 5 instants at -4, -2, 0, 2, 4 px: the dot is spread over those pixels, its mass kept
    assert [round(float(row[c]), 3) for c in (8, 10, 12, 14, 16)] == [0.2] * 5
    assert float(out[1, 0].sum()) == pytest.approx(1.0, abs=1e-4)
    assert float(out[1, 0, :8].sum() + out[1, 0, 9:].sum()) < 1e-6  # blur only along x


# ----------------------------------------------------------------------------- fabrics


def test_fabric_patch_avoids_the_backdrop_and_is_seamless(tmp_path):
    from PIL import Image

    from vivid.synth.fabrics import FabricBank, fabric_mask, fabric_patch

    img = np.full((120, 100, 3), 245, np.uint8)  # a shop photo: white backdrop
    yy, xx = np.mgrid[20:100, 20:80]
    img[20:100, 20:80] = np.where(((yy // 6 + xx // 6) % 2)[..., None] == 0, [200, 30, 30], [30, 30, 160])
    assert fabric_mask(img)[20:100, 20:80].all() and not fabric_mask(img)[:10].any()
    patch = fabric_patch(np.random.default_rng(0), img, size=32)
    assert patch.shape == (3, 32, 32)
    assert float(patch.min(0).values.max()) < 0.9  # no white backdrop pixel
    torch.testing.assert_close(patch[..., 0], patch[..., -1])  # mirrored across: no seam
    (tmp_path / "shirt").mkdir()
    Image.fromarray(img).save(tmp_path / "shirt" / "a.jpg")
    bank = FabricBank(tmp_path, seed=3)
    torch.testing.assert_close(bank.patch(5, 32), FabricBank(tmp_path, seed=3).patch(5, 32))


# ----------------------------------------------------------------------------- scenes


@pytest.fixture
def hdri(tmp_path):
    folder = tmp_path / "hdri"
    folder.mkdir()
    write_hdr(folder / "sky.hdr", _sky(64))
    return folder


def test_scene_config_defaults_stay_procedural():
    from vivid.synth.scenes import SceneConfig

    cfg = SceneConfig()
    assert cfg.hdri_dir is None and cfg.fabrics_dir is None and cfg.backgrounds_dir is None
    assert not cfg.effects.enabled() and not cfg.occluders.enabled()
    d = cfg.to_dict()
    d["effects"]["jpeg_prob"] = 0.5
    assert SceneConfig.from_dict(d).effects.jpeg_prob == 0.5
    with pytest.raises(VividError, match="effects.nope"):
        SceneConfig.from_dict({"effects": {"nope": 1}})


def test_body_scene_in_a_panorama_is_lit_from_the_sky_and_labels_stay_exact(kit, hdri):
    from vivid.synth.camera_effects import CameraEffects
    from vivid.synth.scenes import SceneConfig, make_generator

    base = SceneConfig(kind="body", height=64, width=64, seed=5, hdri_dir=str(hdri))
    plain = make_generator(base).generate_batch([0, 1, 2])
    effects = CameraEffects(**{k: 1.0 for k in ("motion_blur_prob", "defocus_prob", "noise_prob", "jpeg_prob", "exposure_prob")})
    cfg = SceneConfig.from_dict({**base.to_dict(), "effects": effects.__dict__})
    blurred = make_generator(cfg).generate_batch([0, 1, 2])
    for a, b in zip(plain, blurred):
        # the sky is above: in the camera frame (y down) the band-1 y coefficient is negative
        R = torch.from_numpy(a.R).double()
        assert ((R @ UP)[1] < 0) and (a.sh[1] < 0).all()
        for key in ("mask", "joints2d", "visibility", "coco2d", "depth", "parts", "sh", "K"):
            np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
        assert np.abs(a.image.astype(int) - b.image).mean() > 1.0  # the pixels did change
        # the background is the view of the panorama: sky above the horizon, ground below
        bg = a.image[~a.mask]
        assert bg.size


def test_occluders_hide_joints_and_clear_the_person_labels(kit):
    from vivid.synth.occluders import OccluderConfig
    from vivid.synth.scenes import SceneConfig, make_generator

    cfg = SceneConfig(kind="body", height=64, width=64, seed=2, occluders=OccluderConfig(prob=1.0, max_count=2, size=(0.5, 0.9)))
    plain = make_generator(SceneConfig(kind="body", height=64, width=64, seed=2)).generate_batch(list(range(6)))
    occl = make_generator(cfg).generate_batch(list(range(6)))
    hidden = 0
    for a, b in zip(plain, occl):
        assert not (b.mask & ~a.mask).any()  # occluders only take pixels away from the person
        m = a.mask & ~b.mask  # where an occluder hides the person
        assert not (b.parts[m] > 0).any() and not (b.depth[m] > 0).any() and not b.garment_mask[m].any()
        np.testing.assert_array_equal(b.parts[b.mask], a.parts[b.mask])
        u = np.clip(np.round(a.joints2d).astype(int), 0, 63)
        under = m[u[:, 1], u[:, 0]]
        assert (b.visibility[under] == 0).all()
        np.testing.assert_array_equal(b.visibility[~under], a.visibility[~under])
        hidden += int((a.visibility[under] > 0).sum())
    assert hidden > 0


def test_another_person_in_front_hides_part_of_the_first(kit):
    from vivid.synth.occluders import OccluderConfig
    from vivid.synth.scenes import SceneConfig, make_generator

    cfg = SceneConfig(kind="body", height=64, width=64, seed=4, occluders=OccluderConfig(person_prob=1.0))
    plain = make_generator(SceneConfig(kind="body", height=64, width=64, seed=4)).generate_batch(list(range(4)))
    occl = make_generator(cfg).generate_batch(list(range(4)))
    assert any((a.mask & ~b.mask).any() for a, b in zip(plain, occl))
    for a, b in zip(plain, occl):
        assert not (b.mask & ~a.mask).any()
        assert (b.visibility <= a.visibility).all()
        assert np.abs(a.image.astype(int) - b.image)[a.mask & ~b.mask].mean() > 5  # the person in front is drawn


def test_truncation_works_with_panorama_backdrops(kit, hdri):
    from vivid.synth.scenes import SceneConfig, make_generator

    cfg = SceneConfig(kind="body", height=64, width=64, seed=1, hdri_dir=str(hdri))
    cfg.camera.partial_prob = 1.0
    samples = make_generator(cfg).generate_batch(list(range(4)))
    assert all(bool(s.partial) for s in samples)
    assert any((s.visibility == 0).any() for s in samples)


def test_clip_with_effects_keeps_its_labels(kit, hdri):
    from vivid.synth.camera_effects import CameraEffects
    from vivid.synth.scenes import SceneConfig, make_generator

    base = SceneConfig(kind="video", height=48, width=48, frames=3, seed=3, hdri_dir=str(hdri))
    a = make_generator(base).generate(0)
    cfg = SceneConfig.from_dict({**base.to_dict(), "effects": CameraEffects(motion_blur_prob=1.0, h264_prob=1.0).__dict__})
    b = make_generator(cfg).generate(0)
    for key in ("mask", "joints2d", "flow_fw", "sh"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
    assert b.image.shape == a.image.shape and np.abs(a.image.astype(int) - b.image).mean() > 0.5


def test_people_scenes_label_every_person(kit, hdri):
    from vivid.synth.people_scenes import PeopleConfig, PeopleScenes
    from vivid.synth.scenes import SceneConfig

    cfg = SceneConfig(height=96, width=96, seed=0, hdri_dir=str(hdri))
    empty = PeopleScenes(cfg, people=PeopleConfig(count=(0, 0))).generate(0)
    assert empty.image.shape == (96, 96, 3) and empty.boxes.shape == (0, 4) and empty.joints2d.shape == (0, 17, 2)
    assert empty.masks.shape == (0, 96, 96)
    gen = PeopleScenes(cfg, people=PeopleConfig(count=(3, 3), distance=(3.0, 6.0), spread=0.6))
    for i in range(2):
        s = gen.generate(i)
        N = len(s.boxes)
        assert N >= 2 and s.joints2d.shape == (N, 17, 2) and s.visible.shape == (N, 17) and s.masks.shape == (N, 96, 96)
        assert (np.diff(s.depth) >= 0).all()
        assert not (s.masks.sum(0) > 1).any()  # one person per pixel
        for k in range(N):
            x0, y0, x1, y1 = s.boxes[k]
            ys, xs = np.nonzero(s.masks[k])
            assert (x0, y0, x1, y1) == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
            vis = s.visible[k] > 0
            assert vis.any()
            kx0, ky0, kx1, ky1 = s.keypoint_boxes[k]
            j = s.joints2d[k][vis]
            assert kx0 == j[:, 0].min() and ky1 == j[:, 1].max()
            u = np.clip(np.round(j).astype(int), 0, 95)
            assert s.masks[k][u[:, 1], u[:, 0]].all()  # a visible keypoint lies on its own person
            ax0, ay0, ax1, ay1 = s.amodal_boxes[k]
            assert ax0 <= x0 + 1 and ay0 <= y0 + 1 and ax1 >= x1 - 1 and ay1 >= y1 - 1
    again = gen.generate(1)
    np.testing.assert_array_equal(again.image, s.image)


# ----------------------------------------------------------------------------- assets and CLI


def test_shared_render_assets(tmp_path, monkeypatch):
    from vivid.synth.assets import realistic_config, resolve_render_assets, shared_render_assets
    from vivid.synth.scenes import SceneConfig

    monkeypatch.setenv("VIVID_SHARED_DATA", str(tmp_path / "missing"))
    assert shared_render_assets() is None and resolve_render_assets("auto") is None
    root = tmp_path / "data"
    for sub in ("photos/backgrounds/hdri", "photos/backgrounds/images", "tryon/clothing_validation/dress"):
        (root / sub).mkdir(parents=True)
        (root / sub / "x").write_bytes(b"")
    monkeypatch.setenv("VIVID_SHARED_DATA", str(root))
    found = shared_render_assets("val")
    assert found.hdri == root / "photos/backgrounds/hdri" and found.fabrics == root / "tryon/clothing_validation"
    assert shared_render_assets("train").fabrics is None
    assert resolve_render_assets("procedural") is None
    with pytest.raises(VividError):
        shared_render_assets("nope")
    cfg = realistic_config(SceneConfig(), found)
    assert cfg.hdri_dir == str(found.hdri) and cfg.effects.enabled() and cfg.occluders.enabled()
    assert not SceneConfig().effects.enabled()  # the default is untouched


def test_cli_takes_hdri_and_fabric_folders(tmp_path, hdri):
    from PIL import Image

    from vivid.synth.cli import build_config

    (tmp_path / "fab").mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "fab" / "a.png")
    cfg = build_config("body", "64x64", 0, hdri=hdri, fabrics=tmp_path / "fab")
    assert cfg.hdri_dir == str(hdri.resolve()) and cfg.fabrics_dir == str((tmp_path / "fab").resolve())
    (tmp_path / "empty").mkdir()
    with pytest.raises(VividError, match="no .hdr"):
        build_config("body", "64x64", 0, hdri=tmp_path / "empty")
    with pytest.raises(VividError, match="no images"):
        build_config("body", "64x64", 0, fabrics=tmp_path / "empty")


def test_fabric_textures_reach_the_garment(kit, tmp_path):
    from PIL import Image

    from vivid.synth.scenes import SceneConfig, make_generator

    (tmp_path / "fab").mkdir()
    img = np.full((64, 64, 3), 250, np.uint8)
    img[8:56, 8:56] = [0, 200, 0]  # a green garment on white
    Image.fromarray(img).save(tmp_path / "fab" / "g.png")
    gen = make_generator(SceneConfig(kind="tryon", height=48, width=48, frames=2, seed=0, fabrics_dir=str(tmp_path / "fab"), fabric_prob=1.0))
    s = gen.generate(0)
    assert s.garment_kinds.tolist() == [5, 5]
    tex = gen._garment_entry(0)[0]
    assert tex.shape == (3, 128, 128) and float(tex.std(dim=(1, 2)).max()) < 0.05  # one flat green
