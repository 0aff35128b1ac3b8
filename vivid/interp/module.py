"""LightningModule for the interpolation generator (+ the GAN discriminator).

Losses per training step (batch = flying-layer items and/or real triplets, concatenated):
  L_c   Charbonnier between the output frame and the true frame at t (all items);
  L_f   multi-scale end-point error of the flow pyramid where an item has flow labels
        (flying items: exact flow; real items: a teacher's consistent flow, if any);
  L_d   inverse-depth ordering (flying items: exact depth order);
  L_w   optional photometric Charbonnier of each input warped onto the other by F0->1 / F1->0;
  L_a   relativistic average GAN term, from ``gan.start_step`` on.
  L_G = L_c + w_f L_f + w_d L_d + w_w L_w + lambda L_a.
The discriminator and the generator are updated alternately (manual optimisation): first D on
(real frame, detached output), then G.

``stage="flow"`` pretrains the flow network alone: each training step runs only
``model.flow`` and minimises L_f (validation still runs the whole generator and reports its
PSNR, so exports stay comparable).
"""

from __future__ import annotations

import logging
import math

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor

from vivid.core.errors import VividError
from vivid.core.metrics import psnr
from vivid.interp.config import InterpLoss, InterpOptim
from vivid.interp.discriminator import VGGDiscriminator
from vivid.interp.losses import (
    charbonnier,
    depth_ordering_loss,
    multiscale_flow_loss,
    endpoint_error,
    ragan_discriminator_loss,
    ragan_generator_loss,
)
from vivid.interp.model import InterpNet, centred_padding
from vivid.interp.warping import backward_warp

log = logging.getLogger(__name__)


def _cat_batch(batch: dict) -> dict[str, Tensor]:
    """Merge the {"flying": {...}, "real": {...}} parts of a combined batch into one batch."""
    if "image0" in batch:
        return batch
    parts = [p for p in batch.values() if p is not None]
    keys = parts[0].keys()
    return {k: torch.cat([p[k] for p in parts]) for k in keys}


