"""The frame interpolation benchmark's report: ``interp.json`` (what ``benchmarks/interp.py``
measured) to ``interp.md`` (one table and its notes).

    python benchmarks/interp_report.py [--json benchmarks/results/interp.json] [--out benchmarks/results/interp.md]

One table holds the measurements of one checkpoint. The quality row ``vivid`` names it; the
other rows of the benchmark's own checkpoint (self-ensembles, DIS flow), the sections measured
with it (repair, speed, 4K, tails, examples) and the description of the checkpoint
(``model_meta``) join that table only when they were measured with the same checkpoint: the same
SHA-256, or, for measurements from before the hash was recorded, the same file name and training
steps. What was measured with another checkpoint (a row or section not re-measured after the
checkpoint changed) goes to a table of its own under a line naming both checkpoints and the
command that re-measures it. Baseline rows depend on no checkpoint; each ablation row is its own
checkpoint, named in its label.

Also the names of the benchmark's rows and sets, which the measuring script imports.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.common import RESULTS, markdown_table  # noqa: E402

ABLATIONS = {  # file stem suffix -> row label
    "full": "ablation: full (same budget)",
    "no-nonlocal": "ablation: no non-local branch",
    "no-depth-projection": "ablation: no depth projection",
    "no-gan": "ablation: no GAN",
}
BASELINES = ["repeat", "blend", "dis", "minterpolate"]
# The bundled generator fed OpenCV's DIS flow instead of its flow network (`--flow dis`).
HYBRID = "vivid:dis"
HYBRID_LABEL = "generator of {stem} with DIS flow (`--flow dis`)"
# The bundled model averaged over N flipped / transposed copies of each pair (`--ensemble N`).
ENSEMBLES = {"vivid:ensemble2": 2, "vivid:ensemble4": 4, "vivid:ensemble8": 8}
ENSEMBLE = "vivid:ensemble8"  # the one the held-out tails also measure
TAIL_METHODS = ["vivid", ENSEMBLE, "dis", "minterpolate"]
# The bundled model with ``vivid interp --preset fast`` (the ``vivid`` row is ``--preset quality``).
PRESET_ROWS = {"vivid:fast": ("fast", "auto")}
SPEED_SECONDS = 20.0  # timed seconds per method in the speed section
LABELS = {"repeat": "frame repetition", "blend": "linear blend", "dis": "DIS-flow warp (OpenCV)", "minterpolate": "FFmpeg minterpolate"}
SETS = ["sam2_bedroom", "bikes", "carphone"]
ORIENTATION = {  # the numbers for the baselines (PSNR, SSIM)
    "sam2_bedroom": {"repeat": (22.47, 0.834), "blend": (24.95, 0.858), "dis": (28.47, 0.922), "minterpolate": (28.16, 0.917)},
    "bikes": {"repeat": (25.22, 0.936), "blend": (27.24, 0.932), "dis": (34.67, 0.946), "minterpolate": (31.94, 0.952)},
    "carphone": {"repeat": (29.34, 0.915), "blend": (31.85, 0.949), "dis": (31.99, 0.955), "minterpolate": (32.04, 0.954)},
}
# Quality rows measured with the benchmark's checkpoint (``--model``), and the sections measured
# with it as a whole (JSON key -> ``--sections`` name).
OWN_ROWS = ("vivid", *ENSEMBLES, HYBRID, *PRESET_ROWS)
SECTIONS = {"repair": "repair", "speed": "speed", "tiled_4k": "4k", "tails": "tails", "examples": "examples",
            "presets": "presets", "tool": "tool", "profile": "profile"}  # fmt: skip
# Which data chose each row's settings (item 2 of the issue: a validation split, never a test set).
CHOSEN_BY = {
    "vivid": "flow settings: chosen on validation data over two training seeds (interp_flow_settings.md: held-out tails and flying layers); scale: the rule of --scale auto (1 up to 1024 px), not tuned",
    "vivid:fast": "flow settings: the training settings (not tuned); scale limit 640 px: chosen on the validation tails (presets section)",
    HYBRID: "DIS settings: OpenCV's medium preset (not tuned)",
    "dis": "OpenCV's medium preset (not tuned)",
    "minterpolate": "FFmpeg's mci/aobmc/bidir options (not tuned)",
}
TITLE = "# Frame interpolation benchmark"
CHECKPOINT_NOTE = "Checkpoint of the vivid rows and of every section:"


def ablation_label(key: str) -> str:
    return ABLATIONS.get(key.replace("_", "-"), f"ablation: {key}")


def fmt(v, digits=2):
    return "–" if v is None else f"{v:.{digits}f}"


# ------------------------------------------------------------------------------ which checkpoint


def identity(entry: dict) -> dict | None:
    """The checkpoint a measurement was made with: file name, SHA-256 (None before it was
    recorded) and training steps; None for a measurement that used no checkpoint."""
    path = entry.get("checkpoint") or entry.get("model")
    if not path:
        return None
    return {"file": Path(path).name, "sha256": entry.get("sha256"), "step": entry.get("step")}


def same_checkpoint(a: dict, b: dict) -> bool:
    if a["sha256"] and b["sha256"]:
        return a["sha256"] == b["sha256"]
    return a["file"] == b["file"] and a["step"] == b["step"]


def describe(ident: dict) -> str:
    step = ident["step"]
    text = ident["file"] + (f", step{'s' if isinstance(step, str) else ''} {step}" if step is not None else "")
    return text + (f", sha256 {ident['sha256'][:12]}" if ident["sha256"] else "")


def main_identity(results: dict) -> dict | None:
    """The checkpoint of the main table: the ``vivid`` quality row's, else the description's,
    else the first section's."""
    candidates = [results.get("quality", {}).get("methods", {}).get("vivid"), results.get("model_meta")]
    candidates += [results.get(k) for k in SECTIONS]
    for entry in candidates:
        if entry and identity(entry):
            return identity(entry)
    return None


