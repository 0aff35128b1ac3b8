"""vivid: a PyTorch toolkit for human-centric video and 3D models.

Subpackages: ``vivid.core`` (video I/O, geometry, rendering, body model, metrics, training
harness, checkpoints), ``vivid.synth`` (synthetic data), and one package per task
(``vivid.interp``, ``vivid.pose3d``).
"""

__version__ = "0.1.0"
