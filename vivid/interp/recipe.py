"""Training recipe for interpolation: config -> (LightningModule, DataModule) for the harness.

Used by ``vivid train interp --config tiny|default|large|path.yaml key.sub=value ...``.
Top-level keys besides model/data/optim/loss/trainer/export: ``init`` (start from a checkpoint's
weights; ``init_modules`` limits that to some submodules, e.g. ``[flow]``), ``freeze_modules``
(submodules whose weights stay fixed, e.g. ``[flow]``) and ``stage`` ("full", or "flow" to
pretrain the flow network alone). ``export.model_config`` sets the inference settings the
exported checkpoints carry instead of the training ones (any of
:data:`vivid.interp.model.FLOW_SETTINGS`).
"""

from __future__ import annotations

import shlex
import sys

from vivid.core.errors import VividError
from vivid.core.registry import create_model
from vivid.core.train import Recipe
from vivid.interp.data import InterpDataModule
from vivid.interp.model import FLOW_SETTINGS, check_flow_settings
from vivid.interp.module import InterpModule


def build_recipe(cfg: dict) -> Recipe:
    """Build the interpolation recipe from a preset-style config dict."""
    name = cfg.get("model", "interp_default")
    stage = str(cfg.get("stage", "full"))
    if stage not in ("full", "flow"):
        raise VividError(f"stage must be 'full' or 'flow', got {stage!r}")
    model = create_model(name, **dict(cfg.get("model_config") or {}))
    if cfg.get("init"):
        # Start from a checkpoint's weights (a bundled name or a .safetensors path).
        from vivid.core.checkpoints import load_checkpoint

        # Settings without weights of their own (flow_scales, use_depth_projection) may differ,
        # and the configured model may add modules (e.g. flow_context), which start fresh.
        # ``init_modules`` (e.g. [flow]) takes only those submodules' weights; the rest start fresh.
        init, meta = load_checkpoint(cfg["init"], task="interp")
        theirs, ours = init.state_dict(), model.state_dict()
        only = [str(m) for m in cfg.get("init_modules") or []]
        if only:
            unknown = [m for m in only if not any(k.startswith(f"{m}.") for k in theirs)]
            if unknown:
                raise VividError(f"init_modules: {', '.join(unknown)} not in the init checkpoint {cfg['init']}")
            theirs = {k: v for k, v in theirs.items() if any(k.startswith(f"{m}.") for m in only)}
        if meta["model_name"] != name or any(k not in ours or ours[k].shape != v.shape for k, v in theirs.items()):
            raise VividError(f"init checkpoint {cfg['init']} ({meta['model_name']}) does not have the weights of {name} as configured")
        added = [
            m
            for m, module in model.named_modules()
            if m and module.state_dict() and all(f"{m}.{k}" not in theirs for k in module.state_dict())
        ]
        added = [m for m in added if not any(m.startswith(f"{a}.") for a in added)]
        if added:
            print(f"init: {', '.join(added)} not taken from {cfg['init']}; they start fresh", file=sys.stderr)
        model.load_state_dict(theirs, strict=False)
    frozen = [str(m) for m in cfg.get("freeze_modules") or []]
    children = dict(model.named_children())
    unknown = [m for m in frozen if m not in children]
    if unknown:
        raise VividError(f"freeze_modules: {', '.join(unknown)} not a module of {name} (it has {', '.join(children)})")
    if stage == "flow" and "flow" in frozen:
        raise VividError("freeze_modules: stage 'flow' trains only the flow network; it cannot be frozen")
    for m in frozen:
        children[m].requires_grad_(False)
    trainer = dict(cfg.get("trainer", {}))
    data_cfg = dict(cfg.get("data", {}))
    if "batch_size" in trainer:
        data_cfg.setdefault("batch_size", trainer["batch_size"])
    datamodule = InterpDataModule(data_cfg)
    optim = dict(cfg.get("optim", {}))
    optim.setdefault("max_steps", int(trainer.get("max_steps", 1000)))
    export = dict(cfg.get("export", {}))
    export_config = dict(export.get("model_config") or {})
    unknown = [k for k in export_config if k not in FLOW_SETTINGS]
    if unknown:
        raise VividError(f"export.model_config: {', '.join(unknown)} cannot differ from training (only {', '.join(FLOW_SETTINGS)} can)")
    try:
        check_flow_settings(**export_config)
    except ValueError as err:
        raise VividError(f"export.model_config: {err}") from err
    if export.get("path"):
        export.setdefault("model_name", name)
        # The periodic exports record how they were made: the command line of this process.
        export.setdefault("command", "vivid " + " ".join(shlex.quote(a) for a in sys.argv[1:]))
        export.setdefault("data", datamodule.describe())
    try:
        module = InterpModule(model, optim=optim, loss=dict(cfg.get("loss", {})), export=export, stage=stage)
    except ValueError as err:  # a loss setting that does not fit the model
        raise VividError(str(err)) from err
    return Recipe(
        task="interp",
        module=module,
        datamodule=datamodule,
        model_name=name,
        data_description=datamodule.describe(),
        export_config=export_config,
    )
