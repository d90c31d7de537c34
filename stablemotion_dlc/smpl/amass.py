"""AMASS loading, resampling, canonicalisation, clips, and a synthetic walking generator.

Body model policy
-----------------
Joint positions need a rest skeleton. With ``model_path`` (an SMPL ``.pkl`` from
https://smpl.is.tue.mpg.de, or an SMPL-H ``.pkl``/``.npz`` from https://mano.is.tue.mpg.de —
AMASS uses the "Extended SMPL+H model"), the subject's rest skeleton is computed by ``smplx``
from the file's ``betas``, and posed joints follow by forward kinematics, which is exactly how
SMPL places its joints. Without ``model_path`` the generated skeleton
(:func:`~stablemotion_dlc.smpl.skeleton.generated_skeleton`, a plausible adult, same for every
subject) is used: joint positions are then *approximate* (a few cm), which is fine for
training a cleanup model and for relative comparisons but not for reporting absolute errors
against published AMASS numbers. A ``model_path`` that does not exist raises
:class:`SmplModelNotFoundError` saying what to download and where to put it.

Canonical form
--------------
After resampling to 20 fps, every clip is canonicalised: the floor (the lowest joint over the
whole sequence) is put at z = 0, the clip's frame 0 faces world +X (heading 0) and its pelvis
starts above the origin (x = y = 0).
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter1d

from stablemotion_dlc._progress import progress_bar
from stablemotion_dlc._safe_pickle import (
    SCIPY_SPARSE,
    UnsafePickleError,
    safe_load_npz,
    safe_load_path,
)
from stablemotion_dlc.errors import FileProblemError, StableMotionError
from stablemotion_dlc.smpl.skeleton import (
    N_BODY_JOINTS,
    Skeleton,
    axis_angle_to_matrix,
    forward_kinematics,
    generated_skeleton,
    heading_angle,
    joints_from_axis_angle,
    matrix_to_axis_angle,
    rot_z,
)

__all__ = [
    "SmplMotion",
    "AmassFileError",
    "SmplModelNotFoundError",
    "load_amass",
    "load_amass_clips",
    "skeleton_from_body_model",
    "resample",
    "canonicalize",
    "canonical_frame",
    "to_canonical",
    "cut_clips",
    "generate_motion",
    "TARGET_FPS",
]

logger = logging.getLogger(__name__)

TARGET_FPS = 20.0
_DOWNLOAD_HELP = (
    "Download the SMPL-H body model ('Extended SMPL+H model', the one AMASS uses) from "
    "https://mano.is.tue.mpg.de or SMPL from https://smpl.is.tue.mpg.de (free registration; the "
    "licence forbids redistribution, so it is not shipped), then pass the model file "
    "(e.g. smplh/neutral/model.npz, SMPLH_MALE.pkl, SMPL_NEUTRAL.pkl) or its folder as "
    "model_path (CLI: --smpl-model). Without a model the generated, approximate skeleton is used."
)


class AmassFileError(FileProblemError):
    """An AMASS ``.npz`` file is unreadable or lacks what is needed."""


class SmplModelNotFoundError(StableMotionError, FileNotFoundError):
    """The SMPL/SMPL-H model file asked for is missing or unusable; says what to download."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        super().__init__(f"{self.path}: {problem}. {_DOWNLOAD_HELP}")


@dataclass
class SmplMotion:
    """One SMPL body motion (22 body rotations), world Z up, metres.

    Attributes
    ----------
    poses : np.ndarray
        ``(T, 22, 3)`` axis-angle body rotations (index 0 = root orientation).
    trans : np.ndarray
        ``(T, 3)`` SMPL translation (``pelvis = trans + skeleton.rest_joints[0]``).
    joints : np.ndarray
        ``(T, 24, 3)`` joint positions.
    fps : float
        Frame rate.
    skeleton : Skeleton
        Rest skeleton the joints were computed with.
    source : str
        Where it came from (file path, ``"generated"``...), with the frame range for clips.
    betas : np.ndarray or None
        Shape coefficients from the file, if any.
    """

    poses: np.ndarray
    trans: np.ndarray
    joints: np.ndarray
    fps: float
    skeleton: Skeleton
    source: str = ""
    betas: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.poses)

    def slice(self, start: int, stop: int) -> SmplMotion:
        """Frames ``start:stop`` (a copy)."""
        return replace(self, poses=self.poses[start:stop].copy(),
                       trans=self.trans[start:stop].copy(),
                       joints=self.joints[start:stop].copy(),
                       source=f"{self.source}[{start}:{stop}]")


