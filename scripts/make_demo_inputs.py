"""Make the real demo inputs in ``vivid/assets`` from Debian's ``opencv-doc`` package.

    python scripts/make_demo_inputs.py        # needs apt-get (Debian) and PyAV

Downloads ``opencv-doc`` 4.6.0+dfsg-12 (bookworm) with ``apt-get download`` (nothing is installed),
takes two files of its examples and writes:

- ``vivid/assets/basketball1.png``: ``usr/share/doc/opencv-doc/examples/data/basketball1.png``
  unchanged (640x480 greyscale photo of two people playing with a ball);
- ``vivid/assets/vtest_clip.mp4``: the first 5 s (50 frames at 10 fps, 768x576) of
  ``usr/share/doc/opencv-doc/examples/data/vtest.avi`` (people walking), re-encoded with H.264;
- ``vivid/assets/LICENSE-opencv-doc.txt``: what the files are, and the package's copyright file.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PACKAGE, VERSION = "opencv-doc", "4.6.0+dfsg-12"
DATA = "./usr/share/doc/opencv-doc/examples/data"
ASSETS = Path(__file__).resolve().parents[1] / "vivid" / "assets"
CLIP_FRAMES = 50

HEADER = f"""basketball1.png, vtest_clip.mp4
===============================

Both come from the Debian package {PACKAGE} {VERSION} (bookworm), folder
usr/share/doc/opencv-doc/examples/data/ (OpenCV's sample data):

- basketball1.png is that folder's basketball1.png, unchanged (640x480 greyscale).
- vtest_clip.mp4 is the first 5 seconds (50 frames at 10 fps, 768x576) of that folder's vtest.avi,
  re-encoded with H.264. vtest.avi is pedestrian footage from the PETS 2009 benchmark data as
  OpenCV and Debian ship it.

Terms: the package's copyright file (below) gives OpenCV's files "Files: *" as
"License: Apache-2.0 AND BSD-3-Clause"; the sample data carries no terms of its own there.
vivid uses both files only as demo inputs (`vivid demo`). They are made by
scripts/make_demo_inputs.py.

The package's copyright file, usr/share/doc/opencv-doc/copyright, follows.

"""


def main() -> None:
    import av

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subprocess.run(["apt-get", "download", f"{PACKAGE}={VERSION}"], cwd=tmp, check=True)
        deb = next(tmp.glob(f"{PACKAGE}_*.deb"))
        tar = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
        members = [f"{DATA}/basketball1.png", f"{DATA}/vtest.avi", "./usr/share/doc/opencv-doc/copyright"]
        subprocess.run(["tar", "-x", "-C", str(tmp), *members], stdin=tar.stdout, check=True)
        tar.wait()
        data = tmp / DATA
        ASSETS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(data / "basketball1.png", ASSETS / "basketball1.png")
        with av.open(str(data / "vtest.avi")) as src, av.open(str(ASSETS / "vtest_clip.mp4"), "w") as dst:
            stream = dst.add_stream("libx264", rate=10)
            stream.width, stream.height, stream.pix_fmt = 768, 576, "yuv420p"
            stream.options = {"crf": "23", "preset": "slow"}
            for i, frame in enumerate(src.decode(video=0)):
                if i >= CLIP_FRAMES:
                    break
                out = av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), format="rgb24")
                for packet in stream.encode(out):
                    dst.mux(packet)
            for packet in stream.encode():
                dst.mux(packet)
        copyright_text = (tmp / "usr/share/doc/opencv-doc/copyright").read_text()
        (ASSETS / "LICENSE-opencv-doc.txt").write_text(HEADER + copyright_text)
    print(f"wrote basketball1.png, vtest_clip.mp4 and LICENSE-opencv-doc.txt in {ASSETS}", file=sys.stderr)


if __name__ == "__main__":
    main()