def split_by_checkpoint(results: dict) -> list[tuple[dict | None, dict]]:
    """``results`` as one view per checkpoint, the main one first: each view is shaped like
    ``results`` and holds only what was measured with its checkpoint (the main view: also the
    rows that depend on none, the ablation rows and the quality section's protocol details)."""
    main = main_identity(results)
    others: list[dict] = []

    def owner(entry: dict) -> int:  # 0: the main view, i > 0: others[i - 1]
        ident = identity(entry)
        if ident is None or main is None or same_checkpoint(ident, main):
            return 0
        for i, other in enumerate(others):
            if same_checkpoint(ident, other):
                return i + 1
        others.append(ident)
        return len(others)

    views: dict[int, dict] = {0: {}}
    quality = results.get("quality")
    if quality:
        for m, row in quality.get("methods", {}).items():
            i = owner(row) if m in OWN_ROWS else 0
            view = views.setdefault(i, {})
            if "quality" not in view:
                view["quality"] = {"methods": {}} if i else {**quality, "methods": {}}
            view["quality"]["methods"][m] = row
        views[0].setdefault("quality", {**quality, "methods": {}})
    meta = results.get("model_meta")
    if meta:
        # a description from before it recorded its checkpoint belongs to the main table
        views.setdefault(owner(meta) if identity(meta) else 0, {})["model_meta"] = meta
    for key in SECTIONS:
        if key in results:
            views.setdefault(owner(results[key]), {})[key] = results[key]
    return [(main, views[0])] + [(others[i - 1], views[i]) for i in sorted(views) if i]


# ------------------------------------------------------------------------------ one checkpoint's table


