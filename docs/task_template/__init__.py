"""mytask: the template of a vivid task folder (see docs/adding_a_task.md).

Copy this folder to ``vivid/<name>/``, replace ``mytask`` by the task's name, and add one row to
``vivid/core/tasks.py``. The model here maps an image to its mean colour: small enough to read,
complete enough to train, export, apply and demo.
"""
