"""``vivid synth KIND``: generate synthetic human data (body, video, tryon, face) to shards."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Optional

import typer

from vivid.core.errors import VividError

log = logging.getLogger(__name__)

PREVIEW_SUFFIXES = (".png", ".jpg", ".jpeg")
WORKER_MEMORY_LIMIT = 4 * 10**9  # bytes one worker may hold, so that the machine stays usable

# Bytes a stored sample holds per pixel of each frame (vivid.synth.samples: image 3, mask, part
# labels and garment mask 1 each, depth 4; video adds forward and backward flow with validity,
# tryon a second clip and the background), and per frame for the optional mesh vertices.
_STORED_BYTES_PER_PIXEL = {"body": 10, "face": 11, "video": 26, "tryon": 18}
_VERTEX_BYTES = 14_000 * 3 * 4


def parse_size(text: str) -> tuple[int, int]:
    """``"HxW"`` or ``"S"`` -> (H, W); VividError unless both are positive integers."""
    parts = text.lower().replace("*", "x").split("x")
    try:
        nums = [int(p) for p in parts]
    except ValueError:
        raise VividError(f"--size {text!r} is not HxW (e.g. 256x256)") from None
    if len(nums) == 1:
        nums = nums * 2
    if len(nums) != 2 or min(nums) <= 0:
        raise VividError(f"--size {text!r} must be two positive integers HxW, e.g. 256x256")
    return nums[0], nums[1]


def estimate_worker_bytes(cfg, *, n: int, shard_size: int) -> int:
    """Memory one worker needs for ``cfg`` (a SceneConfig): the samples of one shard, held until
    the shard is written, plus the renderer's buffers for one batch (measured: about 100 + 40 s^2
    bytes per output pixel at supersampling s)."""
    from vivid.synth.storage import BATCH

    frames = cfg.frames if cfg.kind in ("video", "tryon") else 1
    pixels = cfg.height * cfg.width
    stored = frames * (_STORED_BYTES_PER_PIXEL[cfg.kind] * pixels + (_VERTEX_BYTES if cfg.vertices else 0))
    rendering = min(BATCH, n) * (100 + 40 * cfg.supersample**2) * pixels
    return min(shard_size, n) * stored + rendering


def check_memory(cfg, *, n: int, shard_size: int, workers: int) -> None:
    """Refuse a run whose estimated memory (:func:`estimate_worker_bytes`) would not fit."""
    need = estimate_worker_bytes(cfg, n=n, shard_size=shard_size)
    limit = WORKER_MEMORY_LIMIT
    try:
        limit = min(limit, os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * 3 // 4 // workers)
    except (ValueError, OSError, AttributeError):  # no sysconf here: the fixed limit alone
        pass
    if need > limit:
        raise VividError(
            f"--size {cfg.height}x{cfg.width} needs about {need / 1e9:,.1f} GB per worker ({min(shard_size, n)} samples "
            f"per shard, {workers} worker(s)), more than the {limit / 1e9:.1f} GB allowed; use a smaller --size, "
            "--shard-size or --frames"
        )


def _floats(text: str | None, n: int, name: str) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        vals = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise VividError(f"{name} {text!r} must be {n} comma-separated numbers") from None
    if len(vals) != n:
        raise VividError(f"{name} {text!r} must be {n} comma-separated numbers")
    return vals


def build_config(kind: str, size: str, seed: int, **opts):
    """SceneConfig from command-line values (validated, mocap files parsed)."""
    from vivid.synth.motion import check_mocap
    from vivid.synth.scenes import KINDS, SceneConfig

    if kind not in KINDS:
        raise VividError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    h, w = parse_size(size)
    cfg = SceneConfig(kind=kind, height=h, width=w, seed=seed)
    if opts.get("frames") is not None:
        cfg.frames = opts["frames"]
    for key, n in (("phenotype_low", 6), ("phenotype_high", 6), ("skin_tones", 2)):
        v = _floats(opts.get(key), n, "--" + key.replace("_", "-"))
        if v is not None:
            setattr(cfg, key, v)
    if opts.get("motion_sources"):
        cfg.motion_sources = tuple(s.strip() for s in opts["motion_sources"].split(",") if s.strip())
    if opts.get("mocap"):
        cfg.mocap = tuple(str(p.resolve()) for p in check_mocap(opts["mocap"]))
    if opts.get("garments"):
        cfg.garment_kinds = tuple(s.strip() for s in opts["garments"].split(","))
    if opts.get("backgrounds"):
        from vivid.synth.appearance import load_photos

        load_photos(opts["backgrounds"])
        cfg.backgrounds_dir = str(Path(opts["backgrounds"]).resolve())
    if opts.get("hdri"):
        from vivid.synth.backgrounds import hdr_files

        hdr_files(opts["hdri"])
        cfg.hdri_dir = str(Path(opts["hdri"]).resolve())
    if opts.get("fabrics"):
        from vivid.synth.fabrics import image_files

        image_files(opts["fabrics"])
        cfg.fabrics_dir = str(Path(opts["fabrics"]).resolve())
    cfg.vertices = bool(opts.get("vertices"))
    if opts.get("supersample"):
        cfg.supersample = opts["supersample"]
    return cfg.validate()


def register(app: typer.Typer) -> None:
    @app.command("synth")
    def synth_cmd(
        kind: str = typer.Argument(..., help="Scene kind: body, video, tryon or face."),
        n: int = typer.Option(..., "--n", help="Number of samples (clips for video/tryon)."),
        size: str = typer.Option("256x256", "--size", help="Image size HxW."),
        out: Path = typer.Option(..., "--out", "-o", help="Output folder (shards + index.json)."),
        seed: int = typer.Option(
            0, "--seed", help="Seed; the same seed gives the same data. Use different seeds for train/val/test."
        ),
        workers: int = typer.Option(1, "--workers", help="Worker processes (one per core is best)."),
        threads: int = typer.Option(
            1, "--threads", help="Torch threads per worker (the work is many small ops: 1 is usually fastest)."
        ),
        preview: Optional[Path] = typer.Option(
            None, "--preview", help="Write a contact sheet of the first samples (PNG)."
        ),
        frames: Optional[int] = typer.Option(None, "--frames", help="Frames per clip (video, tryon; default 8)."),
        shard_size: int = typer.Option(64, "--shard-size", help="Samples per shard."),
        mocap: Optional[list[Path]] = typer.Option(
            None, "--mocap", help="BVH file or folder for mocap motion (repeatable); without it motion is procedural."
        ),
        motion_sources: Optional[str] = typer.Option(
            None, "--motion-sources", help="Comma list of mocap, procedural, static."
        ),
        phenotype_low: Optional[str] = typer.Option(
            None,
            "--phenotype-low",
            help="6 comma-separated lower bounds in [0,1] (gender,age,muscle,weight,height,proportions).",
        ),
        phenotype_high: Optional[str] = typer.Option(
            None, "--phenotype-high", help="6 comma-separated upper bounds in [0,1]."
        ),
        skin_tones: Optional[str] = typer.Option(None, "--skin-tones", help="Palette range lo,hi in [0,7]."),
        garments: Optional[str] = typer.Option(
            None, "--garments", help="Comma list of solid, stripes, checks, prints, logos."
        ),
        backgrounds: Optional[Path] = typer.Option(
            None, "--backgrounds", help="Folder of photos to use as backgrounds."
        ),
        hdri: Optional[Path] = typer.Option(
            None, "--hdri", help="Folder of equirectangular .hdr panoramas: backdrops seen by the camera, and their light."
        ),
        fabrics: Optional[Path] = typer.Option(
            None, "--fabrics", help="Folder of garment photos (searched recursively) to cut garment textures from."
        ),
        vertices: bool = typer.Option(False, "--vertices", help="Also store mesh vertices."),
        supersample: int = typer.Option(1, "--supersample", help="Anti-aliasing factor."),
        device: str = typer.Option("cpu", "--device", help="auto, cpu or cuda."),
        overwrite: bool = typer.Option(
            False, "--overwrite", help="Replace an existing --preview picture (a data folder is continued, never replaced)."
        ),
        quiet: bool = typer.Option(False, "--quiet", "-q"),
    ) -> None:
        """Generate synthetic human data with every label, as shards plus an index JSON."""
        from vivid.core.cli_utils import progress, resolve_device
        from vivid.core.fileio import check_output_file, check_output_folder
        from vivid.synth.scenes import GeneratorFactory
        from vivid.synth.storage import INDEX_NAME, OWN_FILES, SynthDataset, write_shards

        if n <= 0:
            raise VividError(f"--n must be a positive number of samples, got {n}")
        if workers <= 0:
            raise VividError(f"--workers must be at least 1, got {workers}")
        if threads <= 0:
            raise VividError(f"--threads must be at least 1, got {threads}")
        continues = (out / INDEX_NAME).is_file()
        own = list(OWN_FILES)
        if preview is not None:
            inside = preview.parent.resolve() == out.resolve()
            # The preview of a run being continued is drawn again from the same samples.
            check_output_file(
                preview, suffixes=PREVIEW_SUFFIXES, overwrite=overwrite or continues, what="--preview", in_new_folder=inside
            )
            if inside:
                own.append(preview.name)
        check_output_folder(out, own=own)
        ranges = {"phenotype_low": phenotype_low, "phenotype_high": phenotype_high, "skin_tones": skin_tones}
        folders = {"backgrounds": backgrounds, "hdri": hdri, "fabrics": fabrics}
        cfg = build_config(
            kind, size, seed, frames=frames, motion_sources=motion_sources, mocap=mocap, garments=garments,
            vertices=vertices, supersample=supersample, **ranges, **folders,
        )
        if shard_size <= 0:
            raise VividError(f"--shard-size must be positive, got {shard_size}")
        check_memory(cfg, n=n, shard_size=shard_size, workers=workers)
        import torch

        dev = str(resolve_device(device))
        factory = GeneratorFactory(cfg, device=dev)
        torch.set_num_threads(threads)
        with torch.no_grad(), progress(n, f"synth {kind}", quiet=quiet, unit="sample") as bar:
            index = write_shards(
                out,
                factory,
                kind=kind,
                size=(cfg.height, cfg.width),
                seed=seed,
                n=n,
                config=cfg.to_dict(),
                shard_size=shard_size,
                workers=workers,
                threads=threads,
                on_progress=bar.advance,
            )
        if preview is not None:
            from vivid.synth.preview import write_sheet

            ds = SynthDataset(out)
            write_sheet(preview, kind, [ds.raw(i) for i in range(min(8, len(ds)))])
        if not quiet:
            typer.echo(f"wrote {index['n']} {kind} samples in {len(index['shards'])} shards to {out}")