def table(results: dict) -> list[str]:
    """The rows of methods: PSNR / SSIM per set and their mean, repaired frames, speed, memory."""
    q = results.get("quality", {}).get("methods", {})
    rep = results.get("repair", {}).get("clips", {})
    spd = results.get("speed", {}).get("methods", {})
    order = ["vivid", *PRESET_ROWS, *ENSEMBLES, HYBRID] + [m for m in q if m.startswith("ablation:")] + BASELINES
    header = ["method"] + [f"{s} PSNR / SSIM" for s in SETS] + ["mean PSNR / SSIM", "repaired frames PSNR", "2x fps @640x360", "peak RSS (MB)"]
    rep_key = {"vivid": "vivid", "blend": "blend", "dis": "dis", "repeat": "unrepaired (repeat)"}
    rows = []
    for m in order:
        if m not in q and m not in spd:
            continue
        step = q.get(m, {}).get("step")
        stem = Path(q.get(m, {}).get("checkpoint") or "interp-default").stem
        ens = {e: f"vivid {stem}, {n}-fold self-ensemble (`--ensemble {n}`)" for e, n in ENSEMBLES.items()}
        presets = {r: f"vivid {stem}, `--preset {p}`" for r, (p, _) in PRESET_ROWS.items()}
        label = {"vivid": f"vivid {stem}", HYBRID: HYBRID_LABEL.format(stem=stem), **ens, **presets}.get(m) or (
            ablation_label(m.split(":", 1)[1]) if m.startswith("ablation:") else LABELS[m])
        cells = [label + (f" (step{'s' if isinstance(step, str) else ''} {step})" if step is not None else "")]
        ps, ss = [], []
        for s in SETS:
            r = q.get(m, {}).get(s)
            if r:
                ps.append(r["psnr"])
                ss.append(r["ssim"])
                cells.append(f"{r['psnr']:.2f} / {r['ssim']:.3f}")
            else:
                cells.append("–")
        cells.append(f"{sum(ps) / len(ps):.2f} / {sum(ss) / len(ss):.3f}" if len(ps) == len(SETS) else "–")
        if m in rep_key and rep:
            vals = [c["psnr"][rep_key[m]] for c in rep.values()]
            cells.append(f"{sum(vals) / len(vals):.2f}")
        else:
            cells.append("–")
        cells.append(fmt(spd.get(m, {}).get("fps")))
        cells.append(fmt(spd.get(m, {}).get("peak_rss_mb"), 0))
        rows.append(cells)
    return markdown_table(header, rows)


def checkpoint_notes(results: dict) -> list[str]:
    """What the checkpoint is (its sidecar) and the flow settings it carries."""
    notes = []
    mm = results.get("model_meta") or {}
    if mm.get("metrics"):
        name = Path(mm.get("checkpoint") or results.get("quality", {}).get("model", "")).name
        notes.append(
            f"vivid checkpoint: {name} ({mm.get('model_name')}, "
            f"{mm.get('num_parameters') or 0:,} parameters; latest snapshot measured: step {mm['metrics'].get('global_step', '?')}; "
            f"trained by: `{mm.get('command')}`)."
        )
    cfg = mm.get("model_config") or {}  # the checkpoint's inference-only flow settings
    if cfg.get("flow_scales"):
        scales = ", ".join(f"1/{s}" if s > 1 else "1" for s in cfg["flow_scales"])
        window = cfg.get("flow_window") or 9
        still = cfg.get("flow_still")
        notes.append(
            f"vivid estimates flow at scales {scales}, keeping per pixel the estimate that matches best over a "
            f"{window}x{window} window; contrast-normalised candidate: {cfg.get('flow_contrast') or 'off'}; residual passes: "
            f"{cfg.get('flow_refine') or 0}; median: {cfg.get('flow_median') or 'off'}; still background: "
            + (f"zero flow over {still}x{still} windows" if still else "off")
            + " (the checkpoint's model_config)."
        )
    return notes


