"""``vivid face IN -o OUT_DIR``: 3D faces (or only landmarks) of an image, a folder or a video.

Per face of an image: ``<stem>_face<i>.obj`` (+ ``.mtl`` and a UV texture from the photo, vertex
colours = albedo), ``.ply``, ``.glb``, ``<stem>_face<i>.json`` (box, landmarks, pose, SH lighting,
identity, the 52 ARKit-named expression weights) and ``<stem>_overlay.png``. On a video: per-frame
results in ``<stem>_faces.json`` with pose and expressions smoothed by a one-euro filter (on by
default), the expression animation as ``<stem>_arkit.csv`` and ``<stem>_arkit.json``, an overlay
video, and the first frame's meshes. ``--landmarks-only`` runs the landmark network alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np
import typer

from vivid.core.errors import VividError

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".avi", ".webm")


def _parse_box(text: str | None) -> tuple | None:
    if text is None:
        return None
    try:
        box = tuple(float(v) for v in text.split(","))
    except ValueError:
        box = ()
    if len(box) != 4:
        raise VividError(f"--box {text!r}: give x,y,width,height in pixels, e.g. --box 120,80,200,200")
    return box


def face_record(rec, result, names: list[str]) -> dict:
    """The JSON record of one reconstructed face."""
    from vivid.core.geometry import matrix_to_axis_angle
    from vivid.face3d.export import arkit_weights
    import torch

    return {
        "box": [round(float(v), 2) for v in result.box],
        "landmarks": np.round(result.landmarks, 2).tolist(),
        "pose": {"R": np.round(result.R, 6).tolist(), "t": np.round(result.t, 6).tolist(),
                 "axis_angle": np.round(matrix_to_axis_angle(torch.from_numpy(result.R)).numpy(), 6).tolist(),
                 "frame": "head (x subject's left, y back, z up) to camera (x right, y down, z forward), metres"},
        "K": np.round(result.K, 3).tolist(),
        "sh_lighting": np.round(result.sh, 5).tolist(),
        "identity": np.round(result.identity, 5).tolist(),
        "albedo": np.round(result.albedo_coeffs, 5).tolist(),
        "arkit_blendshapes": arkit_weights(result.expression, names),
        "score": round(float(result.score), 3),
    }


def export_face(rec, result, image: np.ndarray, stem: Path) -> list[Path]:
    """OBJ (with UV texture), PLY and GLB of one face, camera frame."""
    import torch

    from vivid.core.render import vertex_normals
    from vivid.face3d.export import uv_texture, write_glb, write_obj, write_ply

    fm = rec.face
    faces = fm.faces.cpu().numpy()
    v = torch.from_numpy(result.vertices)
    tex = uv_texture(image, v, torch.from_numpy(result.K), fm.faces.cpu(), fm.uv.cpu(), fm.uv_faces.cpu(),
                     torch.from_numpy(result.albedo))
    normals = vertex_normals(v[None], fm.faces.cpu())[0].numpy()
    return [
        write_obj(stem.with_suffix(".obj"), result.vertices, faces, colours=result.albedo, uv=fm.uv.cpu().numpy(),
                  uv_faces=fm.uv_faces.cpu().numpy(), texture=tex),
        write_ply(stem.with_suffix(".ply"), result.vertices, faces, result.albedo),
        write_glb(stem.with_suffix(".glb"), result.vertices, faces, colours=result.albedo, normals=normals),
    ]


def run_face(inp: Path, out_dir: Path, *, model: str = "face3d-default", landmarks_only: bool = False,
             box: tuple | None = None, detector: str = "auto", fov: float = 30.0, smooth: bool = True, max_faces: int = 1,
             device: str = "auto", overwrite: bool = False, quiet: bool = False) -> dict:
    """Run the tool; returns {"images": n, "faces": n, "outputs": [paths]}. VividError when no
    face is found anywhere."""
    from vivid.core.cli_utils import progress, resolve_device
    from vivid.core.fileio import atomic_write, write_image
    from vivid.core.video import VideoWriter, open_frames
    from vivid.face3d.apply import FaceReconstructor

    if out_dir.exists() and not out_dir.is_dir():
        raise VividError(f"output {out_dir} is a file; give a folder")
    source = open_frames(inp)  # VividError for missing, unreadable or unsupported input
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise VividError(f"output folder {out_dir} is not empty; pass --overwrite to write into it")
    out_dir.mkdir(parents=True, exist_ok=True)
    if max_faces < 1:
        raise VividError(f"--max-faces must be at least 1, got {max_faces}")
    rec = FaceReconstructor(model, device=resolve_device(device), detector=detector, fov_deg=fov, max_faces=max_faces)
    names = rec.expression_names
    video = source.kind == "video"
    outputs, n_faces, n_images, frames = [], 0, 0, []
    writer = VideoWriter(out_dir / f"{inp.stem}_overlay.mp4", fps=source.info.fps) if video else None
    filters = None
    if video and smooth:
        from vivid.face3d.smoothing import OneEuroFilter

        filters = {"pose": OneEuroFilter(1.0, 0.3), "expression": OneEuroFilter(1.5, 0.5)}
    try:
        if writer is not None:
            writer.__enter__()
        with progress(source.info.n_frames, "face", quiet=quiet, unit="image") as bar:
            for frame in source:
                image = frame.image
                n_images += 1
                stem = inp.stem if source.kind != "folder" else f"{frame.index:06d}"
                faces = rec.find(image, box)
                if not faces:
                    if not video:
                        typer.echo(f"no face found in {inp if source.kind == 'image' else f'image {frame.index}'}", err=True)
                    frames.append({"frame": frame.index, "time": frame.time, "faces": []})
                    if writer is not None:
                        writer.write(image)
                    bar.advance()
                    continue
                n_faces += len(faces)
                if landmarks_only:
                    rec_list = [{"box": np.round(f.box, 2).tolist(), "landmarks": np.round(f.landmarks, 2).tolist(),
                                 "score": round(f.score, 3)} for f in faces]
                    pic = rec.overlay(image, [], landmarks=False)
                    for f in faces:
                        for x, y in f.landmarks:
                            pic[max(0, int(y) - 1) : int(y) + 2, max(0, int(x) - 1) : int(x) + 2] = (40, 255, 80)
                else:
                    results = rec.reconstruct(image, faces=faces)
                    if filters is not None:
                        _smooth(results[0], filters, frame.time)
                    rec_list = [face_record(rec, r, names) for r in results]
                    pic = rec.overlay(image, results)
                    if not video or frame.index == 0:
                        for i, r in enumerate(results):
                            outputs += export_face(rec, r, image, out_dir / f"{stem}_face{i}")
                if video:
                    frames.append({"frame": frame.index, "time": frame.time, "faces": rec_list})
                    writer.write(pic)
                else:
                    for i, r in enumerate(rec_list):
                        path = out_dir / f"{stem}_face{i}.json"
                        with atomic_write(path) as tmp:
                            tmp.write_text(json.dumps(r, indent=1) + "\n")
                        outputs.append(path)
                    write_image(out_dir / f"{stem}_overlay.png", pic)
                    outputs.append(out_dir / f"{stem}_overlay.png")
                bar.advance()
    finally:
        if writer is not None:
            writer.__exit__(None, None, None)
    if video:
        outputs += _write_animation(out_dir, inp.stem, frames, names, landmarks_only, smooth)
    if n_faces == 0:
        raise VividError(f"no face found in {inp}; give the face box with --box x,y,w,h or try --detector search")
    return {"images": n_images, "faces": n_faces, "outputs": [str(p) for p in outputs]}


def _smooth(result, filters: dict, t: float) -> None:
    """One-euro smoothing of the first face's pose and expression, in place."""
    import torch

    from vivid.core.geometry import axis_angle_to_matrix, matrix_to_axis_angle

    aa = matrix_to_axis_angle(torch.from_numpy(result.R)).numpy()
    pose = filters["pose"].filter(np.concatenate([aa, result.t]), t)
    R = axis_angle_to_matrix(torch.from_numpy(pose[:3]).float()).numpy()
    # re-pose the mesh with the smoothed pose
    result.vertices = (result.head_vertices @ R.T + pose[3:]).astype(np.float32)
    result.R, result.t = R, pose[3:].astype(np.float32)
    result.expression = np.clip(filters["expression"].filter(result.expression, t), 0, 1).astype(np.float32)


