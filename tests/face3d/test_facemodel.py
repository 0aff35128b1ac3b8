"""The morphable face model: orthonormal identity bases keeping 99 % of the variance, a sampled
head reproduced, expression blendshapes equal to the head model's actions on the mean identity."""

from __future__ import annotations

import numpy as np
import torch


def test_identity_bases_are_orthonormal_and_keep_99_percent(fm):
    U = fm.identity_basis.reshape(fm.n_identity, -1).double()
    assert torch.allclose(U @ U.T, torch.eye(fm.n_identity, dtype=torch.float64), atol=1e-5)
    assert 0.99 <= float(fm.explained) < 0.999
    assert (fm.identity_std[1:] <= fm.identity_std[:-1]).all()


def test_the_model_reproduces_a_sampled_head(fm):
    from vivid.synth.kit import HeadKit

    head = HeadKit.get(torch.device("cpu")).model
    r = np.random.default_rng(12345)  # not a seed of the PCA's samples
    L = len(head.local_change_names)
    phen = torch.from_numpy(r.random((1, 6))).float()
    changes = torch.from_numpy(r.uniform(-0.7, 0.7, (1, L)) * (r.random((1, L)) < 0.5)).float()
    with torch.no_grad():
        truth = head(phenotype=phen, local_changes=changes).vertices.float()
    coeffs = fm.project_identity(truth)
    recon = fm.shape(coeffs)
    err = (recon - truth).norm(dim=-1)[0, fm.face_vertices].mean()
    spread = (fm.mean_shape - truth).norm(dim=-1)[0, fm.face_vertices].mean()
    assert err < 0.25 * spread and err < 0.003  # metres


def test_one_expression_blendshape_is_the_head_models_action(fm):
    from vivid.synth.kit import HeadKit

    head = HeadKit.get(torch.device("cpu")).model
    k = fm.expression_names.index("jawOpen")
    e = torch.zeros(1, 52)
    e[0, k] = 1.0
    with torch.no_grad():
        truth = head(phenotype=torch.full((1, 6), 0.5), expression=e).vertices.float()
        neutral = head(phenotype=torch.full((1, 6), 0.5)).vertices.float()
    ident = fm.project_identity(neutral)
    out = fm.shape(ident, e)
    assert (out - truth).norm(dim=-1).max() < 0.004
    assert (fm.shape(ident, e) - fm.shape(ident)).norm(dim=-1).max() > 0.02  # the jaw opens by centimetres


def test_albedo_and_landmarks_shapes(fm):
    alb = fm.albedo(torch.zeros(2, fm.n_albedo))
    assert alb.shape == (2, fm.num_vertices, 3) and torch.allclose(alb[0], fm.albedo_mean.clamp(0, 1))
    assert fm.landmarks(fm.mean_shape[None]).shape == (1, 68, 3)
