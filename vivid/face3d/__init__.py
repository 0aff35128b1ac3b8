"""face3d: a 3D face (mesh, pose, SH lighting, ARKit-52 expression weights) from one image.

A CNN predicts the coefficients of a morphable face model built from vivid's head model
(:mod:`vivid.face3d.facemodel`), a head pose and SH lighting; the face is rendered through
:mod:`vivid.core.render`. Training has three stages (:mod:`vivid.face3d.module`): self-supervised
on unlabelled images (photometric + landmarks), supervised on a few images with 3D meshes (the
label aligned onto the prediction every step), then mixed batches at a ratio set from the labels'
quality and raised when reconstructions look unlike their images. A small heatmap network
(:class:`vivid.face3d.model.LandmarkNet`) gives the 68 landmarks, alone or for the reconstruction.
"""
