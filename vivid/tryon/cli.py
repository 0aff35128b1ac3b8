"""``vivid tryon PERSON GARMENT -o OUT``: a person video and a garment photo in, a try-on video out."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from vivid.core.errors import VividError


def run_tryon(person: Path, garment: Path | None, out: Path, *, category: str = "upper", chunk: int = 8, overlap: int = 2,
              model: str = "tryon-default", pose_model: str = "pose3d-default", size: str | None = None,
              garment_mask: str = "network", parts: str = "parser", parse_only: bool = False, device: str = "auto", overwrite: bool = False,
              quiet: bool = False, person_rank: str | int | None = None) -> int:
    """Try ``garment`` on the person of ``person`` (a video, a folder of frames or an image) and
    write the frames to ``out`` (a video or a folder); with ``parse_only``, write the body-part
    and garment parsing instead. ``person_rank`` (``--person``): dress the N-th largest person
    tracked over the clip (0: the largest; default: the one person found from the whole frame).
    Returns the number of frames written."""
    from vivid.core.cli_utils import progress, resolve_device
    from vivid.core.fileio import ensure_distinct, read_image
    from vivid.core.video import FrameSink, open_frames

    from .apply import TryOn, parse, parse_image, parse_person, parse_size

    rank = parse_person(person_rank)
    if category not in ("upper", "lower", "full"):
        raise VividError(f"unknown --category {category!r}; use upper, lower or full")
    if not parse_only and garment is None:
        raise VividError("give a garment photo (or --parse-only for the parsing alone)")
    ensure_distinct(person, out)
    if out.exists() and not overwrite:
        raise VividError(f"{out} exists; pass --overwrite to replace it")
    source = open_frames(person)  # VividError for a missing or unreadable input
    photo = None
    if garment is not None and not parse_only:
        try:
            photo = read_image(garment)
        except VividError as err:
            raise VividError(f"garment photo {garment} is unreadable: {err}") from err
    tool = TryOn(model, pose_model=pose_model, device=resolve_device(device), size=parse_size(size) if size else None)
    images = [f.image for f in source]
    times = [f.time for f in source] if source.kind == "video" else [None] * len(images)
    from .apply import to_frames

    if parse_only:
        frames = to_frames(images, *tool.size)
        labels, garment_px = parse(tool.model, frames)
        pictures = [parse_image(labels[i], garment_px[i]) for i in range(len(images))]
    else:
        with progress(len(images), "try-on", quiet=quiet, unit="frame") as bar:
            result, _ = tool.run(images, photo, category=category, chunk=chunk, overlap=overlap, mask_method=garment_mask,
                                 parts_from=parts, person=rank, on_frames=bar.advance)
        pictures = [(result[i].permute(1, 2, 0).clamp(0, 1).numpy() * 255 + 0.5).astype("uint8") for i in range(len(images))]
    with FrameSink(out, source.info.fps or 25.0, source=person) as sink:
        for pic, t in zip(pictures, times):
            sink.write(pic, time=t)
    return len(pictures)


def register(app: typer.Typer) -> None:
    @app.command("tryon")
    def tryon_cmd(
        person: Path = typer.Argument(..., help="A person video (or a folder of frames, or an image)."),
        garment: Optional[Path] = typer.Argument(None, help="A photo of one garment (laid flat or hanging)."),
        out: Path = typer.Option(..., "--out", "-o", help="The try-on video (.mp4) or a folder of frames."),
        category: str = typer.Option("upper", "--category", help="The garment's kind: upper, lower or full (dresses)."),
        chunk: int = typer.Option(8, "--chunk", help="Frames per attention window; longer clips run in overlapping chunks."),
        overlap: int = typer.Option(2, "--overlap", help="Frames shared by consecutive chunks (blended)."),
        model: str = typer.Option("tryon-default", "--model", help="Bundled checkpoint name or .safetensors path."),
        pose_model: str = typer.Option("pose3d-default", "--pose-model", help="The pose3d checkpoint for the 2D joints."),
        size: Optional[str] = typer.Option(None, "--size", help="Working size HEIGHTxWIDTH (default: the checkpoint's)."),
        garment_mask: str = typer.Option("network", "--garment-mask", help="Garment photo mask: network or grabcut (needs OpenCV)."),
        parts: str = typer.Option("parser", "--parts", help="Body parts from the parser, or 'skeleton': drawn around pose3d's joints."),
        person_rank: Optional[str] = typer.Option(None, "--person", help="Dress the N-th largest tracked person (0: the largest)."),
        parse_only: bool = typer.Option(False, "--parse-only", help="Write the body-part and garment parsing of the person video only."),
        device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output."),
        quiet: bool = typer.Option(False, "--quiet", "-q"),
    ) -> None:
        """Video virtual try-on: the person of a video wearing the garment of a photo."""
        n = run_tryon(person, garment, out, category=category, chunk=chunk, overlap=overlap, model=model, pose_model=pose_model,
                      size=size, garment_mask=garment_mask, parts=parts, parse_only=parse_only, device=device, overwrite=overwrite, quiet=quiet,
                      person_rank=person_rank)  # fmt: skip
        if not quiet:
            typer.echo(f"wrote {out} ({n} frame{'s' if n != 1 else ''})")
