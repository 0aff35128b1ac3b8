"""Training logic, outside the model: self-reconstruction with the four generator losses, and the
preprocessing networks (warping, parsing, garment-photo mask) trained alongside."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor

from .config import TryonLoss, TryonOptim
from .losses import (TemporalDiscriminator, discriminator_gan_loss, generator_gan_loss, l1_all, l1_region, load_vgg_features,
                     perceptual_loss)


def flat_on_background(flat: Tensor, flat_mask: Tensor, backdrop: Tensor) -> Tensor:
    """A flat garment (B, 3, Hf, Wf) with mask (B, 1, Hf, Wf) pasted on a backdrop (B, 3, H, W)
    resized to it: the garment-photo segmenter's training input (photos are not all on white)."""
    bg = F.interpolate(backdrop, size=flat.shape[-2:], mode="bilinear", align_corners=False)
    return flat * flat_mask + bg * (1 - flat_mask)


class TryonModule(pl.LightningModule):
    def __init__(self, model: torch.nn.Module, *, loss: TryonLoss, optim: TryonOptim) -> None:
        super().__init__()
        self.model, self.loss_cfg, self.optim_cfg = model, loss, optim
        self.save_hyperparameters(ignore=["model"])
        self.discriminator = TemporalDiscriminator()
        self.vgg = load_vgg_features(loss.vgg_weights) if loss.vgg_weights else None
        self.automatic_optimization = False

    def configure_optimizers(self):
        g = torch.optim.Adam([p for p in self.model.parameters() if p.requires_grad], lr=self.optim_cfg.lr, betas=(0.5, 0.999))
        d = torch.optim.Adam(self.discriminator.parameters(), lr=self.optim_cfg.lr_d, betas=(0.5, 0.999))
        return [g, d]

    def _features(self, video: Tensor) -> list[Tensor]:
        return self.vgg(video) if self.vgg is not None else self.discriminator(video, features=True)[1]

    def _losses(self, batch: dict) -> tuple[dict[str, Tensor], Tensor]:
        m, c = self.model, self.loss_cfg
        frames, pose = batch["frames"], batch["pose"]
        B, T = frames.shape[:2]
        warped, w_mask = m.warper(batch["flat"], batch["flat_mask"], pose, 1 - batch["background_mask"])
        losses = {
            "warp": l1_all(warped, batch["garment"]) + F.binary_cross_entropy(w_mask.clamp(1e-4, 1 - 1e-4), batch["garment_mask"]),
            # one frame per clip: the frames of a clip are near-duplicates for the parser, and it costs a quarter
            "parse": F.cross_entropy(m.parser(frames[:, 0]), batch["parse"][:, 0]),
        }
        photo = flat_on_background(batch["flat"], batch["flat_mask"], batch["background"][:, 0])
        losses["flat_mask"] = F.binary_cross_entropy_with_logits(m.segmenter(photo), batch["flat_mask"])
        # the generator learns from the warper's output as it will see it at inference, without
        # pushing its gradients into the warper (which has its own target)
        out = m(pose, batch["background"], batch["background_mask"], warped.detach(), w_mask.detach())
        losses["l1"] = l1_all(out.output, frames)
        losses["region"] = l1_region(out.output, frames, 1 - batch["background_mask"])
        return losses, out.output

    def _perceptual(self, output: Tensor, frames: Tensor) -> Tensor:
        with torch.no_grad():
            target_features = self._features(frames)
        return perceptual_loss(self._features(output), target_features)

    def _total(self, losses: dict[str, Tensor]) -> Tensor:
        c = self.loss_cfg
        return sum(getattr(c, k) * v for k, v in losses.items())

    def _step(self, batch: dict, stage: str) -> Tensor:
        losses, output = self._losses(batch)
        use_gan = stage == "train" and self.loss_cfg.gan > 0 and self.global_step >= self.loss_cfg.gan_start
        if stage == "train":
            opt_g, opt_d = self.optimizers()
            if use_gan:
                loss_d = discriminator_gan_loss(self.discriminator(batch["frames"]), self.discriminator(output.detach()))
                opt_d.zero_grad()
                self.manual_backward(loss_d)
                opt_d.step()
                self.log("train/d", loss_d.detach())
                losses["gan"] = generator_gan_loss(self.discriminator(output))
            losses["perceptual"] = self._perceptual(output, batch["frames"])  # with the discriminator as updated
            total = self._total(losses)
            opt_g.zero_grad()
            self.manual_backward(total)
            self.clip_gradients(opt_g, gradient_clip_val=self.optim_cfg.grad_clip, gradient_clip_algorithm="norm")
            opt_g.step()
        else:
            losses["perceptual"] = self._perceptual(output, batch["frames"])
            total = self._total(losses)
        self.log(f"{stage}/loss", total.detach(), prog_bar=stage == "train")
        for k, v in losses.items():
            self.log(f"{stage}/{k}", v.detach())
        return total

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val")
