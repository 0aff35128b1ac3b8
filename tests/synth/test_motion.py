"""BVH parsing, retargeting to Anny and joint-limited poses."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vivid.core.errors import VividError
from vivid.core.geometry import euler_to_matrix
from vivid.synth.bvh import BvhClip, parse_bvh, read_bvh, write_bvh
from vivid.synth.motion import (
    CONTROLLED_BONES,
    MotionSampler,
    check_mocap,
    load_mocap,
    matrix_to_euler_xyz,
    procedural_motion,
    random_pose,
)

TINY = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
  JOINT Chest
  {
    OFFSET 0 1 0
    CHANNELS 3 Zrotation Yrotation Xrotation
    End Site
    {
      OFFSET 0 2 0
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.5
1 2 3 0 0 0 0 0 0
1 2 3 90 0 0 0 0 0
"""


def test_tiny_bvh_parses_with_hand_worked_kinematics(tmp_path):
    path = tmp_path / "tiny.bvh"
    path.write_text(TINY)
    clip = read_bvh(path)
    assert clip.names == ["Hips", "Chest"] and clip.num_frames == 2 and clip.fps == 2.0
    rot, pos = clip.forward_kinematics()
    # frame 0: no rotation, chest one unit above the root at (1, 2, 3)
    np.testing.assert_allclose(pos[0], [[1, 2, 3], [1, 3, 3]], atol=1e-12)
    # frame 1: the root turns 90 degrees about z, so the chest offset (0, 1, 0) becomes (-1, 0, 0)
    np.testing.assert_allclose(pos[1], [[1, 2, 3], [0, 2, 3]], atol=1e-12)
    np.testing.assert_allclose(rot[1, 1], [[0, -1, 0], [1, 0, 0], [0, 0, 1]], atol=1e-12)
    assert np.allclose(clip.joints[1].end_site, [0, 2, 0])


def test_bvh_write_read_round_trip(tmp_path):
    clip = parse_bvh(TINY)
    write_bvh(tmp_path / "out.bvh", clip)
    back = read_bvh(tmp_path / "out.bvh")
    assert back.names == clip.names
    np.testing.assert_allclose(back.motion, clip.motion, atol=1e-4)
    np.testing.assert_allclose(back.joints[1].offset, clip.joints[1].offset)


@pytest.mark.parametrize(
    "text, words",
    [
        ("", "HIERARCHY"),
        (TINY.replace("MOTION", "MOTON"), "MOTION"),
        (TINY.replace("1 2 3 90 0 0 0 0 0", "1 2 3 90 0 0"), "values present"),
        (TINY.replace("1 2 3 90", "1 2 x 90"), "not a number"),
        (TINY.replace("CHANNELS 3 Zrotation", "CHANNELS 3 Qrotation"), "unknown channel"),
        (TINY.replace("OFFSET 0 1 0", "OFFSET 0 one 0"), "expected a number"),
        (TINY[: TINY.index("MOTION") - 3], "end of file"),
    ],
)
def test_broken_bvh_raises_one_line_error(tmp_path, text, words):
    path = tmp_path / "broken.bvh"
    path.write_text(text)
    with pytest.raises(VividError) as err:
        read_bvh(path)
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg and words in msg


def test_missing_bvh_and_unmappable_skeleton(tmp_path):
    with pytest.raises(VividError, match="does not exist"):
        read_bvh(tmp_path / "nope.bvh")
    path = tmp_path / "tiny.bvh"
    path.write_text(TINY)  # parses, but has no legs to retarget
    with pytest.raises(VividError, match="no joints for"):
        check_mocap([path])


def test_euler_round_trip():
    rng = np.random.default_rng(0)
    a = rng.uniform([-3, -1.5, -3], [3, 1.5, 3], (50, 3))
    np.testing.assert_allclose(matrix_to_euler_xyz(euler_to_matrix(a)), a, atol=1e-9)


def test_angles_deltas_round_trip_and_limits(kit):
    rig = kit.rig
    rng = np.random.default_rng(1)
    for _ in range(5):
        m = random_pose(rng, rig)
        assert rig.within_limits(m.angles)
        back = rig.deltas_to_angles(rig.angles_to_deltas(m.angles))
        np.testing.assert_allclose(back, m.angles, atol=1e-6)
    # the knee never bends backwards and the elbow limit is on the total bend
    knee = CONTROLLED_BONES.index("lowerleg01.L")
    assert rig.limits["lowerleg01.L"][0, 0] == 0.0
    lo = rig.limits["lowerarm01.L"][0, 0]
    assert -60 < lo < -20  # Anny's rest pose already bends the elbow by 20-60 degrees
    angles = np.zeros((1, len(CONTROLLED_BONES), 3))
    angles[0, knee, 0] = -30
    assert not rig.within_limits(angles)
    assert rig.clamp(angles)[0, knee, 0] == 0


def test_knee_flexion_moves_the_shin_backwards(kit):
    rig = kit.rig
    angles = np.zeros((1, len(CONTROLLED_BONES), 3))
    angles[0, CONTROLLED_BONES.index("lowerleg01.L"), 0] = 90
    deltas = rig.angles_to_deltas(angles)
    out = kit.model(pose=torch.from_numpy(deltas).float())
    heads = out.bone_heads[0]
    knee, ankle = heads[kit.model.bone_names.index("lowerleg01.L")], heads[kit.model.bone_names.index("foot.L")]
    shin = (ankle - knee) / (ankle - knee).norm()
    assert shin[1] > 0.9  # +y is backwards: the shin is horizontal, pointing back