class InterpModule(pl.LightningModule):
    """Trains ``model`` (an :class:`InterpNet`) with the losses above.

    ``optim`` and ``loss`` are the recipe's typed settings (:class:`InterpOptim`, :class:`InterpLoss`,
    whose docstrings list them).
    """

    def __init__(
        self,
        model: InterpNet,
        *,
        optim: InterpOptim | None = None,
        loss: InterpLoss | None = None,
        stage: str = "full",
    ) -> None:
        super().__init__()
        if stage not in ("full", "flow"):
            raise ValueError(f"stage must be 'full' or 'flow', got {stage!r}")
        self.stage = stage
        self.save_hyperparameters(ignore=["model"])
        self.model = model
        self.optim_cfg = optim or InterpOptim()
        self.loss_cfg = loss or InterpLoss()
        self.flow_level_weights = None
        if self.loss_cfg.flow_level_weights is not None:
            weights = tuple(float(w) for w in self.loss_cfg.flow_level_weights)
            levels = len(model.flow.decoders) + (model.flow.context is not None)
            if len(weights) != levels or min(weights) < 0 or max(weights) <= 0:
                raise ValueError(
                    f"loss.flow_level_weights needs {levels} weights >= 0 (coarse to fine, one per flow-pyramid"
                    f" estimate) and one > 0, got {list(weights)}"
                )
            self.flow_level_weights = weights
        gan = self.loss_cfg.gan
        self.gan_enabled = gan.enabled
        self.gan_weight = gan.weight
        self.gan_start = gan.start_step
        self.discriminator = VGGDiscriminator(tuple(gan.widths)) if self.gan_enabled else None
        self.automatic_optimization = False

    # ------------------------------------------------------------------ optimisers
    def configure_optimizers(self):
        o = self.optim_cfg
        lr, wd, floor, warm = o.lr, o.weight_decay, o.min_lr_ratio, o.warmup_steps
        max_steps = o.max_steps or int(getattr(self.trainer, "max_steps", 0) or 1000)

        def schedule(step: int) -> float:
            if step < warm:
                return (step + 1) / warm
            p = min(1.0, (step - warm) / max(1, max_steps - warm))
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * p))

        # Frozen submodules (recipe ``freeze_modules``) have requires_grad off and stay out.
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        opt_g = torch.optim.AdamW(trainable, lr=lr, weight_decay=wd)
        sched_g = torch.optim.lr_scheduler.LambdaLR(opt_g, schedule)
        if self.discriminator is None:
            return [opt_g], [sched_g]
        opt_d = torch.optim.AdamW(self.discriminator.parameters(), lr=o.lr_d if o.lr_d is not None else lr, betas=(0.5, 0.999))
        return [opt_g, opt_d], [sched_g]

    # ------------------------------------------------------------------ losses
    def _generator_losses(self, batch: dict[str, Tensor], out) -> dict[str, Tensor]:
        c = self.loss_cfg
        losses = {"charbonnier": charbonnier(out.frame, batch["image_t"])}
        labelled = batch["has_labels"] > 0.5
        if c.flow_weight > 0:
            flow = self._flow_loss(batch, out.flow_pyramid, out.pad)
            if flow is not None:
                losses["flow"] = flow
        if labelled.any() and out.depth0 is not None and c.depth_weight > 0:
            pred = torch.cat((out.depth0[labelled], out.depth1[labelled]))
            gt = torch.cat((batch["invdepth0"][labelled], batch["invdepth1"][labelled]))
            losses["depth"] = depth_ordering_loss(pred, gt)
        if c.warp_weight > 0:
            w0 = backward_warp(batch["image1"], out.flow01)
            w1 = backward_warp(batch["image0"], out.flow10)
            losses["warp"] = 0.5 * (charbonnier(w0, batch["image0"]) + charbonnier(w1, batch["image1"]))
        return losses

    def _flow_loss(self, batch: dict[str, Tensor], pyramid: list[Tensor], pad: tuple[int, int, int, int]) -> Tensor | None:
        """Masked multi-scale EPE over the items with any valid flow label (None if none has)."""
        valid = torch.cat((batch["flow_valid0"], batch["flow_valid1"]))
        has = valid.flatten(1).amax(1) > 0
        if not has.any():
            return None
        target = torch.cat((batch["flow01"], batch["flow10"]))[has]
        mask = valid[has]
        if any(pad):
            target = F.pad(target, pad, mode="replicate")
            mask = F.pad(mask, pad)
        return multiscale_flow_loss([p[has] for p in pyramid], target, level_weights=self.flow_level_weights, mask=mask)

    def _flow_stage_step(self, batch: dict[str, Tensor]) -> Tensor:
        """One optimiser step of the flow network alone (``stage="flow"``)."""
        image0, image1 = batch["image0"], batch["image1"]
        pad = centred_padding(*image0.shape[-2:], self.model.flow.multiple)
        if any(pad):
            image0, image1 = F.pad(image0, pad, mode="replicate"), F.pad(image1, pad, mode="replicate")
        _, _, pyramid = self.model.flow(image0, image1)
        loss = self._flow_loss(batch, pyramid, pad)
        if loss is None:
            raise VividError("stage 'flow' needs flow labels in every batch: flying layers or data.teacher=dis")
        opts = self.optimizers()
        opt_g = opts[0] if isinstance(opts, (list, tuple)) else opts
        opt_g.zero_grad()
        self.manual_backward(loss)
        self.clip_gradients(opt_g, gradient_clip_val=self.optim_cfg.grad_clip, gradient_clip_algorithm="norm")
        opt_g.step()
        sched = self.lr_schedulers()
        (sched[0] if isinstance(sched, list) else sched).step()
        self.log("train/loss", loss.detach(), prog_bar=True)
        self.log("train/flow", loss.detach())
        return loss

    def _total(self, losses: dict[str, Tensor]) -> Tensor:
        c = self.loss_cfg
        total = losses["charbonnier"]
        total = total + c.flow_weight * losses.get("flow", 0.0)
        total = total + c.depth_weight * losses.get("depth", 0.0)
        total = total + c.warp_weight * losses.get("warp", 0.0)
        if "gan" in losses:
            total = total + self.gan_weight * losses["gan"]
        return total

    def _step(self, batch: dict, stage: str) -> Tensor:
        batch = _cat_batch(batch)
        if stage == "train" and self.stage == "flow":
            return self._flow_stage_step(batch)
        out = self.model(batch["image0"], batch["image1"], batch["t"])
        losses = self._generator_losses(batch, out)
        if stage == "train":
            use_gan = self.discriminator is not None and self.global_step >= self.gan_start
            opts = self.optimizers()
            opt_g = opts[0] if isinstance(opts, (list, tuple)) else opts
            clip = self.optim_cfg.grad_clip
            if use_gan:
                opt_d = opts[1]
                # Discriminator step on the real frame and the detached output.
                c_real = self.discriminator(batch["image_t"])
                c_fake = self.discriminator(out.frame.detach())
                loss_d = ragan_discriminator_loss(c_real, c_fake)
                opt_d.zero_grad()
                self.manual_backward(loss_d)
                self.clip_gradients(opt_d, gradient_clip_val=clip, gradient_clip_algorithm="norm")
                if getattr(self.trainer.precision_plugin, "scaler", None) is None:
                    # Step the wrapped optimiser directly: Lightning counts every optimiser step
                    # in global_step, and max_steps, the LR schedule and gan.start_step are meant
                    # in generator updates (batches), the same with and without the GAN.
                    opt_d.optimizer.step()
                else:  # fp16 loss scaling needs Lightning's step (it then counts in global_step)
                    opt_d.step()
                self.log("train/loss_d", loss_d.detach(), prog_bar=False)
                # Generator's adversarial term with the updated critic (no grads into D kept).
                self.discriminator.requires_grad_(False)
                losses["gan"] = ragan_generator_loss(self.discriminator(batch["image_t"]), self.discriminator(out.frame))
                self.discriminator.requires_grad_(True)
            total = self._total(losses)
            opt_g.zero_grad()
            self.manual_backward(total)
            self.clip_gradients(opt_g, gradient_clip_val=clip, gradient_clip_algorithm="norm")
            opt_g.step()
            sched = self.lr_schedulers()
            (sched[0] if isinstance(sched, list) else sched).step()
            self.log("train/loss", total.detach(), prog_bar=True)
            for k, v in losses.items():
                self.log(f"train/{k}", v.detach())
            return total
        total = self._total(losses)
        return total, out, batch

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx, dataloader_idx: int = 0):
        _, out, batch = self._step(batch, "val")
        names = getattr(self.trainer.datamodule, "val_names", None) if self.trainer is not None else None
        name = names[dataloader_idx] if names else str(dataloader_idx)
        prefix = "val/" if name in ("video", "vimeo") else f"val/{name}_"
        frame = out.frame.clamp(0, 1)
        t = batch["t"].view(-1, 1, 1, 1)
        blend = (1 - t) * batch["image0"] + t * batch["image1"]
        self.log(f"{prefix}psnr", psnr(frame, batch["image_t"]).mean(), add_dataloader_idx=False)
        self.log(f"{prefix}psnr_blend", psnr(blend, batch["image_t"]).mean(), add_dataloader_idx=False)
        self.log(f"{prefix}charbonnier", charbonnier(frame, batch["image_t"]), add_dataloader_idx=False)
        if name == "flying":
            self.log("val/flying_epe", endpoint_error(out.flow01, batch["flow01"]), add_dataloader_idx=False)
