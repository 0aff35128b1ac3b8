"""Face boxes: OpenCV's Haar cascade by default, the landmark window search as the fallback."""

from __future__ import annotations

import numpy as np
import pytest

from vivid.core.errors import VividError
from vivid.core.hub import is_bundled
from vivid.face3d import detect

cv2 = pytest.importorskip("cv2")
needs_cascade = pytest.mark.skipif(detect._cascade() is None, reason="this OpenCV ships no Haar cascade")
needs_weights = pytest.mark.skipif(not is_bundled("face3d-default"), reason="face3d-default is not bundled")

# Face centres (x, y) in pixels, marked by eye on the bundled portraits (the nose bridge between
# the eyes and the mouth), and the face's rough width: a found box must hold the centre and be
# of the face's size.
PORTRAIT_FACES = {"astronaut_portrait.jpg": ((111.0, 60.0), 50.0), "grace_hopper_portrait.jpg": ((131.0, 112.0), 95.0)}


@pytest.fixture(scope="module")
def landmark_net():
    from vivid.core.checkpoints import load_checkpoint

    model, _ = load_checkpoint("face3d-default", task="face3d")
    return model.landmarks


def _read(name: str) -> np.ndarray:
    from vivid.core.assets import demo_input
    from vivid.core.fileio import read_image

    return read_image(demo_input(name).path)


def _holds(box: np.ndarray, centre, width: float) -> bool:
    x0, y0, side = box
    inside = x0 <= centre[0] <= x0 + side and y0 <= centre[1] <= y0 + side
    return inside and 0.8 * width <= side <= 4.0 * width


@needs_cascade
@pytest.mark.parametrize("name", sorted(PORTRAIT_FACES))
def test_haar_finds_the_face_of_each_bundled_portrait(name):
    centre, width = PORTRAIT_FACES[name]
    boxes = detect.haar_boxes(_read(name))
    assert len(boxes) == 1 and _holds(boxes[0], centre, width), boxes


@needs_cascade
def test_haar_finds_nothing_in_plain_images():
    r = np.random.default_rng(0)
    for image in (np.full((128, 128, 3), 128, np.uint8), r.integers(0, 255, (128, 160, 3), dtype=np.uint8)):
        assert detect.haar_boxes(image) == []


@needs_cascade
def test_haar_box_is_centred_on_the_cascade_rectangle(monkeypatch):
    class Fake:
        def detectMultiScale(self, grey, **kw):
            return np.array([[40, 20, 30, 30]])

    monkeypatch.setattr(detect, "_cascade", lambda: Fake())
    (box,) = detect.haar_boxes(np.zeros((100, 100, 3), np.uint8))
    side = 30 * detect._HAAR_TO_CROP
    assert np.allclose(box, [55 - side / 2, 35 - side / 2 + 0.05 * side, side])


@needs_weights
@needs_cascade
@pytest.mark.parametrize("name", sorted(PORTRAIT_FACES))
def test_default_detector_is_the_cascade_and_finds_the_portrait_face(name, landmark_net, monkeypatch):
    called = []
    monkeypatch.setattr(detect, "window_boxes", lambda *a, **k: called.append(1) or [])
    centre, width = PORTRAIT_FACES[name]
    faces = detect.find_faces(_read(name), landmark_net)
    assert not called, "the window search ran although the cascade is available"
    assert len(faces) == 1 and _holds(faces[0].box, centre, width), [f.box for f in faces]
    x, y = faces[0].landmarks.mean(0)
    assert abs(x - centre[0]) < 0.5 * width and abs(y - centre[1]) < 0.5 * width


@needs_weights
def test_without_a_cascade_auto_falls_back_to_the_window_search(landmark_net, monkeypatch):
    image = _read("grace_hopper_portrait.jpg")
    monkeypatch.setattr(detect, "_cascade", lambda: None)
    called = []
    real = detect.window_boxes

    def spy(*a, **k):
        called.append(1)
        return real(*a, **k)

    monkeypatch.setattr(detect, "window_boxes", spy)
    faces = detect.find_faces(image, landmark_net, detector="auto")
    assert called and faces
    centre, width = PORTRAIT_FACES["grace_hopper_portrait.jpg"]
    assert _holds(faces[0].box, centre, width), faces[0].box
    with pytest.raises(VividError, match="Haar"):
        detect.find_faces(image, landmark_net, detector="haar")


@needs_weights
def test_unknown_detector_and_bad_box_are_refused(landmark_net):
    image = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(VividError, match="unknown detector"):
        detect.find_faces(image, landmark_net, detector="dlib")
    with pytest.raises(VividError, match="positive"):
        detect.find_faces(image, landmark_net, box=(1, 2, 0, 5))


# Faces per real portrait in ../shared/data/faces, counted by eye (IBM.jpeg is a logo).
SHARED_FACE_COUNTS = {"nasa_astronaut_eileen_collins.png": 1, "ibm_max_human_pose/Pilots.png": 3,
                      "ibm_max_facial_recognizer/Bryan.png": 1, "ibm_max_facial_recognizer/Chris.jpeg": 1,
                      "ibm_max_facial_recognizer/Luciano.png": 1, "ibm_max_facial_recognizer/Paul.jpeg": 1,
                      "ibm_max_facial_recognizer/Paul2.jpeg": 1, "ibm_max_facial_recognizer/IBM.jpeg": 0}


@needs_cascade
def test_haar_counts_the_faces_of_the_real_portraits(shared_data):
    from vivid.core.fileio import read_image

    folder = shared_data / "faces"
    if not folder.is_dir():
        pytest.skip("../shared/data/faces is not available")
    counts = {name: len(detect.haar_boxes(read_image(folder / name))) for name in SHARED_FACE_COUNTS if (folder / name).exists()}
    assert counts, "no portrait found"
    assert counts == {k: SHARED_FACE_COUNTS[k] for k in counts}
