"""Joint angles and coaching rules on hand-made skeletons and angle sequences."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from vivid.core.errors import VividError
from vivid.pose3d.angles import MEASURES, joint_angles
from vivid.pose3d.bones import JOINT_INDEX as J
from vivid.pose3d.coach import coach_pose, coach_sequence, count_reps, load_rules, parse_rules, shipped_exercises

UP = np.array([0.0, -1.0, 0.0])  # camera frame: y points down
FWD = np.array([0.0, 0.0, -1.0])  # the person faces the camera
LEFT = np.array([1.0, 0.0, 0.0])  # the person's left is image right


def person(knee: float = 178.0, lean: float = 0.0, arms: str = "down", elbow: float = 180.0) -> np.ndarray:
    """(17, 3) skeleton facing the camera. ``knee``: included knee angle (both legs, the shin and
    thigh tilt equally, forward and back); ``lean``: forward trunk lean from vertical; ``arms``:
    "down" or "up"; ``elbow``: included elbow angle (forearm bends forwards)."""
    a = math.radians((180.0 - knee) / 2)
    x = np.zeros((17, 3))
    base = np.array([0.0, 0.9, 3.0])
    for side, s in (("l", 1.0), ("r", -1.0)):
        ankle = base + s * 0.1 * LEFT
        kn = ankle + 0.43 * (math.sin(a) * FWD + math.cos(a) * UP)
        hip = kn + 0.44 * (-math.sin(a) * FWD + math.cos(a) * UP)
        x[J[f"{side}_ankle"]], x[J[f"{side}_knee"]], x[J[f"{side}_hip"]] = ankle, kn, hip
    x[J["pelvis"]] = (x[J["l_hip"]] + x[J["r_hip"]]) / 2
    t = math.radians(lean)
    trunk = math.sin(t) * FWD + math.cos(t) * UP
    x[J["spine"]] = x[J["pelvis"]] + 0.23 * trunk
    x[J["thorax"]] = x[J["spine"]] + 0.25 * trunk
    x[J["neck"]] = x[J["thorax"]] + 0.11 * trunk
    x[J["head"]] = x[J["neck"]] + 0.12 * trunk
    e = math.radians(180.0 - elbow)
    for side, s in (("l", 1.0), ("r", -1.0)):
        sh = x[J["thorax"]] + s * 0.17 * LEFT
        d = UP if arms == "up" else -UP
        el = sh + 0.28 * d
        wr = el + 0.25 * (math.cos(e) * d + math.sin(e) * FWD)
        x[J[f"{side}_shoulder"]], x[J[f"{side}_elbow"]], x[J[f"{side}_wrist"]] = sh, el, wr
    return x


def floats(joints):
    return {k: float(v) for k, v in joint_angles(joints).items()}


def test_angles_hand_values():
    half = floats(person(knee=120.0))
    assert half["knee_l"] == pytest.approx(120.0, abs=1e-6)
    assert half["knee_r"] == pytest.approx(120.0, abs=1e-6)
    # Upright trunk, thigh 30 deg off vertical; the thorax sits 0.1 m inwards of the hip joint.
    expect_hip = math.degrees(math.acos(-0.48 * math.cos(math.radians(30)) / math.hypot(0.1, 0.48)))
    assert half["hip_l"] == pytest.approx(expect_hip, abs=1e-6)
    assert half["knee_over_toe_l"] == pytest.approx(0.5, abs=1e-6)  # sin 30: knee ahead by half a shin
    assert half["trunk_lean"] == pytest.approx(0.0, abs=1e-6)
    assert half["symmetry_knee"] == pytest.approx(0.0, abs=1e-6)
    lean = floats(person(knee=120.0, lean=40.0, elbow=90.0))
    assert lean["trunk_lean"] == pytest.approx(40.0, abs=1e-6)
    assert lean["elbow_l"] == pytest.approx(90.0, abs=1e-6)
    # The arms hang straight down while the trunk leans 40 degrees: the upper arm is 40 deg off it.
    assert lean["shoulder_l"] == pytest.approx(40.0, abs=1e-6)


def test_shoulder_and_wrist_measures():
    down = floats(person(arms="down"))
    up = floats(person(arms="up"))
    assert down["shoulder_l"] == pytest.approx(0.0, abs=1e-6)
    assert up["shoulder_r"] == pytest.approx(180.0, abs=1e-6)
    assert down["wrist_above_head_l"] < 0 < up["wrist_above_head_l"]
    assert up["wrist_above_head_l"] == pytest.approx(0.28 + 0.25 - 0.11 - 0.12, abs=1e-9)
    assert set(down) == set(MEASURES)


def test_batch_of_poses_equals_per_pose():
    poses = np.stack([person(knee=k) for k in (170.0, 130.0, 90.0)])
    batch = joint_angles(poses)
    for i, k in enumerate((170.0, 130.0, 90.0)):
        assert float(batch["knee_mean"][i]) == pytest.approx(k, abs=1e-6)
        assert float(batch["hip_l"][i]) == pytest.approx(floats(poses[i])["hip_l"])


def test_squat_depth_prompt_on_half_squat_only():
    squat = load_rules("squat")
    half = [p.rule for p in coach_pose(squat, floats(person(knee=120.0)))]
    stand = coach_pose(squat, floats(person(knee=178.0)))
    deep = [p.rule for p in coach_pose(squat, floats(person(knee=85.0)))]
    assert "depth" in half
    assert stand == []
    assert "depth" not in deep
    leaning = [p.rule for p in coach_pose(squat, floats(person(knee=100.0, lean=60.0)))]
    assert "chest_up" in leaning and "chest_up" not in half


def test_raise_hands_rules():
    rules = load_rules("raise_hands")
    assert {p.rule for p in coach_pose(rules, floats(person(arms="down")))} == {"left_hand", "right_hand"}
    assert coach_pose(rules, floats(person(arms="up"))) == []


def test_rep_counting_on_synthetic_knee_sequence():
    squat = load_rules("squat")
    t = np.arange(120)
    depth = np.where(t < 40, 80.0, np.where(t < 80, 55.0, 80.0))  # second rep is shallow
    knee = 175.0 - depth * np.sin(np.pi * t / 40.0) ** 2
    knee[118:] = 175.0
    reps = count_reps(knee, squat.reps)
    assert len(reps) == 3
    assert [r.extreme_frame for r in reps] == [20, 60, 100]
    assert reps[1].extreme_value == pytest.approx(120.0)
    result = coach_sequence(squat, {"knee_mean": knee, "trunk_lean": np.zeros(120)})
    depth_prompts = [p for p in result.prompts if p.rule == "depth"]
    assert len(depth_prompts) == 1 and depth_prompts[0].frames == [60]
    assert result.to_dict()["rep_count"] == 3
    # A dip that never passes the exit threshold is not a repetition.
    partial = np.concatenate([knee[:40], np.full(10, 150.0), np.full(10, 120.0), np.full(10, 150.0)])
    assert len(count_reps(partial, squat.reps)) == 1


def test_shipped_rule_files_load_and_bad_rules_raise(tmp_path):
    assert {"squat", "pushup", "lunge", "raise_hands"} <= set(shipped_exercises())
    for name in shipped_exercises():
        assert load_rules(name).rules
    with pytest.raises(VividError):
        load_rules("yoga")
    with pytest.raises(VividError):
        parse_rules({"name": "x", "rules": [{"id": "a", "when": {"metric": "nope", "op": "<", "value": 1}, "message": "m"}]})
    with pytest.raises(VividError):
        parse_rules({"name": "x", "rules": [{"id": "a", "phase": "rep", "when": {"metric": "knee_l", "op": "<", "value": 1}, "message": "m"}]})
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(VividError):
        load_rules(bad)


def test_malformed_rule_file_is_one_line_with_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: squat\nrules:\n  - id: depth\n    when: {metric: knee_mean, op: '>', value: 100\n    message: hi\n")
    with pytest.raises(VividError) as info:
        load_rules(bad)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{bad}:") and "not valid YAML" in message
    line = int(message.split(":")[1])
    assert 4 <= line <= 6  # where the unclosed mapping is


@pytest.mark.parametrize(
    "extra, where",
    [("colour: red\n", "unknown key colour"), ("    severty: info\n", "rule 0 (depth): unknown key severty")],
)
def test_unknown_keys_in_rule_files_are_refused(tmp_path, extra, where):
    text = "name: squat\nrules:\n  - id: depth\n    when: {metric: knee_mean, op: '>', value: 100}\n    message: hi\n"
    path = tmp_path / "r.yaml"
    path.write_text(text + extra if extra.startswith(" ") else extra + text)
    with pytest.raises(VividError, match=re.escape(where)):
        load_rules(path)


def test_shipped_rule_files_still_load():
    for name in shipped_exercises():
        assert load_rules(name).rules
