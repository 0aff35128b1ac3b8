"""Exports load with trimesh and hold the model's vertex count; the GLB reader round-trips; the
registration of a perturbed model mesh recovers it; the one-euro filter smooths."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vivid.face3d.export import ARKIT_NAMES, arkit_weights, write_glb, write_obj, write_ply
from vivid.face3d.scan import read_glb, register_scan
from vivid.face3d.smoothing import OneEuroFilter


def test_obj_ply_glb_load_with_trimesh(fm, tmp_path):
    trimesh = pytest.importorskip("trimesh")
    v = fm.mean_shape.numpy()
    f = fm.faces.numpy()
    col = fm.albedo_mean.numpy()
    write_obj(tmp_path / "m.obj", v, f, colours=col)
    write_obj(tmp_path / "t.obj", v, f, colours=col, uv=fm.uv.numpy(), uv_faces=fm.uv_faces.numpy(),
              texture=np.full((8, 8, 3), 128, np.uint8))
    write_ply(tmp_path / "m.ply", v, f, col)
    write_glb(tmp_path / "m.glb", v, f, colours=col)
    for name in ("m.obj", "m.ply"):
        mesh = trimesh.load(tmp_path / name, process=False)
        assert len(mesh.vertices) == fm.num_vertices and len(mesh.faces) == len(f)
    textured = trimesh.load(tmp_path / "t.obj", process=False)
    assert len(textured.faces) == len(f) and (tmp_path / "t_texture.png").exists()
    scene = trimesh.load(tmp_path / "m.glb", process=False)
    mesh = next(iter(scene.geometry.values())) if hasattr(scene, "geometry") else scene
    assert len(mesh.vertices) == fm.num_vertices
    assert np.allclose(mesh.vertices, v, atol=1e-6)


def test_glb_reader_round_trip(fm, tmp_path):
    v, f = fm.mean_shape.numpy(), fm.faces.numpy()
    write_glb(tmp_path / "m.glb", v, f)
    mesh = read_glb(tmp_path / "m.glb")
    assert np.allclose(mesh.vertices, v) and (mesh.faces == f).all()


def test_arkit_weights_are_named_and_ordered_as_arkit(fm):
    e = np.linspace(0, 1, 52)
    w = arkit_weights(e, fm.expression_names)
    assert list(w) == list(ARKIT_NAMES) and len(w) == 52
    assert w["jawOpen"] == pytest.approx(e[fm.expression_names.index("jawOpen")], abs=1e-4)
    json.dumps(w)


def test_registration_of_a_perturbed_model_mesh_recovers_it(fm, tmp_path):
    """The model's own head, given another identity, rotated, scaled and written as a glTF scan
    (y up, face +z): registration returns it in the model's frame to within a millimetre or two."""
    from vivid.core.geometry import euler_to_matrix

    g = torch.Generator().manual_seed(3)
    truth = fm.shape(torch.randn(1, fm.n_identity, generator=g) * 0.7)[0]
    Rp = torch.from_numpy(euler_to_matrix(np.radians([4.0, -3.0, 5.0]))).float()
    head = (truth @ Rp.T) * 1.2 + torch.tensor([0.01, 0.0, -0.02])
    gltf = torch.stack([head[:, 0], head[:, 2], -head[:, 1]], -1)  # head frame -> glTF axes
    write_glb(tmp_path / "scan.glb", gltf.numpy(), fm.faces.numpy())
    reg = register_scan(tmp_path / "scan.glb", fm, coeff_steps=80, offset_steps=40)
    assert reg.residual_mm < 1.5
    # the registered mesh lies on the scan (in the scan's frame, brought to the model's by the fit)
    from vivid.core.geometry import point_to_mesh_distance

    d = point_to_mesh_distance(reg.vertices[fm.face_vertices], reg.scan_vertices, reg.scan_faces)
    assert float(d.mean()) * 1000 == pytest.approx(reg.residual_mm, rel=1e-4)
    assert reg.vertices.shape == (fm.num_vertices, 3)


def test_one_euro_filter_smooths_jitter_and_follows_a_step():
    r = np.random.default_rng(0)
    f = OneEuroFilter(min_cutoff=1.0, beta=0.0)
    t = np.arange(100) / 30.0
    noisy = 1.0 + 0.05 * r.standard_normal(100)
    out = np.array([f.filter(np.array([x]), ti)[0] for x, ti in zip(noisy, t)])
    assert out[20:].std() < 0.5 * noisy[20:].std()
    f2 = OneEuroFilter(min_cutoff=1.0, beta=5.0)
    step = [f2.filter(np.array([0.0 if i < 10 else 1.0]), i / 30.0)[0] for i in range(40)]
    assert step[-1] == pytest.approx(1.0, abs=0.05)
