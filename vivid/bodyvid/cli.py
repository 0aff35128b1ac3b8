"""``vivid body IN.mp4 -o OUT_DIR [--glb] [--bvh] [--obj] [--overlay] [--seq-len S] [--person N|all]``.

Writes into OUT_DIR: ``body.json`` (per-frame joints and body parameters; always), and on request
``overlay.mp4`` (the mesh over the frames, at the source's frame rate), ``meshes/frame_NNNNNN.obj``
(or ``.ply`` with ``--ply``), ``body.glb`` (the animated, skinned Anny mesh) and ``body.bvh``.
With ``--person all`` every tracked person gets their own: ``meshes/personN_frame_NNNNNN.obj``,
``body_personN.glb``, ``body_personN.bvh`` (one overlay shows them all).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np
import typer

from vivid.core.errors import VividError

# Mesh colour in the overlay, and how much of it covers the frame.
_MESH_RGB = (0.55, 0.7, 0.95)
_OVERLAY_ALPHA = 0.65


def parse_box(text: str | None) -> tuple[float, float, float, float] | None:
    """``"x0,y0,x1,y1"`` -> four floats (VividError otherwise)."""
    if text is None:
        return None
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4:
        raise VividError(f"--box must be four numbers x0,y0,x1,y1 in pixels, got {text!r}")
    return values  # type: ignore[return-value]


def overlay_frame(image: np.ndarray, vertices: np.ndarray, faces, K) -> np.ndarray:
    """The mesh (V, 3) camera-frame vertices rendered over ``image`` uint8 (H, W, 3) with intrinsics K (3, 3)."""
    import torch

    from vivid.core.render import render

    h, w = image.shape[:2]
    v = torch.as_tensor(vertices, dtype=torch.float32)[None]
    albedo = torch.tensor(_MESH_RGB).expand(v.shape[1], 3)
    out = render(v, faces, torch.as_tensor(K, dtype=torch.float32), h, w, albedo=albedo)
    rgb, mask = out.rgb[0].permute(1, 2, 0).clamp(0, 1).numpy(), out.mask[0].numpy()[..., None] * _OVERLAY_ALPHA
    return (image * (1 - mask) + rgb * 255 * mask).round().clip(0, 255).astype(np.uint8)


# What a run writes into its folder (an earlier run's outputs may be replaced with --overwrite).
OWN_OUTPUTS = ("body.json", "overlay.mp4", "animation.glb", "animation.bvh", "meshes", "*.glb", "*.bvh")


def _advancing(frames, bar):
    for frame in frames:
        yield frame
        bar.advance()


def _people_note(predictor, tracks: list, person) -> str:
    """The report's ``person_box``: where the boxes came from."""
    if not tracks:
        why = f"{predictor.detector_note}: " if person is not None and predictor.detector_note else ""
        if person is not None and not why:
            why = "the people detector found nobody: "
        return why + predictor.box_strategy
    from vivid.pose3d.people import DETECTOR_NAME

    which = "every tracked person" if person == "all" else f"tracked person {person} (0: the largest)"
    return (f"vivid.people's {DETECTOR_NAME} detector and tracker, {which}: the track's box on each of its frames, "
            "the tracker's bridged box where the detector missed the person")  # fmt: skip


