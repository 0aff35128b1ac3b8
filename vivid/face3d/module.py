"""Training logic for the four stages, outside the model: one ``_step(batch, stage)``.

- stage 0, the landmark network: heatmap cross-entropy on face crops, face-score logistic loss
  on face and non-face crops;
- stage 1, self-supervised: L1 photometric + L2 landmark loss (landmarks from the frozen
  landmark network) on unlabelled crops;
- stage 2, supervised: each label mesh H' is first aligned onto the prediction
  (:func:`vivid.face3d.align.align_label`), then L3 vertex (measured in the label's units) + L4 normal + L5 photometric of H'
  rendered with the predicted pose, lighting and albedo + L6 landmarks of H' projected with the
  predicted pose;
- stage 3, mixed batches: L1 + L2 on the unlabelled part, L3-L6 on the labelled part, at the ratio
  of the shared :class:`vivid.face3d.ratio.DynamicRatio`; every ``mix.adjust_every`` steps the
  SSIM of reconstructions of fixed validation images is measured and the ratio raised when it is
  under ``mix.threshold`` (logged, and written to ``<log dir>/ratio_adjustments.json``).

Validation (every stage): the landmark error of the network (% of inter-ocular distance), and from
stage 1 on the face-region vertex error after alignment (mm), the reconstruction's landmark error
and the SSIM of the render against the crop.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor

from vivid.face3d.align import align_label, keypoint_subset
from vivid.face3d.config import Face3DLoss, Face3DMix, Face3DOptim
from vivid.face3d.facemodel import FaceModel
from vivid.face3d.losses import coefficient_prior, heatmap_loss, landmark_loss, normal_loss, photometric_loss, vertex_loss
from vivid.face3d.ratio import DynamicRatio
from vivid.face3d.reconstruct import decode, face_ssim, project_points, render_face

__all__ = ["Face3DModule", "interocular", "face_error_mm"]


def interocular(landmarks: Tensor) -> Tensor:
    """(B, 68, D) -> (B,) distance between the eye centres (landmarks 36-41 and 42-47)."""
    return (landmarks[:, 36:42].mean(1) - landmarks[:, 42:48].mean(1)).norm(dim=-1)


def face_error_mm(fm: FaceModel, pred: Tensor, label: Tensor, keypoints: Tensor) -> Tensor:
    """Mean face-region vertex distance (mm) after aligning the label onto the prediction: (B,)."""
    aligned, scale, *_ = align_label(label, pred, fm.landmark_vertices, keypoints)
    d = (aligned - pred).norm(dim=-1)[:, fm.face_vertices] / scale[:, None]  # in the label's units
    return d.mean(1) * 1000.0


class Face3DModule(pl.LightningModule):
    def __init__(self, model: torch.nn.Module, *, face: FaceModel, stage: int, loss: Face3DLoss, optim: Face3DOptim,
                 mix: Face3DMix, total_steps: int, ratio: DynamicRatio | None = None) -> None:
        super().__init__()
        self.model, self.face, self.stage = model, face, stage
        self.loss_cfg, self.optim_cfg, self.mix_cfg, self.total_steps = loss, optim, mix, total_steps
        self.ratio = ratio or DynamicRatio()
        self.save_hyperparameters(ignore=["model", "face", "ratio"])
        self.register_buffer("keypoints", keypoint_subset(face.face_vertices), persistent=False)
        self.size = model.input_size
        self.targets: dict | None = None

    # ------------------------------------------------------------------ losses

    def _landmark_targets(self, image: Tensor) -> Tensor:
        was = self.model.landmarks.training
        self.model.landmarks.eval()
        with torch.no_grad():
            lm = self.model.landmarks(image).landmarks
        self.model.landmarks.train(was)
        return lm

    def _stage0(self, batch: dict, stage: str) -> Tensor:
        c = self.loss_cfg
        out = self.model.landmarks(batch["image"])
        hm = heatmap_loss(out.heatmaps, batch["landmarks"], batch["visibility"], self.size)
        sc = F.binary_cross_entropy_with_logits(out.score, batch["is_face"].float())
        self.log(f"{stage}/heatmap", hm)
        self.log(f"{stage}/score", sc)
        return c.heatmap * hm + c.score * sc

    def _unlabelled(self, batch: dict, params, dec, idx: Tensor, stage: str) -> Tensor:
        """L1 + L2 on the samples ``idx``."""
        c = self.loss_cfg
        img, K = batch["image"][idx], batch["K"][idx]
        R, t, verts, alb = dec.R[idx], dec.t[idx], dec.vertices[idx], dec.albedo[idx]
        rgb, mask = render_face(self.face, verts, R, t, K, self.size, albedo=alb, sh=params.sh[idx])
        l1 = photometric_loss(rgb, img, mask)
        target = self._landmark_targets(img)
        l2 = landmark_loss(project_points(self.face.landmarks(verts), R, t, K), target, size=self.size)
        self.log(f"{stage}/photo", l1)
        self.log(f"{stage}/landmark", l2)
        return c.photo * l1 + c.landmark * l2

    def _labelled(self, batch: dict, params, dec, idx: Tensor, stage: str) -> Tensor:
        """L3-L6 on the samples ``idx`` (their label meshes aligned onto the predictions first)."""
        c = self.loss_cfg
        fm = self.face
        img, K = batch["image"][idx], batch["K"][idx]
        R, t, verts, alb = dec.R[idx], dec.t[idx], dec.vertices[idx], dec.albedo[idx]
        label, scale, *_ = align_label(batch["vertices"][idx], verts.detach(), fm.landmark_vertices, self.keypoints,
                                       icp_iters=c.icp_iters)
        w = fm.face_vertices.to(verts.dtype)
        # in the label's units: the alignment's scale follows the prediction's size, so a distance
        # in the prediction's units would reward shrinking the face
        l3 = vertex_loss(verts / scale[:, None, None], label / scale[:, None, None], w)
        l4 = normal_loss(fm.normals(verts), fm.normals(label), w)
        rgb, mask = render_face(fm, label, R, t, K, self.size, albedo=alb, sh=params.sh[idx])
        l5 = photometric_loss(rgb, img, mask)
        l6 = landmark_loss(project_points(fm.landmarks(label), R, t, K), batch["landmarks"][idx], batch["visibility"][idx],
                           size=self.size)
        for name, v in (("vertex", l3), ("normal", l4), ("label_photo", l5), ("label_landmark", l6)):
            self.log(f"{stage}/{name}", v)
        return c.vertex * l3 + c.normal * l4 + c.label_photo * l5 + c.label_landmark * l6

    def _step(self, batch: dict, stage: str) -> Tensor:
        if self.stage == 0:
            loss = self._stage0(batch, stage)
        else:
            params = self.model(batch["image"])
            dec = decode(self.face, params, batch["K"], self.size)
            has = batch["has_mesh"]
            loss = self.loss_cfg.prior * coefficient_prior(params.identity, params.expression, params.albedo)
            unl, lab = torch.nonzero(~has).squeeze(1), torch.nonzero(has).squeeze(1)
            if self.stage in (1, 3) and len(unl):
                loss = loss + self._unlabelled(batch, params, dec, unl, stage)
            if self.stage in (2, 3) and len(lab):
                loss = loss + self._labelled(batch, params, dec, lab, stage)
        self.log(f"{stage}/loss", loss, prog_bar=stage == "train")
        return loss

    # ------------------------------------------------------------------ loop

    def training_step(self, batch, batch_idx):
        if self.stage > 0:
            self.model.landmarks.eval()  # frozen detector: its batch-norm statistics stay put
        if self.stage == 3:
            self._maybe_adjust()
            self.log("train/ratio", float(self.ratio.ratio))
        return self._step(batch, "train")

    def _maybe_adjust(self) -> None:
        m = self.mix_cfg
        step = int(self.global_step)
        if not m.dynamic or step == 0 or step % m.adjust_every or self.targets is None:
            return
        sim = float(self.target_similarity().mean())
        if self.ratio.update(step, sim):
            self._write_adjustments()

    @torch.no_grad()
    def target_similarity(self) -> Tensor:
        """(N,) SSIM of the reconstructions of the target images against them (face region)."""
        was = self.model.training
        self.model.eval()
        b = {k: v.to(self.device) for k, v in self.targets.items()}
        params = self.model(b["image"])
        dec = decode(self.face, params, b["K"], self.size)
        rgb, mask = render_face(self.face, dec.vertices, dec.R, dec.t, b["K"], self.size, albedo=dec.albedo, sh=params.sh)
        self.model.train(was)
        return face_ssim(rgb * mask[:, None] + b["image"] * (1 - mask[:, None]), b["image"], mask)

    def _write_adjustments(self) -> None:
        log_dir = self.trainer.log_dir if self.trainer is not None else None
        if log_dir and self.trainer.is_global_zero:
            path = Path(log_dir) / "ratio_adjustments.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps([asdict(a) for a in self.ratio.history], indent=1) + "\n")

    def on_train_start(self) -> None:
        if self.stage == 3 and self.trainer.datamodule is not None:
            val = self.trainer.datamodule.val
            n = min(self.mix_cfg.n_targets, len(val))
            items = [val[i] for i in range(n)]
            self.targets = {k: torch.stack([it[k] for it in items]) for k in ("image", "K")}

    def validation_step(self, batch, batch_idx):
        img = batch["image"]
        lm = self.model.landmarks(img).landmarks
        iod = interocular(batch["landmarks"]).clamp(min=1e-6)
        nme = ((lm - batch["landmarks"]).norm(dim=-1) * batch["visibility"]).sum(1) / batch["visibility"].sum(1).clamp(min=1)
        self.log("val/detector_nme", (nme / iod).mean() * 100)
        if self.stage == 0:
            self.log("val/loss", self._stage0(batch, "val"))
            return
        params = self.model(img)
        dec = decode(self.face, params, batch["K"], self.size)
        self.log("val/face_mm", face_error_mm(self.face, dec.vertices, batch["vertices"], self.keypoints).mean())
        proj = project_points(self.face.landmarks(dec.vertices), dec.R, dec.t, batch["K"])
        self.log("val/recon_nme", ((proj - batch["landmarks"]).norm(dim=-1).mean(1) / iod).mean() * 100)
        rgb, mask = render_face(self.face, dec.vertices, dec.R, dec.t, batch["K"], self.size, albedo=dec.albedo, sh=params.sh)
        self.log("val/ssim", face_ssim(rgb * mask[:, None] + img * (1 - mask[:, None]), img, mask).mean())
        self.log("val/loss", self._step(batch, "val") if self.stage != 2 else self._val_labelled(batch, params, dec))

    def _val_labelled(self, batch, params, dec) -> Tensor:
        idx = torch.arange(batch["image"].shape[0], device=batch["image"].device)
        return self._labelled(batch, params, dec, idx, "val")

    def configure_optimizers(self):
        part = self.model.landmarks if self.stage == 0 else self.model.recon
        opt = torch.optim.Adam([p for p in part.parameters() if p.requires_grad], lr=self.optim_cfg.lr,
                               weight_decay=self.optim_cfg.weight_decay)
        total = max(1, self.total_steps)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total)) * 0.95 + 0.05)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
