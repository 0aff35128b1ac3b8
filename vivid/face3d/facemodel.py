"""The morphable face model H(f): identity PCA, 52 expression blendshapes, albedo, 68 landmarks.

Built once from :class:`vivid.core.body.HeadModel` (Anny's head, 4,538 vertices):

- identity: ``n_samples`` heads with random phenotypes and face local changes (drawn as
  ``vivid synth face`` draws them) at a neutral expression; their PCA keeps the fewest components
  that hold ``variance`` (default 99 %) of the variance. ``identity_basis`` rows are orthonormal
  (in R^{3V}) and ``identity_std`` their standard deviations, so coefficients ``a ~ N(0, 1)``;
- expression: the 52 ARKit-style facial actions as linear blendshapes, ``head(e_k = 1) - head(0)``
  on the mean identity (Anny's actions are close to linear; the blendshape is their secant);
- albedo: the head model's mean and its 8 bases (``clamp(mean + sum c_k basis_k, 0, 1)``);
- landmarks: the 68 landmark vertices.

``H(f) = mean + sum_k std_k a_k U_k + sum_j e_j B_j``, in the head frame (metres, x = subject's
left, y = back, z = up). The built model is cached as safetensors next to the head model's cache
(``$ANNY_CACHE_DIR/face3d``), keyed by its settings; building it takes a few seconds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from vivid.core.body import HEAD_PART_NAMES, anny_cache_dir
from vivid.core.fileio import atomic_write
from vivid.core.render import vertex_normals

__all__ = ["FaceModel", "FaceCoefficients", "face_model", "FACE_REGION_PARTS"]

log = logging.getLogger(__name__)

# The parts of the head mesh that count as "the face" for losses and errors.
FACE_REGION_PARTS = ("face", "eyes", "mouth")
_CACHE_VERSION = 1


@dataclass
class FaceCoefficients:
    """f = (identity, expression, albedo): (B, K) N(0, 1) units, (B, 52) in [0, 1], (B, 8)."""

    identity: Tensor
    expression: Tensor
    albedo: Tensor


def _sample_identities(head, n: int, seed: int, batch: int = 64) -> Tensor:
    """(n, V, 3) neutral heads with phenotypes and local changes drawn as ``vivid synth face`` does."""
    r = np.random.default_rng([seed, 11])
    L = len(head.local_change_names)
    out = []
    for start in range(0, n, batch):
        b = min(batch, n - start)
        phen = torch.from_numpy(r.random((b, 6))).float()
        changes = torch.from_numpy(r.uniform(-0.7, 0.7, (b, L)) * (r.random((b, L)) < 0.5)).float()
        with torch.no_grad():
            out.append(head(phenotype=phen, local_changes=changes).vertices.float().cpu())
    return torch.cat(out)


def build_face_tensors(head, *, n_samples: int = 400, variance: float = 0.99, seed: int = 0) -> dict[str, Tensor]:
    """The tensors of :class:`FaceModel` computed from a :class:`vivid.core.body.HeadModel`."""
    shapes = _sample_identities(head, n_samples, seed)  # (N, V, 3)
    N, V, _ = shapes.shape
    flat = shapes.reshape(N, -1).double()
    mean = flat.mean(0)
    _, S, Vh = torch.linalg.svd(flat - mean, full_matrices=False)
    var = S**2 / (N - 1)
    keep = int(torch.searchsorted(torch.cumsum(var, 0) / var.sum(), torch.tensor(variance, dtype=var.dtype))) + 1
    E = len(head.expression_names)
    with torch.no_grad():
        mean_phen = torch.full((1, 6), 0.5)
        neutral = head(phenotype=mean_phen).vertices.float().cpu()[0]
        blend = head(phenotype=mean_phen.expand(E, 6), expression=torch.eye(E)).vertices.float().cpu() - neutral
    return {
        "mean_shape": mean.float().reshape(V, 3),
        "identity_basis": Vh[:keep].float().reshape(keep, V, 3),
        "identity_std": var[:keep].sqrt().float(),
        "explained": (torch.cumsum(var, 0) / var.sum())[keep - 1 : keep].float(),
        "expression_basis": blend,
        "albedo_mean": head.albedo_mean.float().cpu(),
        "albedo_basis": head.albedo_basis.float().cpu(),
        "landmark_vertices": head.landmark_vertices.cpu(),
        "faces": head.faces.cpu(),
        "face_parts": head.face_parts.cpu(),
        "uv": head.uv.float().cpu(),
        "uv_faces": head.uv_faces.cpu(),
    }


class FaceModel(nn.Module):
    """H(f): coefficients -> head-frame vertices, landmarks and per-vertex albedo.

    Buffers (none saved in checkpoints): mean_shape (V, 3), identity_basis (K, V, 3) orthonormal
    rows, identity_std (K,), expression_basis (52, V, 3), albedo_mean (V, 3), albedo_basis (A, V, 3),
    landmark_vertices (68,), faces (F, 3), face_parts (F,) into
    :data:`vivid.core.body.HEAD_PART_NAMES`, uv (T, 2), uv_faces (F, 3), face_faces (F,) bool and
    face_vertices (V,) bool (the face region, :data:`FACE_REGION_PARTS`).
    """

    def __init__(self, tensors: dict[str, Tensor], expression_names: list[str]) -> None:
        super().__init__()
        for k, v in tensors.items():
            self.register_buffer(k, v.clone(), persistent=False)
        self.expression_names = list(expression_names)
        ids = torch.tensor([HEAD_PART_NAMES.index(n) for n in FACE_REGION_PARTS])
        face_faces = torch.isin(self.face_parts, ids)
        face_vertices = torch.zeros(self.mean_shape.shape[0], dtype=torch.bool)
        face_vertices[self.faces[face_faces].reshape(-1)] = True
        self.register_buffer("face_faces", face_faces, persistent=False)
        self.register_buffer("face_vertices", face_vertices, persistent=False)

    @property
    def n_identity(self) -> int:
        return int(self.identity_basis.shape[0])

    @property
    def n_expression(self) -> int:
        return int(self.expression_basis.shape[0])

    @property
    def n_albedo(self) -> int:
        return int(self.albedo_basis.shape[0])

    @property
    def num_vertices(self) -> int:
        return int(self.mean_shape.shape[0])

    def shape(self, identity: Tensor, expression: Tensor | None = None) -> Tensor:
        """identity (B, K), expression (B, 52) or None -> (B, V, 3) head-frame vertices."""
        K = self.n_identity
        if identity.ndim != 2 or identity.shape[1] != K:
            raise ValueError(f"identity must have shape (B, {K}), got {tuple(identity.shape)}")
        v = self.mean_shape + torch.einsum("bk,kvc->bvc", identity * self.identity_std, self.identity_basis)
        if expression is not None:
            if expression.shape != (identity.shape[0], self.n_expression):
                raise ValueError(f"expression must have shape (B, {self.n_expression}), got {tuple(expression.shape)}")
            v = v + torch.einsum("be,evc->bvc", expression, self.expression_basis)
        return v

    def albedo(self, coeffs: Tensor) -> Tensor:
        """(B, A) albedo coefficients -> (B, V, 3) per-vertex albedo in [0, 1]."""
        if coeffs.ndim != 2 or coeffs.shape[1] != self.n_albedo:
            raise ValueError(f"albedo coefficients must have shape (B, {self.n_albedo}), got {tuple(coeffs.shape)}")
        return (self.albedo_mean + torch.einsum("bk,kvc->bvc", coeffs, self.albedo_basis)).clamp(0, 1)

    def landmarks(self, vertices: Tensor) -> Tensor:
        """(B, V, 3) -> (B, 68, 3)."""
        return vertices.index_select(1, self.landmark_vertices)

    def normals(self, vertices: Tensor) -> Tensor:
        """(B, V, 3) -> (B, V, 3) unit vertex normals."""
        return vertex_normals(vertices, self.faces)

    def project_identity(self, vertices: Tensor) -> Tensor:
        """Least-squares identity coefficients (B, K) of neutral head-frame vertices (B, V, 3)."""
        d = (vertices - self.mean_shape).reshape(vertices.shape[0], -1)
        return d @ self.identity_basis.reshape(self.n_identity, -1).T / self.identity_std

    def forward(self, f: FaceCoefficients) -> Tensor:
        """:class:`FaceCoefficients` -> (B, V, 3) head-frame vertices."""
        return self.shape(f.identity, f.expression)


_MODELS: dict[tuple, FaceModel] = {}


def face_model(*, n_samples: int = 400, variance: float = 0.99, seed: int = 0,
               cache_dir: str | Path | None = None) -> FaceModel:
    """The face model for these settings, built once per process (and cached on disk)."""
    key = (n_samples, variance, seed)
    if key not in _MODELS:
        folder = Path(cache_dir) if cache_dir is not None else anny_cache_dir() / "face3d"
        path = folder / f"facemodel-v{_CACHE_VERSION}-n{n_samples}-var{variance}-s{seed}.safetensors"
        names_path = path.with_suffix(".names.txt")
        if path.exists() and names_path.exists():
            tensors = load_file(str(path))
            names = names_path.read_text().split()
        else:
            from vivid.synth.kit import HeadKit

            head = HeadKit.get(torch.device("cpu")).model
            log.info("building the face model from the head model (%d identities)", n_samples)
            tensors = build_face_tensors(head, n_samples=n_samples, variance=variance, seed=seed)
            names = list(head.expression_names)
            folder.mkdir(parents=True, exist_ok=True)
            with atomic_write(path) as tmp:
                save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp))
            with atomic_write(names_path) as tmp:
                tmp.write_text("\n".join(names) + "\n")
        _MODELS[key] = FaceModel(tensors, names).eval()
    return _MODELS[key]
