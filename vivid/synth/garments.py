"""Garments with their own geometry for the ``tryon`` kind: shells that change the silhouette.

A garment is a mesh of its own, drawn over the body:

* ``top`` and ``shirt`` (upper body): an offset shell of the body's faces over the torso and the
  upper arms (a loose shirt sits further out and reaches lower, over the hips), each shell vertex
  moved with its body vertex along the posed normal, so it is skinned exactly like the body;
* ``skirt`` (lower body) and ``dress`` (full body): a flared cone of rings around the hips and
  both legs (a dress adds the torso shell above the waist). Each cone vertex is bound to its
  nearest rest-pose body vertices and follows their best rigid motion (a per-vertex Kabsch fit),
  so the cone swings with the legs without following each leg on its own.

Textures are cut from real garment photos (the central part of a photo, where the fabric is)
when a photo folder is given, else procedural (:func:`vivid.synth.appearance.garment_texture`).
The flat garment image is the same garment mesh in its rest pose, seen from the front under
flat light on white, as a shop photo shows it.

:class:`GarmentPairs` renders a try-on pair with such garments: ``TryonScenes.garments`` set to an
instance switches the ``tryon`` kind from garments painted on the skin to these.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vivid.core.errors import VividError
from vivid.core.fileio import to_uint8
from vivid.core.geometry import world_to_camera
from vivid.core.render import render, vertex_normals
from vivid.synth import appearance as app
from vivid.synth.flow import surface_flow
from vivid.synth.labels import body_params, frame_labels
from vivid.synth.samples import FrameLabels, TryonSample

__all__ = ["SHAPES", "CATEGORIES", "GarmentShape", "GarmentMesh", "GarmentTryonSample", "GarmentPairs",
           "build_garment", "pose_garment", "fabric_from_photo", "load_garment_photos"]

SHAPES = ("top", "shirt", "skirt", "dress")
CATEGORIES = {"upper": ("top", "shirt"), "lower": ("skirt",), "full": ("dress",)}
_PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


def category_of(shape: str) -> str:
    """``upper``, ``lower`` or ``full`` for a garment shape."""
    for cat, shapes in CATEGORIES.items():
        if shape in shapes:
            return cat
    raise VividError(f"unknown garment shape {shape!r}; use one of {', '.join(SHAPES)}")


@dataclass(frozen=True)
class GarmentShape:
    """The cut of a garment: ``shape`` one of :data:`SHAPES`; ``offset`` metres off the skin;
    ``hem`` where it ends (tops: metres below the hip joints, negative above; skirts and dresses:
    fraction of the way from the hips to the ankles); ``flare`` widening of a cone at the hem
    (fraction of its radius); ``sleeve`` (tops) fraction of the upper arm covered."""

    shape: str
    offset: float
    hem: float
    flare: float = 0.0
    sleeve: float = 0.5

    @classmethod
    def sample(cls, rng: np.random.Generator, shape: str) -> GarmentShape:
        if shape == "top":
            return cls(shape, rng.uniform(0.008, 0.016), rng.uniform(-0.06, 0.0), sleeve=rng.uniform(0.3, 0.6))
        if shape == "shirt":
            return cls(shape, rng.uniform(0.025, 0.045), rng.uniform(0.05, 0.12), sleeve=rng.uniform(0.6, 1.0))
        if shape == "skirt":
            return cls(shape, 0.02, rng.uniform(0.3, 0.6), flare=rng.uniform(0.1, 0.5))
        if shape == "dress":
            return cls(shape, 0.015, rng.uniform(0.35, 0.7), flare=rng.uniform(0.1, 0.5), sleeve=rng.uniform(0.0, 0.4))
        raise VividError(f"unknown garment shape {shape!r}; use one of {', '.join(SHAPES)}")


@dataclass
class GarmentMesh:
    """A garment mesh in the body's rest frame.

    Attributes:
        rest: (G, 3) rest-pose vertices; faces: (Fg, 3) int64; uv: (U, 2) texture coordinates
            indexed by uv_faces (Fg, 3) (u around the body, 0.5 at the front centre, halved for a
            texture tiled twice; v up);
        shell: (G,) int64 body vertex each shell vertex moves with (-1 for cone vertices);
        offset: (G,) metres along that vertex's normal;
        bind: (G, K) int64 rest body vertices a cone vertex follows; parts: (Fg,) int64 body part
            under each face (:data:`vivid.core.body.PART_NAMES`); shape: its cut.
    """

    rest: torch.Tensor
    faces: torch.Tensor
    uv: torch.Tensor
    uv_faces: torch.Tensor
    shell: torch.Tensor
    offset: torch.Tensor
    bind: torch.Tensor
    parts: torch.Tensor
    shape: GarmentShape


def _part_ids(*names: str) -> torch.Tensor:
    from vivid.core.body import PART_NAMES

    return torch.tensor([PART_NAMES.index(n) for n in names])


def _rest(kit) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
    """Rest vertices (V, 3), vertex parts (V,) and landmark heights of the body kit (cached)."""
    if not hasattr(kit, "_garment_rest"):
        with torch.no_grad():
            rest = kit.model().vertices[0].cpu().float()
        heights = {b: float(kit.rig.heads[kit.rig.index(b), 2]) for b in ("upperleg01.L", "upperarm01.L", "lowerleg01.L", "foot.L")}
        kit._garment_rest = (rest, kit.model.vertex_parts.cpu(), heights)
    return kit._garment_rest


def _shell(kit, cut: GarmentShape, z_low: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Body faces of the torso (above ``z_low``) and the upper arms (the first ``cut.sleeve`` of
    them): (Fs, 3) faces and the (Fs,) part of each."""
    rest, parts, heights = _rest(kit)
    arms = _part_ids("left_upper_arm", "right_upper_arm")
    torso = parts == int(_part_ids("torso")[0])
    keep = torso & (rest[:, 2] > z_low)
    x_sh = rest[torch.isin(parts, arms), 0].abs().min()  # where the upper arm starts
    x_arm = rest[torch.isin(parts, arms), 0].abs().max()
    reach = x_sh + cut.sleeve * 0.55 * (x_arm - x_sh)  # the upper arm is roughly the inner 55 %
    keep |= torch.isin(parts, arms) & (rest[:, 0].abs() < reach)
    if cut.shape == "shirt":  # a loose shirt covers the top of the thighs too
        legs = torch.isin(parts, _part_ids("left_upper_leg", "right_upper_leg"))
        keep |= legs & (rest[:, 2] > z_low)
    faces = kit.faces[keep[kit.faces].all(1)]
    return faces, parts[faces[:, 0]]


