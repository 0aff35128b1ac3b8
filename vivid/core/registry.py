"""A tiny model registry: named constructor functions, grouped by task.

Every task registers its variants in ``vivid/<task>/model.py``::

    @register_model("interp")
    def interp_tiny(**overrides) -> nn.Module:
        return InterpNet(**{**TINY, **overrides})

Model classes keep ``self.config`` (their full constructor keyword arguments), so
``create_model(name, **model.config)`` rebuilds a model exactly; checkpoints rely on this.
"""

from __future__ import annotations

import importlib
from typing import Callable

from torch import nn

from vivid.core.errors import VividError

_MODELS: dict[str, tuple[str, Callable[..., nn.Module]]] = {}


def register_model(task: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator: register a variant function under its own name for ``task``."""

    def wrap(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if fn.__name__ in _MODELS and _MODELS[fn.__name__][1] is not fn:
            raise ValueError(f"model name {fn.__name__!r} is registered twice")
        _MODELS[fn.__name__] = (task, fn)
        return fn

    return wrap


def _load_all() -> None:
    # Each task's model module (from the task table), imported on first use so that
    # `vivid --help` stays fast.
    from vivid.core.tasks import TASKS

    for module in (t.model_module for t in TASKS if t.model_module):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            # A task package that is not installed simply contributes no models.
            if err.name is None or not module.startswith(err.name):
                raise


def list_models(task: str | None = None) -> list[str]:
    """Names of the registered models, optionally only those of ``task``."""
    _load_all()
    return sorted(name for name, (t, _) in _MODELS.items() if task is None or t == task)


def model_task(name: str) -> str:
    """The task a registered model belongs to."""
    _load_all()
    if name not in _MODELS:
        raise VividError(f"unknown model {name!r}; known models: {', '.join(list_models())}")
    return _MODELS[name][0]


def create_model(name: str, **overrides) -> nn.Module:
    """Build the registered model ``name`` with constructor ``overrides``.

    A constructor that rejects the overrides (TypeError, ValueError) becomes a VividError
    naming the model, since overrides usually come from a user's config.
    """
    _load_all()
    if name not in _MODELS:
        raise VividError(f"unknown model {name!r}; known models: {', '.join(list_models())}")
    fn = _MODELS[name][1]
    try:
        return fn(**overrides)
    except TypeError as err:
        valid = _constructor_keys(fn)
        unknown = sorted(set(overrides) - set(valid))
        if valid and unknown:
            raise VividError(
                f"unknown key {', '.join('model_config.' + k for k in unknown)} for model {name!r}; "
                f"valid keys of model_config: {', '.join(valid)}"
            ) from err
        raise VividError(f"model {name!r} cannot be built with {overrides}: {err}") from err
    except ValueError as err:
        raise VividError(f"model {name!r} cannot be built with {overrides}: {err}") from err


def _constructor_keys(fn: Callable[..., nn.Module]) -> list[str]:
    """The keyword arguments of the class a variant function builds (from its default build)."""
    import inspect

    try:
        cls = type(fn())
    except Exception:  # the default build failing is reported by the caller's own error
        return []
    params = inspect.signature(cls.__init__).parameters.values()
    return sorted(p.name for p in params if p.kind is p.KEYWORD_ONLY or (p.kind is p.POSITIONAL_OR_KEYWORD and p.name != "self"))
