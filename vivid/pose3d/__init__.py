"""3D human pose from one image with mixed 2D/3D supervision, joint angles and coaching prompts.

Files, one step of the method each:

- ``model.py``: Pose3DNet, a small encoder-decoder with J=17 heatmap and J depth-map channels
  (registry: ``pose3d_tiny``, ``pose3d_small96``, ``pose3d_default``, ``pose3d_large``);
- ``coords.py``: soft-argmax (or argmax) 2D joints, heatmap-weighted depth read-out, root depth
  from reference bone lengths, back-projection with K, root-relative joints;
- ``bones.py``: the H36M-17 skeleton, bone sets of the geometric loss, reference bone lengths;
- ``losses.py``: heatmap, 2D Euclidean, geometric (bone-length ratio) and depth losses;
- ``data.py``: synthetic crops (with the 2D-only flag), Human3.6M (VideoPose3D npz), COCO JSON;
- ``module.py`` / ``recipe.py`` / ``presets/``: training (``vivid train pose3d``);
- ``angles.py`` / ``coach.py`` / ``rules/``: action parameters and YAML coaching rules;
- ``presence.py``: the person confidence (is there a person?) and its threshold;
- ``people.py``: the optional person detector and tracker (:mod:`vivid.people`), boxes, ``--person``;
- ``smoothing.py``: the one-euro filter along each person's track on video;
- ``apply.py`` / ``cli.py``: inference and ``vivid pose IN -o OUT.json [--coach squat] [--overlay OUT.mp4]
  [--person N | --box x0,y0,x1,y1] [--no-smooth]``;
- ``demo.py``: the ``vivid demo`` section.
"""