def _cone(kit, cut: GarmentShape, z_top: float, n_u: int = 40, n_v: int = 12) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A flared elliptic cone around hips and legs from ``z_top`` down to the hem: rest vertices
    ((n_v + 1) * (n_u + 1), 3), faces and uv (the seam column doubled so u runs 0..1)."""
    rest, parts, heights = _rest(kit)
    z_hip, z_foot = heights["upperleg01.L"], heights["foot.L"]
    z_hem = z_hip - cut.hem * (z_hip - z_foot)
    body = torch.isin(parts, _part_ids("torso", "left_upper_leg", "right_upper_leg", "left_lower_leg", "right_lower_leg"))
    pts = rest[body]
    rings = []
    for k in range(n_v + 1):
        z = z_top + (z_hem - z_top) * k / n_v
        band = pts[(pts[:, 2] - z).abs() < 0.03]
        band = band if len(band) >= 8 else pts[(pts[:, 2] - z).abs().argsort()[:32]]
        cx, cy = float(band[:, 0].mean()), float(band[:, 1].mean())
        rx = float((band[:, 0] - cx).abs().max()) + cut.offset
        ry = float((band[:, 1] - cy).abs().max()) + cut.offset
        grow = 1.0 + cut.flare * k / n_v
        u = torch.linspace(0, 1, n_u + 1)
        a = (u - 0.5) * 2 * math.pi  # u = 0.5 at the front (-y)
        rings.append(torch.stack([cx + rx * grow * torch.sin(a), cy - ry * grow * torch.cos(a), torch.full_like(u, z)], -1))
    verts = torch.cat(rings)
    i = torch.arange(n_v)[:, None] * (n_u + 1) + torch.arange(n_u)[None]
    i = i.reshape(-1)
    # outward (counter-clockwise seen from outside) winding
    faces = torch.cat([torch.stack([i, i + n_u + 1, i + 1], 1), torch.stack([i + 1, i + n_u + 1, i + n_u + 2], 1)])
    u = torch.linspace(0, 1, n_u + 1).repeat(n_v + 1)
    v = 1.0 - torch.arange(n_v + 1).repeat_interleave(n_u + 1).float() / n_v
    return verts, faces, torch.stack([u, v], -1)


def build_garment(kit, cut: GarmentShape, *, neighbours: int = 8) -> GarmentMesh:
    """The garment mesh of a cut on the kit's body (rest frame); see the module docstring."""
    from vivid.synth.kit import seamless_uv

    rest, parts, heights = _rest(kit)
    z_hip = heights["upperleg01.L"]
    pieces = []  # (verts, faces, uv table, uv faces, body vertex of each shell vertex, face parts)
    if cut.shape in ("top", "shirt", "dress"):
        z_low = z_hip - cut.hem if cut.shape != "dress" else z_hip + 0.06
        faces, fparts = _shell(kit, cut, z_low)
        used = torch.unique(faces)
        remap = torch.full((rest.shape[0],), -1, dtype=torch.int64)
        remap[used] = torch.arange(len(used))
        local = remap[faces]
        table, uv_faces = seamless_uv(kit.uv[used], local)  # halved u, seam corners split
        pieces.append((rest[used], local, table, uv_faces, used, fparts))
    if cut.shape in ("skirt", "dress"):
        verts, faces, uv = _cone(kit, cut, z_hip + 0.06)
        cparts = torch.where(verts[faces[:, 0], 2] > z_hip, 2, 9).long()  # torso above the hips, else the thighs
        pieces.append((verts, faces, uv * torch.tensor([0.5, 1.0]), faces, torch.full((len(verts),), -1), cparts))
    all_v, all_f, all_uv, all_uvf, all_s, all_p = [], [], [], [], [], []
    n = n_uv = 0
    for verts, faces, table, uv_faces, shell, fparts in pieces:
        all_v.append(verts)
        all_f.append(faces + n)
        all_uv.append(table)
        all_uvf.append(uv_faces + n_uv)
        all_s.append(shell)
        all_p.append(fparts)
        n, n_uv = n + len(verts), n_uv + len(table)
    rest_g = torch.cat(all_v)
    shell = torch.cat(all_s)
    offset = torch.where(shell >= 0, torch.tensor(cut.offset), torch.tensor(0.0))
    # cone vertices follow their nearest torso and leg vertices
    allowed = torch.isin(parts, _part_ids("torso", "left_upper_leg", "right_upper_leg", "left_lower_leg", "right_lower_leg"))
    cand = torch.nonzero(allowed).squeeze(1)
    d = torch.cdist(rest_g, rest[cand])
    bind = cand[d.topk(neighbours, largest=False).indices]
    return GarmentMesh(rest_g, torch.cat(all_f), torch.cat(all_uv), torch.cat(all_uvf), shell, offset, bind,
                       torch.cat(all_p), cut)


