"""Make the two real portraits of the face demo in ``vivid/assets`` from package wheels.

    python scripts/make_face_inputs.py        # needs pip (downloads two wheels, installs nothing)

Downloads the wheels of scikit-image 0.25.2 and matplotlib 3.10.3 with ``pip download --no-deps``
into a temporary folder, takes one image out of each and writes smaller re-encoded copies:

- ``vivid/assets/astronaut_portrait.jpg``: ``skimage/data/astronaut.png`` (512x512, Eileen
  Collins) resized to 256x256, JPEG quality 90;
- ``vivid/assets/grace_hopper_portrait.jpg``: ``matplotlib/mpl-data/sample_data/grace_hopper.jpg``
  (512x600) resized to 256x300, JPEG quality 90;
- ``vivid/assets/LICENSE-scikit-image.txt`` and ``LICENSE-matplotlib.txt``: what each file is, its
  terms as the package states them, and the package's licence file.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ASSETS = Path(__file__).resolve().parents[1] / "vivid" / "assets"
SKIMAGE, MPL = "0.25.2", "3.10.3"


def _wheel(tmp: Path, spec: str, stem: str) -> zipfile.ZipFile:
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", spec, "-d", str(tmp)],
                   check=True)
    return zipfile.ZipFile(next(tmp.glob(f"{stem}-*.whl")))


def _resized(data: bytes, size: tuple[int, int], out: Path) -> None:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        im.convert("RGB").resize(size, Image.LANCZOS).save(out, format="JPEG", quality=90)


def main() -> None:
    ASSETS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sk = _wheel(tmp, f"scikit-image=={SKIMAGE}", "scikit_image")
        _resized(sk.read("skimage/data/astronaut.png"), (256, 256), ASSETS / "astronaut_portrait.jpg")
        licence = sk.read(f"scikit_image-{SKIMAGE}.dist-info/LICENSE.txt").decode()
        (ASSETS / "LICENSE-scikit-image.txt").write_text(
            f"astronaut_portrait.jpg\n======================\n\nskimage/data/astronaut.png of the scikit-image {SKIMAGE} wheel "
            "(512x512 photo of the astronaut Eileen Collins), resized to 256x256 and re-encoded as JPEG by "
            "scripts/make_face_inputs.py.\n\nTerms, as skimage/data/_fetchers.py (astronaut) states them: \"This image was "
            "downloaded from the NASA Great Images database <https://flic.kr/p/r9qvLn>. No known copyright restrictions, "
            "released into the public domain.\"\n\nThe package's licence file follows.\n\n" + licence)
        mpl = _wheel(tmp, f"matplotlib=={MPL}", "matplotlib")
        _resized(mpl.read("matplotlib/mpl-data/sample_data/grace_hopper.jpg"), (256, 300), ASSETS / "grace_hopper_portrait.jpg")
        licence = mpl.read(f"matplotlib-{MPL}.dist-info/LICENSE").decode()
        (ASSETS / "LICENSE-matplotlib.txt").write_text(
            f"grace_hopper_portrait.jpg\n=========================\n\nmatplotlib/mpl-data/sample_data/grace_hopper.jpg of the "
            f"matplotlib {MPL} wheel (512x600 portrait of Rear Admiral Grace Hopper), resized to 256x300 and re-encoded as "
            "JPEG by scripts/make_face_inputs.py.\n\nTerms: an official US Navy photograph, a work of the US federal "
            "government, in the public domain; matplotlib ships it as sample data under its own licence (below).\n\n"
            "The package's licence file follows.\n\n" + licence)
    print(f"wrote astronaut_portrait.jpg, grace_hopper_portrait.jpg and their licence files in {ASSETS}", file=sys.stderr)


if __name__ == "__main__":
    main()
