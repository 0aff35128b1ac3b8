"""Which people ``vivid body`` follows: ``--person N`` (the N-th largest tracked person) or
``--person all``, from :mod:`vivid.people`'s detector and tracker.

Tracks are ranked by their mean box area over the clip and numbered 0, 1, ... from the largest
down, as ``vivid pose --person N`` counts them, so that a person's number is the same on every
frame. The detector is optional (pose3d's :func:`~vivid.pose3d.people.load_detector` says why it
is not there); the body then falls back to one person found from the whole frame
(:mod:`vivid.bodyvid.apply`).
"""

from __future__ import annotations

from typing import Union

from vivid.core.errors import VividError

ALL = "all"
Person = Union[int, str]  # a rank (0: the largest track) or ALL


def parse_person(text: str | int | None) -> Person | None:
    """``--person``: None (not given), a rank 0, 1, ... or ``"all"``; VividError for anything else."""
    if text is None:
        return None
    value = str(text).strip().lower()
    if value == ALL:
        return ALL
    if not value.isdigit():
        raise VividError(f"--person must be a whole number 0 or more (0: the largest person) or 'all', got {text!r}")
    return int(value)


def choose_tracks(tracks: list, person: Person) -> list:
    """The tracks ``--person`` asks for: all of them, or the one ranked ``person`` (VividError
    when the clip has fewer people)."""
    if person == ALL:
        return list(tracks)
    if not isinstance(person, int) or person < 0:
        raise VividError(f"--person must be a whole number 0 or more or 'all', got {person!r}")
    if person >= len(tracks):
        from vivid.people.tracker import people_found

        raise VividError(f"--person {person}: the people detector found {people_found(len(tracks))} in this video")
    return [tracks[person]]