# ----------------------------------------------------------------------------- body model
def _find_model_file(model_path: Path, gender: str) -> Path:
    if model_path.is_file():
        return model_path
    if not model_path.exists():
        raise SmplModelNotFoundError(model_path, "SMPL/SMPL-H model not found")
    g = gender.lower()
    candidates = [
        model_path / "smplh" / g / "model.npz", model_path / g / "model.npz",
        model_path / f"SMPLH_{g.upper()}.npz", model_path / f"SMPLH_{g.upper()}.pkl",
        model_path / "smplh" / f"SMPLH_{g.upper()}.pkl", model_path / f"SMPL_{g.upper()}.pkl",
        model_path / "smpl" / f"SMPL_{g.upper()}.pkl",
    ]
    for c in candidates:
        if c.is_file():
            return c
    names = ", ".join(str(c.relative_to(model_path)) for c in candidates)
    raise SmplModelNotFoundError(model_path, f"no model file for gender {g!r} in this folder "
                                             f"(looked for {names})")


def _read_model_data(path: Path) -> dict[str, Any]:
    try:
        # restricted unpickling: a model file is data, it must not run code
        if path.suffix == ".npz":
            return safe_load_npz(path, extra=SCIPY_SPARSE)
        return dict(safe_load_path(path, extra=SCIPY_SPARSE, encoding="latin1"))
    except UnsafePickleError as exc:  # original SMPL pickles reference chumpy objects
        hint = ("use the .npz release or remove chumpy objects with smplx's "
                "tools/clean_ch.py" if "chumpy" in str(exc) else "not read")
        raise SmplModelNotFoundError(path, f"model file holds more than plain data ({exc}); "
                                           f"{hint}") from exc
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise SmplModelNotFoundError(path, f"not a readable SMPL/SMPL-H model file ({exc})") \
            from exc


def skeleton_from_body_model(model_path: str | Path, betas: np.ndarray | None = None,
                             gender: str = "neutral") -> Skeleton:
    """The subject's rest skeleton from an SMPL or SMPL-H model file, through ``smplx``.

    Parameters
    ----------
    model_path : str or Path
        A model file (SMPL ``.pkl``; SMPL-H ``.pkl`` or ``.npz``) or a folder holding
        ``smplh/<gender>/model.npz``, ``SMPLH_<GENDER>.pkl`` or ``SMPL_<GENDER>.pkl``.
    betas : np.ndarray, optional
        Shape coefficients (truncated to what the model has); zeros when omitted.
    gender : str
        ``"neutral"``, ``"male"`` or ``"female"`` (used to pick a file in a folder).

    Returns
    -------
    Skeleton
        24 joints: SMPL joints 0..23, or for SMPL-H body joints 0..21 plus the two index-finger
        base joints (22, 37), children of the wrists.

    Raises
    ------
    SmplModelNotFoundError
        When the file is missing or unusable; the message says what to download.
    """
    import torch
    from smplx import SMPL, SMPLH
    from smplx.utils import Struct

    path = _find_model_file(Path(model_path), gender)
    data = _read_model_data(path)
    missing = [k for k in ("v_template", "shapedirs", "J_regressor", "kintree_table", "weights",
                           "posedirs", "f") if k not in data]
    if missing:
        raise SmplModelNotFoundError(path, f"not an SMPL/SMPL-H model (missing {missing})")
    n_kin = int(np.asarray(data["kintree_table"]).shape[1])
    n_shape = int(np.asarray(data["shapedirs"]).shape[-1])
    b = np.zeros(n_shape) if betas is None else np.asarray(betas, dtype=np.float64).ravel()
    n_betas = max(1, min(len(b), n_shape))
    b = np.pad(b[:n_betas], (0, n_betas - min(len(b), n_betas)))
    kwargs: dict[str, Any] = {"data_struct": Struct(**data), "num_betas": n_betas,
                              "gender": gender}
    if n_kin not in (24, 52):
        raise SmplModelNotFoundError(path, f"has {n_kin} joints; expected SMPL (24) or SMPL-H (52)")
    chatter = io.StringIO()  # smplx prints warnings; keep them in the log instead
    with contextlib.redirect_stdout(chatter):
        if n_kin == 24:
            model = SMPL(model_path=str(path), **kwargs)
            index = list(range(24))
        else:
            model = SMPLH(model_path=str(path), use_pca=False, **kwargs)
            index = list(range(22)) + [22, 37]
    if chatter.getvalue().strip():
        logger.debug("smplx: %s", chatter.getvalue().strip())
    with torch.no_grad():
        out = model(betas=torch.as_tensor(b[None], dtype=torch.float32))
    rest = out.joints[0, index].double().numpy()
    return Skeleton(rest, source=str(path))


