"""Applying a checkpoint: faces in a photo -> landmarks, or mesh, pose, lighting and expressions.

No training imports here. :class:`FaceReconstructor` finds the faces (:mod:`vivid.face3d.detect`),
crops each by the landmark box rule, predicts (f, p, s) and returns :class:`FaceResult` in the
photo's camera (intrinsics from ``fov_deg`` unless given). ``reconstruct_crops`` is the batched
core (no detection), as the benchmark times it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vivid.core.checkpoints import load_checkpoint
from vivid.core.errors import VividError
from vivid.core.fileio import to_tensor
from vivid.face3d.crop import crop_image, crop_intrinsics, default_K
from vivid.face3d.detect import Face, find_faces
from vivid.face3d.facemodel import face_model
from vivid.face3d.reconstruct import decode, to_camera

__all__ = ["FaceReconstructor", "FaceResult"]


@dataclass
class FaceResult:
    """One reconstructed face, in the photo's camera frame (x right, y down, z forward, metres).

    box (3,) crop box (x0, y0, side); landmarks (68, 2) detected, photo pixels; vertices (V, 3)
    camera frame; head_vertices (V, 3) head frame; R (3, 3), t (3,) head to camera; K (3, 3);
    expression (52,); identity (K,); albedo_coeffs (8,); albedo (V, 3) per vertex; sh (9, 3)
    camera frame; score: the landmark network's face logit.
    """

    box: np.ndarray
    landmarks: np.ndarray
    vertices: np.ndarray
    head_vertices: np.ndarray
    R: np.ndarray
    t: np.ndarray
    K: np.ndarray
    expression: np.ndarray
    identity: np.ndarray
    albedo_coeffs: np.ndarray
    albedo: np.ndarray
    sh: np.ndarray
    score: float


class FaceReconstructor:
    """Args: weights (a checkpoint path or bundled name), device, detector ("auto", "haar",
    "search"), fov_deg (the photo's field of view across its larger side, when K is not given),
    max_faces (faces kept per image, most confident first)."""

    def __init__(self, weights: str = "face3d-default", *, device: str | torch.device = "cpu",
                 detector: str = "auto", fov_deg: float = 30.0, max_faces: int = 1) -> None:
        self.model, self.meta = load_checkpoint(weights, task="face3d", device=device)
        self.device = torch.device(device)
        self.face = face_model().to(self.device)
        if self.model.recon.n_identity != self.face.n_identity:
            raise VividError(f"checkpoint {weights} predicts {self.model.recon.n_identity} identity coefficients, "
                             f"the face model has {self.face.n_identity}")
        self.detector, self.fov_deg, self.max_faces = detector, fov_deg, max_faces
        self.size = self.model.input_size

    @property
    def expression_names(self) -> list[str]:
        return self.face.expression_names

    def find(self, image: np.ndarray, box: tuple | None = None) -> list[Face]:
        """Faces (box and 68 landmarks) in a uint8 (H, W, 3) image; [] when none."""
        return find_faces(image, self.model.landmarks.cpu() if self.device.type == "cpu" else self.model.landmarks,
                          detector=self.detector, box=box, max_faces=self.max_faces)

    @torch.no_grad()
    def reconstruct_crops(self, crops: torch.Tensor, K: torch.Tensor):
        """crops (B, 3, S, S) in [0, 1], K (B, 3, 3) crop intrinsics -> (params, decoded)."""
        params = self.model(crops.to(self.device))
        return params, decode(self.face, params, K.to(self.device), self.size)

    def reconstruct(self, image: np.ndarray, *, box: tuple | None = None, K: np.ndarray | None = None,
                    faces: list[Face] | None = None) -> list[FaceResult]:
        """Every face of a uint8 (H, W, 3) photo; [] when none is found."""
        faces = self.find(image, box) if faces is None else faces
        if not faces:
            return []
        K = default_K(*image.shape[:2], self.fov_deg) if K is None else np.asarray(K, np.float32)
        img = to_tensor(image)
        crops = torch.stack([crop_image(img, f.box, self.size) for f in faces])
        Kc = torch.from_numpy(np.stack([crop_intrinsics(K, f.box, self.size) for f in faces]))
        params, dec = self.reconstruct_crops(crops, Kc)
        cam = to_camera(dec.vertices, dec.R, dec.t).cpu().numpy()
        out = []
        for i, f in enumerate(faces):
            out.append(FaceResult(
                box=f.box, landmarks=f.landmarks, vertices=cam[i], head_vertices=dec.vertices[i].cpu().numpy(),
                R=dec.R[i].cpu().numpy(), t=dec.t[i].cpu().numpy(), K=K, expression=params.expression[i].cpu().numpy(),
                identity=params.identity[i].cpu().numpy(), albedo_coeffs=params.albedo[i].cpu().numpy(),
                albedo=dec.albedo[i].cpu().numpy(), sh=params.sh[i].cpu().numpy(), score=f.score))
        return out

    def overlay(self, image: np.ndarray, results: list[FaceResult], *, landmarks: bool = True) -> np.ndarray:
        """The renders over the photo (uint8 (H, W, 3)), with the detected landmarks as dots."""
        from vivid.core.fileio import to_uint8
        from vivid.core.render import render

        H, W = image.shape[:2]
        out = to_tensor(image)
        for r in results:
            rend = render(torch.from_numpy(r.vertices)[None], self.face.faces.cpu(), torch.from_numpy(r.K), H, W,
                          albedo=torch.from_numpy(r.albedo)[None], sh=torch.from_numpy(r.sh)[None])
            m = rend.mask[0]
            out = out * (1 - 0.8 * m) + rend.rgb[0] * 0.8 * m
        pic = to_uint8(out)
        if landmarks:
            for r in results:
                for x, y in r.landmarks:
                    xi, yi = int(round(x)), int(round(y))
                    rad = max(1, round(r.box[2] / 150))
                    pic[max(0, yi - rad) : yi + rad + 1, max(0, xi - rad) : xi + rad + 1] = (40, 255, 80)
        return pic

    def side_view(self, result: FaceResult, size: int = 256) -> np.ndarray:
        """A grey render of the head-frame mesh seen from the subject's left side, uint8 (size, size, 3)."""
        from vivid.core.fileio import to_uint8
        from vivid.core.geometry import euler_to_matrix, intrinsics_from_fov
        from vivid.core.render import render
        from vivid.face3d.model import FRONTAL

        R = FRONTAL @ torch.from_numpy(euler_to_matrix(np.radians([0.0, 0.0, 80.0]))).float()
        v = torch.from_numpy(result.head_vertices)
        centre = v[self.face.face_vertices.cpu()].mean(0)
        K = intrinsics_from_fov(fov_deg=20.0, height=size, width=size)
        t = torch.tensor([0.0, 0.0, 0.75]) - R @ centre
        rend = render((v @ R.T + t)[None], self.face.faces.cpu(), K, size, size, background=torch.tensor([1.0, 1.0, 1.0]))
        return to_uint8(rend.rgb[0])