def quality_notes(results: dict) -> list[str]:
    """Margins over the baselines, what the vivid variants are, the ablations' budget, the protocol."""
    quality = results.get("quality", {})
    q = quality.get("methods", {})
    notes = []
    if q and all(b in q for b in BASELINES):
        means = {m: sum(q[m][s]["psnr"] for s in SETS) / len(SETS) for m in q}
        smeans = {m: sum(q[m][s]["ssim"] for s in SETS) / len(SETS) for m in q}
        best = max(BASELINES, key=lambda b: means[b])
        best_s = max(BASELINES, key=lambda b: smeans[b])
        whos = [("vivid", "vivid"), *((r, f"vivid with `--preset {p}`") for r, (p, _) in PRESET_ROWS.items()),
                *((e, f"vivid with `--ensemble {n}`") for e, n in ENSEMBLES.items()), (HYBRID, "the generator with DIS flow")]  # fmt: skip
        for m, who in whos:
            if m not in q:
                continue
            per_set = ", ".join(f"{s} {q[m][s]['psnr'] - max(q[b][s]['psnr'] for b in BASELINES):+.2f} dB" for s in SETS)
            notes.append(
                f"Margin of {who} over the best baseline: mean PSNR {means[m] - means[best]:+.2f} dB (best: {LABELS[best]}), "
                f"mean SSIM {smeans[m] - smeans[best_s]:+.4f} (best: {LABELS[best_s]}); per set (PSNR vs the best baseline on that set): {per_set}."
            )
    if HYBRID in q:
        notes.append(
            "The DIS-flow row is the bundled checkpoint with its flow network replaced at inference by OpenCV's DIS flow "
            "(`vivid interp --flow dis`); depth, kernels, non-local branch, projection, adaptive warping and synthesis are "
            "the bundled model's. It is not the method's flow estimation and not the bundled model's result; it shows what "
            "the rest of the generator adds to the same flow as the DIS-flow warp baseline."
        )
    if "vivid" in q and any(r in q for r in PRESET_ROWS):
        notes.append(
            "The presets: `vivid` is `--preset quality` (the checkpoint's flow settings), `vivid:fast` `--preset fast` (the flow "
            "settings its model trained with); at these sizes (at most 640 px) `--scale auto` runs both at scale 1. "
            + "; ".join(f"`--preset {p}` minus `quality`: {sum(q[r][s]['psnr'] for s in SETS) / len(SETS) - sum(q['vivid'][s]['psnr'] for s in SETS) / len(SETS):+.2f} dB mean PSNR"
                        for r, (p, _) in PRESET_ROWS.items() if r in q) + " (goal: within 0.3 dB)."
        )  # fmt: skip
    if "vivid" in q and any(r in q for r in PRESET_ROWS):
        notes.append(
            "The ablation rows were measured before a frame shared by neighbouring pairs had its features computed once and "
            "before match_brightness rounded its shifts to whole grey levels (see their dates), with the flow settings their "
            "checkpoints carry (the earlier `quality` settings: 1/8 scale and contrast candidate on); the vivid row with those "
            "settings, measured after both changes, moved by at most 0.01 dB per set (30.02 / 35.92 / 31.97 before, on the same "
            "weights), so they were not re-measured. `ablation: full` is the bundled weights with those settings."
        )
    if any(e in q for e in ENSEMBLES):
        notes.append(
            "The self-ensemble rows are the bundled model run on N flipped or transposed copies of each pair (2: the pair "
            "and its left-right flip; 4: also up-down and both; 8: the same transposed), the outputs mapped back and "
            "averaged (`vivid interp --ensemble N`): the same weights at N times the work."
        )
    abl = [r.get("step") for m, r in q.items() if m.startswith("ablation:")]
    starts = " / ".join(sorted({r.get("start", "from scratch") for m, r in q.items() if m.startswith("ablation:")}))
    if abl and "vivid" in q and set(abl) != {q["vivid"].get("step")}:
        notes.append(
            f"The ablation rows share one budget (steps {', '.join(sorted({str(a) for a in abl}))}, each {starts}), "
            f"not the bundled model's (steps {q['vivid'].get('step')}): compare them with each other, not with the vivid row."
        )
    elif abl and "vivid" in q:
        notes.append(
            f"The ablation rows have the bundled model's budget (steps {q['vivid'].get('step')}, each {starts}); "
            "each switches one module off and is otherwise trained by the same commands."
        )
    miss = quality.get("missing_ablations") or []
    if miss:
        notes.append("Ablation rows not measured (checkpoint file absent in benchmarks/weights/): " + ", ".join(f"interp-ablation-{m}" for m in miss) + ".")
    if "sizes" in quality:
        sizes, n = quality["sizes"], quality["n_triplets"]
        notes.append(
            "Frame-drop protocol: " + ", ".join(f"{s} {n[s]} triplets at {sizes[s][1]}x{sizes[s][0]}" for s in SETS)
            + "; videos: the first 20 triplets (2k, 2k+1, 2k+2), k = 0..19; frames area-downscaled to at most 640 px."
        )
    if any(b in q for b in BASELINES):
        orient = []
        for s in SETS:
            orient.append(s + ": " + ", ".join(f"{b} {q[b][s]['psnr'] - ORIENTATION[s][b][0]:+.2f} dB" for b in BASELINES if b in q))
        native = quality.get("sam2_native_baselines", {})
        nat = ", ".join(
            f"{b} {native[b]['psnr']:.2f} / {native[b]['ssim']:.3f} ({native[b]['psnr'] - ORIENTATION['sam2_bedroom'][b][0]:+.2f} dB)"
            for b in BASELINES if b in native
        )
        notes.append(
            "Baselines minus the issue's orientation numbers (PSNR): " + "; ".join(orient) + ". "
            + (f"The SAM 2 set at its native 960x540, where the orientation numbers were apparently taken: {nat}." if nat else "")
        )
    return notes