def _write_animation(out_dir: Path, stem: str, frames: list[dict], names: list[str], landmarks_only: bool,
                     smooth: bool) -> list[Path]:
    from vivid.core.fileio import atomic_write
    from vivid.face3d.export import ARKIT_NAMES

    paths = [out_dir / f"{stem}_faces.json", out_dir / f"{stem}_overlay.mp4"]
    with atomic_write(paths[0]) as tmp:
        tmp.write_text(json.dumps({"smoothing": "one-euro" if smooth else None, "frames": frames}) + "\n")
    if landmarks_only:
        return paths
    rows = ["frame,time," + ",".join(ARKIT_NAMES)]
    anim = []
    for fr in frames:
        if fr["faces"]:
            w = fr["faces"][0]["arkit_blendshapes"]
            rows.append(f"{fr['frame']},{fr['time']:.4f}," + ",".join(f"{w[n]:.4f}" for n in ARKIT_NAMES))
            anim.append({"frame": fr["frame"], "time": fr["time"], "weights": w})
    for path, text in ((out_dir / f"{stem}_arkit.csv", "\n".join(rows) + "\n"),
                       (out_dir / f"{stem}_arkit.json", json.dumps({"names": list(ARKIT_NAMES), "frames": anim}) + "\n")):
        with atomic_write(path) as tmp:
            tmp.write_text(text)
        paths.append(path)
    return paths


def register(app: typer.Typer) -> None:
    @app.command("face")
    def face_cmd(
        inp: Path = typer.Argument(..., help="An image, a folder of images or a video."),
        out: Path = typer.Option(..., "--out", "-o", help="Output folder."),
        model: str = typer.Option("face3d-default", "--model", help="A face3d checkpoint or bundled name."),
        landmarks_only: bool = typer.Option(False, "--landmarks-only", help="Only the 68 landmarks (no reconstruction)."),
        box: Optional[str] = typer.Option(None, "--box", help="The face box x,y,width,height (skips detection)."),
        detector: str = typer.Option("auto", "--detector", help="auto (OpenCV's Haar cascade; the landmark window search when this OpenCV has none), haar or search."),
        fov: float = typer.Option(30.0, "--fov", help="The camera's field of view across the larger side (degrees)."),
        max_faces: int = typer.Option(1, "--max-faces", help="Faces per image, most confident first."),
        no_smooth: bool = typer.Option(False, "--no-smooth", help="Video: no one-euro smoothing of pose and expression."),
        device: str = typer.Option("auto", "--device", help="cpu, cuda or auto."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Write into a non-empty output folder."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    ) -> None:
        """3D face mesh (OBJ with UV texture, PLY, GLB), pose, SH lighting and ARKit-52 expression weights."""
        summary = run_face(inp, out, model=model, landmarks_only=landmarks_only, box=_parse_box(box), detector=detector,
                           fov=fov, smooth=not no_smooth, max_faces=max_faces, device=device, overwrite=overwrite, quiet=quiet)
        typer.echo(f"{summary['faces']} face(s) in {summary['images']} image(s); outputs in {out}")
