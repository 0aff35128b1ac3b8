"""people: find the people in images and video.

A small CenterNet-style person detector (:mod:`~vivid.people.model`, applied by
:class:`~vivid.people.detector.PersonDetector`) trained on synthetic composites (rendered people
cut out and pasted over real background photos, :mod:`~vivid.people.data`), OpenCV's HOG people
detector as a fallback and baseline (:func:`~vivid.people.detector.hog_detector`), and an IoU
tracker that links boxes over the frames of a video into one track per person
(:mod:`~vivid.people.tracker`). Every human task may import this package; it imports no task package.
"""
