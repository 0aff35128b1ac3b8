"""Defaults of the interpolation tools, in a module that imports nothing heavy (the command line
reads them to build its options before any model code is loaded)."""

DEFAULT_MODEL = "interp-default"
# Frames larger than DEFAULT_TILE pixels run in tiles overlapping by DEFAULT_OVERLAP (feathered).
DEFAULT_TILE = 768
DEFAULT_OVERLAP = 64
