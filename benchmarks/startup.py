"""Start-up time of the ``vivid`` command: help, version and argument errors, per command.

Each case runs ``N`` times in a fresh process; the table gives the median wall time beside the
floor of any Python command (``python -c pass``) and of ``import torch`` measured in the same run.

    .venv/bin/python benchmarks/startup.py [--repeats 5]

Writes ``benchmarks/results/startup.md`` + ``.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
CASES = [
    ("vivid --help", ["--help"]),
    ("vivid --version", ["--version"]),
    ("vivid interp --help", ["interp", "--help"]),
    ("vivid pose --help", ["pose", "--help"]),
    ("interp: missing input", ["interp", "missing.mp4", "-o", "x.mp4", "--factor", "2"]),
    ("interp: no --factor/--fps", ["interp", "missing.mp4", "-o", "x.mp4"]),
    ("repair: missing input", ["repair", "missing.mp4", "-o", "y.mp4"]),
    ("pose: missing input", ["pose", "missing.jpg", "-o", "p.json"]),
    ("synth: bad size", ["synth", "body", "--size", "10", "-o", "out"]),
    ("train: unknown task", ["train", "nope"]),
    ("train: mistyped key", ["train", "interp", "optim.lrr=1"]),
    ("people: missing input", ["people", "missing.jpg", "-o", "p.json"]),
    ("body: missing input", ["body", "missing.mp4", "-o", "out"]),
]


def timed(cmd: list[str], cwd: str, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, capture_output=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    py = sys.executable
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        floor = timed([py, "-c", "pass"], tmp, args.repeats)
        torch_import = timed([py, "-c", "import torch"], tmp, args.repeats)
        for name, argv in CASES:
            rows.append({"case": name, "seconds": round(timed([py, "-m", "vivid.cli", *argv], tmp, args.repeats), 3)})
    out = {
        "measured": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "repeats": args.repeats,
        "python_floor_s": round(floor, 3),
        "import_torch_s": round(torch_import, 3),
        "load_average": round(os.getloadavg()[0], 1),
        "cases": rows,
    }
    lines = [
        f"# Start-up of the vivid command (median of {args.repeats} fresh processes; measured {out['measured']})",
        "",
        f"For scale, in the same run: `python -c pass` {out['python_floor_s']} s, `python -c 'import torch'` "
        f"{out['import_torch_s']} s. Load average at the end: {out['load_average']} (2 cores).",
        "",
        "| case | seconds |",
        "|---|---|",
        *[f"| {r['case']} | {r['seconds']} |" for r in rows],
        "",
        "Command: `.venv/bin/python benchmarks/startup.py`",
    ]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "startup.json").write_text(json.dumps(out, indent=2) + "\n")
    (RESULTS / "startup.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
