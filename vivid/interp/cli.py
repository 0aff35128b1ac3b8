"""``vivid interp`` (one frame between two images, or frame-rate up-conversion) and
``vivid repair`` (stutter repair)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from torch import Tensor

from vivid.core.errors import VividError
from vivid.interp.apply import (
    DEFAULT_MODEL,
    DEFAULT_OVERLAP,
    DEFAULT_TILE,
    Interpolate,
    SceneCutDetector,
    check_ensemble,
    external_flow,
    parse_flow_settings,
)


class _LazyInterpolator:
    """Loads the checkpoint on the first call, so that bad input is reported before the model
    is read."""

    def __init__(
        self,
        model: str,
        device: str,
        fp16: Optional[bool],
        tile: int,
        overlap: int,
        flow: str,
        ensemble: int,
        flow_settings: list[str] | None = None,
    ) -> None:
        self.args = dict(model=model, device=device, fp16=fp16, tile=tile, overlap=overlap, flow=flow, ensemble=ensemble)
        self.flow_settings = list(flow_settings or [])
        self._fn: Interpolate | None = None
        self._checked = False

    def check(self) -> "_LazyInterpolator":
        """Report a missing or foreign checkpoint, or an unusable device, before any work."""
        if not self._checked:
            from vivid.core.checkpoints import read_meta
            from vivid.core.cli_utils import resolve_device

            meta = read_meta(self.args["model"])
            if meta.get("task") != "interp":
                raise VividError(f"checkpoint {self.args['model']} is a {meta.get('task')!r} model, not an interpolation model")
            self.args["device"] = resolve_device(str(self.args["device"]))
            if self.args["fp16"] and self.args["device"].type != "cuda":
                raise VividError("--fp16 needs a CUDA device; drop it or use --device cuda")
            external_flow(self.args["flow"])  # an unknown --flow or a missing OpenCV is reported now
            check_ensemble(self.args["ensemble"])
            self.args["flow_settings"] = parse_flow_settings(self.flow_settings)
            if self.flow_settings and self.args["flow"] != "network":
                raise VividError(f"--flow-setting applies to the flow network; --flow {self.args['flow']} does not use it")
            self._checked = True
        return self

    def __call__(self, frame0: Tensor, frame1: Tensor, t: Tensor) -> Tensor:
        if self._fn is None:
            from vivid.interp.apply import load_interpolator

            args = dict(self.check().args)
            self._fn = load_interpolator(args.pop("model"), **args)
        return self._fn(frame0, frame1, t)


_MODEL = typer.Option(DEFAULT_MODEL, "--model", "-m", help="Bundled checkpoint name or a .safetensors path.")
_DEVICE = typer.Option("auto", "--device", help="auto, cpu or cuda.")
_FP16 = typer.Option(None, "--fp16/--no-fp16", help="Half-precision inference (default: on for CUDA, off for CPU).")
_BATCH = typer.Option(4, "--batch", help="Frames interpolated per model call.")
_TILE = typer.Option(DEFAULT_TILE, "--tile", help="Frames larger than this (pixels) run in tiles; 0 turns tiling off.")
_OVERLAP = typer.Option(DEFAULT_OVERLAP, "--overlap", help="Tile overlap in pixels (feathered).")
_FLOW = typer.Option(
    "network", "--flow", help="Flows from the model's flow network, or 'dis': OpenCV's DIS flow (needs OpenCV)."
)
_ENSEMBLE = typer.Option(
    1, "--ensemble", help="Average the model over 1, 2, 4 or 8 flipped/transposed copies of each pair (N times the work)."
)
_FLOW_SETTING = typer.Option(
    [],
    "--flow-setting",
    help="How the flow network estimates flow, overriding the checkpoint: flow_scales=1,2,4, flow_window=9, "
    "flow_refine=0, flow_contrast=0, flow_median=0 or flow_still=0 (repeatable; those six are the faster settings the "
    "bundled model trained with).",
)
_CUTS = typer.Option(True, "--scene-cuts/--no-scene-cuts", help="Repeat the nearest frame across scene cuts.")
_INPUT_FPS = typer.Option(None, "--input-fps", help="Frame rate of a folder of frames (default 25).")
_QUIET = typer.Option(False, "--quiet", "-q", help="No progress bar.")
_OVERWRITE = typer.Option(False, "--overwrite", help="Replace an existing output file.")


def interp_cmd(
    inputs: list[Path] = typer.Argument(
        ..., help="IN (a video or a folder of frames) for up-conversion, or A B (two images) for one frame."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Output image, video (.mp4/.mov/.mkv) or folder."),
    t: Optional[float] = typer.Option(None, "--t", help="Time of the output frame between A (0) and B (1); default 0.5."),
    factor: Optional[int] = typer.Option(None, "--factor", help="Up-conversion: N times the input frame rate (2-16)."),
    fps: Optional[float] = typer.Option(None, "--fps", help="Up-conversion: this output frame rate."),
    model: str = _MODEL,
    batch: int = _BATCH,
    device: str = _DEVICE,
    fp16: Optional[bool] = _FP16,
    tile: int = _TILE,
    overlap: int = _OVERLAP,
    flow: str = _FLOW,
    ensemble: int = _ENSEMBLE,
    flow_setting: list[str] = _FLOW_SETTING,
    scene_cuts: bool = _CUTS,
    input_fps: Optional[float] = _INPUT_FPS,
    overwrite: bool = _OVERWRITE,
    quiet: bool = _QUIET,
) -> None:
    """Interpolate frames: `vivid interp A.png B.png -o MID.png [--t 0.5]` or
    `vivid interp IN -o OUT (--factor N | --fps F)`."""
    from vivid.core.cli_utils import progress
    from vivid.interp.apply import (
        check_output,
        check_rate,
        expected_output_count,
        interpolate_images,
        open_clip,
        upconvert_file,
    )

    interp = _LazyInterpolator(model, device, fp16, tile, overlap, flow, ensemble, flow_setting)
    if len(inputs) == 2:
        if factor is not None or fps is not None:
            raise VividError("--factor/--fps apply to a video; with two images give --t (default 0.5)")
        a, b = inputs
        interpolate_images(a, b, out, interp, t=0.5 if t is None else t, overwrite=overwrite)
        typer.echo(f"wrote {out}")
        return
    if len(inputs) != 1:
        raise VividError(f"give one video/folder (up-conversion) or two images (one frame), got {len(inputs)} inputs")
    if t is not None:
        raise VividError("--t applies to two images; for a video give --factor N or --fps F")
    inp = inputs[0]
    if inp.is_file() and inp.suffix.lower() in {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}:
        raise VividError(f"{inp} is a single image; give two images (A B) or a video / folder of frames")
    if (factor is None) == (fps is None):
        raise VividError("give exactly one of --factor N or --fps F (or two images for one frame)")
    src = open_clip(inp, fps=input_fps)
    out_fps = check_rate(float(src.info.fps), factor=factor, fps=fps)
    check_output(out, inp, overwrite=overwrite)
    interp.check()
    total = expected_output_count(src.info.n_frames, float(src.info.fps), factor=factor, fps=fps)
    with progress(total, "interpolating", quiet=quiet, unit="frame") as bar:
        summary = upconvert_file(
            inp, out, interp, factor=factor, fps=fps, batch_size=batch, input_fps=input_fps,
            scene_cuts=SceneCutDetector() if scene_cuts else None, advance=bar.advance,
        )  # fmt: skip
    typer.echo(
        f"wrote {out}: {summary.n_output} frames at {out_fps:g} fps from {summary.n_input} at {summary.in_fps:g} fps "
        f"({summary.n_interpolated} interpolated, {summary.n_cut_frames} repeated across scene cuts)"
    )


def repair_cmd(
    inp: Path = typer.Argument(..., help="A video or a folder of frames."),
    out: Path = typer.Option(..., "--out", "-o", help="Output video (.mp4/.mov/.mkv) or folder."),
    threshold: str = typer.Option(
        "auto", "--threshold", help="Repeat threshold in grey levels (mean |difference| at 160x90), or 'auto'."
    ),
    report: Optional[Path] = typer.Option(None, "--report", help="Write the repaired frame indices as JSON here."),
    max_run: int = typer.Option(8, "--max-run", help="Longer runs of repeats are a still scene and are kept."),
    model: str = _MODEL,
    batch: int = _BATCH,
    device: str = _DEVICE,
    fp16: Optional[bool] = _FP16,
    tile: int = _TILE,
    overlap: int = _OVERLAP,
    flow: str = _FLOW,
    ensemble: int = _ENSEMBLE,
    flow_setting: list[str] = _FLOW_SETTING,
    scene_cuts: bool = _CUTS,
    input_fps: Optional[float] = _INPUT_FPS,
    overwrite: bool = _OVERWRITE,
    quiet: bool = _QUIET,
) -> None:
    """Repair stutter: replace repeated frames by interpolated ones (frame count and timing kept)."""
    from vivid.core.cli_utils import progress
    from vivid.core.fileio import ensure_distinct, refuse_existing
    from vivid.interp.apply import check_output, open_clip
    from vivid.interp.repair import parse_threshold, repair_file

    parse_threshold(threshold)  # fail early on a bad value
    src = open_clip(inp, fps=input_fps)
    check_output(out, inp, overwrite=overwrite)
    if report is not None:
        ensure_distinct(inp, report)
        refuse_existing(report, overwrite)
    interp = _LazyInterpolator(model, device, fp16, tile, overlap, flow, ensemble, flow_setting).check()
    with progress(src.info.n_frames, "repairing", quiet=quiet, unit="frame") as bar:
        res = repair_file(
            inp, out, interp, threshold=threshold, report=report, max_run=max_run, batch_size=batch,
            input_fps=input_fps, scene_cuts=SceneCutDetector() if scene_cuts else None, advance=bar.advance,
        )  # fmt: skip
    kept = f"; {len(res.skipped)} run(s) left as they were" if res.skipped else ""
    typer.echo(
        f"wrote {out}: {res.n_frames} frames, {len(res.repaired)} repaired in {len(res.runs)} run(s) "
        f"(threshold {res.threshold:.3g} grey levels, {res.threshold_rule}){kept}"
    )


def register(app: typer.Typer) -> None:
    """Add ``interp`` and ``repair`` to the ``vivid`` command."""
    app.command("interp")(interp_cmd)
    app.command("repair")(repair_cmd)
