"""Coaching: rules in YAML turn joint angles into prompt messages; on video, angles are tracked
over time and repetitions counted.

A rule file (``vivid/pose3d/rules/<exercise>.yaml``)::

    name: squat
    description: ...
    reps:                      # optional; defines the "active" phase and counts repetitions
      metric: knee_mean
      enter: {op: "<", value: 140}   # a repetition starts when this holds ...
      exit: {op: ">", value: 160}    # ... and is counted when this holds again
    rules:
      - id: depth
        phase: rep             # any | active | rep
        when: {metric: knee_mean, op: ">", value: 100}   # or a list: all must hold
        message: Go lower ...
        severity: warning      # info | warning | critical

Phases: ``any`` checks every frame; ``active`` only frames inside a repetition; ``rep`` once per
repetition at its extreme frame (the deepest point: the minimum of the rep metric for an
``enter`` with ``<``/``<=``, the maximum otherwise). For a single image, the image is one frame,
and a ``rep`` rule is checked when the image is in the active phase.

Frames without a person (person confidence under the threshold) are ignored: they count no
repetition and trigger no prompt, and the result says how many were ignored (``ignored_frames``).
"""

from __future__ import annotations

import math
import operator
import os
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import yaml

from vivid.core.errors import VividError
from vivid.pose3d.angles import MEASURES

OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
SEVERITIES = ("info", "warning", "critical")
PHASES = ("any", "active", "rep")


@dataclass(frozen=True)
class Condition:
    metric: str
    op: str
    value: float

    def holds(self, values: dict[str, float]) -> bool:
        v = values.get(self.metric)
        return v is not None and math.isfinite(v) and OPS[self.op](v, self.value)


@dataclass(frozen=True)
class Rule:
    id: str
    when: tuple[Condition, ...]
    message: str
    severity: str = "warning"
    phase: str = "any"

    def holds(self, values: dict[str, float]) -> bool:
        return all(c.holds(values) for c in self.when)


@dataclass(frozen=True)
class RepSpec:
    metric: str
    enter: Condition
    exit: Condition

    @property
    def lower_is_deeper(self) -> bool:
        return self.enter.op in ("<", "<=")


@dataclass(frozen=True)
class Exercise:
    name: str
    description: str
    rules: tuple[Rule, ...]
    reps: RepSpec | None = None


@dataclass
class Prompt:
    """A triggered rule: ``frames`` lists where it held (one entry for an image)."""

    rule: str
    message: str
    severity: str
    frames: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)


@dataclass
class Rep:
    """One repetition: first and last frame of its active phase and its extreme frame."""

    start: int
    end: int
    extreme_frame: int
    extreme_value: float


@dataclass
class CoachResult:
    exercise: str
    prompts: list[Prompt]
    reps: list[Rep]
    ignored_frames: int = 0  # frames without a person, left out

    def to_dict(self) -> dict:
        return {
            "exercise": self.exercise,
            "rep_count": len(self.reps),
            "reps": [asdict(r) for r in self.reps],
            "prompts": [asdict(p) for p in self.prompts],
            "ignored_frames": self.ignored_frames,
        }


# ----------------------------------------------------------------------------- reading rules


def _condition(raw, where: str) -> Condition:
    if not isinstance(raw, dict) or set(raw) != {"metric", "op", "value"}:
        raise VividError(f"{where}: a condition needs exactly metric, op and value")
    if raw["metric"] not in MEASURES:
        raise VividError(f"{where}: unknown metric {raw['metric']!r}; known: {', '.join(MEASURES)}")
    if raw["op"] not in OPS:
        raise VividError(f"{where}: op must be one of {', '.join(OPS)}, got {raw['op']!r}")
    try:
        value = float(raw["value"])
    except (TypeError, ValueError) as err:
        raise VividError(f"{where}: value must be a number, got {raw['value']!r}") from err
    return Condition(raw["metric"], raw["op"], value)


FILE_KEYS = {"name", "description", "reps", "rules"}
REPS_KEYS = {"metric", "enter", "exit"}
RULE_KEYS = {"id", "when", "message", "severity", "phase"}


