"""Typed training configs: YAML mappings checked against dataclasses before anything is built.

Each task describes its config as dataclasses (defaults in one place, the dataclass); the harness
reads a preset plus ``key.sub=value`` overrides into a plain mapping and :func:`parse_config`
turns it into the dataclass, refusing an unknown or mistyped key with one line that names the key
and the valid ones::

    @dataclass
    class Optim:
        lr: float = 1e-3
        betas: tuple[float, float] = (0.9, 0.999)

    parse_config(Optim, {"lrr": 0.1}, "optim")
    # VividError: unknown key optim.lrr; valid keys of optim: betas, lr
    parse_config(Optim, {"lr": "fast"}, "optim")
    # VividError: optim.lr: expected a number, got 'fast'

Supported field types: ``bool``, ``int``, ``float`` (ints accepted), ``str``, ``Literal[...]``,
``X | None``, ``tuple[X, ...]``, ``tuple[X, Y]``, ``list[X]``, ``dict`` (a free mapping, e.g. a
model's constructor overrides, checked by whoever takes it) and nested dataclasses.
"""

from __future__ import annotations

import dataclasses
import types
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from vivid.core.errors import VividError

T = TypeVar("T")


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if tp is type(None):
        return "null"
    if origin is Literal:
        return " or ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp))
    if origin in (tuple, list):
        args = get_args(tp)
        inner = _type_name(args[0]) if args else "value"
        return f"a list of {inner}" + (f" ({len(args)} values)" if origin is tuple and args and args[-1] is not Ellipsis else "")
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string", dict: "a mapping"}.get(tp, str(tp))


def _convert(tp: Any, value: Any, where: str) -> Any:
    """``value`` checked against (and shaped to) the type ``tp``; VividError naming ``where``."""
    origin = get_origin(tp)
    bad = VividError(f"{where}: expected {_type_name(tp)}, got {value!r}")
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, where)
            except VividError:
                continue
        raise bad
    if origin is Literal:
        if value in get_args(tp):
            return value
        raise bad
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise bad
        return parse_config(tp, value, where)
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise bad
        args = get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise bad
            return tuple(_convert(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
        inner = args[0] if args else Any
        items = [_convert(inner, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if tp is dict or origin is dict:
        if not isinstance(value, dict):
            raise bad
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise bad
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise bad
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise bad
    if tp is str:
        if isinstance(value, str):
            return value
        raise bad
    raise TypeError(f"{where}: field type {tp!r} is not supported by vivid.core.config")


def parse_config(cls: type[T], raw: dict | None, where: str = "") -> T:
    """Build the dataclass ``cls`` from the mapping ``raw`` (None: all defaults); ``where`` is the
    mapping's place in the whole config ("" at the top, "optim", "loss.gan"), used in messages.

    Raises:
        VividError: an unknown key (naming the valid ones), a value of the wrong type, or a
            required field that is missing.
    """
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise VividError(f"{where or 'config'}: expected a mapping of settings, got {raw!r}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}

    def path(key: str) -> str:
        return f"{where}.{key}" if where else key

    unknown = sorted(set(raw) - set(fields))
    if unknown:
        keys = ", ".join(path(str(k)) for k in unknown)
        raise VividError(f"unknown key {keys}; valid keys{' of ' + where if where else ''}: {', '.join(sorted(fields))}")
    hints = get_type_hints(cls)
    values = {}
    for name, f in fields.items():
        if name in raw:
            values[name] = _convert(hints[name], raw[name], path(name))
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise VividError(f"{path(name)} is required")
    try:
        return cls(**values)
    except ValueError as err:  # a dataclass's own __post_init__ check
        raise VividError(f"{where or 'config'}: {err}") from err


def config_to_dict(obj: Any) -> Any:
    """A config dataclass as plain YAML-ready data (tuples become lists)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: config_to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [config_to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: config_to_dict(v) for k, v in obj.items()}
    return obj


def changed_fields(obj: Any) -> dict[str, Any]:
    """The fields of a config dataclass that differ from its defaults (for short descriptions)."""
    default = type(obj)()
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if getattr(obj, f.name) != getattr(default, f.name)}


__all__ = ["parse_config", "config_to_dict", "changed_fields"]