def section_notes(results: dict) -> list[str]:
    """Stutter repair, scene cuts, speed, 4K, the held-out tails and the example frames."""
    notes = []
    rep = results.get("repair", {}).get("clips", {})
    if rep:
        det = "; ".join(
            f"{k}: {c['n_injected']} repeats injected in {c['n_frames']} frames, recall {c['recall']:.2f}, "
            f"{c['false_positives']} false positives (threshold {c['threshold']:.2f})"
            for k, c in rep.items()
        )
        notes.append(f"Stutter repair (auto threshold, after an H.264 round trip): {det}. 'repaired frames PSNR' is the mean over "
                     "clips of the PSNR of the repaired frames against the originals; the frame-repetition row shows the stuttered "
                     "frames left as they were. minterpolate is not run in the repair (it needs whole-clip context).")  # fmt: skip
        cuts = results["repair"].get("scene_cuts")
        if cuts:
            notes.append("Scene-cut detector on the whole clips (first frame after each cut): "
                         + "; ".join(f"{k} {v if v else 'none'}" for k, v in cuts.items()) + ".")
    spd = results.get("speed", {}).get("methods", {})
    if spd:
        notes.append(
            f"Speed: 2x up-conversion of {next(iter(spd.values()))['n_in']} frames at 640x360, one CPU thread each, fresh process per method; "
            f"the clip is converted again until {SPEED_SECONDS:.0f} s are timed (three passes at least) and the median pass counts "
            "(peak RSS = VmHWM of that process, Python and torch included; minterpolate: the ffmpeg process alone). The machine is shared, so compare rows "
            "of one run only."
        )
        if "vivid" in spd:
            names = {**{e: f"vivid --ensemble {n}" for e, n in ENSEMBLES.items()}, HYBRID: "vivid with DIS flow", **LABELS}
            ratio = ", ".join(f"{names[b]} {spd[b]['fps'] / spd['vivid']['fps']:.1f}x" for b in [*ENSEMBLES, HYBRID, *BASELINES] if b in spd)
            notes.append(f"Throughput relative to vivid: {ratio}.")
    k4 = results.get("tiled_4k")
    if k4:
        line = (f"4K: one 3840x2160 pair through the tiled model ({k4['n_tiles']} tiles of {k4['tile']} px, overlap {k4['overlap']}"
                f"{', internal scale %g (--scale auto)' % k4['scale'] if k4.get('scale_rule') == 'auto' else ''}): "
                f"{k4['seconds']:.1f} s, peak RSS {k4['peak_rss_mb']:.0f} MB (one thread)")  # fmt: skip
        one = k4.get("scale_1")
        if one:
            line += f"; at scale 1 (`--scale 1`): {one['seconds']:.1f} s, peak RSS {one['peak_rss_mb']:.0f} MB"
        notes.append(line + ".")
    tails = results.get("tails")
    if tails:
        names = {"vivid": "vivid", ENSEMBLE: "vivid --ensemble 8", **LABELS}
        sets = list(tails["n_triplets"])
        per = "; ".join(
            f"{names[m]} " + ", ".join(f"{tails['methods'][m][k]['psnr']:.2f}" for k in sets)
            for m in TAIL_METHODS if m in tails["methods"]
        )  # fmt: skip
        notes.append(
            "Held-out tails of the training clips (the last 10 % of each, which training keeps for validation; PSNR dB on "
            + ", ".join(f"{k} ({n} triplets)" for k, n in tails["n_triplets"].items())
            + f"): {per}. Footage like the training data, for comparison with the test sets above."
        )
    if results.get("quality", {}).get("methods"):
        notes.append("Which data chose each row's settings: " + "; ".join(
            f"{m}: {why}" for m, why in CHOSEN_BY.items() if m in results["quality"]["methods"]
        ) + "; the ensembles and ablations add no setting of their own (the ablation checkpoints keep the flow settings they were "
            "measured with, those of the earlier rounds: 1/8 scale and the contrast candidate on). The `quality` preset's flow "
            "settings were chosen on a validation split over two training seeds (`interp_flow_settings.md`; the 1/8 scale and the "
            "contrast candidate did not pay there and are off); the test sets were then measured once.")  # fmt: skip
    ex = results.get("examples")
    if ex:
        notes.append(
            f"Example frames: `{ex['file']}`, per set its largest-motion triplet outside scene cuts ("
            + ", ".join(f"{k} #{v}" for k, v in ex["triplets"].items())
            + "): ground truth, vivid, vivid with DIS flow, DIS-flow warp, minterpolate (PSNR of that frame) and vivid's error."
        )
    return notes


