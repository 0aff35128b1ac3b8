"""bodyvid: smooth 3D body meshes from video (``vivid body``).

Short sequences of person crops go through a per-frame CNN (the feature extraction layer), a
motion enhancement layer across the frames of each sequence, a spatial enhancement layer across
channel groups, their fusion and a per-frame regressor of Anny body parameters; a velocity loss
supervises each sequence's motion. Exports: per-frame JSON, overlay video, OBJ/PLY, glTF (GLB)
with skeleton, skinning and root motion, and BVH. See docs/bodyvid.md.
"""
