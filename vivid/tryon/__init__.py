"""tryon: video virtual try-on with multi-scale patch dual-stream transformer (MPDT) blocks.

A person video and a flat garment photo in, a try-on video out. The person video gives the pose
image sequence (joint keypoint maps and dense body-part maps) and the background sequence (the
try-on region set to a constant); a warping module deforms the flat garment to each frame; the
generator attends, for every query patch of the pose features, over the garment and background
patches of all frames at four patch scales, and decodes an initial try-on sequence and a garment
mask, which are composited with the warped garment and the background. See ``docs/tryon.md``.
"""
