"""Training of the mixed 2D/3D method (LightningModule).

Training order (``mix``):

- ``"alternate"`` (the method, the default): each step takes a whole batch from one pool, in the
  pattern of :func:`alternate_pool` (``alternate_2d_per_3d`` 2D-only batches, then one
  3D-labelled batch): 2D-only batches train the heatmap channels, 3D-labelled ones all channels;
- ``"mix"`` (a variant, not the method's order): every batch holds both pools.

Losses:

- every sample with 2D labels: ``lambda_hm`` x heatmap loss against Gaussian targets;
- every sample: ``lambda_geo`` x geometric (bone-length-ratio) loss on the skeleton built from its
  soft-argmax 2D joints and predicted depths, against Human3.6M's mean bone lengths
  (``geo_reference="h36m"``, the method) or the 3D training data's (``"train"``, a variant), with
  one mean ratio over the batch (``geo_variant="batch"``, the method) or per image over four bone
  sets (``"per_image_sets"``, a variant; see :func:`vivid.pose3d.losses.geometric_loss`);
- 3D-labelled samples: ``lambda_reg`` x squared error of the predicted joint depths.

Geometric-loss readings (``geo_mode``):

- ``"strict"`` (the method, the default): 2D-only samples train only the heatmap channels. Their
  depths enter the geometric loss as constants, so its gradient reaches the 2D joints only; in a
  batch with no 3D-labelled sample the depth head is not even evaluated with gradients, and its
  weights stay exactly as they were. In a mixed batch (``mix="mix"``) with ``geo_variant="batch"``
  the 2D-only rows still take part in the batch's mean ratio, so they shift the 3D rows' depth
  gradient; alternating batches keep the pools apart.
- ``"depth"`` (depth-informed, a departure from the method kept as an option): the geometric loss
  of 2D-only samples also trains the depth channels.

Optional 2D pre-training: the first ``pretrain_steps`` steps train on all samples' 2D labels with
``lambda_2d`` x the Euclidean distance between soft-argmax joints and labels (heatmaps only).
"""

from __future__ import annotations

import math
from dataclasses import asdict

import pytorch_lightning as pl
import torch
from torch import Tensor

from vivid.core import metrics
from vivid.pose3d.bones import H36M_BONE_LENGTHS, ROOT, bone_visibility
from vivid.pose3d.config import Pose3DLoss, Pose3DOptim
from vivid.pose3d.coords import back_project, estimate_root_depth, heatmap_to_image, image_to_heatmap, read_depth, soft_argmax
from vivid.pose3d.losses import GEO_VARIANTS, depth_loss, euclidean_2d_loss, geometric_loss, heatmap_loss

GEO_MODES = ("strict", "depth")
GEO_REFERENCES = ("h36m", "train")
MIX_MODES = ("mix", "alternate")


def alternate_pool(step: int, per_3d: int) -> str:
    """The pool of training step ``step`` with alternating batches: ``per_3d`` steps on the
    2D-only pool, then one on the 3D-labelled pool, repeated ("2d" or "3d")."""
    if per_3d < 0:
        raise ValueError(f"alternate_2d_per_3d must be >= 0, got {per_3d}")
    return "3d" if step % (per_3d + 1) == per_3d else "2d"


def merge_batches(batch: dict) -> dict:
    """A combined-loader batch ``{"3d": b3, "2d": b2}`` (either may be missing) -> one batch."""
    if "image" in batch:
        return batch
    parts = [b for key in ("3d", "2d") if (b := batch.get(key)) is not None]
    return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}


