"""The try-on picture of docs/tryon.md (docs/tryon_demo.jpg): ``vivid demo``'s try-on section on the
bundled real clip (vivid/assets/vtest_clip.mp4) with a garment that ``vivid synth`` lays flat.

Run from the repository root: ``python docs/make_tryon_picture.py``. Only vivid/assets inputs.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from PIL import Image

from vivid.core.report import Report
from vivid.tryon.demo import run_demo

DOCS = Path(__file__).resolve().parent


def main() -> None:
    report = Report("tryon")
    with tempfile.TemporaryDirectory() as tmp:
        run_demo(Path(tmp), report, device="cpu", quick=False)
    images = [item.payload for item in report.sections[-1].items if item.kind == "image"]
    if not images:
        raise SystemExit("the demo made no picture: " + " ".join(str(i.payload) for i in report.sections[-1].items))
    Image.fromarray(images[0]).save(DOCS / "tryon_demo.jpg", quality=90)


if __name__ == "__main__":
    main()
