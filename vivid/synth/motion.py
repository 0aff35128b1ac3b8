"""Body poses and motions for the synthetic scenes, all within anatomical joint limits.

Three sources meet in one representation, :class:`Motion` (per-frame joint angles of the
controlled Anny bones, a root orientation and a root translation):

1. **Mocap**: BVH clips (CMU skeletons or any BVH with recognised joint names) retargeted to
   Anny's bones by :func:`retarget_bvh` (see the bone-mapping table below).
2. **Procedural motion**: spline keyframes drawn within the joint limits and interpolated with
   monotone cubic (PCHIP) splines, which never overshoot the keyframes and so never leave the
   limits (:func:`procedural_motion`).
3. **Random static poses** within the same limits (:func:`random_pose`).

Joint angles and limits
-----------------------
Each controlled bone ``c`` has an anatomical frame ``F_c = [a1 a2 a3]`` in Anny's rest-pose
world coordinates (Anny: x = the body's left, y = backwards, z = up; the body faces -y):
``a3`` is the bone direction (twist axis), ``a1`` the flexion axis (the lateral axis, or the
elbow/wrist hinge), ``a2 = a3 x a1``. The bone's rotation relative to its parent, in rest-world
axes, is ``D_c = F_c Rx(t1) Ry(t2) Rz(t3) F_c^T`` (angles ``t1, t2, t3`` in degrees, limits in
:data:`JOINT_LIMITS`, given for the left side; the right side mirrors them: ``t2, t3`` negate).
Every source clamps its angles to these limits, so no motion bends a knee backwards.
``D_c`` is Anny's ``local-ref`` pose parameter (a delta in world-aligned axes on top of the
reference pose); bones that are not controlled keep the identity delta and follow their parent.

BVH -> Anny bone mapping (retargeting)
--------------------------------------
Each Anny bone in the table copies the world rotation of one BVH joint (the joint whose
rotation moves that body segment), composed with a fixed rest alignment. Trunk, neck, head and
clavicles use no alignment (their rest shapes differ by skeleton geometry, not by pose). Each
limb segment takes its parent's alignment and then the smallest rotation that points Anny's rest
segment (e.g. hip -> knee) along the BVH one; this maps Anny's A-pose onto the CMU T-pose and
keeps every limb's twist consistent with its parent's, so elbows and knees stay hinges. The
resulting local rotations are expressed as joint angles and clamped to the joint limits. The
BVH world axes are mapped onto Anny's from the rest skeleton itself (up = hips -> head, left =
right hip -> left hip), so Y-up and Z-up files both work. Root translation is scaled by the
ratio of Anny's leg length to the BVH leg length. On a CMU walk (02_01), Anny's limb directions
follow the BVH limbs within a few degrees (``tests/synth/test_motion.py``).

================  ===================  =============  =========
Anny bone         CMU (MotionBuilder)  CMU (3ds Max)  Daz/Poser
================  ===================  =============  =========
root              Hips                 Hips           hip
spine05, spine04  LowerBack            lowerback      abdomen
spine03, spine02  Spine                Chest          abdomen
spine01           Spine1               Chest2         chest
neck01, neck02    Neck                 lowerneck      neck
neck03            Neck1                Neck           neck
head              Head                 Head           head
clavicle.L        LeftShoulder         LeftCollar     lCollar
upperarm01.L      LeftArm              LeftShoulder   lShldr
lowerarm01.L      LeftForeArm          LeftElbow      lForeArm
wrist.L           LeftHand             LeftWrist      lHand
upperleg01.L      LeftUpLeg            LeftHip        lThigh
lowerleg01.L      LeftLeg              LeftKnee       lShin
foot.L            LeftFoot             LeftAnkle      lFoot
================  ===================  =============  =========

(``.R`` bones map to the Right/r joints.) Fingers, toes, eyes, ``pelvis``, ``shoulder01``,
``upperleg02``, ``lowerleg02``, ``upperarm02`` and ``lowerarm02`` follow their parents.

Anny's bundled MakeHuman walk cycle (``data/mpfb2/walkcycles``) animates IK controllers
(hand/foot/knee targets) of a Blender rig rather than bone rotations, so it is not a motion
source here. vivid ships no motion capture: mocap comes from BVH files the user gives (``--mocap``),
and training recipes read a shared folder of CMU clips when one exists (:mod:`vivid.synth.mocap_library`).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from vivid.core.errors import VividError
from vivid.core.geometry import euler_to_matrix
from vivid.synth.bvh import BvhClip, read_bvh

log = logging.getLogger(__name__)

__all__ = [
    "JOINT_LIMITS",
    "CONTROLLED_BONES",
    "BVH_BONE_MAP",
    "Rig",
    "Motion",
    "random_pose",
    "procedural_motion",
    "retarget_bvh",
    "load_mocap",
    "MotionSampler",
]

# (t1 flexion, t2 abduction/side, t3 twist) limits in degrees for left/central bones, relative
# to Anny's rest (A-)pose, and the hint for the flexion axis a1 ("x": the body's lateral axis,
# "-y": the forward axis reversed, "hinge": the elbow hinge from the rest geometry).
JOINT_LIMITS: dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, float], str]] = {
    "spine05": ((-6, 12), (-6, 6), (-8, 8), "x"),
    "spine04": ((-6, 12), (-6, 6), (-8, 8), "x"),
    "spine03": ((-6, 12), (-6, 6), (-8, 8), "x"),
    "spine02": ((-6, 12), (-6, 6), (-8, 8), "x"),
    "spine01": ((-6, 12), (-6, 6), (-8, 8), "x"),
    "neck01": ((-25, 20), (-12, 12), (-25, 25), "x"),
    "neck02": ((-10, 15), (-8, 8), (-15, 15), "x"),
    "neck03": ((-10, 15), (-8, 8), (-15, 15), "x"),
    "head": ((-25, 25), (-15, 15), (-35, 35), "x"),
    # hip: negative t1 swings the thigh forward (flexion), positive t2 abducts
    "upperleg01.L": ((-110, 25), (-15, 45), (-35, 35), "x"),
    # knee: positive t1 bends the knee (shin backwards); it never hyper-extends
    "lowerleg01.L": ((0, 140), (-3, 3), (-10, 10), "x"),
    # ankle: positive t1 points the toes down
    "foot.L": ((-50, 55), (-25, 25), (-30, 30), "x"),
    # clavicle: positive t1 raises the shoulder
    "clavicle.L": ((-10, 25), (-15, 15), (-10, 10), "-y"),
    # shoulder from the A-pose: negative t1 raises the arm forwards, positive t2 abducts
    "upperarm01.L": ((-160, 45), (-50, 115), (-90, 90), "x"),
    # elbow: hinge (t1, limits on the total bend, see Rig), carrying angle (t2), pronation (t3)
    "lowerarm01.L": ((0, 145), (-25, 25), (-60, 60), "hinge"),
    "wrist.L": ((-70, 70), (-35, 35), (-40, 40), "hinge"),
}


# The joint that ends the segment each (left or central) bone moves; Anny splits thighs, shins
# and arms into two bones, so a bone's own axis is not the segment's direction.
SEGMENT_END = {
    "upperleg01": "lowerleg01",
    "lowerleg01": "foot",
    "upperarm01": "lowerarm01",
    "lowerarm01": "wrist",
    "wrist": "finger3-1",
    "clavicle": "upperarm01",
}


LIMB_BONES = ("upperleg01", "lowerleg01", "foot", "upperarm01", "lowerarm01", "wrist")


def _swap_side(name: str) -> str:
    if name.endswith(".L"):
        return name[:-2] + ".R"
    if name.endswith(".R"):
        return name[:-2] + ".L"
    return name


def _mirror(name: str) -> str:
    return name[:-2] + ".R" if name.endswith(".L") else name


CONTROLLED_BONES: list[str] = []
for _n in JOINT_LIMITS:
    CONTROLLED_BONES.append(_n)
    if _n.endswith(".L"):
        CONTROLLED_BONES.append(_mirror(_n))

# Anny bone -> candidate BVH joint names (the first one present in a file is used).
BVH_BONE_MAP: dict[str, tuple[str, ...]] = {
    "root": ("Hips", "hip", "hips", "Hip"),
    "spine05": ("LowerBack", "lowerback", "abdomen"),
    "spine04": ("LowerBack", "lowerback", "abdomen"),
    "spine03": ("Spine", "Chest", "abdomen"),
    "spine02": ("Spine", "Chest", "abdomen"),
    "spine01": ("Spine1", "Chest2", "chest"),
    "neck01": ("Neck", "lowerneck", "neck"),
    "neck02": ("Neck", "lowerneck", "neck"),
    "neck03": ("Neck1", "Neck", "neck"),
    "head": ("Head", "head"),
}
for _side, _S, _s in (("L", "Left", "l"), ("R", "Right", "r")):
    BVH_BONE_MAP.update(
        {
            f"clavicle.{_side}": (f"{_S}Shoulder", f"{_S}Collar", f"{_s}Collar"),
            f"upperarm01.{_side}": (f"{_S}Arm", f"{_S}Shoulder", f"{_s}Shldr"),
            f"lowerarm01.{_side}": (f"{_S}ForeArm", f"{_S}Elbow", f"{_s}ForeArm"),
            f"wrist.{_side}": (f"{_S}Hand", f"{_S}Wrist", f"{_s}Hand"),
            f"upperleg01.{_side}": (f"{_S}UpLeg", f"{_S}Hip", f"{_s}Thigh"),
            f"lowerleg01.{_side}": (f"{_S}Leg", f"{_S}Knee", f"{_s}Shin"),
            f"foot.{_side}": (f"{_S}Foot", f"{_S}Ankle", f"{_s}Foot"),
        }
    )
# The MotionBuilder skeleton names the clavicle "LeftShoulder" and the 3ds Max one names the
# upper arm "LeftShoulder"; the two are told apart by the presence of "LeftArm" (see _pick).


# ----------------------------------------------------------------------------- rotations


def matrix_to_euler_xyz(m: np.ndarray) -> np.ndarray:
    """Inverse of :func:`vivid.core.geometry.euler_to_matrix` with axes ``"xyz"`` (middle angle in
    [-pi/2, pi/2])."""
    b = np.arcsin(np.clip(m[..., 0, 2], -1.0, 1.0))
    a = np.arctan2(-m[..., 1, 2], m[..., 2, 2])
    c = np.arctan2(-m[..., 0, 1], m[..., 0, 0])
    return np.stack([a, b, c], axis=-1)


def _min_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotation taking unit vector ``a`` to unit vector ``b`` (3, 3)."""
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    v = np.cross(a, b)
    c = float(np.dot(a, b))
    if np.linalg.norm(v) < 1e-9:
        if c > 0:
            return np.eye(3)
        perp = np.cross(a, [1.0, 0, 0] if abs(a[0]) < 0.9 else [0, 1.0, 0])
        perp /= np.linalg.norm(perp)
        return 2 * np.outer(perp, perp) - np.eye(3)
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx * (1.0 / (1.0 + c))