def run_body(inp: Path, out_dir: Path, *, glb: bool = False, bvh: bool = False, obj: bool = False, ply: bool = False,
             overlay: bool = False, seq_len: int | None = None, stride: int | None = None, model: str = "bodyvid-default",
             device: str = "auto", fov: float | None = None, box: str | None = None, person: str | int | None = None,
             overwrite: bool = False, quiet: bool = False) -> dict:  # fmt: skip
    """Run ``vivid body`` (see the module docstring); returns the JSON record written to ``body.json``.

    ``person``: None (one person, found from the whole frame and followed by its joints), a rank
    N (the N-th largest person tracked by :mod:`vivid.people`; 0: the largest) or ``"all"`` (a
    mesh sequence per tracked person; exports then are named ``body_personN.glb`` and so on).
    """
    from vivid.core.cli_utils import progress, resolve_device
    from vivid.core.fileio import check_output_folder
    from vivid.core.video import VideoWriter, open_frames

    from vivid.bodyvid.people import ALL, choose_tracks, parse_person

    inp, out_dir = Path(inp), Path(out_dir)
    if not inp.exists():
        raise VividError(f"input {inp} does not exist")
    person = parse_person(person)
    user_box = parse_box(box)
    if user_box is not None and person is not None:
        raise VividError("--box and --person both choose the person; give one of them")
    # New, empty, or (with --overwrite) holding an earlier run's outputs only.
    check_output_folder(out_dir, own=OWN_OUTPUTS if overwrite else ())
    source = open_frames(inp)
    # The model code (torch) loads only once the paths are known to be good.
    import torch

    from vivid.bodyvid.apply import BodyVideoPredictor
    from vivid.bodyvid.export import body_animation, bvh_clip, write_bvh_file, write_glb, write_obj, write_ply
    from vivid.bodyvid.skeleton import BONES, body_vertices, shared_body_model
    from vivid.core.body import H36M_JOINTS
    from vivid.core.geometry import intrinsics_from_fov

    if source.kind == "image":
        raise VividError(f"{inp} is a single image; vivid body needs a video or a folder of frames")
    if source.info.n_frames_exact and source.info.n_frames < 2:
        raise VividError(f"{inp} has {source.info.n_frames} frame; vivid body needs at least 2 frames")
    predictor = BodyVideoPredictor(model, device=resolve_device(device), fov_deg=fov, stride=stride, box=user_box)
    if seq_len is not None and seq_len != predictor.seq_len:
        if not isinstance(seq_len, int) or seq_len < 2:
            raise VividError(f"--seq-len must be a whole number of at least 2 frames, got {seq_len}")
        raise VividError(f"--seq-len {seq_len}: this model was trained on sequences of {predictor.seq_len} frames; "
                         f"use --seq-len {predictor.seq_len} or a model trained with that length")  # fmt: skip
    tracks: list = []
    if person is not None:  # a first pass over the clip: the tracker links boxes over all of it
        with progress(source.info.n_frames or None, "tracking people", quiet=quiet, unit="frame") as bar:
            tracks = predictor.track(_advancing(source, bar))
        if not tracks and person not in (0, ALL) and predictor.detector_note:
            raise VividError(f"--person {person} needs the people detector, which is not available ({predictor.detector_note})")
        if tracks or person not in (0, ALL):
            tracks = choose_tracks(tracks, person)
    out_dir.mkdir(parents=True, exist_ok=True)
    info = source.info
    K = intrinsics_from_fov(fov_deg=predictor.fov_deg, height=info.height, width=info.width)
    faces = shared_body_model().faces
    records: list[dict] = []
    series: dict = {}  # person -> {"rotations", "phenotypes", "roots", "times"}
    every = person == ALL and bool(tracks)  # outputs per person (named by person)
    writer = VideoWriter(out_dir / "overlay.mp4", fps=info.fps) if overlay else None
    mesh_dir = out_dir / "meshes"
    if obj or ply:
        mesh_dir.mkdir(exist_ok=True)
    images: dict[int, np.ndarray] = {}  # frames awaiting their predictions (at most two sequences)
    try:
        if writer is not None:
            writer.__enter__()

        def frames():
            for frame in source:
                if overlay:
                    images[frame.index] = frame.image
                yield frame

        with progress(info.n_frames or None, "vivid body", quiet=quiet, unit="frame") as bar:
            for index, time, preds in predictor.predict_frames(frames(), tracks or None):
                meshes = []
                for pred in preds:
                    records.append(pred.to_dict())
                    s = series.setdefault(pred.person, {"rotations": [], "phenotypes": [], "roots": [], "times": []})
                    s["rotations"].append(pred.rotations)
                    s["phenotypes"].append(pred.phenotype)
                    s["roots"].append(pred.root)
                    s["times"].append(pred.time)
                    if overlay or obj or ply:
                        with torch.no_grad():
                            verts = body_vertices(torch.from_numpy(pred.rotations)[None], torch.from_numpy(pred.phenotype)[None])[0]
                        verts = verts.numpy() + pred.root
                        meshes.append(verts)
                        name = f"person{pred.person}_frame_{pred.index:06d}" if every else f"frame_{pred.index:06d}"
                        if obj:
                            write_obj(mesh_dir / f"{name}.obj", verts, faces.numpy())
                        if ply:
                            write_ply(mesh_dir / f"{name}.ply", verts, faces.numpy())
                if overlay:
                    picture = images.pop(index)
                    for verts in sorted(meshes, key=lambda v: -float(v[:, 2].mean())):  # the farthest first
                        picture = overlay_frame(picture, verts, faces, K)
                    writer.write(picture, time=time)
                bar.advance()
    except BaseException as err:
        if writer is not None:
            writer.__exit__(type(err), err, err.__traceback__)
        raise
    if writer is not None:
        writer.__exit__(None, None, None)
    if not tracks and len(records) < 2:
        raise VividError(f"{inp} has {len(records)} frame; vivid body needs at least 2 frames")
    written = ["body.json"] + (["overlay.mp4"] if overlay else []) + (["meshes/"] if obj or ply else [])
    people = []
    by_id = {t.id: t for t in tracks}
    for pid, s in sorted(series.items(), key=lambda kv: -1 if kv[0] is None else kv[0]):
        rot, phen, root, t = np.stack(s["rotations"]), np.mean(s["phenotypes"], 0), np.stack(s["roots"]), np.asarray(s["times"])
        stem = f"body_person{pid}" if every else "body"
        if len(t) >= 2 and glb:
            write_glb(out_dir / f"{stem}.glb", body_animation(rot, phen, root), t)
            written.append(f"{stem}.glb")
        if len(t) >= 2 and bvh:
            with torch.no_grad():
                ref = shared_body_model()(phenotype=torch.from_numpy(phen.astype(np.float32))[None]).bone_heads[0]
            names = shared_body_model().bone_names
            heads = ref[[names.index(b) for b in BONES]].numpy()
            write_bvh_file(out_dir / f"{stem}.bvh", bvh_clip(rot, heads, root, t))
            written.append(f"{stem}.bvh")
        entry = {"person": pid, "frames": len(t), "phenotype_mean": np.round(phen, 3).tolist()}
        if pid in by_id:
            entry["track"] = {k: v for k, v in by_id[pid].to_dict().items() if k != "id"}
        people.append(entry)
    report = {
        "input": str(inp),
        "model": model,
        "fps": float(info.fps),
        "sequence_length": predictor.seq_len,
        "stride": predictor.stride,
        "person": person,
        "person_box": _people_note(predictor, tracks, person),
        "camera": {"fov_deg": predictor.fov_deg, "K": [[round(float(v), 3) for v in row] for row in K.tolist()]},
        "units": {"joints3d": "metres, camera frame (x right, y down, z forward)", "joints2d": "pixels (x, y)",
                  "rotations_axis_angle": "radians; bone 0 (root) in the camera frame, the others local-ref (vivid.core.body)"},
        "joint_names": H36M_JOINTS,
        "bone_names": BONES,
        "phenotype_mean": people[0]["phenotype_mean"] if people else None,
        "people": people,
        "written": written,
        "frames": records,
    }  # fmt: skip
    from vivid.core.fileio import atomic_write

    with atomic_write(out_dir / "body.json") as tmp:
        tmp.write_text(json.dumps(report) + "\n")
    return report