class Pose3DModule(pl.LightningModule):
    """Trains a :class:`vivid.pose3d.model.Pose3DNet` given from outside (``module.model``).

    Args:
        model: the network.
        loss, optim: the recipe's typed settings (:class:`Pose3DLoss`, :class:`Pose3DOptim`, whose
            docstrings list them); the learning rate follows a warm-up + cosine schedule over
            ``total_steps``.
        mix: "alternate" (batches from one pool at a time; ``loss.alternate_2d_per_3d`` 2D batches
            for each 3D batch) or "mix" (3D and 2D samples in every batch).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        loss: Pose3DLoss | None = None,
        optim: Pose3DOptim | None = None,
        total_steps: int = 1000,
        mix: str = "alternate",
    ) -> None:
        super().__init__()
        loss, optim = loss or Pose3DLoss(), optim or Pose3DOptim()
        if loss.geo_mode not in GEO_MODES:
            raise ValueError(f"geo_mode must be one of {GEO_MODES}, got {loss.geo_mode!r}")
        if loss.geo_variant not in GEO_VARIANTS:
            raise ValueError(f"geo_variant must be one of {GEO_VARIANTS}, got {loss.geo_variant!r}")
        if loss.geo_reference not in GEO_REFERENCES:
            raise ValueError(f"geo_reference must be one of {GEO_REFERENCES}, got {loss.geo_reference!r}")
        if loss.alternate_2d_per_3d < 0:
            raise ValueError(f"alternate_2d_per_3d must be >= 0, got {loss.alternate_2d_per_3d}")
        if mix not in MIX_MODES:
            raise ValueError(f"mix must be one of {MIX_MODES}, got {mix!r}")
        self.model = model
        self.register_buffer("h36m_bone_lengths", torch.tensor(H36M_BONE_LENGTHS), persistent=False)
        # Flat hyperparameters (hparams.lr, hparams.geo_mode, ...), as the steps below read them.
        self.save_hyperparameters({**asdict(loss), **asdict(optim), "total_steps": total_steps, "mix": mix})

    # ------------------------------------------------------------------ set-up

    def on_fit_start(self) -> None:
        dm = getattr(self.trainer, "datamodule", None)
        if dm is not None and hasattr(dm, "reference_bone_lengths"):
            self.model.set_reference_bones(dm.reference_bone_lengths().to(self.device))

    def configure_optimizers(self):
        hp = self.hparams
        opt = torch.optim.AdamW(self.model.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)

        def factor(step: int) -> float:
            if step < hp.warmup_steps:
                return (step + 1) / hp.warmup_steps
            t = min(1.0, (step - hp.warmup_steps) / max(1, hp.total_steps - hp.warmup_steps))
            return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * t))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    # ------------------------------------------------------------------ steps

    def _select(self, batch: dict) -> dict:
        """The samples this training step uses (alternate mode picks one pool)."""
        if "image" in batch or self.hparams.mix == "mix" or len(batch) == 1:
            return merge_batches(batch)
        key = alternate_pool(self.global_step, self.hparams.alternate_2d_per_3d)
        return batch[key] if batch.get(key) is not None else merge_batches(batch)

    def forward_losses(self, batch: dict, *, pretrain: bool = False) -> tuple[Tensor, dict[str, Tensor], dict]:
        """Losses of one batch (see the module docstring). Returns (total, parts, decoded)."""
        hp = self.hparams
        model = self.model
        images, has3d = batch["image"], batch["has3d"].bool()
        feats = model.features(images)
        heat = model.heatmap_head(feats)
        coords, probs = soft_argmax(heat)
        target_hm = image_to_heatmap(batch["joints2d"], model.stride)
        w2d = batch["weight2d"]
        parts: dict[str, Tensor] = {}
        if pretrain:
            parts["loss_2d"] = euclidean_2d_loss(coords, target_hm, w2d)
            return hp.lambda_2d * parts["loss_2d"], parts, {"coords": coords}

        if hp.geo_mode == "strict" and not bool(has3d.any()):
            with torch.no_grad():
                depth = model.depth_head(feats)
        else:
            depth = model.depth_head(feats)
            if hp.geo_mode == "strict":
                # 2D-only rows: their depths are constants for every loss.
                depth = torch.where(has3d[:, None, None, None], depth, depth.detach())
        rel = read_depth(depth, probs)
        rel = rel - rel[:, ROOT : ROOT + 1]
        uv = heatmap_to_image(coords, model.stride)
        ref = model.ref_bone_lengths
        root = estimate_root_depth(uv, rel, batch["K"], ref)
        joints3d = back_project(uv, root[:, None] + rel, batch["K"])

        parts["loss_hm"] = heatmap_loss(heat, target_hm, w2d, sigma=hp.sigma)
        geo_ref = self.h36m_bone_lengths if hp.geo_reference == "h36m" else ref
        parts["loss_geo"] = geometric_loss(joints3d, geo_ref, bone_visibility((w2d > 0).to(heat.dtype)), variant=hp.geo_variant)
        if bool(has3d.any()):
            parts["loss_depth"] = depth_loss(rel[has3d], batch["rel_depth"][has3d])
        else:
            parts["loss_depth"] = heat.new_zeros(())
        total = hp.lambda_hm * parts["loss_hm"] + hp.lambda_geo * parts["loss_geo"] + hp.lambda_reg * parts["loss_depth"]
        return total, parts, {"uv": uv, "joints3d": joints3d, "root": root}

    def _step(self, batch: dict, stage: str) -> Tensor:
        pretrain = stage == "train" and self.global_step < self.hparams.pretrain_steps
        batch = self._select(batch) if stage == "train" else merge_batches(batch)
        total, parts, out = self.forward_losses(batch, pretrain=pretrain)
        bs = batch["image"].shape[0]
        log_kw = dict(batch_size=bs, sync_dist=stage != "train", prog_bar=False)
        self.log(f"{stage}/loss", total, prog_bar=True, **{k: v for k, v in log_kw.items() if k != "prog_bar"})
        for name, value in parts.items():
            self.log(f"{stage}/{name}", value, **log_kw)
        if stage != "train" and not pretrain:
            gt = batch["joints3d"]
            has3d = batch["has3d"].bool()
            err2d = (out["uv"] - batch["joints2d"]).norm(dim=-1)
            w = batch["weight2d"]
            self.log(f"{stage}/err2d_px", (err2d * w).sum() / w.sum().clamp_min(1), **log_kw)
            if bool(has3d.any()):
                pred_mm, gt_mm = out["joints3d"][has3d] * 1000, gt[has3d] * 1000
                n3 = int(has3d.sum())
                self.log(f"{stage}/mpjpe", metrics.mpjpe(pred_mm, gt_mm, root=ROOT).mean(), batch_size=n3, sync_dist=True)
                self.log(f"{stage}/pa_mpjpe", metrics.pa_mpjpe(pred_mm, gt_mm).mean(), batch_size=n3, sync_dist=True)
                rel_pred = pred_mm - pred_mm[:, ROOT : ROOT + 1]
                rel_gt = gt_mm - gt_mm[:, ROOT : ROOT + 1]
                self.log(f"{stage}/pck3d", metrics.pck3d(rel_pred, rel_gt).mean(), batch_size=n3, sync_dist=True)
        return total

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: dict, batch_idx: int) -> Tensor:
        return self._step(batch, "val")

    def test_step(self, batch: dict, batch_idx: int) -> Tensor:
        return self._step(batch, "test")