def speed_tables(results: dict) -> list[str]:
    """The presets on validation data, the whole tool against minterpolate, and the per-stage profile."""
    out = []
    pre = results.get("presets")
    if pre:
        sets = list(pre["n_triplets"])
        rows = [[k] + [f"{r['sets'][s]['psnr']:.2f} / {r['sets'][s]['ssim']:.3f}" for s in sets] + [f"{r['psnr']:.2f} / {r['ssim']:.3f}"]
                for k, r in pre["rows"].items()]  # fmt: skip
        out += ["## Presets on validation data (held-out tails of the training clips; no test set)", "",
                *markdown_table(["preset@scale"] + [f"{s} PSNR / SSIM" for s in sets] + ["mean PSNR / SSIM"], rows), "",
                f"- {pre['data']}, frames at most 640 px on the long side: at this size `--scale auto` gives both presets scale 1 "
                "(PRESETS in vivid/interp/flow_settings.py: `fast` halves from 641 px, `quality` from 1025 px). The rule that chose the `fast` limit: the smallest "
                "internal size whose mean PSNR here stays within 0.3 dB of `quality@1`.",
                f"- Measured {pre['measured']} ({Path(pre['model']).stem}, sha256 {str(pre.get('sha256'))[:12]}).", ""]  # fmt: skip
    tool = results.get("tool")
    if tool:
        rows = []
        for k, r in tool["rows"].items():
            mi = tool["rows"].get(f"minterpolate {r['size']} {r['threads']}t")
            ratio = f"{r['seconds'] / mi['seconds']:.1f}x" if mi and r["method"] != "minterpolate" else "–"
            rows.append([r["method"], r["size"], str(r["threads"]), str(r["n_interpolated"]), f"{r['seconds']:.1f}",
                         f"{r['interp_fps']:.2f}", ratio, f"{r['load'][0]} / {r['load'][1]}"])  # fmt: skip
        out += ["## The whole tool against FFmpeg minterpolate (wall time, one run)", "",
                *markdown_table(["command", "size", "threads", "interpolated frames", "wall s", "interpolated frames/s",
                                 "wall vs minterpolate", "load avg (1 min) before / after"], rows), "",
                "- `vivid interp IN -o OUT --factor 2 -q --preset P` in a fresh process (Python start-up, imports, model load, decode, "
                "scene cuts, model, encode, audio copy) against `ffmpeg -i IN -vf minterpolate=fps=50:... -c:a copy OUT` on the same "
                "H.264 + AAC clip (the SAM 2 bedroom video scaled, 25 fps), each once, in this order; threads set by OMP_NUM_THREADS / "
                "ffmpeg's -threads.",
                f"- The machine: {tool.get('cores')} cores shared with other jobs (load average next to each row); nothing here was "
                "measured on an idle machine, and with 2 threads on a loaded machine torch's threads wait for each other.",
                f"- Measured {tool['measured']} ({Path(tool['model']).stem}, sha256 {str(tool.get('sha256'))[:12]}).", ""]  # fmt: skip
    prof = results.get("profile")
    if prof:
        from benchmarks.interp_profile import table as profile_table

        out += ["## Where the time goes (per-stage profile, after)", "", profile_table(prof["runs"]), "",
                "- `benchmarks/interp_profile.py --threads 1 -- --preset P` at 640x360 (13 frames, 12 interpolated), in-process after a "
                "warm-up; decode and encode run in threads of their own (their rows overlap the model's). The profile before the speed "
                "work: `interp_profile_before.md`.",
                f"- Measured {prof['measured']} ({Path(prof['model']).stem}, sha256 {str(prof.get('sha256'))[:12]}).", ""]  # fmt: skip
    return out


