"""``vivid interp`` (one frame between two images, or frame-rate up-conversion) and
``vivid repair`` (stutter repair)."""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional, get_type_hints

import typer
from vivid.core.errors import VividError
from vivid.interp.defaults import DEFAULT_MODEL, DEFAULT_OVERLAP, DEFAULT_TILE
from vivid.interp.flow_settings import PRESETS, FlowSettings, check_preset, flow_preset, parse_scale

if TYPE_CHECKING:  # torch and the model code load only when a command runs
    from torch import Tensor

    from vivid.interp.interpolator import Interpolate
    from vivid.interp.scenecut import SceneCutDetector


def _option(default, *names: str, help: str):
    """A dataclass field whose metadata holds its ``typer.Option`` (both with ``default``)."""
    metadata = {"option": typer.Option(default, *names, help=help)}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class InterpOptions:
    """The options that ``vivid interp`` and ``vivid repair`` share (see :func:`_shared_options`)."""

    model: str = _option(DEFAULT_MODEL, "--model", "-m", help="Bundled checkpoint name or a .safetensors path.")
    batch: int = _option(4, "--batch", help="Frames interpolated per model call.")
    device: str = _option("auto", "--device", help="auto, cpu or cuda.")
    fp16: Optional[bool] = _option(
        None, "--fp16/--no-fp16", help="Half-precision inference (default: on for CUDA, off for CPU)."
    )
    tile: int = _option(DEFAULT_TILE, "--tile", help="Frames larger than this (pixels) run in tiles; 0 turns tiling off.")
    overlap: int = _option(DEFAULT_OVERLAP, "--overlap", help="Tile overlap in pixels (feathered).")
    flow: str = _option(
        "network", "--flow", help="Flows from the model's flow network, or 'dis': OpenCV's DIS flow (needs OpenCV)."
    )
    ensemble: int = _option(
        1, "--ensemble", help="Average the model over 1, 2, 4 or 8 flipped/transposed copies of each pair (N times the work)."
    )
    preset: str = _option(
        "quality",
        "--preset",
        help="'quality' (the default): the checkpoint's flow settings, local features at full resolution up to 1024 px; "
        "'fast': the flow settings its model trained with, local features at most 640 px on the long side "
        "(with --scale auto).",
    )
    scale: str = _option(
        "auto",
        "--scale",
        help="Internal resolution of flow, depth and kernel estimation: 1, 0.5 or 0.25 of the frame (outputs upsampled, "
        "as RIFE and FILM do), or auto: picked from the frame size and --preset.",
    )
    flow_preset: Optional[str] = _option(
        None,
        "--flow-preset",
        help="How the flow network estimates flow: 'quality' (what the checkpoint carries) or 'fast' "
        "(what its model trained with); the default is --preset's.",
    )
    flow_setting: list[str] = _option(
        [],
        "--flow-setting",
        help="Change one flow setting on top of the preset: flow_scales=1,2,4, flow_window=9, flow_refine=0, "
        "flow_contrast=0, flow_median=0 or flow_still=0 (repeatable).",
    )
    scene_cuts: bool = _option(True, "--scene-cuts/--no-scene-cuts", help="Repeat the nearest frame across scene cuts.")
    input_fps: Optional[float] = _option(None, "--input-fps", help="Frame rate of a folder of frames (default 25).")
    no_audio: bool = _option(False, "--no-audio", help="Drop the input's audio (by default every audio stream is kept).")
    overwrite: bool = _option(False, "--overwrite", help="Replace an existing output file.")
    quiet: bool = _option(False, "--quiet", "-q", help="No progress bar.")

    def scene_cut_detector(self) -> SceneCutDetector | None:
        from vivid.interp.scenecut import SceneCutDetector

        return SceneCutDetector() if self.scene_cuts else None


