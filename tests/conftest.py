"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# Tests use small tensors, for which extra threads cost more than they save (far more on a
# busy machine); one thread per test process.
torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("ANNY_CACHE_DIR", str(REPO / ".cache" / "anny"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real sample data kept beside the repository (``../shared/data``); skips when absent."""
    candidates = [Path(os.environ["VIVID_SHARED_DATA"])] if "VIVID_SHARED_DATA" in os.environ else []
    candidates.append(REPO.parent / "shared" / "data")
    for path in candidates:
        if path.is_dir():
            return path
    pytest.skip("shared sample data (../shared/data) is not available")