def test_procedural_motion_is_smooth_and_within_limits(kit):
    m = procedural_motion(np.random.default_rng(2), kit.rig, 90, fps=30)
    assert m.angles.shape == (90, len(CONTROLLED_BONES), 3)
    assert kit.rig.within_limits(m.angles)
    step = np.abs(np.diff(m.angles, axis=0)).max()
    assert step < 15  # degrees per frame at 30 fps: no jumps


def _direction(a, b):
    d = b - a
    return d / np.linalg.norm(d, axis=-1, keepdims=True)


@pytest.fixture(scope="module")
def walk_bvh(shared_data):
    """A CMU walk (02_01, 120 fps) from the shared data; vivid ships no mocap of its own."""
    return shared_data / "mocap" / "cmu_02_01.bvh"


def test_retargeted_walk_follows_the_mocap_limbs(kit, walk_bvh):
    """Limb directions of the retargeted Anny body match the BVH limb directions (mapped to
    Anny's axes) within a few degrees, and the angles respect the limits."""
    path = walk_bvh
    rig = kit.rig
    motion = load_mocap(path, rig, fps=30)
    assert rig.within_limits(motion.angles)
    T = len(motion)
    ids = np.linspace(0, T - 1, 6).astype(int)
    deltas = motion.deltas(rig)[ids]
    out = kit.model(pose=torch.from_numpy(deltas).float())
    heads = out.bone_heads.detach().double().numpy()
    names = kit.model.bone_names

    clip = read_bvh(path)
    step = round(clip.fps / 30)  # load_mocap resampled the clip to 30 fps
    _, pos = BvhClip(clip.joints, clip.motion[1:][::step], clip.frame_time * step).forward_kinematics()
    pos = pos[ids]
    n = clip.names
    # BVH (y up, z forward, x left) -> Anny (z up, -y forward, x left)
    C = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])
    pos = pos @ C.T
    pairs = [
        (("upperleg01.L", "lowerleg01.L"), ("LeftUpLeg", "LeftLeg")),
        (("lowerleg01.R", "foot.R"), ("RightLeg", "RightFoot")),
        (("upperarm01.L", "lowerarm01.L"), ("LeftArm", "LeftForeArm")),
        (("lowerarm01.R", "wrist.R"), ("RightForeArm", "RightHand")),
    ]
    for (a, b), (p, q) in pairs:
        da = _direction(heads[:, names.index(a)], heads[:, names.index(b)])
        db = _direction(pos[:, n.index(p)], pos[:, n.index(q)])
        angle = np.degrees(np.arccos(np.clip((da * db).sum(-1), -1, 1)))
        assert angle.max() < 20, (a, angle)
    # walking bends the knees
    knee = motion.angles[:, CONTROLLED_BONES.index("lowerleg01.L"), 0]
    assert knee.max() > 30 and knee.min() >= 0


def test_motion_sampler_sources(kit, tmp_path):
    rig = kit.rig
    s = MotionSampler(rig, sources=("static",))
    m = s.sequence(np.random.default_rng(0), 5)
    assert m.source == "static" and np.allclose(m.angles, m.angles[:1])
    # No BVH given: mocap is dropped, procedural and static remain; mocap alone is an error.
    s = MotionSampler(rig)
    assert s.sources == ("procedural", "static") and s.clips == []
    with pytest.raises(VividError, match="no BVH clips"):
        MotionSampler(rig, sources=("mocap",))
    with pytest.raises(VividError):
        MotionSampler(rig, sources=("dance",))
    bad = tmp_path / "bad.bvh"
    bad.write_text("HIERARCHY\nROOT x\n{")
    with pytest.raises(VividError, match="does not parse"):
        MotionSampler(rig, sources=("mocap",), mocap=[bad])


def test_motion_sampler_loops_a_short_mocap_clip(kit, walk_bvh):
    rig = kit.rig
    s = MotionSampler(rig, sources=("mocap",), mocap=[walk_bvh])
    m = s.sequence(np.random.default_rng(0), 200)  # longer than the clip: loops back and forth
    assert len(m) == 200 and m.source.startswith("cmu_02_01") and rig.within_limits(m.angles)


def test_every_shared_mocap_clip_retargets_within_limits(kit, shared_data):
    """All CMU clips of the shared sample data (MotionBuilder, 3ds Max and Daz skeletons)."""
    files = sorted((shared_data / "mocap").glob("*.bvh"))
    assert files
    for f in files:
        m = load_mocap(f, kit.rig, fps=10)
        assert len(m) > 10 and kit.rig.within_limits(m.angles), f.name
        assert np.isfinite(m.translation).all() and np.abs(m.translation[:, 2]).max() < 2.0, f.name


def test_mirrored_motion_is_the_reflected_body(kit):
    """Mirroring a pose reflects the body: joints x -> -x with left and right swapped."""
    rig = kit.rig
    m = procedural_motion(np.random.default_rng(4), rig, 3)
    m.translation[:] = [0.3, -0.2, 0.1]
    mm = m.mirrored()
    assert rig.within_limits(mm.angles)
    np.testing.assert_allclose(mm.mirrored().angles, m.angles)
    a = kit.pose(m.deltas(rig), np.full(6, 0.5))[1].numpy() + m.translation[:, None]
    b = kit.pose(mm.deltas(rig), np.full(6, 0.5))[1].numpy() + mm.translation[:, None]
    swap = [0, 4, 5, 6, 1, 2, 3, 7, 8, 9, 10, 14, 15, 16, 11, 12, 13]
    reflected = a[:, swap] * np.array([-1.0, 1.0, 1.0])
    assert np.abs(b - reflected).max() < 0.005  # metres; Anny's rest mesh is symmetric to ~mm
    assert np.abs(b - a).max() > 0.1  # and the pose is not symmetric itself