def _refuse_unknown(raw: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(str(k) for k in set(raw) - allowed)
    if unknown:
        raise VividError(f"{where}: unknown key {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")


def parse_rules(data: dict, source: str = "rules") -> Exercise:
    """Validate a rule mapping (as read from YAML) into an :class:`Exercise`; an unknown key is refused."""
    if not isinstance(data, dict) or "name" not in data or not isinstance(data.get("rules"), list):
        raise VividError(f"{source}: a rule file needs a name and a list of rules")
    _refuse_unknown(data, FILE_KEYS, source)
    reps = None
    if data.get("reps") is not None:
        r = data["reps"]
        if not isinstance(r, dict) or r.get("metric") not in MEASURES or "enter" not in r or "exit" not in r:
            raise VividError(f"{source}: reps needs a known metric, enter and exit")
        _refuse_unknown(r, REPS_KEYS, f"{source} reps")
        enter = _condition({"metric": r["metric"], **r["enter"]}, f"{source} reps.enter")
        leave = _condition({"metric": r["metric"], **r["exit"]}, f"{source} reps.exit")
        reps = RepSpec(r["metric"], enter, leave)
    rules = []
    for i, raw in enumerate(data["rules"]):
        where = f"{source} rule {i}"
        if not isinstance(raw, dict) or not {"id", "when", "message"} <= set(raw):
            raise VividError(f"{where}: each rule needs id, when and message")
        _refuse_unknown(raw, RULE_KEYS, f"{where} ({raw['id']})")
        when = raw["when"] if isinstance(raw["when"], list) else [raw["when"]]
        severity = raw.get("severity", "warning")
        phase = raw.get("phase", "any")
        if severity not in SEVERITIES:
            raise VividError(f"{where}: severity must be one of {', '.join(SEVERITIES)}")
        if phase not in PHASES:
            raise VividError(f"{where}: phase must be one of {', '.join(PHASES)}")
        if phase != "any" and reps is None:
            raise VividError(f"{where}: phase {phase!r} needs a reps section")
        rules.append(Rule(str(raw["id"]), tuple(_condition(c, where) for c in when), str(raw["message"]), severity, phase))
    return Exercise(str(data["name"]), str(data.get("description", "")), tuple(rules), reps)


def shipped_exercises() -> list[str]:
    folder = resources.files("vivid.pose3d") / "rules"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_rules(name_or_path: str | os.PathLike) -> Exercise:
    """A shipped rule set by name (``squat``, ``pushup``, ``lunge``, ``raise_hands``) or a YAML path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.exists():
            raise VividError(f"rule file {path} does not exist")
        text, source = path.read_text(), str(path)
    else:
        if str(name_or_path) not in shipped_exercises():
            raise VividError(
                f"no coaching rules called {name_or_path!r}; shipped: {', '.join(shipped_exercises())}, or give a .yaml path"
            )
        text = (resources.files("vivid.pose3d") / "rules" / f"{name_or_path}.yaml").read_text()
        source = f"{name_or_path}.yaml"
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else source
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise VividError(f"{where}: not valid YAML ({problem})") from None
    return parse_rules(data, source)


# ----------------------------------------------------------------------------- evaluation


def count_reps(signal: np.ndarray, spec: RepSpec) -> list[Rep]:
    """Repetitions in a metric time series by hysteresis: a rep starts when ``enter`` holds and is
    counted when ``exit`` holds afterwards. Non-finite samples keep the current state.

    Args:
        signal: (T,) the rep metric per frame.
    """
    reps: list[Rep] = []
    start = None
    for t, v in enumerate(np.asarray(signal, dtype=float)):
        if not math.isfinite(v):
            continue
        if start is None and OPS[spec.enter.op](v, spec.enter.value):
            start = t
        elif start is not None and OPS[spec.exit.op](v, spec.exit.value):
            seg = np.asarray(signal[start:t], dtype=float)
            seg = np.where(np.isfinite(seg), seg, np.inf if spec.lower_is_deeper else -np.inf)
            k = int(seg.argmin() if spec.lower_is_deeper else seg.argmax())
            reps.append(Rep(start, t - 1, start + k, float(seg[k])))
            start = None
    return reps


def _active_mask(series: dict[str, np.ndarray], spec: RepSpec | None, length: int) -> np.ndarray:
    """True for frames inside a repetition (entered and not yet exited)."""
    active = np.zeros(length, dtype=bool)
    if spec is None:
        return active
    inside = False
    for t, v in enumerate(np.asarray(series[spec.metric], dtype=float)):
        if math.isfinite(v):
            if not inside and OPS[spec.enter.op](v, spec.enter.value):
                inside = True
            elif inside and OPS[spec.exit.op](v, spec.exit.value):
                inside = False
        active[t] = inside
    return active


def coach_sequence(exercise: Exercise, series: dict[str, np.ndarray], present: np.ndarray | None = None) -> CoachResult:
    """Evaluate rules over a sequence of frames.

    Args:
        series: metric name -> (T,) values per frame (e.g. from :func:`joint_angles` on (T, 17, 3)).
        present: (T,) bool, whether the frame shows a person; the others are ignored (all
            present when None).
    Returns:
        CoachResult with the repetitions, one Prompt per triggered rule (frames where it held)
        and the number of ignored frames.
    """
    series = {k: np.asarray(v, dtype=float).reshape(-1) for k, v in series.items()}
    lengths = {len(v) for v in series.values()}
    if len(lengths) != 1:
        raise ValueError("all metric series must have the same length")
    length = lengths.pop()
    ignored = 0
    if present is not None:
        present = np.asarray(present, dtype=bool).reshape(-1)
        if len(present) != length:
            raise ValueError(f"present has {len(present)} frames, the series {length}")
        # Non-finite values count no repetition and trigger no rule (count_reps, Condition.holds).
        series = {k: np.where(present, v, np.nan) for k, v in series.items()}
        ignored = int((~present).sum())
    frame = lambda t: {k: float(v[t]) for k, v in series.items()}  # noqa: E731
    reps = count_reps(series[exercise.reps.metric], exercise.reps) if exercise.reps else []
    active = _active_mask(series, exercise.reps, length)
    prompts = []
    for rule in exercise.rules:
        if rule.phase == "rep":
            candidates = [r.extreme_frame for r in reps]
        elif rule.phase == "active":
            candidates = [t for t in range(length) if active[t]]
        else:
            candidates = list(range(length))
        hits = [t for t in candidates if rule.holds(frame(t))]
        if hits:
            metric = rule.when[0].metric
            prompts.append(Prompt(rule.id, rule.message, rule.severity, hits, [round(float(series[metric][t]), 2) for t in hits]))
    return CoachResult(exercise.name, prompts, reps, ignored)


def coach_pose(exercise: Exercise, values: dict[str, float]) -> list[Prompt]:
    """Prompts for a single pose (one image). ``active`` and ``rep`` rules apply only when the pose
    is inside the exercise's active phase (its ``reps.enter`` condition holds)."""
    in_phase = exercise.reps is not None and exercise.reps.enter.holds(values)
    prompts = []
    for rule in exercise.rules:
        if rule.phase != "any" and not in_phase:
            continue
        if rule.holds(values):
            v = values.get(rule.when[0].metric)
            prompts.append(Prompt(rule.id, rule.message, rule.severity, [0], [round(float(v), 2)]))
    return prompts
