"""BVH motion-capture files: parse, forward kinematics, trimmed writing.

A BVH file holds a joint hierarchy (``OFFSET`` of each joint from its parent in the rest pose,
``CHANNELS`` naming the per-frame values) and a ``MOTION`` block with one line of channel
values per frame. Rotations are Euler angles in degrees applied in the order the channels are
listed (``Zrotation Yrotation Xrotation`` means ``R = Rz @ Ry @ Rx``, intrinsic); positions are
in the file's own units.

Any file a user has may be passed (the parser takes a path and does not assume a skeleton); a
file that does not parse raises :class:`~vivid.core.errors.VividError` with one line naming
the file and what is wrong.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vivid.core.errors import VividError
from vivid.core.geometry import euler_to_matrix

__all__ = ["BvhJoint", "BvhClip", "read_bvh", "parse_bvh", "write_bvh"]

_ROT = {"Xrotation": "x", "Yrotation": "y", "Zrotation": "z"}
_POS = {"Xposition": 0, "Yposition": 1, "Zposition": 2}


@dataclass
class BvhJoint:
    """One joint: rest ``offset`` (3,) from its parent and its channel names."""

    name: str
    parent: int
    offset: np.ndarray
    channels: list[str]
    end_site: np.ndarray | None = None  # offset of the end site for leaf joints


@dataclass
class BvhClip:
    """A parsed clip.

    Attributes:
        joints: joints in file order (parents before children).
        motion: (T, C) float64 channel values, C = total channel count.
        frame_time: seconds per frame.
        source: the file it came from (informational).
    """

    joints: list[BvhJoint]
    motion: np.ndarray
    frame_time: float
    source: str = ""
    _chan_start: list[int] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        start, self._chan_start = 0, []
        for j in self.joints:
            self._chan_start.append(start)
            start += len(j.channels)

    @property
    def names(self) -> list[str]:
        return [j.name for j in self.joints]

    @property
    def num_frames(self) -> int:
        return int(self.motion.shape[0])

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time

    def index(self, name: str) -> int:
        return self.names.index(name)

    def local_rotations(self) -> np.ndarray:
        """Per-frame local rotation matrices, (T, J, 3, 3)."""
        T = self.num_frames
        out = np.tile(np.eye(3), (T, len(self.joints), 1, 1))
        for j, joint in enumerate(self.joints):
            rot_chans = [c for c in joint.channels if c in _ROT]
            if not rot_chans:
                continue
            s = self._chan_start[j]
            angles = np.stack([self.motion[:, s + joint.channels.index(c)] for c in rot_chans], axis=-1)
            out[:, j] = euler_to_matrix(np.deg2rad(angles), "".join(_ROT[c] for c in rot_chans))
        return out

    def root_positions(self) -> np.ndarray:
        """Per-frame root translation channels (T, 3), zeros where the root has none."""
        root = self.joints[0]
        pos = np.zeros((self.num_frames, 3))
        s = self._chan_start[0]
        for c in root.channels:
            if c in _POS:
                pos[:, _POS[c]] = self.motion[:, s + root.channels.index(c)]
        return pos

    def forward_kinematics(self) -> tuple[np.ndarray, np.ndarray]:
        """World rotations (T, J, 3, 3) and positions (T, J, 3) of every joint.

        ``W_j = W_parent @ R_j`` and ``p_j = p_parent + W_parent @ offset_j`` with the root at
        its translation channels plus its offset.
        """
        local = self.local_rotations()
        T, J = local.shape[:2]
        rot = np.empty_like(local)
        pos = np.empty((T, J, 3))
        root_pos = self.root_positions()
        for j, joint in enumerate(self.joints):
            if joint.parent < 0:
                rot[:, j] = local[:, j]
                pos[:, j] = root_pos + joint.offset
            else:
                p = joint.parent
                rot[:, j] = rot[:, p] @ local[:, j]
                pos[:, j] = pos[:, p] + np.einsum("tij,j->ti", rot[:, p], joint.offset)
        return rot, pos

    def trimmed(self, start: int, stop: int, step: int = 1) -> "BvhClip":
        """A new clip with frames ``start:stop:step`` (frame time scaled by ``step``)."""
        motion = self.motion[start:stop:step]
        if motion.shape[0] == 0:
            raise VividError(f"trim {start}:{stop}:{step} of {self.source or 'clip'} leaves no frames")
        return BvhClip(self.joints, motion.copy(), self.frame_time * step, self.source)


def read_bvh(path: str | os.PathLike) -> BvhClip:
    """Read a BVH file; raises VividError (one line) when it is missing or does not parse."""
    path = Path(path)
    if not path.is_file():
        raise VividError(f"mocap file {path} does not exist; pass the path of a .bvh file")
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise VividError(f"cannot read mocap file {path}: {err}") from err
    return parse_bvh(text, source=str(path))


def parse_bvh(text: str, source: str = "<string>") -> BvhClip:
    """Parse BVH text. Raises VividError naming ``source`` and the problem."""

    def fail(msg: str) -> VividError:
        return VividError(f"mocap file {source} does not parse as BVH: {msg}; check the file or pick another")

    tokens = text.split()
    pos = 0

    def take() -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise fail("unexpected end of file")
        pos += 1
        return tokens[pos - 1]

    def take_float() -> float:
        tok = take()
        try:
            return float(tok)
        except ValueError:
            raise fail(f"expected a number, found {tok!r}") from None

    if not tokens or take() != "HIERARCHY":
        raise fail("it does not start with HIERARCHY")
    joints: list[BvhJoint] = []
    stack: list[int] = []
    tok = take()
    if tok != "ROOT":
        raise fail(f"expected ROOT, found {tok!r}")
    name = take()
    pending_parent = -1
    # Iterative recursive-descent over { OFFSET CHANNELS (JOINT|End Site)* }
    while True:
        if take() != "{":
            raise fail(f"expected '{{' after joint {name!r}")
        if take() != "OFFSET":
            raise fail(f"joint {name!r} has no OFFSET")
        offset = np.array([take_float(), take_float(), take_float()])
        if take() != "CHANNELS":
            raise fail(f"joint {name!r} has no CHANNELS")
        try:
            n = int(take())
        except ValueError:
            raise fail(f"joint {name!r} has a non-integer channel count") from None
        if not 0 <= n <= 6:
            raise fail(f"joint {name!r} declares {n} channels")
        chans = [take() for _ in range(n)]
        for c in chans:
            if c not in _ROT and c not in _POS:
                raise fail(f"joint {name!r} has unknown channel {c!r}")
        joints.append(BvhJoint(name, pending_parent, offset, chans))
        stack.append(len(joints) - 1)
        # children / end sites / closing braces
        while True:
            tok = take()
            if tok == "JOINT":
                name = take()
                pending_parent = stack[-1]
                break
            if tok == "End":
                if take() != "Site" or take() != "{" or take() != "OFFSET":
                    raise fail("malformed End Site")
                joints[stack[-1]].end_site = np.array([take_float(), take_float(), take_float()])
                if take() != "}":
                    raise fail("End Site is not closed")
                continue
            if tok == "}":
                stack.pop()
                if not stack:
                    break
                continue
            raise fail(f"unexpected token {tok!r} in the hierarchy")
        if not stack:
            break
    if take() != "MOTION":
        raise fail("no MOTION block after the hierarchy")
    if take() != "Frames:":
        raise fail("MOTION has no 'Frames:' line")
    try:
        frames = int(take())
    except ValueError:
        raise fail("frame count is not an integer") from None
    if take() != "Frame" or take() != "Time:":
        raise fail("MOTION has no 'Frame Time:' line")
    frame_time = take_float()
    if frames <= 0 or not frame_time > 0:
        raise fail(f"it declares {frames} frames of {frame_time} s")
    n_chan = sum(len(j.channels) for j in joints)
    values = tokens[pos:]
    if len(values) < frames * n_chan:
        raise fail(f"{frames} frames x {n_chan} channels declared but only {len(values)} values present")
    try:
        motion = np.asarray(values[: frames * n_chan], dtype=np.float64).reshape(frames, n_chan)
    except ValueError:
        raise fail("motion block holds a value that is not a number") from None
    if not np.isfinite(motion).all():
        raise fail("motion block holds non-finite values")
    return BvhClip(joints, motion, frame_time, source)


def write_bvh(path: str | os.PathLike, clip: BvhClip, *, header: str = "") -> None:
    """Write ``clip`` as BVH (atomically). ``header`` lines are not part of BVH and are dropped;
    keep licence text next to the file instead."""
    from vivid.core.fileio import atomic_write

    children: dict[int, list[int]] = {}
    for j, joint in enumerate(clip.joints):
        children.setdefault(joint.parent, []).append(j)
    lines = ["HIERARCHY"]

    def emit(j: int, depth: int) -> None:
        joint = clip.joints[j]
        ind = "\t" * depth
        lines.append(f"{ind}{'ROOT' if joint.parent < 0 else 'JOINT'} {joint.name}")
        lines.append(f"{ind}{{")
        lines.append(f"{ind}\tOFFSET " + " ".join(f"{v:.5f}" for v in joint.offset))
        lines.append(f"{ind}\tCHANNELS {len(joint.channels)} " + " ".join(joint.channels))
        for c in children.get(j, []):
            emit(c, depth + 1)
        if joint.end_site is not None:
            lines.extend(
                [
                    f"{ind}\tEnd Site",
                    f"{ind}\t{{",
                    f"{ind}\t\tOFFSET " + " ".join(f"{v:.5f}" for v in joint.end_site),
                    f"{ind}\t}}",
                ]
            )
        lines.append(f"{ind}}}")

    emit(0, 0)
    lines += ["MOTION", f"Frames: {clip.num_frames}", f"Frame Time: {clip.frame_time:.7f}"]
    lines += [" ".join(f"{v:.4f}" for v in row) for row in clip.motion]
    with atomic_write(path) as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n")
