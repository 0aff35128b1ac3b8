"""The recipe: typed config -> (LightningModule, DataModule) for ``vivid train face3d``.

``stage=0|1|2|3`` picks the stage (see :mod:`vivid.face3d.module`); ``init=`` the previous
stage's checkpoint continues from it. Stage 3's starting ratio comes from the labels' quality
(``mix.ratio=auto``): synthetic meshes are exact (0 mm), the registered scan's renders carry its
registration residual.
"""

from __future__ import annotations

from vivid.core.errors import VividError
from vivid.core.registry import create_model
from vivid.core.train import Recipe
from vivid.face3d.config import Face3DConfig
from vivid.face3d.data import SCAN_PATH, SHARED_FACES, Face3DDataModule, resolve_auto
from vivid.face3d.facemodel import face_model
from vivid.face3d.module import Face3DModule
from vivid.face3d.ratio import DynamicRatio, label_quality, ratio_from_quality

CONFIG = Face3DConfig


def build_recipe(cfg: Face3DConfig) -> Recipe:
    model = create_model(cfg.model, **cfg.model_config)
    fm = face_model()
    if model.recon.n_identity != fm.n_identity:
        raise VividError(f"model_config.n_identity {model.recon.n_identity} differs from the face model's {fm.n_identity}")
    d = cfg.data
    scan_views, scan_residual = None, None
    scan = resolve_auto(d.scan, SCAN_PATH)
    if cfg.stage in (2, 3) and d.n_scan_views > 0 and scan:
        from vivid.face3d.scan import scan_label_views

        scan_views, scan_residual = scan_label_views(scan, d.n_scan_views, size=model.input_size, seed=d.seed,
                                                     cache_dir=d.cache_dir)
    residuals = [0.0] * d.n_labelled + ([scan_residual] * d.n_scan_views if scan_views is not None else [])
    quality = label_quality(residuals)
    auto_ratio = ratio_from_quality(quality, tuple(cfg.mix.quality_thresholds))
    start = float(auto_ratio if cfg.mix.ratio == "auto" else cfg.mix.ratio)
    ratio = DynamicRatio(ratio=start, threshold=cfg.mix.threshold)
    datamodule = Face3DDataModule(d, size=model.input_size, stage=cfg.stage, n_vertices=fm.num_vertices, ratio=ratio, landmark_net=model.landmarks,
                                  scan_views=scan_views)
    module = Face3DModule(model, face=fm, stage=cfg.stage, loss=cfg.loss, optim=cfg.optim, mix=cfg.mix,
                          total_steps=cfg.trainer.max_steps, ratio=ratio)
    real = resolve_auto(d.real_dir, SHARED_FACES)
    pools = {0: f"{d.n_landmark} landmark images (+ as many non-face crops)",
             1: f"{d.n_unlabelled} unlabelled synthetic images" + (f" + real portraits of {real} except {d.real_holdout}" if real else ""),
             2: f"{d.n_labelled} labelled synthetic images" + (f" + {d.n_scan_views} renders of the registered scan {scan}" if scan_views is not None else ""),
             3: "both of stages 1 and 2, mixed"}  # fmt: skip
    description = (f"face3d stage {cfg.stage}: vivid synth face crops at {model.input_size}px from {d.render_size}px renders; "
                   f"{pools[cfg.stage]}; {d.n_val} val")
    details = {"stage": cfg.stage, "face_model": {"n_identity": fm.n_identity, "explained_variance": float(fm.explained)},
               "label_quality_mm": quality, "quality_ratio": auto_ratio, "start_ratio": start,
               "scan_residual_mm": scan_residual, "real_dir": real, "real_holdout": list(d.real_holdout)}
    return Recipe(task="face3d", module=module, datamodule=datamodule, model_name=cfg.model, data_description=description,
                  data_details=details)
