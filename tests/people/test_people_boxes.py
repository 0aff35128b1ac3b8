import numpy as np
import pytest

from vivid.people.boxes import box_area, holds_box, holds_points, iou_matrix, letterbox, nms


def test_iou_by_hand():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[5, 0, 15, 10], [0, 0, 10, 10], [20, 20, 30, 30]])
    np.testing.assert_allclose(iou_matrix(a, b), [[50 / 150, 1.0, 0.0]])
    assert iou_matrix(np.zeros((0, 4)), b).shape == (0, 3)
    np.testing.assert_allclose(box_area(b), [100, 100, 100])


def test_nms_keeps_the_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60], [0, 0, 10, 10.5]])
    scores = np.array([0.5, 0.9, 0.3, 0.4])
    assert nms(boxes, scores, 0.5).tolist() == [1, 2]
    assert nms(np.zeros((0, 4)), np.zeros(0)).tolist() == []


def test_holding_rules():
    pts = np.array([[x, 5.0] for x in range(10)])
    assert holds_points((0, 0, 8.5, 10), pts, 0.9)  # 9 of 10 points
    assert not holds_points((0, 0, 7.5, 10), pts, 0.9)
    assert not holds_points((0, 0, 10, 10), np.zeros((0, 2)))
    assert holds_box((0, 0, 10, 10), (1, 1, 9, 9)) and not holds_box((0, 0, 5, 10), (0, 0, 10, 10))


def test_letterbox_fits_the_long_side_and_maps_boxes_back():
    image = np.zeros((90, 160, 3), np.uint8)
    image[30:60, 40:80] = 255
    x, lb = letterbox(image, 320)
    assert x.shape == (3, 192, 320) and (lb.height, lb.width) == (192, 320)
    assert x[:, 180:].eq(x[0, 185, 0]).all()  # padding below the image
    ys, xs = np.nonzero(x[0].numpy() > 0.9)
    box_in = np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]])
    np.testing.assert_allclose(lb.to_image(box_in, image.shape[:2]), [[40, 30, 80, 60]], atol=1)
    with pytest.raises(ValueError):
        letterbox(np.zeros((4, 4), np.uint8), 64)
