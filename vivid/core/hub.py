"""Bundled checkpoints, shipped inside the package under ``vivid/weights/``."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from vivid.core.errors import VividError


def _weights_dir() -> Path:
    return Path(str(resources.files("vivid") / "weights"))


def bundled_names() -> list[str]:
    """Names of the bundled checkpoints, e.g. ``["interp-default", "pose3d-default"]``."""
    d = _weights_dir()
    return sorted(p.stem for p in d.glob("*.safetensors") if p.with_suffix(".json").exists())


def is_bundled(name: str) -> bool:
    return "/" not in name and name in bundled_names()


def bundled_path(name: str) -> Path:
    """Path of the bundled weights called ``name``."""
    if not is_bundled(name):
        raise VividError(f"no bundled checkpoint named {name!r}; bundled: {', '.join(bundled_names()) or 'none'}")
    return _weights_dir() / f"{name}.safetensors"


def list_bundled() -> list[dict]:
    """One dict per bundled checkpoint: name, task, model_name, size_mb, metrics, command."""
    rows = []
    for name in bundled_names():
        path = _weights_dir() / f"{name}.safetensors"
        meta = json.loads(path.with_suffix(".json").read_text())
        rows.append(
            {
                "name": name,
                "task": meta.get("task"),
                "model_name": meta.get("model_name"),
                "size_mb": round(path.stat().st_size / 2**20, 2),
                "num_parameters": meta.get("num_parameters"),
                "metrics": meta.get("metrics", {}),
                "command": meta.get("command"),
            }
        )
    return rows
