"""Checkpoints: weights in ``.safetensors`` plus a JSON sidecar that says what they are.

The sidecar (``<stem>.json``) holds::

    {"format": "vivid-checkpoint/1", "task": "interp", "model_name": "interp_default",
     "model_config": {...}, "vivid_version": "0.1.0", "command": "vivid train ...",
     "data": "...", "metrics": {...}, "extra": {...}}

Loading rebuilds the model from the registry (``create_model(model_name, **model_config)``) and
fills it from the safetensors file. safetensors holds raw tensors only, so loading a
checkpoint never runs code; ``torch.load`` is not used anywhere for checkpoints.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

import vivid
from vivid.core.errors import VividError
from vivid.core.fileio import atomic_write

FORMAT = "vivid-checkpoint/1"


def _paths(path: str | os.PathLike) -> tuple[Path, Path]:
    p = Path(path)
    stem = p.with_suffix("") if p.suffix in {".safetensors", ".json"} else p
    return stem.with_name(stem.name + ".safetensors"), stem.with_name(stem.name + ".json")


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    *,
    task: str,
    model_name: str,
    command: str | None = None,
    data: str | None = None,
    metrics: dict | None = None,
    extra: dict | None = None,
    model_config: dict | None = None,
) -> Path:
    """Write ``<stem>.safetensors`` and ``<stem>.json`` atomically; return the weights path.

    ``model`` must carry ``model.config`` (its constructor kwargs), as every vivid model does.
    ``model_config`` entries replace those of ``model.config`` in the sidecar (settings without
    weights that the checkpoint should load with, e.g. inference-only ones).
    Tensors that share storage are saved as separate copies (safetensors forbids aliasing).
    """
    weights, sidecar = _paths(path)
    config = getattr(model, "config", None)
    if not isinstance(config, dict):
        raise ValueError(f"{type(model).__name__} has no `config` dict; vivid models keep their kwargs there")
    config = {**config, **(model_config or {})}
    state = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    meta = {
        "format": FORMAT,
        "task": task,
        "model_name": model_name,
        "model_config": config,
        "vivid_version": vivid.__version__,
        "command": command,
        "data": data,
        "metrics": metrics or {},
        "extra": extra or {},
        "num_parameters": int(sum(p.numel() for p in model.parameters())),
    }
    weights.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(weights) as tmp:
        save_file(state, str(tmp), metadata={"task": task, "model_name": model_name})
    with atomic_write(sidecar) as tmp:
        tmp.write_text(json.dumps(meta, indent=2, sort_keys=False) + "\n")
    return weights


def read_meta(path: str | os.PathLike) -> dict:
    """The JSON sidecar of a checkpoint (given the weights, the sidecar or the common stem)."""
    weights, sidecar = _paths(_resolve(path))
    if not sidecar.exists():
        raise VividError(f"checkpoint sidecar {sidecar} is missing; a vivid checkpoint is a .safetensors + .json pair")
    try:
        meta = json.loads(sidecar.read_text())
    except json.JSONDecodeError as err:
        raise VividError(f"checkpoint sidecar {sidecar} is not valid JSON ({err})") from err
    if meta.get("format") != FORMAT:
        raise VividError(f"{sidecar} is not a vivid checkpoint sidecar (format {meta.get('format')!r})")
    return meta


def _resolve(path: str | os.PathLike) -> Path:
    """A file path, or the name of a bundled checkpoint such as ``interp-default``."""
    p = Path(path)
    weights, _ = _paths(p)
    if weights.exists():
        return weights
    from vivid.core import hub

    if hub.is_bundled(str(path)):
        return hub.bundled_path(str(path))
    raise VividError(
        f"checkpoint {path} not found; give a .safetensors path or a bundled name "
        f"({', '.join(hub.bundled_names()) or 'none bundled'})"
    )


def load_checkpoint(
    path: str | os.PathLike, *, task: str | None = None, device: str | torch.device = "cpu"
) -> tuple[nn.Module, dict]:
    """Rebuild a model from a checkpoint path or bundled name. Returns ``(model in eval mode, meta)``.

    Raises VividError when the checkpoint belongs to another task or its tensors do not match
    the model its sidecar names (listing the first differences).
    """
    from vivid.core.registry import create_model

    weights = _resolve(path)
    meta = read_meta(weights)
    if task is not None and meta["task"] != task:
        raise VividError(f"checkpoint {weights.name} is a {meta['task']!r} model, not a {task!r} model")
    model = create_model(meta["model_name"], **meta["model_config"])
    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError) as err:
        raise VividError(f"cannot read weights {weights}: {err}") from err
    expected = model.state_dict()
    problems = [f"missing {k}" for k in expected if k not in state]
    problems += [f"unexpected {k}" for k in state if k not in expected]
    problems += [
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    if problems:
        more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
        raise VividError(f"checkpoint {weights.name} does not fit {meta['model_name']}: {'; '.join(problems[:3])}{more}")
    model.load_state_dict(state)
    return model.to(device).eval(), meta