def _shared_options(command: Callable) -> Callable:
    """``command(..., *, opts: InterpOptions)`` as a Typer command: its signature gains one
    parameter per :class:`InterpOptions` field (Typer reads options from the signature), and
    the values reach ``command`` gathered as ``opts``."""
    own = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.name != "opts"]
    types = get_type_hints(InterpOptions)
    shared = [
        inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.metadata["option"], annotation=types[f.name])
        for f in fields(InterpOptions)
    ]

    @functools.wraps(command)
    def run(**kwargs):
        opts = InterpOptions(**{f.name: kwargs.pop(f.name) for f in fields(InterpOptions)})
        return command(**kwargs, opts=opts)

    run.__signature__ = inspect.Signature([*own, *shared])
    run.__annotations__ = {p.name: p.annotation for p in run.__signature__.parameters.values()}
    return run


class _LazyInterpolator:
    """Loads the checkpoint on the first call, so that bad input is reported before the model
    is read."""

    def __init__(self, opts: InterpOptions) -> None:
        self.opts = opts
        self._args: dict | None = None
        self._fn: Interpolate | None = None

    def check(self) -> "_LazyInterpolator":
        """Report a missing or foreign checkpoint, an unusable device or a bad setting before any work."""
        if self._args is None:
            from vivid.core.checkpoints import read_meta
            from vivid.core.cli_utils import resolve_device
            from vivid.interp.interpolator import check_ensemble, check_fp16, external_flow
            from vivid.interp.tiling import check_tiling

            o = self.opts
            meta = read_meta(o.model)
            if meta.get("task") != "interp":
                raise VividError(f"checkpoint {o.model} is a {meta.get('task')!r} model, not an interpolation model")
            device = resolve_device(str(o.device))
            external_flow(o.flow)  # an unknown --flow or a missing OpenCV is reported now
            check_tiling(o.tile, o.overlap)
            preset = check_preset(o.preset)
            self._args = dict(
                scale=parse_scale(o.scale),
                max_side=PRESETS[preset][1],
                device=device,
                fp16=check_fp16(o.fp16, device),
                tile=o.tile,
                overlap=o.overlap,
                flow=o.flow,
                ensemble=check_ensemble(o.ensemble),
                flow_settings=_chosen_flow_settings(o, meta),
            )
        return self

    def __call__(self, frame0: Tensor, frame1: Tensor, t: Tensor) -> Tensor:
        if self._fn is None:
            from vivid.interp.interpolator import load_interpolator

            self._fn = load_interpolator(self.opts.model, **self.check()._args)
        return self._fn(frame0, frame1, t)


def _chosen_flow_settings(opts: InterpOptions, meta: dict) -> FlowSettings | None:
    """The flow settings ``--preset``, ``--flow-preset`` and ``--flow-setting`` ask for (None:
    the checkpoint's own)."""
    if opts.flow_preset is None and not opts.flow_setting:
        name = PRESETS[check_preset(opts.preset)][0]
        return None if name == "quality" or opts.flow != "network" else flow_preset(name, meta)
    if opts.flow != "network":
        raise VividError(
            f"--flow-preset and --flow-setting apply to the flow network; --flow {opts.flow} does not use it"
        )
    return flow_preset(opts.flow_preset or PRESETS[check_preset(opts.preset)][0], meta).parse(opts.flow_setting)


def _check_clip_output(out: Path, inp: Path, *, overwrite: bool) -> None:
    """A video or frames-folder output, checked before any frame is decoded (see
    :func:`vivid.core.video.check_output`), and its folder takes a new file."""
    from vivid.core.fileio import check_writable
    from vivid.core.video import check_output

    check_output(out, inp, overwrite=overwrite)
    check_writable(out.parent, like=out)


