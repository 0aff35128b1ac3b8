"""Fixtures for face3d tests: the face model (built once, cached on disk) and a few tiny renders."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def fm():
    from vivid.face3d.facemodel import face_model

    try:
        return face_model()
    except Exception as err:  # anny missing, unbuildable cache, ...
        pytest.skip(f"the face model cannot be built: {err}")


@pytest.fixture(scope="session")
def pools(tmp_path_factory, fm):
    """Tiny render pools (64 px crops) in a temporary cache: {pool: path}."""
    from vivid.face3d.config import Face3DData
    from vivid.face3d.data import ensure_pool

    cfg = Face3DData(cache_dir=str(tmp_path_factory.mktemp("face3d-cache")), render_size=64)
    return cfg, {p: ensure_pool(cfg, p, 8, 64) for p in ("landmark", "unlabelled", "labelled", "val")}
