"""Parts shared by every vivid task: I/O, geometry, rendering, metrics, training, checkpoints."""
