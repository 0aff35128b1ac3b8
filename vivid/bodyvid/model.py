"""BodyVidNet: image sequences -> per-frame Anny body parameters and 3D joints.

The layers, in the order of the method (docs/bodyvid.md):

1. feature extraction layer (:class:`Backbone`, a small CNN per frame) -> the **first tensor**
   [B, C, S, H, W] (:func:`first_tensor` permutes a backbone's [B, S, C, H, W]);
2. motion enhancement layer and 3. spatial enhancement layer (:mod:`vivid.bodyvid.enhancement`);
4. fusion -> the dual enhanced feature;
5. regression layer (:mod:`vivid.bodyvid.regressors`) per frame -> rotations of the predicted
   bones, phenotype and camera; the joints come from Anny's skeleton
   (:class:`vivid.bodyvid.skeleton.AnnySkeleton`), the mesh from :class:`vivid.core.body.BodyModel`
   when asked for (exports).

With ``motion=False`` and ``spatial=False`` the network is the per-frame baseline: the same
backbone and regressor, nothing shared across frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from vivid.core.blocks import BasicBlock, ConvNormAct
from vivid.core.geometry import rotation_6d_to_matrix
from vivid.core.registry import register_model
from vivid.bodyvid.camera import CAMERAS
from vivid.bodyvid.enhancement import Fusion, MotionEnhancement, SpatialEnhancement
from vivid.bodyvid.regressors import INITIAL_SCALE, NUM_PHENOTYPE, FrameEncoder, make_regressor
from vivid.bodyvid.skeleton import NUM_BONES, AnnySkeleton

_PIXEL_MEAN, _PIXEL_STD = 0.5, 0.25
LAYOUTS = ("BCSHW", "BSCHW")
BACKBONES = ("plain", "pose3d")


@dataclass
class BodyVidOutput:
    """Per-frame predictions of B sequences of S frames.

    Attributes:
        rotations: (B, S, 24, 3, 3) rotations of :data:`vivid.bodyvid.skeleton.BONES` (the root's:
            the body's orientation in the camera frame).
        phenotype: (B, S, 6) in [0, 1]. camera: (B, S, 3) ``(s, tx, ty)`` (:mod:`vivid.bodyvid.camera`).
        joints3d: (B, S, 17, 3) H36M joints, camera axes, pelvis at the origin, metres.
    """

    rotations: Tensor
    phenotype: Tensor
    camera: Tensor
    joints3d: Tensor


def first_tensor(features: Tensor, layout: str = "BSCHW") -> Tensor:
    """Backbone features with five axes in ``layout`` -> the first tensor [B, C, S, H, W]."""
    if features.ndim != 5:
        raise ValueError(f"expected five-axis features, got {tuple(features.shape)}")
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    return features if layout == "BCSHW" else features.transpose(1, 2)


class Backbone(nn.Module):
    """Feature extraction layer: (N, 3, H, W) in [0, 1] -> (N, C, H / 2**k, W / 2**k), k = len(widths),
    C = widths[-1]: stride-2 conv stages, each followed by ``blocks[i]`` residual blocks."""

    def __init__(self, widths: list[int], blocks: list[int]) -> None:
        super().__init__()
        if len(widths) != len(blocks):
            raise ValueError("give one block count per backbone stage")
        stages, cin = [], 3
        for w, n in zip(widths, blocks):
            stages.append(nn.Sequential(ConvNormAct(cin, w, stride=2, norm="batch"), *[BasicBlock(w) for _ in range(n)]))
            cin = w
        self.stages = nn.Sequential(*stages)

    def forward(self, images: Tensor) -> Tensor:
        return self.stages((images - _PIXEL_MEAN) / _PIXEL_STD)


class Pose3DBackbone(nn.Module):
    """Feature extraction layer built from pose3d's network (:class:`vivid.pose3d.model.Pose3DNet`):
    its decoder features at 1/4 of the input together with its J joint heatmaps and J depth maps
    (the 2D positions of the joints, left and right told apart, and their depths: the cues of the
    body's pose and orientation), then one stride-2 conv stage to ``width`` channels at 1/8.
    ``net`` holds exactly Pose3DNet's weight names, so a pose3d checkpoint initialises it
    (:func:`init_backbone_from_pose3d`).

    (N, 3, H, W) in [0, 1] -> (N, width, H / 8, W / 8).
    """

    stride = 8

    def __init__(self, pose3d: dict, width: int) -> None:
        super().__init__()
        from vivid.pose3d.model import Pose3DNet

        self.net = Pose3DNet(**pose3d)
        self.down = ConvNormAct(self.net.config["head_width"] + 2 * self.net.num_joints, width, stride=2, norm="batch")

    def forward(self, images: Tensor) -> Tensor:
        f = self.net.features(images)
        return self.down(torch.cat([f, self.net.heatmap_head(f), self.net.depth_head(f)], 1))


def init_backbone_from_pose3d(model: "BodyVidNet", source: str) -> dict:
    """Load a pose3d checkpoint (bundled name or path) into ``model``'s :class:`Pose3DBackbone`.

    Every weight of the backbone's pose3d network must come from the checkpoint (same
    architecture). Returns the checkpoint's sidecar.
    """
    from vivid.core.checkpoints import load_checkpoint
    from vivid.core.errors import VividError

    if not isinstance(model.backbone, Pose3DBackbone):
        raise VividError("backbone_init needs model_config backbone: pose3d")
    pose, meta = load_checkpoint(source, task="pose3d")
    ours = model.backbone.net.state_dict()
    theirs = {k: v for k, v in pose.state_dict().items() if k in ours}
    bad = [k for k in ours if k not in theirs or theirs[k].shape != ours[k].shape]
    if bad:
        raise VividError(f"pose3d checkpoint {source} does not fit the backbone ({', '.join(bad[:3])})")
    model.backbone.net.load_state_dict(theirs)
    return meta


class BodyVidNet(nn.Module):
    """Sequences of person crops -> :class:`BodyVidOutput`.

    Args:
        input_size: crop side (pixels); must be divisible by 2**len(widths).
        seq_len: S, frames per sequence (the motion layer's channels).
        widths, blocks: backbone stages; C = widths[-1].
        backbone: "plain" (:class:`Backbone` of ``widths`` and ``blocks``) or "pose3d"
            (:class:`Pose3DBackbone`: pose3d's network of ``pose3d`` settings, then C = widths[-1]
            channels at 1/8; it can start from pose3d's bundled weights, ``backbone_init``).
        motion, spatial: use the motion / spatial enhancement layer.
        sub_channels, groups: the spatial layer's grouping (give one; default c = 8).
        motion_block, spatial_block: kernels and variants of each layer's block
            (:class:`vivid.bodyvid.enhancement.EnhancementBlock` keywords).
        fusion: "select" (the method), or "preliminary", "first", "second" (variants).
        residual: add the first tensor to the enhanced feature (keeps the per-frame evidence).
        regressor: "iterative", "graph" or "encoder_decoder"; features, hidden, iterations: its sizes.
        camera: "perspective" or "weak" (:mod:`vivid.bodyvid.camera`).
    """

    def __init__(self, *, input_size: int = 96, seq_len: int = 8, widths: list[int] | tuple[int, ...] = (16, 32, 48),
                 blocks: list[int] | tuple[int, ...] = (0, 1, 1), motion: bool = True, spatial: bool = True,
                 sub_channels: int | None = None, groups: int | None = None, motion_block: dict | None = None,
                 spatial_block: dict | None = None, fusion: str = "select", residual: bool = True,
                 regressor: str = "iterative", features: int = 256, hidden: int = 256, iterations: int = 3,
                 camera: str = "perspective", backbone: str = "plain", pose3d: dict | None = None) -> None:  # fmt: skip
        super().__init__()
        widths, blocks = list(widths), list(blocks)
        if backbone not in BACKBONES:
            raise ValueError(f"backbone must be one of {BACKBONES}, got {backbone!r}")
        stride = 2 ** len(widths) if backbone == "plain" else Pose3DBackbone.stride
        if input_size % stride:
            raise ValueError(f"input_size {input_size} must be divisible by {stride}")
        if seq_len < 2:
            raise ValueError(f"seq_len must be at least 2, got {seq_len}")
        if camera not in CAMERAS:
            raise ValueError(f"camera must be one of {CAMERAS}, got {camera!r}")
        if sub_channels is None and groups is None:
            sub_channels = min(8, widths[-1])
        motion_block, spatial_block = dict(motion_block or {}), dict(spatial_block or {})
        self.config = {
            "input_size": input_size, "seq_len": seq_len, "widths": widths, "blocks": blocks, "motion": motion,
            "spatial": spatial, "sub_channels": sub_channels, "groups": groups, "motion_block": motion_block,
            "spatial_block": spatial_block, "fusion": fusion, "residual": residual, "regressor": regressor,
            "features": features, "hidden": hidden, "iterations": iterations, "camera": camera,
        }  # fmt: skip
        if backbone != "plain":  # older checkpoints have neither key
            from vivid.pose3d.model import SMALL96

            pose3d = dict(SMALL96 if pose3d is None else pose3d, input_size=input_size)
            self.config.update(backbone=backbone, pose3d=pose3d)
        self.input_size, self.seq_len, self.camera = input_size, seq_len, camera
        C, h = widths[-1], input_size // stride
        self.channels, self.feature_size = C, h
        self.backbone = Backbone(widths, blocks) if backbone == "plain" else Pose3DBackbone(pose3d, C)
        self.motion = MotionEnhancement(seq_len, h, h, **motion_block) if motion else None
        self.spatial = (SpatialEnhancement(C, h, h, sub_channels=sub_channels, groups=groups, **spatial_block)
                        if spatial else None)  # fmt: skip
        self.fusion = Fusion(C, fusion) if motion and spatial else None
        self.residual = residual and (motion or spatial)
        self.encoder = FrameEncoder(C, h, h, features)
        self.regressor = make_regressor(regressor, features, hidden, iterations)
        self.skeleton = AnnySkeleton()

    @property
    def temporal(self) -> bool:
        """Whether frames of a sequence share information (False: the per-frame baseline)."""
        return self.motion is not None or self.spatial is not None

    def features(self, frames: Tensor) -> Tensor:
        """Feature extraction layer: frames (B, S, 3, H, W) -> first tensor [B, C, S, h, w]."""
        if frames.ndim != 5 or frames.shape[2] != 3:
            raise ValueError(f"frames must have shape (B, S, 3, H, W), got {tuple(frames.shape)}")
        B, S = frames.shape[:2]
        if S != self.seq_len:
            raise ValueError(f"this model takes sequences of {self.seq_len} frames, got {S}")
        f = self.backbone(frames.flatten(0, 1))
        return first_tensor(f.view(B, S, *f.shape[1:]), "BSCHW")

    def enhance(self, x: Tensor) -> Tensor:
        """First tensor -> dual enhanced feature (or one branch's, or ``x`` for the baseline), [B, C, S, h, w]."""
        m = self.motion(x) if self.motion is not None else None
        s = self.spatial(x) if self.spatial is not None else None
        if m is not None and s is not None:
            out = self.fusion(m, s)
        else:
            out = m if m is not None else s if s is not None else x
        return out + x if self.residual else out

    def regress(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """[B, C, S, h, w] -> rotations (B, S, 24, 3, 3), phenotype (B, S, 6), camera (B, S, 3)."""
        B, _, S = x.shape[:3]
        theta = self.regressor(self.encoder(x.transpose(1, 2).flatten(0, 1)))  # per frame: [(B S), C, h, w]
        rot = rotation_6d_to_matrix(theta[:, : NUM_BONES * 6].view(-1, NUM_BONES, 6))
        phen = theta[:, NUM_BONES * 6 : NUM_BONES * 6 + NUM_PHENOTYPE].sigmoid()
        cam = theta[:, NUM_BONES * 6 + NUM_PHENOTYPE :]
        cam = torch.cat([INITIAL_SCALE * cam[:, :1].exp(), cam[:, 1:]], -1)
        return rot.view(B, S, NUM_BONES, 3, 3), phen.view(B, S, -1), cam.view(B, S, 3)

    def forward(self, frames: Tensor) -> BodyVidOutput:
        """frames: (B, S, 3, H, W) float in [0, 1], H = W = input_size -> :class:`BodyVidOutput`."""
        rot, phen, cam = self.regress(self.enhance(self.features(frames)))
        B, S = rot.shape[:2]
        joints = self.skeleton(rot.flatten(0, 1), phen.flatten(0, 1)).view(B, S, -1, 3)
        return BodyVidOutput(rotations=rot, phenotype=phen, camera=cam, joints3d=joints)


TINY = dict(input_size=32, seq_len=4, widths=[8, 16, 16], blocks=[0, 0, 1], sub_channels=4, features=64, hidden=64)
DEFAULT = dict(input_size=96, seq_len=8, widths=[16, 32, 48], blocks=[0, 1, 1], sub_channels=8, features=256, hidden=256)
LARGE = dict(input_size=192, seq_len=16, widths=[32, 64, 96, 128], blocks=[1, 2, 2, 2], sub_channels=16, features=512,
             hidden=1024)  # fmt: skip


@register_model("bodyvid")
def bodyvid_tiny(**overrides) -> BodyVidNet:
    """Test-sized variant (32x32 crops, sequences of 4)."""
    return BodyVidNet(**{**TINY, **overrides})


@register_model("bodyvid")
def bodyvid_default(**overrides) -> BodyVidNet:
    """Bundled variant: 96x96 crops, sequences of 8, C = 48 at 12x12; fast on a CPU."""
    return BodyVidNet(**{**DEFAULT, **overrides})


@register_model("bodyvid")
def bodyvid_large(**overrides) -> BodyVidNet:
    """Wider and deeper variant for GPU training (192x192 crops, sequences of 16)."""
    return BodyVidNet(**{**LARGE, **overrides})