def _yaw(angle: np.ndarray) -> np.ndarray:
    """Rotation about Anny's up axis (z), (..., 3, 3)."""
    return euler_to_matrix(np.asarray(angle, dtype=np.float64)[..., None], "z")


# ----------------------------------------------------------------------------- rig


@dataclass
class Rig:
    """What the motion code needs to know about Anny's skeleton (float64 numpy).

    Attributes:
        labels: bone names (B,).
        parents: parent index per bone, -1 for the root (B,).
        rest: rest orientations R_c (B, 3, 3) (columns = bone axes in world coords, y along the bone).
        heads: rest bone heads (B, 3) metres.
        reference: Anny's reference orientations U_c (B, 3, 3).
        identity_rot: rotations of the skinning transforms for identity deltas (B, 3, 3).
        frames: anatomical frame F_c (3, 3) per controlled bone.
        limits: (3, 2) angle limits in degrees per controlled bone (right side mirrored).
        leg_length: hip-to-ankle length at rest (metres), used to scale mocap translation.
    """

    labels: list[str]
    parents: np.ndarray
    rest: np.ndarray
    heads: np.ndarray
    reference: np.ndarray
    identity_rot: np.ndarray
    frames: dict[str, np.ndarray] = field(default_factory=dict)
    limits: dict[str, np.ndarray] = field(default_factory=dict)
    leg_length: float = 0.8

    @classmethod
    def from_anny(cls, model) -> "Rig":
        """Build from an ``anny.Anny`` model (posed at the default phenotype)."""
        with torch.no_grad():
            out = model()
        labels = list(model.bone_labels)
        parents = np.asarray([int(p) for p in model.bone_parents])
        rest = out["rest_bone_poses"][0, :, :3, :3].double().cpu().numpy()
        heads = out["rest_bone_poses"][0, :, :3, 3].double().cpu().numpy()
        ref = model.reference_bone_orientations
        reference = ref.double().cpu().numpy() if ref is not None else rest.copy()
        # skinning transforms at identity deltas (local-ref): T = W R^T
        W = out["bone_poses"][0, :, :3, :3].double().cpu().numpy()
        identity_rot = W @ rest.transpose(0, 2, 1)
        rig = cls(labels, parents, rest, heads, reference, identity_rot)
        rig._build_frames()
        return rig

    def index(self, name: str) -> int:
        return self.labels.index(name)

    def segment_direction(self, bone: str) -> np.ndarray:
        """Rest direction of the body segment a controlled bone moves: from its head to the head
        of the next joint along the limb (:data:`SEGMENT_END`), else the bone's own axis."""
        end = SEGMENT_END.get(bone[:-2] if bone[-2:] in (".L", ".R") else bone)
        if end is None:
            return self.rest[self.index(bone)][:, 1]
        end = end + bone[-2:] if bone[-2:] in (".L", ".R") else end
        d = self.heads[self.index(end)] - self.heads[self.index(bone)]
        return d / np.linalg.norm(d)

    def _build_frames(self) -> None:
        X, Y = np.array([1.0, 0, 0]), np.array([0, 1.0, 0])
        idx = {n: i for i, n in enumerate(self.labels)}
        self.leg_length = float(np.linalg.norm(self.heads[idx["upperleg01.L"]] - self.heads[idx["foot.L"]]))
        for name in CONTROLLED_BONES:
            left = _mirror(name).replace(".R", ".L") if name.endswith(".R") else name
            lim = np.array(JOINT_LIMITS[left][:3], dtype=np.float64)
            hint = JOINT_LIMITS[left][3]
            i = idx[name]
            a3 = self.rest[i][:, 1]
            if hint == "x":
                h = X
            elif hint == "-y":
                h = Y if name.endswith(".R") else -Y  # mirrored so that t1 raises both sides
            else:  # hinge from the upper arm and forearm directions
                side = name[-1]
                up = self.rest[idx[f"upperarm01.{side}"]][:, 1]
                fo = self.rest[idx[f"lowerarm01.{side}"]][:, 1]
                h = np.cross(up, fo)
            a1 = h - np.dot(h, a3) * a3
            a1 /= np.linalg.norm(a1)
            a2 = np.cross(a3, a1)
            self.frames[name] = np.stack([a1, a2, a3], axis=1)
            if name.startswith("lowerarm01"):
                side = name[-1]
                up = self.rest[idx[f"upperarm01.{side}"]][:, 1]
                rest_bend = np.degrees(np.arccos(np.clip(np.dot(up, a3), -1, 1)))
                lim[0] = lim[0] - rest_bend  # limits are on the total bend
            if name.endswith(".R"):
                lim[1:] = -lim[1:, ::-1]
            self.limits[name] = lim

    # -- angles <-> pose deltas

    def angles_to_deltas(self, angles: np.ndarray) -> np.ndarray:
        """Joint angles (..., J, 3) degrees of CONTROLLED_BONES -> local-ref deltas (..., B, 3, 3).

        The root delta is the identity (the root orientation is applied by :meth:`root_delta`)."""
        lead = angles.shape[:-2]
        out = np.broadcast_to(np.eye(3), lead + (len(self.labels), 3, 3)).copy()
        rot = euler_to_matrix(np.radians(angles))
        for j, name in enumerate(CONTROLLED_BONES):
            F = self.frames[name]
            out[..., self.index(name), :, :] = F @ rot[..., j, :, :] @ F.T
        return out

    def deltas_to_angles(self, deltas: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`angles_to_deltas` for the controlled bones, (..., J, 3) degrees."""
        out = []
        for name in CONTROLLED_BONES:
            F = self.frames[name]
            m = F.T @ deltas[..., self.index(name), :, :] @ F
            out.append(np.degrees(matrix_to_euler_xyz(m)))
        return np.stack(out, axis=-2)

    def clamp(self, angles: np.ndarray) -> np.ndarray:
        """Clamp (..., J, 3) degrees to the joint limits."""
        lo = np.stack([self.limits[n][:, 0] for n in CONTROLLED_BONES])
        hi = np.stack([self.limits[n][:, 1] for n in CONTROLLED_BONES])
        return np.clip(angles, lo, hi)

    def within_limits(self, angles: np.ndarray, tol: float = 1e-6) -> bool:
        return bool(np.all(np.abs(self.clamp(angles) - angles) <= tol))

    def root_delta(self, orientation: np.ndarray) -> np.ndarray:
        """Root local-ref delta giving the root skinning rotation ``orientation`` (..., 3, 3).

        local-ref root: ``T_0 = U_0^T D_0 U_0 R_0^T``, hence ``D_0 = U_0 T_0 R_0 U_0^T``."""
        U0, R0 = self.reference[0], self.rest[0]
        return U0 @ orientation @ R0 @ U0.T


# ----------------------------------------------------------------------------- motion


@dataclass
class Motion:
    """A pose sequence (T frames, J = len(CONTROLLED_BONES)).

    Attributes:
        angles: (T, J, 3) float64 joint angles in degrees, within the joint limits.
        root: (T, 3, 3) root orientation in Anny world coordinates.
        translation: (T, 3) root translation in metres (Anny world, z up).
        fps: frames per second.
        source: where it came from ("static", "procedural", or the mocap clip name).
    """

    angles: np.ndarray
    root: np.ndarray
    translation: np.ndarray
    fps: float
    source: str

    def __len__(self) -> int:
        return int(self.angles.shape[0])

    def deltas(self, rig: Rig) -> np.ndarray:
        """Local-ref pose deltas (T, B, 3, 3) for every Anny bone, root included."""
        d = rig.angles_to_deltas(self.angles)
        d[:, 0] = rig.root_delta(self.root)
        return d

    def mirrored(self) -> "Motion":
        """The left-right mirror image (x -> -x): left and right bones swap angles, and mirroring
        keeps rotations about the lateral axis and flips the other two (t1 stays, t2 and t3
        negate, see the module docstring); the root becomes ``M R M`` with ``M = diag(-1, 1, 1)``."""
        flip = np.array([1.0, -1.0, -1.0])
        idx = [CONTROLLED_BONES.index(_swap_side(b)) for b in CONTROLLED_BONES]
        M = np.diag([-1.0, 1.0, 1.0])
        return replace(
            self,
            angles=self.angles[:, idx] * flip,
            root=M @ self.root @ M,
            translation=self.translation * np.array([-1.0, 1.0, 1.0]),
            source=self.source + " (mirrored)",
        )

    def slice(self, start: int, stop: int) -> "Motion":
        return replace(
            self, angles=self.angles[start:stop], root=self.root[start:stop], translation=self.translation[start:stop]
        )


def _sample_angles(rng: np.random.Generator, rig: Rig, n: int, spread: float) -> np.ndarray:
    """n poses (n, J, 3): truncated normal around the rest pose, sd = spread * half-range."""
    lo = np.stack([rig.limits[b][:, 0] for b in CONTROLLED_BONES])
    hi = np.stack([rig.limits[b][:, 1] for b in CONTROLLED_BONES])
    sd = spread * (hi - lo) / 2
    centre = np.clip(0.0, lo, hi)
    x = centre + sd * rng.standard_normal((n,) + lo.shape)
    # re-draw the rare out-of-range values uniformly (truncation without a loop)
    bad = (x < lo) | (x > hi)
    u = lo + (hi - lo) * rng.random(x.shape)
    return np.where(bad, u, x)


def random_pose(rng: np.random.Generator, rig: Rig, *, spread: float = 0.45) -> Motion:
    """One random static pose within the joint limits, facing a random direction."""
    angles = _sample_angles(rng, rig, 1, spread)
    root = _yaw(rng.uniform(-np.pi, np.pi))[None]
    return Motion(angles, root, np.zeros((1, 3)), fps=30.0, source="static")


def procedural_motion(
    rng: np.random.Generator, rig: Rig, frames: int, *, fps: float = 30.0, key_every: float = 0.8, spread: float = 0.35
) -> Motion:
    """Smooth random motion: keyframes within the limits every ``key_every`` seconds,
    interpolated per angle with PCHIP (monotone between keys, so it stays within the limits);
    the body turns slowly about the vertical axis."""
    if frames < 1:
        raise VividError(f"a motion needs at least one frame, got {frames}")
    if frames == 1:  # one frame of a spline through random keys is a random key
        m = random_pose(rng, rig, spread=spread)
        return replace(m, fps=fps, source="procedural")
    from scipy.interpolate import PchipInterpolator

    step = max(2, int(round(key_every * fps)))
    n_keys = frames // step + 2
    keys = _sample_angles(rng, rig, n_keys, spread)
    kt = np.arange(n_keys) * step
    t = np.arange(frames) + rng.uniform(0, step)
    angles = PchipInterpolator(kt, keys, axis=0)(t)
    angles = rig.clamp(angles)  # guards round-off only
    yaw0 = rng.uniform(-np.pi, np.pi)
    yaw_rate = rng.uniform(-0.6, 0.6)  # rad/s
    root = _yaw(yaw0 + yaw_rate * np.arange(frames) / fps)
    return Motion(angles, root, np.zeros((frames, 3)), fps=fps, source="procedural")


# ----------------------------------------------------------------------------- mocap


def _pick(names: list[str], bone: str) -> str | None:
    cands = BVH_BONE_MAP[bone]
    mb = "LeftArm" in names  # MotionBuilder naming: LeftShoulder is the clavicle
    for c in cands:
        if c not in names:
            continue
        if not mb and c in ("LeftShoulder", "RightShoulder") and bone.startswith("clavicle"):
            continue
        return c
    return None


def _segment_direction(clip: BvhClip, j: int) -> np.ndarray | None:
    """Rest direction of the segment joint j rotates: towards its first child with a non-zero
    offset (descending through zero-length joints), else its end site."""
    children = [k for k, jt in enumerate(clip.joints) if jt.parent == j]
    for k in children:
        off = clip.joints[k].offset
        if np.linalg.norm(off) > 1e-6:
            return off
    for k in children:
        d = _segment_direction(clip, k)
        if d is not None:
            return d
    es = clip.joints[j].end_site
    if es is not None and np.linalg.norm(es) > 1e-6:
        return es
    return None


def retarget_bvh(
    clip: BvhClip, rig: Rig, *, fps: float = 30.0, skip_first: bool = True, name: str | None = None
) -> Motion:
    """Retarget a BVH clip to Anny (see the module docstring for the mapping), resampled to ``fps``.

    Raises VividError when the clip lacks the joints the mapping needs."""
    names = clip.names
    pick = {b: _pick(names, b) for b in BVH_BONE_MAP}
    missing = [
        b for b in ("root", "upperleg01.L", "upperleg01.R", "lowerleg01.L", "lowerleg01.R", "head") if pick[b] is None
    ]
    if missing:
        raise VividError(
            f"mocap file {clip.source or '<clip>'} has no joints for {', '.join(missing)}; "
            "only CMU-style (Hips/LeftUpLeg/...) or Daz-style (hip/lThigh/...) BVH skeletons can be retargeted"
        )
    motion = clip.motion[1:] if skip_first and clip.num_frames > 1 else clip.motion
    step = max(1, int(round(clip.fps / fps)))
    sub = BvhClip(clip.joints, motion[::step], clip.frame_time * step, clip.source)
    rot, pos = sub.forward_kinematics()

    # rest skeleton positions (all rotations identity)
    rest_pos = np.zeros((len(clip.joints), 3))
    for j, jt in enumerate(clip.joints):
        rest_pos[j] = jt.offset + (rest_pos[jt.parent] if jt.parent >= 0 else 0)
    idx = {n: i for i, n in enumerate(names)}
    up = rest_pos[idx[pick["head"]]] - rest_pos[idx[pick["root"]]]
    left = rest_pos[idx[pick["upperleg01.L"]]] - rest_pos[idx[pick["upperleg01.R"]]]
    up /= np.linalg.norm(up)
    left -= np.dot(left, up) * up
    left /= np.linalg.norm(left)
    B_bvh = np.stack([left, up, np.cross(left, up)], axis=1)
    B_anny = np.stack([np.array([1.0, 0, 0]), np.array([0, 0, 1.0]), np.array([0, -1.0, 0])], axis=1)
    C = B_anny @ B_bvh.T  # BVH world -> Anny world

    T = len(sub.motion)
    # Rest alignments, parents first: the trunk, neck, head and clavicles copy the BVH rotations
    # as they are (their rest shapes differ by skeleton geometry, not by pose); each limb
    # segment takes its parent's alignment and then the smallest rotation that points its
    # Anny rest direction along the BVH one (this straightens Anny's A-pose onto the T-pose
    # and keeps the twist of a limb consistent with its parent, so elbows stay hinges).
    world = {}  # Anny bone -> (T, 3, 3) desired skinning rotation
    align: dict[str, np.ndarray] = {}
    for bone in sorted((b for b in pick if pick[b] is not None), key=rig.index):
        j = idx[pick[bone]]
        a = rig.parents[rig.index(bone)]
        while a > 0 and rig.labels[a] not in align:
            a = rig.parents[a]
        al = align.get(rig.labels[a], np.eye(3)) if bone != "root" else np.eye(3)
        if bone.split(".")[0] in LIMB_BONES:
            d = _segment_direction(clip, j)
            if d is None:
                continue
            al = _min_rotation(al @ rig.segment_direction(bone), C @ d) @ al
        align[bone] = al
        world[bone] = C @ rot[:, j] @ C.T @ al

    # local-ref deltas of the controlled bones from the desired skinning rotations:
    # D_c = A_c T0_c^T T0_a T_a^T T_c A_c^T with a the nearest mapped ancestor (T0: identity-delta
    # skinning rotations, A_c = U_c R_c^T).
    deltas = np.broadcast_to(np.eye(3), (T, len(rig.labels), 3, 3)).copy()
    for bone in CONTROLLED_BONES:
        if bone not in world:
            continue
        c = rig.index(bone)
        a = rig.parents[c]
        while a > 0 and rig.labels[a] not in world:
            a = rig.parents[a]
        anc = rig.labels[a] if a >= 0 else "root"
        Ta = world.get(anc, np.broadcast_to(np.eye(3), (T, 3, 3)))
        A = rig.reference[c] @ rig.rest[c].T
        M = rig.identity_rot[c].T @ rig.identity_rot[a] @ Ta.transpose(0, 2, 1) @ world[bone]
        deltas[:, c] = A @ M @ A.T
    angles = rig.clamp(rig.deltas_to_angles(deltas))

    root = world["root"]
    root_pos = pos[:, idx[pick["root"]]]
    lj, fj = idx[pick["upperleg01.L"]], idx[pick["foot.L"]]
    bvh_leg = np.linalg.norm(rest_pos[lj] - rest_pos[fj])
    scale = rig.leg_length / max(bvh_leg, 1e-9)
    trans = (root_pos - root_pos[:1]) @ C.T * scale
    trans[:, 2] = (root_pos[:, None] @ C.T)[:, 0, 2] * scale
    trans[:, 2] -= np.median(trans[:, 2])  # standing height -> 0, jumps stay positive
    src = name or Path(clip.source).stem or "bvh"
    return Motion(angles, root, trans, fps=clip.fps / step, source=src)


def load_mocap(path: str | os.PathLike, rig: Rig, *, fps: float = 30.0) -> Motion:
    """Read and retarget one BVH file (user path); VividError if it does not parse or map."""
    return retarget_bvh(read_bvh(path), rig, fps=fps, skip_first=True)


class MotionSampler:
    """Draws motions for scenes from a mix of sources (mocap is mirrored left-right half the time).

    Args:
        rig: the skeleton.
        sources: subset of ``("mocap", "procedural", "static")``.
        mocap: BVH paths to draw mocap from (None or empty: no mocap, the other sources only);
            pass different subsets for train and test splits to hold motions out.
        fps: frame rate of the produced motions.
    """

    def __init__(
        self,
        rig: Rig,
        *,
        sources: tuple[str, ...] = ("mocap", "procedural", "static"),
        mocap: list[str | os.PathLike] | None = None,
        fps: float = 30.0,
    ) -> None:
        bad = [s for s in sources if s not in ("mocap", "procedural", "static")]
        if bad or not sources:
            raise VividError(f"unknown motion source(s) {bad or sources}; use mocap, procedural or static")
        self.rig, self.fps = rig, fps
        paths = [Path(p) for p in mocap or []]
        self.clips = [load_mocap(p, rig, fps=fps) for p in paths] if "mocap" in sources else []
        self.sources = tuple(s for s in sources if s != "mocap" or self.clips)
        if not self.sources:
            raise VividError("no motion source left: mocap was asked for but no BVH clips were given (pass --mocap FILE_OR_FOLDER)")

    def pose(self, rng: np.random.Generator) -> Motion:
        """One frame: a mocap frame, a procedural frame or a random static pose."""
        src = self.sources[rng.integers(len(self.sources))]
        if src == "mocap":
            clip = self.clips[rng.integers(len(self.clips))]
            t = int(rng.integers(len(clip)))
            m = clip.slice(t, t + 1)
            if rng.random() < 0.5:
                m = m.mirrored()
            m = replace(m, root=_yaw(rng.uniform(-np.pi, np.pi))[None] @ m.root, translation=np.zeros((1, 3)))
            return m
        if src == "procedural":
            return procedural_motion(rng, self.rig, 1, fps=self.fps, spread=0.45)
        return random_pose(rng, self.rig)

    def sequence(self, rng: np.random.Generator, frames: int) -> Motion:
        """A ``frames``-long sequence (mocap clips are looped back and forth if short)."""
        src = self.sources[rng.integers(len(self.sources))]
        if src == "mocap":
            clip = self.clips[rng.integers(len(self.clips))]
            n = len(clip)
            start = int(rng.integers(max(1, n - frames + 1)))
            ids = np.arange(start, start + frames)
            period = max(1, 2 * (n - 1))
            ids = ids % period
            ids = np.where(ids >= n, period - ids, ids)
            m = Motion(clip.angles[ids], clip.root[ids], clip.translation[ids], clip.fps, clip.source)
            if rng.random() < 0.5:
                m = m.mirrored()
            yaw = _yaw(rng.uniform(-np.pi, np.pi))
            trans = m.translation - m.translation[:1] * np.array([1, 1, 0])
            return Motion(m.angles, yaw @ m.root, trans @ yaw.T, m.fps, m.source)
        if src == "procedural":
            return procedural_motion(rng, self.rig, frames, fps=self.fps)
        m = random_pose(rng, self.rig)
        return Motion(
            np.repeat(m.angles, frames, 0), np.repeat(m.root, frames, 0), np.zeros((frames, 3)), self.fps, "static"
        )


def check_mocap(paths: list[str | os.PathLike]) -> list[Path]:
    """Parse every BVH file (or every ``*.bvh`` in a folder) and check that it can be retargeted.

    Returns the file list; raises VividError (one line) for a file that does not parse or lacks
    the joints the mapping needs. Runs without the body model, so the CLI can check its input
    before writing anything."""
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found = sorted(p.glob("*.bvh"))
            if not found:
                raise VividError(f"mocap folder {p} holds no .bvh files")
            files += found
        else:
            files.append(p)
    for f in files:
        clip = read_bvh(f)
        names = clip.names
        missing = [
            b
            for b in ("root", "upperleg01.L", "upperleg01.R", "lowerleg01.L", "lowerleg01.R", "head")
            if _pick(names, b) is None
        ]
        if missing:
            raise VividError(
                f"mocap file {f} has no joints for {', '.join(missing)}; "
                "only CMU-style (Hips/LeftUpLeg/...) or Daz-style (hip/lThigh/...) BVH skeletons can be retargeted"
            )
    return files