@_shared_options
def interp_cmd(
    inputs: list[Path] = typer.Argument(
        ..., help="IN (a video or a folder of frames) for up-conversion, or A B (two images) for one frame."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Output image, video (.mp4/.mov/.mkv) or folder."),
    t: Optional[float] = typer.Option(None, "--t", help="Time of the output frame between A (0) and B (1); default 0.5."),
    factor: Optional[int] = typer.Option(None, "--factor", help="Up-conversion: N times the input frame rate (2-16)."),
    fps: Optional[float] = typer.Option(None, "--fps", help="Up-conversion: this output frame rate."),
    *,
    opts: InterpOptions,
) -> None:
    """Interpolate frames: `vivid interp A.png B.png -o MID.png [--t 0.5]` or
    `vivid interp IN -o OUT (--factor N | --fps F)`."""
    from vivid.core.cli_utils import progress
    from vivid.core.fileio import IMAGE_SUFFIXES, check_output_file
    from vivid.core.video import open_clip
    from vivid.interp.rates import check_rate, check_request, expected_output_count

    interp = _LazyInterpolator(opts)
    if len(inputs) == 2:
        if factor is not None or fps is not None:
            raise VividError("--factor/--fps apply to a video; with two images give --t (default 0.5)")
        a, b = inputs
        check_output_file(out, suffixes=sorted(IMAGE_SUFFIXES), inputs=inputs, overwrite=opts.overwrite)
        from vivid.interp.apply import interpolate_images

        interpolate_images(a, b, out, interp, t=0.5 if t is None else t, overwrite=opts.overwrite)
        typer.echo(f"wrote {out}")
        return
    if len(inputs) != 1:
        raise VividError(f"give one video/folder (up-conversion) or two images (one frame), got {len(inputs)} inputs")
    if t is not None:
        raise VividError("--t applies to two images; for a video give --factor N or --fps F")
    inp = inputs[0]
    if inp.is_file() and inp.suffix.lower() in {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}:
        raise VividError(f"{inp} is a single image; give two images (A B) or a video / folder of frames")
    check_request(factor=factor, fps=fps)
    _check_clip_output(out, inp, overwrite=opts.overwrite)
    src = open_clip(inp, fps=opts.input_fps)
    out_fps = check_rate(float(src.info.fps), factor=factor, fps=fps)
    interp.check()
    total = expected_output_count(src.info.n_frames, float(src.info.fps), factor=factor, fps=fps)
    from vivid.interp.apply import upconvert_file

    with progress(total, "interpolating", quiet=opts.quiet, unit="frame") as bar:
        summary = upconvert_file(
            inp, out, interp, factor=factor, fps=fps, batch_size=opts.batch, input_fps=opts.input_fps,
            scene_cuts=opts.scene_cut_detector(), advance=bar.advance, audio=not opts.no_audio,
        )  # fmt: skip
    typer.echo(
        f"wrote {out}: {summary.n_output} frames at {out_fps:g} fps from {summary.n_input} at {summary.in_fps:g} fps "
        f"({summary.n_interpolated} interpolated, {summary.n_cut_frames} repeated across scene cuts)"
    )


@_shared_options
def repair_cmd(
    inp: Path = typer.Argument(..., help="A video or a folder of frames."),
    out: Path = typer.Option(..., "--out", "-o", help="Output video (.mp4/.mov/.mkv) or folder."),
    threshold: str = typer.Option(
        "auto", "--threshold", help="Repeat threshold in grey levels (mean |difference| at 160x90), or 'auto'."
    ),
    report: Optional[Path] = typer.Option(None, "--report", help="Write the repaired frame indices as JSON here."),
    max_run: int = typer.Option(8, "--max-run", help="Longer runs of repeats are a still scene and are kept."),
    *,
    opts: InterpOptions,
) -> None:
    """Repair stutter: replace repeated frames by interpolated ones (frame count and timing kept)."""
    from vivid.core.cli_utils import progress
    from vivid.core.fileio import check_output_file
    from vivid.core.video import open_clip

    _check_clip_output(out, inp, overwrite=opts.overwrite)
    if report is not None:
        check_output_file(report, suffixes=[".json"], inputs=[inp], overwrite=opts.overwrite, what="--report")
    src = open_clip(inp, fps=opts.input_fps)
    from vivid.interp.repair import parse_threshold, repair_file  # model code loads once the paths are good

    parse_threshold(threshold)  # a bad value, before any work
    interp = _LazyInterpolator(opts).check()
    with progress(src.info.n_frames, "repairing", quiet=opts.quiet, unit="frame") as bar:
        res = repair_file(
            inp, out, interp, threshold=threshold, report=report, max_run=max_run, batch_size=opts.batch,
            input_fps=opts.input_fps, scene_cuts=opts.scene_cut_detector(), advance=bar.advance,
            audio=not opts.no_audio,
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