# ------------------------------------------------------------------------------ resampling
def _quat_slerp(q0: np.ndarray, q1: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Slerp between unit quaternions ``(N, J, 4)`` with fractions ``(N,)``."""
    dot = np.sum(q0 * q1, axis=-1, keepdims=True)
    q1 = np.where(dot < 0, -q1, q1)
    dot = np.abs(dot).clip(max=1.0)
    a = a[:, None, None]
    omega = np.arccos(dot)
    so = np.sin(omega)
    small = so < 1e-6
    safe = np.where(small, 1.0, so)
    w0 = np.where(small, 1 - a, np.sin((1 - a) * omega) / safe)
    w1 = np.where(small, a, np.sin(a * omega) / safe)
    q = w0 * q0 + w1 * q1
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def resample(poses: np.ndarray, trans: np.ndarray, src_fps: float,
             dst_fps: float = TARGET_FPS) -> tuple[np.ndarray, np.ndarray]:
    """Resample a motion in time: slerp for rotations, linear for translation.

    Parameters
    ----------
    poses : np.ndarray
        ``(T, J, 3)`` axis-angle rotations.
    trans : np.ndarray
        ``(T, 3)`` translations.
    src_fps, dst_fps : float
        Source and target frame rates.

    Returns
    -------
    poses, trans : np.ndarray
        Resampled at times ``k / dst_fps`` for all ``k`` within the source duration.
    """
    from scipy.spatial.transform import Rotation

    if src_fps <= 0 or dst_fps <= 0:
        raise ValueError(f"frame rates must be positive, got {src_fps} -> {dst_fps}")
    n_t, n_j = poses.shape[:2]
    if n_t < 2 or np.isclose(src_fps, dst_fps):
        return poses.copy(), trans.copy()
    n_out = int(np.floor((n_t - 1) * dst_fps / src_fps + 1e-9)) + 1
    src_pos = np.arange(n_out) * (src_fps / dst_fps)
    i0 = np.minimum(np.floor(src_pos).astype(int), n_t - 2)
    a = src_pos - i0
    quats = Rotation.from_rotvec(poses.reshape(-1, 3)).as_quat().reshape(n_t, n_j, 4)
    q = _quat_slerp(quats[i0], quats[i0 + 1], a)
    out_poses = Rotation.from_quat(q.reshape(-1, 4)).as_rotvec().reshape(n_out, n_j, 3)
    out_trans = (1 - a)[:, None] * trans[i0] + a[:, None] * trans[i0 + 1]
    return out_poses, out_trans


# -------------------------------------------------------------------------- canonical form
def canonicalize(motion: SmplMotion, floor: float | None = None,
                 heading: float = 0.0) -> SmplMotion:
    """Put a motion on the ground, facing ``heading`` at frame 0, starting at the origin.

    Parameters
    ----------
    motion : SmplMotion
        Input motion (not modified).
    floor : float, optional
        World height of the floor; default: the lowest joint over the motion.
    heading : float
        Heading (radians, 0 = facing +X) the body gets at frame 0.

    Returns
    -------
    SmplMotion
        The moved motion: a rigid rotation about Z plus a translation of the original.
    """
    rot = axis_angle_to_matrix(motion.poses[:, 0])
    delta = heading - heading_angle(rot[0])
    rz = rot_z(delta)
    pelvis = motion.joints[:, 0]
    floor_z = float(motion.joints[..., 2].min()) if floor is None else float(floor)
    shift = np.array([pelvis[0, 0], pelvis[0, 1], floor_z])
    joints = (motion.joints - shift) @ rz.T
    poses = motion.poses.copy()
    poses[:, 0] = matrix_to_axis_angle(rz @ rot)
    trans = joints[:, 0] - motion.skeleton.rest_joints[0]
    return replace(motion, poses=poses, trans=trans, joints=joints)


def canonical_frame(motion: SmplMotion, floor: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """The rigid map that puts frame 0 at the origin facing +X with the floor at z = 0.

    Parameters
    ----------
    motion : SmplMotion
        Motion whose first frame defines the map.
    floor : float
        World height of the floor.

    Returns
    -------
    rz : np.ndarray
        ``(3, 3)`` rotation about Z.
    shift : np.ndarray
        ``(3,)``; ``canonical = (world - shift) @ rz.T`` (see :func:`to_canonical`).
    """
    theta = heading_angle(axis_angle_to_matrix(motion.poses[0, 0]))
    pelvis = motion.joints[0, 0]
    return rot_z(-theta), np.array([pelvis[0], pelvis[1], float(floor)])


def to_canonical(motion: SmplMotion, rz: np.ndarray, shift: np.ndarray) -> SmplMotion:
    """Apply the map of :func:`canonical_frame` to a motion (joints, root rotation, trans)."""
    joints = (motion.joints - shift) @ rz.T
    poses = motion.poses.copy()
    poses[:, 0] = matrix_to_axis_angle(rz @ axis_angle_to_matrix(motion.poses[:, 0]))
    return replace(motion, poses=poses, trans=joints[:, 0] - motion.skeleton.rest_joints[0],
                   joints=joints)


def cut_clips(motion: SmplMotion, length: int = 100, stride: int | None = None,
              canonical: bool = True) -> list[SmplMotion]:
    """Cut a motion into clips, each canonicalised (floor from the whole motion).

    Parameters
    ----------
    motion : SmplMotion
        Motion at its final frame rate.
    length : int
        Frames per clip (100 = 5 s at 20 fps upstream).
    stride : int, optional
        Frames between clip starts (default ``length``: no overlap). A tail shorter than
        ``length`` is dropped.
    canonical : bool
        Canonicalise each clip (see :func:`canonicalize`).

    Returns
    -------
    list of SmplMotion
    """
    if length < 2:
        raise ValueError(f"clip length must be at least 2, got {length}")
    stride = length if stride is None else int(stride)
    if stride < 1:
        raise ValueError(f"stride must be positive, got {stride}")
    floor = float(motion.joints[..., 2].min())
    clips = []
    for start in range(0, len(motion) - length + 1, stride):
        clip = motion.slice(start, start + length)
        clips.append(canonicalize(clip, floor=floor) if canonical else clip)
    return clips


# ---------------------------------------------------------------------------------- loading
def _framerate(data: Any, path: Path, source_fps: float | None) -> float:
    if source_fps is not None:
        return float(source_fps)
    for key in ("mocap_framerate", "mocap_frame_rate", "frame_rate", "fps"):
        if key in data.files:
            fps = float(np.asarray(data[key]).ravel()[0])
            if fps > 0:
                return fps
            raise AmassFileError(path, f"{key} = {fps} is not a positive frame rate")
    raise AmassFileError(path, "no frame rate (mocap_framerate / mocap_frame_rate); pass "
                               "source_fps (CLI: --source-fps)")


def _gender(data: Any) -> str:
    """The file's ``gender`` as ``male``/``female``/``neutral`` (bytes, str or absent)."""
    try:
        g = np.asarray(data["gender"]).item() if "gender" in data.files else "neutral"
    except ValueError:  # stored as a pickled object: not read (allow_pickle=False)
        return "neutral"
    g = g.decode() if isinstance(g, bytes) else str(g)
    g = g.strip().lower()
    return g if g in ("male", "female", "neutral") else "neutral"


def load_amass(path: str | Path, model_path: str | Path | None = None,
               fps: float = TARGET_FPS, source_fps: float | None = None,
               gender: str | None = None) -> SmplMotion:
    """Read one AMASS ``.npz`` motion, resample it and compute its joints.

    Parameters
    ----------
    path : str or Path
        AMASS file with ``poses`` ``(T, 156)`` (SMPL-H), ``(T, 165)`` (SMPL-X) or ``(T, 72)``
        (SMPL), ``trans`` ``(T, 3)``, optionally ``betas``, ``gender`` and
        ``mocap_framerate``/``mocap_frame_rate``. Only the 22 body rotations are used.
    model_path : str or Path, optional
        SMPL/SMPL-H model file or folder (see the module docstring); the generated
        approximate skeleton is used when omitted.
    fps : float
        Target frame rate (20 upstream).
    source_fps : float, optional
        Overrides the file's frame rate.
    gender : str, optional
        Overrides the file's ``gender`` when picking a model in a folder.

    Returns
    -------
    SmplMotion
        Resampled motion in the file's world frame (not canonicalised; see :func:`cut_clips`).

    Raises
    ------
    AmassFileError
        Unreadable file, missing or inconsistent arrays, non-finite values.
    SmplModelNotFoundError
        ``model_path`` given but missing or unusable.
    """
    path = Path(path)
    if not path.is_file():
        raise AmassFileError(path, "file not found")
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - report any unreadable file the same way
        raise AmassFileError(path, f"not a readable .npz file ({exc})") from exc
    with data:
        for key in ("poses", "trans"):
            if key not in data.files:
                raise AmassFileError(path, f"no '{key}' array (has: {', '.join(data.files)}); "
                                           "AMASS shape.npz files hold no motion")
        poses = np.asarray(data["poses"], dtype=np.float64)
        trans = np.asarray(data["trans"], dtype=np.float64)
        src_fps = _framerate(data, path, source_fps)
        betas = np.asarray(data["betas"], dtype=np.float64) if "betas" in data.files else None
        file_gender = _gender(data)
    if poses.ndim != 2 or poses.shape[1] < 3 * N_BODY_JOINTS:
        raise AmassFileError(path, f"'poses' must be (T, 72|156|165), got {poses.shape}")
    if trans.shape != (len(poses), 3):
        raise AmassFileError(path, f"'trans' must be ({len(poses)}, 3), got {trans.shape}")
    if len(poses) < 2:
        raise AmassFileError(path, f"only {len(poses)} frame(s)")
    if not (np.all(np.isfinite(poses)) and np.all(np.isfinite(trans))):
        raise AmassFileError(path, "'poses' or 'trans' contains NaN or infinite values")
    body = poses[:, : 3 * N_BODY_JOINTS].reshape(-1, N_BODY_JOINTS, 3)
    body, trans = resample(body, trans, src_fps, fps)
    if len(body) < 2:
        raise AmassFileError(path, f"{len(poses)} frames at {src_fps:g} fps give "
                                   f"{len(body)} frame at {fps:g} fps; at least 2 are needed")
    if model_path is None:
        skeleton = generated_skeleton()
        logger.info("%s: no SMPL model given; using the generated (approximate) skeleton", path)
    else:
        skeleton = skeleton_from_body_model(model_path, betas, gender or file_gender)
    joints = joints_from_axis_angle(body, trans, skeleton)
    logger.debug("%s: %d frames at %.2f fps -> %d at %.1f fps", path, len(poses), src_fps,
                 len(body), fps)
    return SmplMotion(body, trans, joints, fps, skeleton, source=str(path), betas=betas)


def load_amass_clips(paths: str | Path | Iterable[str | Path],
                     model_path: str | Path | None = None, clip_length: int = 100,
                     stride: int | None = None, fps: float = TARGET_FPS,
                     min_length: int | None = None,
                     source_fps: float | None = None) -> list[SmplMotion]:
    """Load AMASS files (or every ``*.npz`` under a folder) as canonical clips.

    Parameters
    ----------
    paths : path or iterable of paths
        Files, or one folder searched recursively for ``*.npz`` (``shape.npz`` skipped).
    model_path : str or Path, optional
        SMPL/SMPL-H model (see :func:`load_amass`).
    clip_length, stride : int
        See :func:`cut_clips`.
    fps : float
        Target frame rate.
    min_length : int, optional
        A file shorter than ``clip_length`` but at least ``min_length`` frames (at ``fps``)
        gives one canonical clip of its own length; a shorter one is skipped with a warning
        that names it. None: ``clip_length`` (short files are skipped, with the warning).
    source_fps : float, optional
        Frame rate of files that do not record one (see :func:`load_amass`).

    Returns
    -------
    list of SmplMotion
        Canonical clips (real captures are often only a few seconds long).
    """
    files: list[Path] = []
    for entry in [paths] if isinstance(paths, (str, Path)) else list(paths):
        if Path(entry).is_dir():  # a folder (also inside a list, as the CLI passes them)
            found = sorted(p for p in Path(entry).rglob("*.npz") if p.name != "shape.npz")
            if not found:
                raise AmassFileError(entry, "no .npz motion files under this folder")
            files += found
        else:
            files.append(Path(entry))
    clips: list[SmplMotion] = []
    shortest = clip_length if min_length is None else max(2, int(min_length))
    for f in progress_bar(files, desc="AMASS files", disable=len(files) < 5):
        motion = load_amass(f, model_path, fps=fps, source_fps=source_fps)
        if len(motion) >= clip_length:
            clips += cut_clips(motion, clip_length, stride)
        elif len(motion) >= shortest:
            logger.info("%s: %d frames at %g fps, shorter than a clip of %d: used whole",
                        f, len(motion), fps, clip_length)
            clips.append(canonicalize(motion, floor=float(motion.joints[..., 2].min())))
        else:
            logger.warning("%s: skipped: %d frame(s) at %g fps, fewer than the %d needed",
                           f, len(motion), fps, shortest)
    logger.info("%d clips of %d frames from %d files", len(clips), clip_length, len(files))
    return clips


# ------------------------------------------------------------------------ synthetic motion
def _smooth(n: int, rng: np.random.Generator, sigma: float) -> np.ndarray:
    """Smooth random signal with unit standard deviation."""
    x = gaussian_filter1d(rng.standard_normal(n + 8 * int(sigma)), sigma, mode="nearest")
    x = x[4 * int(sigma): 4 * int(sigma) + n]
    return (x - x.mean()) / max(x.std(), 1e-9)


def _rx(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    z, o = np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1),
                     np.stack([z, s, c], -1)], -2)