def measured_note(results: dict) -> str:
    """When each quality row and each section was measured, and with which checkpoint."""

    def ck(path, step):
        return f"{Path(path or '-').stem}" + (f" step {step}" if step is not None else "")

    q = results.get("quality", {}).get("methods", {})
    stamps = [f"{k} {v['measured']} ({ck(v.get('model'), v.get('step'))})" for k, v in results.items()
              if k != "quality" and isinstance(v, dict) and "measured" in v]  # fmt: skip
    rows_q = [f"{m} {r['measured']}" + (f" ({ck(r['checkpoint'], r.get('step'))})" if r.get("checkpoint") else "")
              for m, r in q.items() if "measured" in r]  # fmt: skip
    return "Measured: " + "; ".join(([f"quality rows: {', '.join(rows_q)}"] if rows_q else []) + stamps) + "."


def checkpoint_note(ident: dict | None, apart: bool) -> list[str]:
    if ident is None:
        return []
    how = "" if ident["sha256"] else " (no SHA-256 recorded with these measurements: the same file name and steps count as the same checkpoint)"
    rest = "what was measured with another checkpoint follows below, apart" if apart else "nothing here was measured with another one"
    return [f"{CHECKPOINT_NOTE} {describe(ident)}{how}; {rest}."]


def measures(view: dict) -> bool:
    """Whether a view holds a measurement (not only the description of its checkpoint)."""
    return bool(view.get("quality", {}).get("methods")) or any(k in view for k in SECTIONS)


def render_view(results: dict, ident: dict | None = None, apart: bool = False) -> str:
    """One checkpoint's table and notes; ``ident``: the checkpoint to name in a note, ``apart``:
    whether other checkpoints' tables follow."""
    notes = checkpoint_notes(results) + quality_notes(results) + section_notes(results)
    if not measures(results):
        return "\n".join(f"- {n}" for n in notes) + "\n"
    notes += checkpoint_note(ident, apart) + [measured_note(results)]
    return "\n".join(table(results)) + "\n\n" + "\n".join(f"- {n}" for n in notes) + "\n"


def remeasure_note(view: dict) -> str:
    if not measures(view):
        return "The last run described this checkpoint but measured nothing with it that the table above lacks."
    rows = list(view.get("quality", {}).get("methods", {}))
    sections = (["quality"] if rows else []) + [SECTIONS[k] for k in SECTIONS if k in view]
    command = "benchmarks/interp.py --sections " + ",".join(sections) + (f" --methods {','.join(rows)}" if rows else "")
    return f"`{command}` measures them again with the current checkpoint."


def render(results: dict) -> str:
    """The report under its title: the main checkpoint's table, then one per other checkpoint."""
    (main, view), *others = split_by_checkpoint(results)
    parts = [render_view(view, main, apart=bool(others))]
    for ident, other in others:
        parts.append(
            f"## Measured with another checkpoint: {describe(ident)}\n\n"
            f"Not the checkpoint of the table above ({describe(main)}): what follows is not comparable with it. "
            f"{remeasure_note(other)}\n\n"
            + render_view(other)
        )
    extra = speed_tables(results)
    return TITLE + "\n\n" + "\n".join(parts) + ("\n" + "\n".join(extra) if extra else "")


def write_report(results: dict, out: Path) -> str:
    """Render ``results`` and write the markdown to ``out``; returns it."""
    md = render(results)
    out.write_text(md)
    return md


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", type=Path, default=RESULTS / "interp.json", help="what benchmarks/interp.py measured")
    ap.add_argument("--out", type=Path, default=None, help="the markdown file (default: interp.md beside the JSON)")
    args = ap.parse_args()
    if not args.json.exists():
        sys.exit(f"{args.json} does not exist; measure first with benchmarks/interp.py")
    results = json.loads(args.json.read_text())
    print(write_report(results, args.out or args.json.with_name("interp.md")))


if __name__ == "__main__":
    main()
