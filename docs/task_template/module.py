"""Training logic, outside the model: one ``_step`` for training and validation."""

from __future__ import annotations

import pytorch_lightning as pl
import torch

from .config import MyLoss, MyOptim
from .losses import colour_loss


class MyModule(pl.LightningModule):
    def __init__(self, model: torch.nn.Module, *, loss: MyLoss, optim: MyOptim) -> None:
        super().__init__()
        self.model, self.loss_cfg, self.optim_cfg = model, loss, optim
        self.save_hyperparameters(ignore=["model"])

    def _step(self, batch: dict, stage: str) -> torch.Tensor:
        loss = self.loss_cfg.weight * colour_loss(self.model(batch["image"]), batch["colour"])
        self.log(f"{stage}/loss", loss, prog_bar=stage == "train")
        return loss

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val")

    def configure_optimizers(self):
        return torch.optim.Adam([p for p in self.model.parameters() if p.requires_grad], lr=self.optim_cfg.lr)
