"""Training logic, outside the model: one ``_step`` for training and validation.

Validation decodes the detections of the synthetic validation composites, scores them at IoU 0.5
(:mod:`vivid.people.evaluate`) and sets the model's ``score_threshold`` to the one of highest F1,
so that the exported checkpoint carries a threshold chosen on synthetic data only.
"""

from __future__ import annotations

import math

import pytorch_lightning as pl
import torch

from vivid.people.config import PeopleLoss, PeopleOptim
from vivid.people.detector import decode, to_detections
from vivid.people.evaluate import Matched, best_threshold, match
from vivid.people.losses import detection_loss, encode_targets

LOWEST_SCORE = 0.05  # validation keeps detections down to this score, to sweep thresholds


class PeopleModule(pl.LightningModule):
    def __init__(self, model: torch.nn.Module, *, loss: PeopleLoss, optim: PeopleOptim, total_steps: int) -> None:
        super().__init__()
        self.model, self.loss_cfg, self.optim_cfg, self.total_steps = model, loss, optim, total_steps
        self.save_hyperparameters(ignore=["model"])
        self._val: list[Matched] = []

    def _step(self, batch: dict, stage: str) -> torch.Tensor:
        out = self.model(batch["image"])
        targets = encode_targets(batch["boxes"].cpu(), batch["count"].cpu(), batch["ignore"].cpu(), tuple(out.heatmap.shape[-2:]))
        targets = type(targets)(*(t.to(out.heatmap.device) for t in vars(targets).values()))
        terms = detection_loss(out, targets, size_weight=self.loss_cfg.size_weight, offset_weight=self.loss_cfg.offset_weight)
        bs = batch["image"].shape[0]
        for k, v in terms.items():
            self.log(f"{stage}/{k}", v, prog_bar=stage == "train" and k == "loss", batch_size=bs)
        if stage == "val":
            raw = type(out)(*(t.detach().float().cpu() for t in vars(out).values()))
            size = batch["image"].shape[-2:]
            for b, (boxes, scores) in enumerate(decode(raw, threshold=LOWEST_SCORE)):
                dets = to_detections(boxes, scores, tuple(size))
                n = int(batch["count"][b])
                self._val.append(match([d.box for d in dets], [d.score for d in dets],
                                       batch["boxes"][b, :n].cpu().numpy(), batch["ignore"][b, :n].cpu().numpy()))  # fmt: skip
        return terms["loss"]

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val")

    def on_validation_epoch_start(self) -> None:
        self._val = []

    def on_validation_epoch_end(self) -> None:
        if not self._val:
            return
        threshold, precision, recall, f1 = best_threshold(self._val)
        self.model.config["score_threshold"] = float(threshold)
        for k, v in {"threshold": threshold, "precision": precision, "recall": recall, "f1": f1}.items():
            self.log(f"val/{k}", float(v))

    def configure_optimizers(self):
        c = self.optim_cfg
        opt = torch.optim.AdamW([p for p in self.model.parameters() if p.requires_grad], lr=c.lr, weight_decay=c.weight_decay)

        def factor(step: int) -> float:
            if step < c.warmup_steps:
                return (step + 1) / c.warmup_steps
            t = (step - c.warmup_steps) / max(1, self.total_steps - c.warmup_steps)
            return c.final_lr_share + (1 - c.final_lr_share) * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))

        return {"optimizer": opt, "lr_scheduler": {"scheduler": torch.optim.lr_scheduler.LambdaLR(opt, factor), "interval": "step"}}