def register(app: typer.Typer) -> None:
    @app.command("body")
    def body_cmd(
        inp: Path = typer.Argument(..., help="A video (or a folder of frames) showing one person (or several: --person)."),
        out: Path = typer.Option(..., "--out", "-o", help="Output folder."),
        glb: bool = typer.Option(False, "--glb", help="Write body.glb: the animated, skinned Anny mesh with root motion."),
        bvh: bool = typer.Option(False, "--bvh", help="Write body.bvh: the skeleton with root motion."),
        obj: bool = typer.Option(False, "--obj", help="Write one OBJ mesh per frame into meshes/."),
        ply: bool = typer.Option(False, "--ply", help="Write one PLY mesh per frame into meshes/."),
        overlay: bool = typer.Option(False, "--overlay", help="Write overlay.mp4: the mesh over the frames."),
        seq_len: Optional[int] = typer.Option(None, "--seq-len", help="Frames per sequence (the model's own; 8 for bodyvid-default)."),
        stride: Optional[int] = typer.Option(None, "--stride", help="Frames between sequence starts (< seq-len: overlapping, averaged)."),
        model: str = typer.Option("bodyvid-default", "--model", help="Bundled checkpoint name or .safetensors path."),
        device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
        fov: Optional[float] = typer.Option(None, "--fov", help="Camera field of view across the larger side, degrees (default 55)."),
        box: Optional[str] = typer.Option(None, "--box", help="Person box x0,y0,x1,y1 in pixels, for every frame."),
        person: Optional[str] = typer.Option(None, "--person", help="Track people; follow the N-th largest (0: the largest), or all."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Write into a folder that is not empty."),
        quiet: bool = typer.Option(False, "--quiet", "-q"),
    ) -> None:
        """Smooth 3D body meshes from video: per-frame joints and Anny body parameters, overlay, OBJ/PLY, GLB, BVH."""
        report = run_body(inp, out, glb=glb, bvh=bvh, obj=obj, ply=ply, overlay=overlay, seq_len=seq_len, stride=stride,
                          model=model, device=device, fov=fov, box=box, person=person, overwrite=overwrite, quiet=quiet)  # fmt: skip
        if not quiet:
            typer.echo(f"wrote {', '.join(report['written'])} to {out} ({len(report['frames'])} frames)")