def _ry(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    z, o = np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1),
                     np.stack([-s, z, c], -1)], -2)


def _gait_profiles(n: int = 1000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One gait cycle (stance 60 %, swing 40 %) of hip, knee and ankle drive, per unit amplitude.

    Hip: +1 (leg forward) at heel strike, swept linearly to -1 through stance (so the pelvis
    moves at a nearly constant speed), brought forward in swing. Knee: small loading flexion,
    large swing flexion. Ankle: push-off plantar flexion, toes up in swing. Circularly smoothed.
    """
    u = np.arange(n) / n
    stance = u < 0.6
    w = (u - 0.6) / 0.4
    hip = np.where(stance, 1 - 2 * u / 0.6, -np.cos(np.pi * w))
    knee = np.where(stance, 0.35 * np.sin(np.pi * np.clip(u / 0.25, 0, 1)),
                    2.6 * np.sin(np.pi * w))
    ankle = np.where(stance, 0.9 * np.exp(-(((u - 0.58) / 0.05) ** 2)),
                     -0.5 * np.sin(np.pi * w))
    return tuple(gaussian_filter1d(x, n * 0.02, mode="wrap") for x in (hip, knee, ankle))


_GAIT_PROFILES = _gait_profiles()


def _cyclic(profile: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Sample a one-cycle profile at cycle positions ``u`` in ``[0, 1)`` (linear, wrapping)."""
    n = len(profile)
    x = u * n
    i = np.floor(x).astype(int) % n
    a = x - np.floor(x)
    return (1 - a) * profile[i] + a * profile[(i + 1) % n]


#: Body frame (Y up, facing +Z, left +X) to world (Z up) facing +X: the root orientation at
#: heading 0.
BODY_TO_WORLD = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def generate_motion(n_frames: int, rng: np.random.Generator, fps: float = TARGET_FPS,
                    skeleton: Skeleton | None = None) -> SmplMotion:
    """A synthetic walking, turning and pausing humanoid with planted feet.

    Gait: a phase oscillator drives hip flexion, knee flexion in swing, ankle motion, counter
    arm swing, pelvis and trunk rotation; stride amplitude (and so speed, 0 to about 1.5 m/s,
    with pauses) and turning rate are smooth random signals. The root translation is
    integrated so that the stance foot's lowest joint stays fixed on the ground, and the pelvis
    height keeps the lowest foot joint on the floor, so contacts are physically consistent
    (no skating in stance, no penetration). Returned canonical (see :func:`canonicalize`).

    Parameters
    ----------
    n_frames : int
        Number of frames.
    rng : np.random.Generator
        Random source (the motion is a deterministic function of its state).
    fps : float
        Frame rate.
    skeleton : Skeleton, optional
        Rest skeleton (default: generated, height drawn in 1.55-1.90 m).

    Returns
    -------
    SmplMotion
    """
    if n_frames < 2:
        raise ValueError(f"n_frames must be at least 2, got {n_frames}")
    if skeleton is None:
        skeleton = generated_skeleton(float(rng.uniform(1.55, 1.90)))
    n, dt = n_frames, 1.0 / fps
    sig = 1.2 * fps  # correlation time of the random drives, frames
    # stride amplitude in [0, 0.45] rad with pauses, turning rate in rad/s
    amp = 0.45 * np.clip(0.55 + 0.5 * _smooth(n, rng, sig), 0.0, 1.0)
    turn = 0.6 * _smooth(n, rng, sig) * rng.uniform(0.3, 1.0)
    freq = 0.55 + 0.9 * amp  # strides per second
    phase = rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.cumsum(freq) * dt
    heading = rng.uniform(-np.pi, np.pi) + np.cumsum(turn) * dt
    noise = 0.02 * np.stack([_smooth(n, rng, fps / 4) for _ in range(3 * N_BODY_JOINTS)],
                            -1).reshape(n, N_BODY_JOINTS, 3)

    local = axis_angle_to_matrix(noise)
    hip_p, knee_p, ankle_p = _GAIT_PROFILES
    for hip, knee, ankle, off in ((1, 4, 7, 0.0), (2, 5, 8, 0.5)):
        u = (phase / (2 * np.pi) + off) % 1.0  # cycle position; stance 0..0.6, swing 0.6..1
        local[:, hip] = local[:, hip] @ _rx(-amp * _cyclic(hip_p, u) - 0.05 * amp)
        local[:, knee] = local[:, knee] @ _rx(0.05 + amp * _cyclic(knee_p, u))
        local[:, ankle] = local[:, ankle] @ _rx(amp * _cyclic(ankle_p, u))
    for shoulder, elbow, side in ((16, 18, 1.0), (17, 19, -1.0)):  # arms swing against legs
        down = axis_angle_to_matrix(np.array([0.0, 0.0, -side * 1.3]))
        local[:, shoulder] = local[:, shoulder] @ _rx(side * 0.8 * amp * np.cos(phase)) @ down
        local[:, elbow] = local[:, elbow] @ _ry(np.full(n, -side * 0.3) - side * 0.4 * amp)
    local[:, 3] = local[:, 3] @ _rx(0.15 * amp) @ _ry(0.25 * amp * np.sin(phase))
    local[:, 9] = local[:, 9] @ _ry(-0.35 * amp * np.sin(phase))
    local[:, 0] = rot_z(heading) @ BODY_TO_WORLD @ _ry(0.15 * amp * np.sin(phase)) \
        @ local[:, 0]

    # joints with the pelvis at the origin, then place the body on the ground
    rel = forward_kinematics(local, np.zeros((n, 3)), skeleton)
    rest_floor = skeleton.rest_joints[[10, 11], 1].min() - 0.02 * skeleton.rest_joints[15, 1]
    sole = np.stack([skeleton.rest_joints[j, 1] - rest_floor for j in (7, 10, 8, 11)])
    foot_idx = np.array([7, 10, 8, 11])
    heights = rel[:, foot_idx, 2] - sole  # sole height of each foot joint with pelvis at 0
    low = np.argmin(heights, axis=1)  # lowest joint: 0/1 left ankle/toe, 2/3 right
    pelvis = np.zeros((n, 3))
    pelvis[:, 2] = -heights[np.arange(n), low]
    for t in range(1, n):
        j = foot_idx[low[t]]  # pivot about the joint on the ground at t
        pelvis[t, :2] = pelvis[t - 1, :2] + rel[t - 1, j, :2] - rel[t, j, :2]
    # soften the kinks where the pivot changes (contact switches), then lift any foot joint the
    # smoothing pushed below the floor: a few mm of stance slip for realistic pelvis jerk
    pelvis = gaussian_filter1d(pelvis, 0.08 * fps, axis=0, mode="nearest")
    pelvis[:, 2] += np.clip(-(heights.min(axis=1) + pelvis[:, 2]), 0.0, None)
    poses = matrix_to_axis_angle(local)
    trans = pelvis - skeleton.rest_joints[0]
    joints = rel + pelvis[:, None]
    return canonicalize(SmplMotion(poses, trans, joints, fps, skeleton, source="generated"))
