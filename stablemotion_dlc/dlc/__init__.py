"""DeepLabCut data through the core (see ``docs/architecture.md``).

:mod:`.tracks` (the data model), :mod:`.io` (files), :mod:`.project` (config, scorers, names,
model location), :mod:`.labels` (rule labels), :mod:`.identity` (swap fixing),
:mod:`.representation` (the keypoint representation), :mod:`.pipeline` (train and clean).
"""
