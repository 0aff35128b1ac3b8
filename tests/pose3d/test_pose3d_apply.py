"""Inference, drawing and the ``vivid pose`` command (with a small random checkpoint)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from vivid.core.checkpoints import read_meta, save_checkpoint
from vivid.core.errors import VividError
from vivid.core.geometry import project
from vivid.core.hub import bundled_path, is_bundled
from vivid.core.registry import create_model
from vivid.pose3d.apply import PoseEstimator, camera_matrix, draw_skeleton, plot_3d


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "tiny"
    return save_checkpoint(path, create_model("pose3d_tiny"), task="pose3d", model_name="pose3d_tiny")


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    from PIL import Image

    rng = np.random.default_rng(0)
    img = (rng.random((90, 70, 3)) * 255).astype(np.uint8)
    path = tmp_path_factory.mktemp("img") / "person.png"
    Image.fromarray(img).save(path)
    return path, img


def test_prediction_is_consistent_with_the_camera(tiny_ckpt, photo):
    _, img = photo
    est = PoseEstimator(str(tiny_ckpt), fov_deg=60.0)
    pred = est.predict(img)
    assert pred.joints2d.shape == (17, 2) and pred.joints3d.shape == (17, 3) and pred.confidence.shape == (17,)
    assert np.all((pred.confidence >= 0) & (pred.confidence <= 1))
    # 3D joints are back-projected through the input's camera: projecting them gives the 2D joints.
    uv = project(torch.from_numpy(pred.joints3d).double(), torch.from_numpy(pred.K).double())
    assert np.allclose(uv.numpy(), pred.joints2d, atol=1e-2)
    assert np.allclose(pred.joints3d_rel, pred.joints3d - pred.joints3d[0], atol=1e-6)
    d = pred.to_dict()
    assert len(d["joints3d"]) == 17 and 0 <= d["mean_confidence"] <= 1


def test_inference_does_not_import_the_training_data():
    # The command-line tool needs the crop helpers, not the DataModule (nor Lightning behind it).
    code = "import sys, vivid.pose3d.apply; print(sorted(m for m in ('vivid.pose3d.data', 'pytorch_lightning') if m in sys.modules))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_camera_matrix_options():
    K = camera_matrix(200, 100, focal=150.0)
    assert K[0, 0] == 150.0 and K[0, 2] == pytest.approx(99.5) and K[1, 2] == pytest.approx(49.5)
    K90 = camera_matrix(200, 100, fov_deg=90.0)
    assert K90[0, 0].item() == pytest.approx(100.0)  # half-width / tan(45 deg)
    with pytest.raises(VividError):
        camera_matrix(200, 100, fov_deg=60.0, focal=100.0)
    with pytest.raises(VividError):
        camera_matrix(200, 100, focal=-1.0)


def test_drawing_changes_pixels_on_the_bones():
    img = np.zeros((64, 64, 3), np.uint8)
    joints = np.stack([np.full(17, 32.0), np.linspace(8, 56, 17)], axis=1)
    out = draw_skeleton(img, joints)
    assert out.shape == img.shape and out[32, 32].any() and not out[5, 5].any()
    view = plot_3d(np.random.default_rng(0).normal(size=(17, 3)) * 0.3, size=100)
    assert view.shape == (100, 200, 3) and view.std() > 0


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "vivid.cli", *args], capture_output=True, text=True, timeout=300)


def test_cli_bad_image_gives_one_line_error(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"this is not a png")
    r = run_cli("pose", str(bad), "-o", str(tmp_path / "out.json"))
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "broken.png" in lines[0] and "Traceback" not in r.stderr
    assert not (tmp_path / "out.json").exists()


def test_cli_option_errors(tmp_path, photo):
    path, _ = photo
    r = run_cli("pose", str(path), "-o", str(tmp_path / "o.json"), "--fov", "50", "--focal", "100")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "--fov" in r.stderr
    r = run_cli("pose", str(path), "-o", str(tmp_path / "o.txt"))
    assert r.returncode == 2 and ".json" in r.stderr
    (tmp_path / "kept.json").write_text("{}")
    r = run_cli("pose", str(path), "-o", str(tmp_path / "kept.json"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "--overwrite" in r.stderr
    assert (tmp_path / "kept.json").read_text() == "{}"


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="no /proc here")
def test_cli_outputs_are_checked_before_the_model_is_read(tmp_path, photo):
    """"--model nope" would fail the moment the model is read: each output problem comes first."""
    from typer.testing import CliRunner

    from vivid.cli import app

    path, _ = photo
    (tmp_path / "clip.mp4").mkdir()
    cases = [
        (["-o", str(tmp_path / "o.json"), "--overlay", str(tmp_path / "nodir" / "o.mp4")], "nodir does not exist"),
        (["-o", str(tmp_path / "o.json"), "--overlay", str(tmp_path / "clip.mp4")], "--overlay"),
        (["-o", str(tmp_path / "o.json"), "--overlay", str(tmp_path / "o.avi")], "--overlay"),
        (["-o", str(tmp_path / "o.json"), "--overlay", "/proc/o.mp4"], "/proc"),
        (["-o", "/proc/o.json"], "/proc"),
    ]
    for args, needle in cases:
        r = CliRunner().invoke(app, ["pose", str(path), *args, "--model", "nope"])
        lines = r.stderr.strip().splitlines()
        assert r.exit_code == 2 and len(lines) == 1 and needle in lines[0], r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]


def test_cli_image_and_folder_with_coaching(tmp_path, tiny_ckpt, photo):
    from vivid.pose3d.cli import run_pose

    path, img = photo
    # An untrained model finds no person with any real threshold: 0 keeps every prediction.
    report = run_pose(path, tmp_path / "one.json", coach="squat", model=str(tiny_ckpt), device="cpu", quiet=True, person_threshold=0.0)
    saved = json.loads((tmp_path / "one.json").read_text())
    assert saved["kind"] == "image" and len(saved["frames"]) == 1
    (one,) = saved["frames"][0]["people"]
    assert len(one["joints3d"]) == 17 and "knee_l" in one["angles"] and one["id"] is None and len(one["box"]) == 4
    assert saved["coach"]["exercise"] == "squat" and report["frames"][0]["index"] == 0 and saved["coach"]["ignored_frames"] == 0
    folder = tmp_path / "frames"
    folder.mkdir()
    from PIL import Image

    for i in range(3):
        Image.fromarray(np.roll(img, 5 * i, axis=1)).save(folder / f"{i:03d}.png")
    run_pose(folder, tmp_path / "seq.json", coach="squat", overlay=tmp_path / "seq.mp4", model=str(tiny_ckpt), device="cpu", quiet=True,
             person_threshold=0.0)  # fmt: skip
    seq = json.loads((tmp_path / "seq.json").read_text())
    assert len(seq["frames"]) == 3 and "rep_count" in seq["coach"] and all(len(f["people"]) == 1 for f in seq["frames"])
    assert (tmp_path / "seq.mp4").stat().st_size > 0


def _field(sample, name: str):
    """A field of a synthetic sample, whether the generator returns a dict or a dataclass."""
    return sample[name] if isinstance(sample, dict) else getattr(sample, name)


@pytest.fixture(scope="module")
def body_renders(tmp_path_factory):
    """Three held-out body renders at the bundled model's input size, saved as PNG files in one
    folder, and their 2D joint labels (3, 17, 2) in pixels."""
    if not is_bundled("pose3d-default"):
        pytest.skip("pose3d-default is not bundled")
    from PIL import Image

    from vivid.pose3d.data import synth_scene_config
    from vivid.synth.scenes import BodyScenes

    size = read_meta(bundled_path("pose3d-default"))["model_config"]["input_size"]
    scenes = BodyScenes(synth_scene_config("test", size))
    folder = tmp_path_factory.mktemp("renders")
    labels = []
    for i in range(3):
        sample = scenes.generate(i)
        Image.fromarray(_field(sample, "image")).save(folder / f"{i:03d}.png")
        labels.append(np.asarray(_field(sample, "joints2d"), dtype=np.float64))
    return folder, np.stack(labels), size


def test_cli_joints_match_the_labels_of_renders(tmp_path, body_renders):
    from typer.testing import CliRunner

    from vivid.cli import app

    folder, labels, size = body_renders
    out = tmp_path / "poses.json"
    r = CliRunner().invoke(app, ["pose", str(folder), "-o", str(out), "--device", "cpu", "-q"])
    assert r.exit_code == 0, r.output
    frames = json.loads(out.read_text())["frames"]
    assert [f["index"] for f in frames] == [0, 1, 2]
    assert [len(f["people"]) for f in frames] == [1, 1, 1]  # a person found in every render
    joints = np.array([f["people"][0]["joints2d"] for f in frames])
    assert joints.shape == labels.shape
    err = np.linalg.norm(joints - labels, axis=-1)  # (3, 17) pixels
    # The bundled model: mean 5.8 px and 84 % of joints within 0.1 x size on these three (7.4 px
    # over the test split, its sidecar says). An untrained model (16 px, 31 %) and every joint put
    # at the labels' own mean (14 px, 31 %) fail both bounds.
    assert err.mean() < 0.1 * size, f"mean 2D error {err.mean():.1f} px"
    assert (err < 0.1 * size).mean() >= 0.7, f"PCK@0.1: {(err < 0.1 * size).mean():.2f}"


# ----------------------------------------------------------------------------- people


def bundled_or_skip():
    if not is_bundled("pose3d-default"):
        pytest.skip("pose3d-default is not bundled")


def write_video(path, frames, fps=10):
    from vivid.core.video import VideoWriter

    with VideoWriter(path, fps=fps) as writer:
        for frame in frames:
            writer.write(frame)
    return path


def square_over_gradient(n: int = 12, h: int = 120, w: int = 160) -> list[np.ndarray]:
    """A white square moving down and up over a horizontal gradient (no person)."""
    base = np.repeat(np.linspace(0, 255, w)[None, :, None], h, 0).repeat(3, 2)
    out = []
    for t in range(n):
        img = base.copy()
        y = int(10 + 60 * abs(np.sin(np.pi * t / 6)))
        img[y : y + 30, 60:90] = 255
        out.append(img.astype(np.uint8))
    return out


def test_flat_grey_image_has_no_person(tmp_path):
    from PIL import Image
    from typer.testing import CliRunner

    from vivid.cli import app

    bundled_or_skip()
    path = tmp_path / "grey.png"
    Image.fromarray(np.full((120, 90, 3), 128, np.uint8)).save(path)
    r = CliRunner().invoke(app, ["pose", str(path), "-o", str(tmp_path / "grey.json"), "--device", "cpu", "--coach", "squat"])
    assert r.exit_code == 0, r.output
    saved = json.loads((tmp_path / "grey.json").read_text())
    assert saved["frames"][0]["people"] == [] and saved["frames_without_person"] == 1
    assert saved["coach"]["prompts"] == [] and saved["coach"]["ignored_frames"] == 1
    assert [line for line in r.output.splitlines() if "no person" in line] == ["grey.png: no person found"]
    if saved["people"]["detector"] is None:
        assert saved["people"]["note"]  # says why there is no detector


def test_square_over_gradient_counts_no_reps_and_gives_no_prompts(tmp_path):
    from typer.testing import CliRunner

    from vivid.cli import app

    bundled_or_skip()
    clip = write_video(tmp_path / "square.mp4", square_over_gradient())
    r = CliRunner().invoke(app, ["pose", str(clip), "-o", str(tmp_path / "sq.json"), "--device", "cpu", "--coach", "squat"])
    assert r.exit_code == 0, r.output
    saved = json.loads((tmp_path / "sq.json").read_text())
    coach = saved["coach"]
    assert coach["rep_count"] == 0 and coach["prompts"] == []
    assert coach["ignored_frames"] == saved["frames_without_person"] == sum(not f["people"] for f in saved["frames"]) > 0
    assert "0 reps, 0 prompts" in r.output and "without a person ignored" in r.output


def test_person_confidence_separates_a_render_from_empty_images(body_renders):
    from PIL import Image

    from vivid.pose3d.presence import empty_images

    folder, _, _ = body_renders
    est = PoseEstimator("pose3d-default")
    render = np.array(Image.open(folder / "000.png").convert("RGB"))
    assert est.is_person(est.predict(render))
    grey, gradient = empty_images(6)[4], empty_images(6)[5]
    assert not est.is_person(est.predict(grey)) and not est.is_person(est.predict(gradient))


def test_given_box_and_person_choice(tmp_path, tiny_ckpt, photo):
    from vivid.pose3d.cli import run_pose

    path, _ = photo
    kw = dict(model=str(tiny_ckpt), device="cpu", quiet=True, person_threshold=0.0)
    rep = run_pose(path, tmp_path / "box.json", box="10,20,50,80", **kw)
    (one,) = rep["frames"][0]["people"]
    assert one["box"] == [10.0, 20.0, 50.0, 80.0] and one["box_source"] == "given"
    # The first pass sees a square of 1.15 x the box's larger side around its centre.
    first = PoseEstimator(str(tiny_ckpt), refine=False).predict_box(np.array(photo[1]), (10, 20, 50, 80))
    assert first.box == pytest.approx((30.0, 50.0, 60 * 1.15))
    assert run_pose(path, tmp_path / "p1.json", person=1, **kw)["frames"][0]["people"] == []  # only one person without a detector
    with pytest.raises(VividError, match="--box"):
        run_pose(path, tmp_path / "bad.json", box="10,20,5,80", **kw)
    with pytest.raises(VividError, match="--person"):
        run_pose(path, tmp_path / "bad.json", person=-1, **kw)


def fake_people_package(monkeypatch, boxes_per_frame):
    """vivid.people stand-ins with the agreed API: the detector returns ``boxes_per_frame[i]``
    (smallest first, to check the ordering) on the i-th call; the tracker links box k of every
    frame into track 10 + k."""
    import types
    from dataclasses import dataclass

    @dataclass
    class Detection:
        box: tuple
        score: float

    class PersonDetector:
        def __init__(self, model="people-default", device="cpu", score_threshold=0.5):
            self.calls = 0

        def __call__(self, image):
            boxes = boxes_per_frame[min(self.calls, len(boxes_per_frame) - 1)]
            self.calls += 1
            return [Detection(b, 0.9) for b in boxes]

    @dataclass
    class Track:  # vivid.people.tracker.Track: parallel lists over the track's frames
        id: int
        frames: list
        boxes: list

    def track_video(frames, detector):
        per = [boxes_per_frame[min(i, len(boxes_per_frame) - 1)] for i in range(len(frames))]
        n = len(frames)
        return [Track(10 + k, list(range(n)), [per[i][k] for i in range(n)]) for k in range(len(per[0]))]

    package = types.ModuleType("vivid.people")
    detector = types.ModuleType("vivid.people.detector")
    tracker = types.ModuleType("vivid.people.tracker")
    detector.PersonDetector, tracker.track_video = PersonDetector, track_video
    for name, module in (("vivid.people", package), ("vivid.people.detector", detector), ("vivid.people.tracker", tracker)):
        monkeypatch.setitem(sys.modules, name, module)


def test_every_detected_person_largest_first(tmp_path, tiny_ckpt, photo, monkeypatch):
    from vivid.pose3d.cli import run_pose

    path, _ = photo
    small, large = (5.0, 5.0, 25.0, 40.0), (30.0, 10.0, 68.0, 88.0)
    fake_people_package(monkeypatch, [[small, large]])
    rep = run_pose(path, tmp_path / "two.json", model=str(tiny_ckpt), device="cpu", quiet=True, detect=True)
    assert rep["people"]["detector"] == "people-default" and rep["people"]["note"] is None
    people = rep["frames"][0]["people"]
    assert [p["box"] for p in people] == [list(large), list(small)]
    assert all(p["box_source"] == "detector" and p["person_confidence"] == 0.9 for p in people)
    only = run_pose(path, tmp_path / "second.json", model=str(tiny_ckpt), device="cpu", quiet=True, person=1, detect=True)
    assert [p["box"] for p in only["frames"][0]["people"]] == [list(small)]


def test_video_tracks_keep_their_ids_and_are_smoothed(tmp_path, tiny_ckpt, monkeypatch):
    from vivid.pose3d.cli import run_pose

    rng = np.random.default_rng(3)
    clip = write_video(tmp_path / "clip.mp4", [(rng.random((96, 128, 3)) * 255).astype(np.uint8) for _ in range(8)])
    left, right = (4.0, 8.0, 44.0, 90.0), (60.0, 4.0, 120.0, 94.0)
    # Boxes that shake by a few pixels from frame to frame, as a detector's do.
    shake = [tuple(float(v) for v in np.asarray(right) + rng.uniform(-4, 4)) for _ in range(8)]
    fake_people_package(monkeypatch, [[left, box] for box in shake])
    # The stand-in tracks carry no scores, so the (untrained) pose network's own confidence decides.
    kw = dict(model=str(tiny_ckpt), device="cpu", quiet=True, person_threshold=0.0, detect=True)
    smooth = run_pose(clip, tmp_path / "s.json", **kw)
    raw = run_pose(clip, tmp_path / "r.json", smooth=False, **kw)
    # Ids ranked by track size: the larger track (right) is person 0 on every frame.
    assert all([p["id"] for p in f["people"]] == [0, 1] and f["people"][0]["box"] == pytest.approx(shake[t], abs=0.06)
               for t, f in enumerate(smooth["frames"]))  # fmt: skip
    assert smooth["people"]["smoothing"]["filter"] == "one-euro" and raw["people"]["smoothing"] is None
    accel = lambda rep: np.abs(np.diff([f["people"][0]["joints2d"] for f in rep["frames"]], 2, axis=0)).mean()  # noqa: E731
    assert accel(smooth) < 0.8 * accel(raw)
    # Smoothed 3D joints still project onto the smoothed 2D joints.
    K = torch.tensor(smooth["camera"]["K"], dtype=torch.float64)
    person = smooth["frames"][4]["people"][0]
    uv = project(torch.tensor(person["joints3d"], dtype=torch.float64), K)
    assert np.allclose(uv.numpy(), person["joints2d"], atol=0.05)
    picked = run_pose(clip, tmp_path / "p.json", person=1, **kw)
    assert all([p["box"] for p in f["people"]] == [list(left)] for f in picked["frames"])