def _kabsch(src: torch.Tensor, dst: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Best rotation (..., 3, 3) and translation (..., 3) with ``dst ~ R src + t`` for point sets
    (..., K, 3) (the Kabsch algorithm; no reflection)."""
    ms, md = src.mean(-2, keepdim=True), dst.mean(-2, keepdim=True)
    H = (src - ms).transpose(-1, -2) @ (dst - md)
    U, _, Vh = torch.linalg.svd(H)
    d = torch.sign(torch.det(Vh.transpose(-1, -2) @ U.transpose(-1, -2)))
    D = torch.diag_embed(torch.stack([torch.ones_like(d), torch.ones_like(d), d], -1))
    R = Vh.transpose(-1, -2) @ D @ U.transpose(-1, -2)
    t = md.squeeze(-2) - (R @ ms.squeeze(-2)[..., None])[..., 0]
    return R, t


def pose_garment(mesh: GarmentMesh, body_rest: torch.Tensor, body_posed: torch.Tensor, body_faces: torch.Tensor) -> torch.Tensor:
    """Garment vertices (T, G, 3) for posed body vertices (T, V, 3): shell vertices on their body
    vertex plus ``offset`` along its posed normal, cone vertices by their binding's rigid fit."""
    T = body_posed.shape[0]
    out = torch.empty(T, mesh.rest.shape[0], 3)
    sh = mesh.shell >= 0
    if sh.any():
        normals = vertex_normals(body_posed.contiguous(), body_faces)
        idx = mesh.shell[sh]
        out[:, sh] = body_posed[:, idx] + mesh.offset[sh][None, :, None] * normals[:, idx]
    cone = ~sh
    if cone.any():
        bind = mesh.bind[cone]
        src = body_rest[bind].double()[None].expand(T, -1, -1, -1)
        dst = body_posed[:, bind].double()
        R, t = _kabsch(src, dst)
        out[:, cone] = ((R @ mesh.rest[cone].double()[None, :, :, None])[..., 0] + t).float()
    return out


def fabric_from_photo(photo: np.ndarray, size: int = 128) -> torch.Tensor:
    """A fabric texture (3, size, size) in [0, 1] from the centre of a garment photo uint8 (H, W, 3)
    (product photos put the garment in the middle), mirrored across so that it wraps without a seam."""
    if photo.ndim != 3 or photo.shape[2] != 3:
        raise VividError(f"a garment photo must be RGB (H, W, 3), got {photo.shape}")
    h, w = photo.shape[:2]
    crop = photo[int(0.3 * h) : int(0.7 * h), int(0.3 * w) : int(0.7 * w)]
    t = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1).float()[None] / 255.0
    half = F.interpolate(t, size=(size, size // 2), mode="bilinear", align_corners=False)[0]
    return torch.cat([half, half.flip(-1)], -1).clamp(0, 1)


def load_garment_photos(folder: str | Path, max_side: int = 256) -> list[tuple[np.ndarray, str]]:
    """Garment photos under ``folder`` (any depth) as uint8 (H, W, 3) with their class (the parent
    folder's name), sorted by path."""
    from PIL import Image

    folder = Path(folder)
    if not folder.is_dir():
        raise VividError(f"garment photo folder {folder} does not exist")
    out = []
    for p in sorted(folder.rglob("*")):
        if p.suffix.lower() in _PHOTO_SUFFIXES:
            try:
                with Image.open(p) as im:
                    im = im.convert("RGB")
                    im.thumbnail((max_side, max_side))
                    out.append((np.asarray(im, dtype=np.uint8).copy(), p.parent.name))
            except OSError as err:
                raise VividError(f"cannot read garment photo {p}: {err}") from err
    if not out:
        raise VividError(f"garment photo folder {folder} holds no images")
    return out


# photo classes that suit each category (others are used by any category)
_PHOTO_CLASSES = {"upper": ("t-shirt", "shirt", "longsleeve", "outwear"), "lower": ("skirt", "pants", "shorts"), "full": ("dress",)}


@dataclass(kw_only=True, eq=False)
class GarmentTryonSample(TryonSample):
    """A try-on pair with garment geometry: the fields of :class:`TryonSample` (masks of each
    render are its own: the garments change the outline) and what the two renders do not share."""

    mask_b: np.ndarray
    """bool (T, H, W): the person wearing garment B."""
    parts_b: np.ndarray
    """uint8 (T, H, W): body parts seen with garment B."""
    flow_fw: np.ndarray
    """float32 (T-1, H, W, 2): flow from frame k to k+1 of the render with garment A, pixels."""
    flow_fw_valid: np.ndarray
    """bool (T-1, H, W)."""
    flow_fw_b: np.ndarray
    """float32 (T-1, H, W, 2): the same with garment B."""
    flow_fw_b_valid: np.ndarray
    """bool (T-1, H, W)."""
    category: np.ndarray
    """int64 (): index of the pair's category in ``("upper", "lower", "full")``."""
    shapes: np.ndarray
    """int64 (2,): indices of garments A and B in :data:`SHAPES`."""


class GarmentPairs:
    """Renders try-on pairs whose garments have geometry (see the module docstring).

    Args:
        photos: garment photos (:func:`load_garment_photos`) for the textures, or None for
            procedural ones.
        categories: categories to draw from; both garments of a pair share one.
    """

    def __init__(self, photos: list[tuple[np.ndarray, str]] | None = None, categories: tuple[str, ...] = ("upper", "lower", "full")) -> None:
        bad = [c for c in categories if c not in CATEGORIES]
        if bad or not categories:
            raise VividError(f"unknown garment categories {bad or list(categories)}; use upper, lower or full")
        self.photos, self.categories = photos, tuple(categories)
        self._fabric: dict[int, torch.Tensor] = {}

    def _texture(self, scenes, rng: np.random.Generator, category: str) -> torch.Tensor:
        if not self.photos:
            return scenes._garment(rng)[0]
        fits = [i for i, (_, cls) in enumerate(self.photos) if cls in _PHOTO_CLASSES[category]] or list(range(len(self.photos)))
        j = fits[int(rng.integers(len(fits)))]
        if j not in self._fabric:
            self._fabric[j] = fabric_from_photo(self.photos[j][0])
        return self._fabric[j]

    def _albedo(self, scenes, look, category: str) -> torch.Tensor:
        """Body albedo under a garment of ``category``: a plain base top under skirts, bare legs under
        skirts and dresses."""
        kit = scenes.kit
        legs_skin = category in ("lower", "full")
        albedo = kit.vertex_albedo(look.skin, look.skin if legs_skin else look.trousers, look.shoes, look.hair,
                                   look.long_legs and not legs_skin)
        if category == "lower":
            top = np.clip(look.trousers[::-1] * 1.3 + 0.1, 0, 1)
            vmask = torch.zeros(albedo.shape[0], dtype=torch.bool)
            vmask[kit.faces[kit.garment_faces].reshape(-1)] = True
            albedo[vmask] = torch.tensor(top, dtype=torch.float32)
        return albedo

    def _render(self, scenes, clip, vc_body, albedo, mesh: GarmentMesh, texture: torch.Tensor):
        """Body and garment as one mesh: frames, the garment's camera-frame vertices, the faces."""
        from vivid.synth.body_scenes import Frames

        kit, c = scenes.kit, scenes.cfg
        cam = clip.camera
        rest, _, _ = _rest(kit)
        gw = pose_garment(mesh, rest, clip.verts, kit.faces)
        gc = world_to_camera(gw, cam.R, cam.t)
        V = vc_body.shape[1]
        verts = torch.cat([vc_body, gc], 1)
        faces = torch.cat([kit.faces, mesh.faces + V])
        uv = torch.cat([torch.zeros(1, 2), mesh.uv])
        uv_faces = torch.cat([torch.zeros_like(kit.faces), mesh.uv_faces + 1])
        textured = torch.cat([torch.zeros(len(kit.faces), dtype=torch.bool), torch.ones(len(mesh.faces), dtype=torch.bool)])
        alb = torch.cat([albedo, torch.full((len(mesh.rest), 3), 0.6)])
        T = verts.shape[0]
        tex = torch.cat([texture, texture], -1)[None].expand(T, -1, -1, -1)
        out = render(verts, faces, cam.K, c.height, c.width, albedo=alb, sh=torch.from_numpy(np.ascontiguousarray(clip.sh)).float(),
                     background=clip.backgrounds, face_labels=torch.cat([kit.face_parts, mesh.parts]), texture=tex,
                     uv=uv, uv_faces=uv_faces, texture_faces=textured, cull_backfaces=False)
        tri = out.triangle_id
        garment = tri >= len(kit.faces)
        return Frames(out.rgb.clamp(0, 1), tri, out.depth, out.labels, garment, out.rast), verts, faces

    def _flows(self, fr, verts, faces, K, shifts) -> tuple[np.ndarray, np.ndarray]:
        from vivid.synth.video_scenes import _single

        fw, valid = [], []
        for k in range(verts.shape[0] - 1):
            s = (shifts[k + 1] - shifts[k]).tolist()
            f, v = surface_flow(_single(fr.rast, k), faces, verts[k + 1], K[k + 1], _single(fr.rast, k + 1), bg_shift=(s[0], s[1]))
            fw.append(f)
            valid.append(v)
        return torch.stack(fw).numpy(), torch.stack(valid).numpy()

    def flat_image(self, scenes, mesh: GarmentMesh, texture: torch.Tensor, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """The garment laid flat: its rest-pose mesh seen from the front, flat light, on white.
        Returns uint8 (H, W, 3) and bool (H, W)."""
        v = mesh.rest
        lo, hi = v.aminmax(dim=0)
        centre = 0.5 * (lo + hi)
        dist = 20.0  # far away: nearly orthographic, like a photo of a garment on a table
        # front view: camera x = world x, camera y (down) = -world z, looking along +y
        R = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
        t = -(R @ centre) + torch.tensor([0.0, 0.0, dist])
        vc = (v @ R.T + t)[None]
        extent = max(float(hi[0] - lo[0]) / width, float(hi[2] - lo[2]) / height) * 1.1
        f = dist / extent
        K = torch.tensor([[f, 0.0, (width - 1) / 2], [0.0, f, (height - 1) / 2], [0.0, 0.0, 1.0]])
        sh = torch.zeros(1, 9, 3)
        sh[0, 0] = 1.0 / (0.5 * math.sqrt(1.0 / math.pi))  # ambient 1: flat light
        tex = torch.cat([texture, texture], -1)
        out = render(vc, mesh.faces, K, height, width, albedo=torch.full((len(v), 3), 0.6), sh=sh,
                     background=torch.ones(3), texture=tex, uv=mesh.uv, uv_faces=mesh.uv_faces, cull_backfaces=True)
        return to_uint8(out.rgb[0].clamp(0, 1)), (out.triangle_id[0] >= 0).numpy()

    def generate(self, scenes, i: int) -> GarmentTryonSample:
        """Sample ``i`` of the scenes (a :class:`vivid.synth.video_scenes.TryonScenes`)."""
        c, kit = scenes.cfg, scenes.kit
        rng = scenes._rng(i)
        clip = scenes._clip(rng)
        grng = np.random.default_rng([int(c.seed), int(i), 7])  # garments: their own stream
        category = self.categories[int(grng.integers(len(self.categories)))]
        shapes = CATEGORIES[category]
        cuts = [GarmentShape.sample(grng, shapes[int(grng.integers(len(shapes)))]) for _ in range(2)]
        meshes = [build_garment(kit, cut) for cut in cuts]
        textures = [self._texture(scenes, grng, category) for _ in range(2)]
        cam = clip.camera
        vc = world_to_camera(clip.verts, cam.R, cam.t)
        jc, cc = world_to_camera(clip.h36m, cam.R, cam.t), world_to_camera(clip.coco, cam.R, cam.t)
        albedo = self._albedo(scenes, clip.look, category)
        renders = [self._render(scenes, clip, vc, albedo, m, tx) for m, tx in zip(meshes, textures)]
        (fa, va, faces_a), (fb, vb, faces_b) = renders
        labels = FrameLabels.stack([frame_labels(fa, k, vc, jc, cc, cam.K, cam.R, cam.t, kit) for k in range(c.frames)])
        flow_a, valid_a = self._flows(fa, va, faces_a, cam.K, clip.shifts)
        flow_b, valid_b = self._flows(fb, vb, faces_b, cam.K, clip.shifts)
        fh, fw = c.height, max(16, c.height * 3 // 4)
        flat = [self.flat_image(scenes, m, tx, fh, fw) for m, tx in zip(meshes, textures)]
        return GarmentTryonSample(
            **labels.to_arrays(),
            **body_params(clip.motion, clip.deltas, clip.phenotype, clip.sh).to_arrays(),
            image_b=to_uint8(fb.rgb),
            garment_mask_b=fb.garment.numpy(),
            flat_garment=flat[0][0],
            flat_garment_mask=flat[0][1],
            flat_garment_b=flat[1][0],
            flat_garment_b_mask=flat[1][1],
            background=to_uint8(clip.backgrounds),
            garment_kinds=np.array([0, 0]),
            mask_b=(fb.triangle_id >= 0).numpy(),
            parts_b=fb.parts.numpy().astype(np.uint8),
            flow_fw=flow_a,
            flow_fw_valid=valid_a,
            flow_fw_b=flow_b,
            flow_fw_b_valid=valid_b,
            category=np.array(("upper", "lower", "full").index(category)),
            shapes=np.array([SHAPES.index(cut.shape) for cut in cuts]),
        )
