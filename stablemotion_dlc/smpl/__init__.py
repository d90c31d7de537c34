"""SMPL / AMASS motion through the same diffusion core as the DLC keypoints.

Modules (imported explicitly; nothing heavy is imported here):

- :mod:`~stablemotion_dlc.smpl.skeleton`: SMPL kinematic tree, generated rest skeleton,
  rotation conversions, forward kinematics;
- :mod:`~stablemotion_dlc.smpl.rifke`: the 232-dim global SMPL RIFKE representation;
- :mod:`~stablemotion_dlc.smpl.amass`: AMASS loader, resampling, canonical clips, motion
  generator;
- :mod:`~stablemotion_dlc.smpl.corruption`: BrokenAMASS-style corruption and the training
  batch source;
- :mod:`~stablemotion_dlc.smpl.labels`: rule-based suspect frames (pops, jitter, frozen
  poses) that complement the model's detection;
- :mod:`~stablemotion_dlc.smpl.metrics`: foot skating, penetration, jitter, MPJPE, detection;
- :mod:`~stablemotion_dlc.smpl.pipeline`: ``train_smpl``, ``clean_smpl``, ``evaluate_smpl``.
"""
