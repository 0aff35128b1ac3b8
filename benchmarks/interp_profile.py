"""Where the time of ``vivid interp IN -o OUT --factor 2`` goes: a per-stage profile of the
whole tool (decode, scene cuts, flow, depth, kernels, projection, warping, non-local branch,
synthesis, encode), run in this process through the real command line.

Each stage's functions are wrapped with timers that count *exclusive* time per thread (a stage
called inside another is subtracted from the outer one), so the rows add up to the busy time of
each thread; with decode and encode in their own threads their rows overlap the model's, and
the wall time is what the user waits for.

    OMP_NUM_THREADS=1 nice -n 5 .venv/bin/python benchmarks/interp_profile.py --threads 1 [--frames 13] [--size 640x360] [--label before]

The input clip is the SAM 2 bedroom video (``../shared/data/interp``), its first ``--frames``
frames scaled to ``--size``, with a sine audio track (as a user's clip has one), written to a
temporary folder. Prints a markdown table; ``--json`` writes the numbers.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

STAGES = ("decode", "scene cuts", "flow", "depth", "kernels", "projection", "warping", "non-local branch",
          "synthesis", "encode", "other")  # fmt: skip


def data_root() -> Path:
    env = os.environ.get("VIVID_SHARED_DATA")
    return Path(env) / "interp" if env else REPO.parent / "shared" / "data" / "interp"


def make_clip(out: Path, frames: int, size: str, fps: int = 25) -> Path:
    """The first ``frames`` frames of the bedroom video scaled to ``size`` at ``fps``, H.264 with an AAC sine tone."""
    src = data_root() / "sam2_videos" / "bedroom.mp4"
    if not src.exists():
        raise SystemExit(f"skipped: {src} is missing")
    w, h = size.split("x")
    cmd = ["ffmpeg", "-v", "error", "-y", "-i", str(src), "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000",
           "-vf", f"scale={w}:{h}:flags=area,setpts=N/{fps}/TB", "-r", str(fps), "-frames:v", str(frames),
           "-c:v", "libx264", "-crf", "18", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
           "-t", f"{frames / fps:.3f}", str(out)]  # fmt: skip
    subprocess.run(cmd, check=True)
    return out


class StageClock:
    """Exclusive time per (thread, stage): ``wrap(obj, name, stage)`` replaces ``obj.name`` by a timed call."""

    def __init__(self) -> None:
        self.local = threading.local()
        self.totals: dict[tuple[str, str], float] = {}
        self.cpu: dict[tuple[str, str], float] = {}  # the calling thread's CPU time (time.thread_time)
        self.calls: dict[str, int] = {}
        self.lock = threading.Lock()
        self.undo: list = []

    def _add(self, stage: str, seconds: float, cpu: float) -> None:
        key = (threading.current_thread().name, stage)
        with self.lock:
            self.totals[key] = self.totals.get(key, 0.0) + seconds
            self.cpu[key] = self.cpu.get(key, 0.0) + cpu

    def timed(self, stage: str, fn):
        clock = self

        @functools.wraps(fn)
        def run(*args, **kwargs):
            stack = getattr(clock.local, "stack", None)
            if stack is None:
                stack = clock.local.stack = []
            stack.append([0.0, 0.0])  # wall and CPU time spent in inner timed calls
            t0, c0 = time.perf_counter(), time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent, cpu = time.perf_counter() - t0, time.thread_time() - c0
                inner = stack.pop()
                clock._add(stage, spent - inner[0], cpu - inner[1])
                if stack:
                    stack[-1][0] += spent
                    stack[-1][1] += cpu
                with clock.lock:
                    clock.calls[stage] = clock.calls.get(stage, 0) + 1

        return run

    def wrap(self, obj, name: str, stage: str) -> None:
        old = getattr(obj, name)
        self.undo.append((obj, name, old))
        setattr(obj, name, self.timed(stage, old))

    def restore(self) -> None:
        for obj, name, old in reversed(self.undo):
            setattr(obj, name, old)
        self.undo.clear()

    def per_stage(self, cpu: bool = False) -> dict[str, float]:
        out = {s: 0.0 for s in STAGES}
        for (_, stage), seconds in (self.cpu if cpu else self.totals).items():
            out[stage] = out.get(stage, 0.0) + seconds
        return out

    def per_thread(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for (thread, _), seconds in self.totals.items():
            out[thread] = out.get(thread, 0.0) + seconds
        return out


def instrument(clock: StageClock) -> None:
    """Wrap every stage of the tool (decode, scene cuts, the model's steps, encode)."""
    import vivid.core.video as video
    import vivid.interp.model as model
    import vivid.interp.scenecut as scenecut
    import vivid.interp.upconvert as upconvert
    from vivid.interp.depth import HourglassDepth
    from vivid.interp.kernels import KernelUNet
    from vivid.interp.nonlocal_branch import NonLocalBranch
    from vivid.interp.projection import FlowProjection
    from vivid.interp.synthesis import FrameSynthesis
    from vivid.interp.warping import AdaptiveWarping

    # decode: the PyAV frame iterator (folders: the PNG reader)
    for name in ("iter_frames", "read_frames_folder"):
        fn = getattr(video, name)

        def timed_iter(*args, _fn=fn, **kwargs):
            it = _fn(*args, **kwargs)
            step = clock.timed("decode", lambda: next(it))
            while True:
                try:
                    yield step()
                except StopIteration:
                    return

        clock.undo.append((video, name, fn))
        setattr(video, name, timed_iter)
    clock.wrap(upconvert, "thumbnail", "scene cuts")
    clock.wrap(scenecut.SceneCutDetector, "is_cut", "scene cuts")
    clock.wrap(model.InterpNet, "estimate_flow", "flow")
    for cls, stage in ((HourglassDepth, "depth"), (KernelUNet, "kernels"), (FlowProjection, "projection"),
                       (AdaptiveWarping, "warping"), (NonLocalBranch, "non-local branch"), (FrameSynthesis, "synthesis")):  # fmt: skip
        clock.wrap(cls, "forward", stage)
    for name in ("write", "end_at", "__exit__"):
        clock.wrap(video.FrameSink, name, "encode")


def run_tool(inp: Path, out: Path, extra: list[str]) -> float:
    from typer.main import get_command

    from vivid.cli import app

    cmd = get_command(app)
    t0 = time.perf_counter()
    cmd.main(["interp", str(inp), "-o", str(out), "--factor", "2", "-q", "--overwrite", *extra], standalone_mode=False)
    return time.perf_counter() - t0


def profile(inp: Path, extra: list[str], out_dir: Path) -> dict:
    """Run the tool once untimed (warm-up: model load, allocator) on the first frames, then
    once timed with every stage instrumented."""
    import av

    clock = StageClock()
    n_in = 0
    with av.open(str(inp)) as c:
        n_in = sum(1 for _ in c.decode(video=0))
    instrument(clock)
    try:
        threading.current_thread().name = "main"
        r0, c0 = resource.getrusage(resource.RUSAGE_SELF), time.thread_time()
        wall = run_tool(inp, out_dir / "out.mp4", extra)
        r1, c1 = resource.getrusage(resource.RUSAGE_SELF), time.thread_time()
    finally:
        clock.restore()
    stages, cpu = clock.per_stage(), clock.per_stage(cpu=True)
    # the main thread's time outside every timed stage (tensor conversions, batching, the CLI)
    stages["other"] = max(0.0, wall - clock.per_thread().get("main", 0.0))
    cpu["other"] = max(0.0, (c1 - c0) - sum(v for (t, _), v in clock.cpu.items() if t == "main"))
    process_cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    n_interp = n_in - 1
    return {"wall_s": wall, "process_cpu_s": process_cpu, "n_input": n_in, "n_interpolated": n_interp,
            "interp_fps": n_interp / wall, "interp_per_cpu_s": n_interp / process_cpu, "stages_s": stages,
            "stages_cpu_s": cpu, "threads_busy_s": clock.per_thread(), "calls": clock.calls}  # fmt: skip


def table(rows: dict[str, dict]) -> str:
    """Per stage and run: wall seconds, the calling thread's CPU seconds, and the share of the CPU total."""
    labels = list(rows)
    head = "| stage | " + " | ".join(f"{k}: wall s / CPU s (calling thread) / CPU share" for k in labels) + " |"
    lines = [head, "|---" * (1 + len(labels)) + "|"]
    for s in STAGES:
        cells = []
        for k in labels:
            r = rows[k]
            total = sum(r["stages_cpu_s"].values()) or 1.0
            cpu = r["stages_cpu_s"].get(s, 0.0)
            cells.append(f"{r['stages_s'].get(s, 0.0):.2f} / {cpu:.2f} / {cpu / total:.0%}")
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    lines.append("| **whole tool** (wall / process CPU) | " + " | ".join(f"**{rows[k]['wall_s']:.2f}** / {rows[k]['process_cpu_s']:.2f}" for k in labels) + " |")
    lines.append("| interpolated frames per wall s / per process-CPU s | " + " | ".join(f"{rows[k]['interp_fps']:.2f} / {rows[k]['interp_per_cpu_s']:.2f}" for k in labels) + " |")
    lines.append("| load average (1 min) before / after | " + " | ".join(f"{rows[k]['load_before_after'][0]} / {rows[k]['load_before_after'][1]}" for k in labels) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--frames", type=int, default=13)
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--label", default="run")
    ap.add_argument("--json", type=Path)
    ap.add_argument("extra", nargs="*", help="more `vivid interp` options (after --)")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="interp-profile-") as tmp:
        tmp = Path(tmp)
        inp = make_clip(tmp / "in.mp4", args.frames, args.size)
        warm = make_clip(tmp / "warm.mp4", 3, args.size)
        run_tool(warm, tmp / "warm_out.mp4", args.extra)  # warm-up, untimed
        load0 = os.getloadavg()
        res = profile(inp, args.extra, tmp)
        load1 = os.getloadavg()
    res.update(label=args.label, threads=args.threads, size=args.size, options=args.extra,
               load_before_after=[round(load0[0], 2), round(load1[0], 2)])  # fmt: skip
    print(table({args.label: res}))
    print(f"load average (1 min) before/after: {res['load_before_after']}; threads busy: "
          + ", ".join(f"{k} {v:.2f} s" for k, v in res["threads_busy_s"].items()))  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
