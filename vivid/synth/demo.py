"""Demo section for the synthetic data engine: procedural motions on Anny, contact sheets of body, video, try-on and face scenes (joints, part segmentation, depth, flow,
garments, landmarks), and the generation rate measured on this machine."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import torch

from vivid.core.report import Report

log = logging.getLogger(__name__)


def run_demo(out_dir: Path, report: Report, *, device: str = "cpu", quick: bool = False) -> None:
    """Add a "Synthetic data" section to ``report`` (about 20 s on two CPU cores; ``quick``: one
    small sample of each kind)."""
    out_dir = Path(out_dir)
    report.section(
        "Synthetic data (vivid.synth)",
        "Anny bodies with random phenotypes, skin tones, garments (solid, stripes, checks, prints, logos), "
        "procedural backgrounds and random spherical-harmonics lighting, posed by procedural spline motion or "
        "random poses within joint limits (or by BVH motion capture you give with --mocap, retargeted to "
        "Anny's bones), rendered with every "
        "label: mask, part segmentation, depth, 2D/3D joints with visibility, camera, garment mask, and "
        "forward/backward optical flow for clips. Filled red dots are visible joints, hollow ones hidden.",
    )
    rows = []
    # One thread: the per-frame work is many small tensor ops, for which extra threads cost more
    # in synchronisation than they bring (by far, on a busy machine).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _sections(report, rows, quick)
    finally:
        torch.set_num_threads(threads)
    report.table(
        rows,
        "generation rate in this demo (one process, one torch thread, after warm-up; "
        "benchmarks/results/synth.md has the benchmark)",
    )
    log.info("synth demo done in %s", out_dir)


def _sections(report: Report, rows: list[dict], quick: bool = False) -> None:
    from vivid.synth.preview import contact_sheet
    from vivid.synth.scenes import SceneConfig, make_generator

    with torch.no_grad():
        _motion_strip(report)
        kinds = (("body", 6, 160, 0), ("video", 3, 160, 6), ("tryon", 3, 160, 4), ("face", 4, 128, 0))
        if quick:
            kinds = tuple((kind, 1, 64, 2 if frames else 0) for kind, _, _, frames in kinds)
        for kind, n, size, frames in kinds:
            cfg = SceneConfig(kind=kind, height=size, width=size, seed=7)
            if frames:
                cfg.frames = frames
            gen = make_generator(cfg, device="cpu")
            gen.warm_up()  # appearance banks
            gen.generate_batch([0])  # model build, kernels
            start = time.perf_counter()
            samples = gen.generate_batch(list(range(1, n + 1)))
            seconds = time.perf_counter() - start
            frames_made = n * (frames or 1)
            rows.append(
                {
                    "kind": kind,
                    "size": f"{size}x{size}",
                    "samples": n,
                    "frames": frames_made,
                    "frames/s": round(frames_made / seconds, 1),
                }
            )
            sheet = contact_sheet(kind, samples)
            captions = {
                "body": "body scenes: skeleton (H36M-17) | part segmentation | depth | garment mask",
                "video": "video scenes: first frame | segmentation | forward flow 0->1 (hue = direction) | last frame",
                "tryon": "try-on pairs: garment A | same motion, camera and light with garment B "
                "| flat garment A | flat garment B",
                "face": "face scenes: 68 landmarks (green visible, grey hidden) | face mask | depth",
            }
            report.image(sheet, captions[kind])


def _motion_strip(report: Report) -> None:
    """Two procedural motions on Anny, 8 frames each, seen from a three-quarter view."""
    import numpy as np

    from vivid.core.fileio import to_uint8
    from vivid.core.geometry import look_at
    from vivid.core.render import render
    from vivid.synth.motion import procedural_motion
    from vivid.synth.scenes import BodyKit

    kit = BodyKit.get(torch.device("cpu"))
    R, t = look_at(torch.tensor([-1.6, -2.8, 0.3]), torch.zeros(3), torch.tensor([0.0, 0.0, 1.0]))
    K = torch.tensor([[240.0, 0.0, 63.5], [0.0, 240.0, 79.5], [0.0, 0.0, 1.0]])
    rows = []
    for seed in (1, 2):
        m = procedural_motion(np.random.default_rng(seed), kit.rig, 72, fps=30)
        deltas = m.deltas(kit.rig)[np.linspace(0, len(m) - 1, 8).astype(int)]
        deltas[:, 0] = np.eye(3)  # facing the same way in every frame, to compare the poses
        verts = kit.pose(deltas, np.full(6, 0.5))[0]
        out = render(verts @ R.T + t, kit.faces, K, 160, 128, background=torch.ones(3), cull_backfaces=True)
        rows.append(torch.cat(list(out.rgb), dim=2))
    img = to_uint8(torch.cat(rows, dim=1))
    report.image(img, "two procedural motions (2.4 s each, 8 frames shown), root rotation removed")
