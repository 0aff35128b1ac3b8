"""Training logic, outside the model: the weighted sum of the losses (:mod:`vivid.bodyvid.losses`)
in one ``_step`` for training and validation, and the validation metrics (MPJPE, PA-MPJPE and
acceleration error in millimetres)."""

from __future__ import annotations

import math

import pytorch_lightning as pl
import torch
from torch import Tensor

from vivid.core import metrics
from vivid.bodyvid.camera import project_joints
from vivid.bodyvid.config import BodyVidLoss, BodyVidOptim
from vivid.bodyvid.losses import joint_loss, parameter_loss, reprojection_loss, velocity_loss, vertex_loss
from vivid.bodyvid.skeleton import ROOT_JOINT, body_vertices


class BodyVidModule(pl.LightningModule):
    """Trains a :class:`vivid.bodyvid.model.BodyVidNet` on sequence batches (:mod:`vivid.bodyvid.data`)."""

    def __init__(self, model: torch.nn.Module, *, loss: BodyVidLoss, optim: BodyVidOptim, total_steps: int) -> None:
        super().__init__()
        self.model, self.loss_cfg, self.optim_cfg, self.total_steps = model, loss, optim, total_steps
        self.save_hyperparameters(ignore=["model"])

    def losses(self, batch: dict, out) -> dict[str, Tensor]:
        """Each loss of :class:`BodyVidLoss` with a non-zero weight, unweighted."""
        c, size = self.loss_cfg, self.model.input_size
        parts = {"joint": joint_loss(out.joints3d, batch["joints3d"], ROOT_JOINT)}
        if c.reprojection:
            pred2d = project_joints(out.joints3d, out.camera, batch["K"], size, self.model.camera)
            parts["reprojection"] = reprojection_loss(pred2d, batch["joints2d"], size, batch["weight2d"])
        if c.velocity:
            parts["velocity"] = velocity_loss(out.joints3d, batch["joints3d"], batch["times"], ROOT_JOINT, c.velocity_mode)
        if c.parameter:
            parts["parameter"] = parameter_loss(out.rotations, batch["rotations"], out.phenotype, batch["phenotype"])
        if c.vertex:
            pred_v = body_vertices(out.rotations.flatten(0, 1), out.phenotype.flatten(0, 1))
            with torch.no_grad():
                gt_v = body_vertices(batch["rotations"].flatten(0, 1), batch["phenotype"].flatten(0, 1))
            parts["vertex"] = vertex_loss(pred_v, gt_v)
        return parts

    def _step(self, batch: dict, stage: str) -> Tensor:
        out = self.model(batch["frames"])
        parts = self.losses(batch, out)
        total = sum(getattr(self.loss_cfg, name) * value for name, value in parts.items())
        bs = batch["frames"].shape[0]
        self.log(f"{stage}/loss", total, prog_bar=True, batch_size=bs, sync_dist=stage != "train")
        for name, value in parts.items():
            self.log(f"{stage}/{name}", value, batch_size=bs, sync_dist=stage != "train")
        if stage != "train":
            pred, gt = out.joints3d * 1000, batch["joints3d"] * 1000
            gt = gt - gt[..., ROOT_JOINT : ROOT_JOINT + 1, :]
            self.log(f"{stage}/mpjpe", metrics.mpjpe(pred, gt, root=ROOT_JOINT).mean(), batch_size=bs, sync_dist=True)
            self.log(f"{stage}/pa_mpjpe", metrics.pa_mpjpe(pred.flatten(0, 1), gt.flatten(0, 1)).mean(), batch_size=bs,
                     sync_dist=True)  # fmt: skip
            self.log(f"{stage}/accel", metrics.acceleration_error(pred, gt).mean(), batch_size=bs, sync_dist=True)
        return total

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val")

    def configure_optimizers(self):
        o = self.optim_cfg
        backbone = {id(p) for p in self.model.backbone.parameters()}
        named = [p for p in self.model.parameters() if p.requires_grad]
        groups = [{"params": [p for p in named if id(p) in backbone], "lr": o.lr * o.backbone_lr_scale},
                  {"params": [p for p in named if id(p) not in backbone], "lr": o.lr}]  # fmt: skip
        opt = torch.optim.AdamW([g for g in groups if g["params"]], lr=o.lr, weight_decay=o.weight_decay)

        def factor(step: int) -> float:
            if step < o.warmup_steps:
                return (step + 1) / o.warmup_steps
            t = min(1.0, (step - o.warmup_steps) / max(1, self.total_steps - o.warmup_steps))
            return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * t))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
