"""Simulated top-view rodents and realistic DeepLabCut-like prediction errors.

Two pure, seeded pieces used by :mod:`stablemotion_dlc.sample.project`:

* :func:`simulate_animals` moves one to three articulated mice in a rectangular open field and
  returns ground-truth keypoints ``(frames, individuals, keypoints, 2)``. Each animal has a
  behaviour state (walk, pause, groom, rear), an Ornstein-Uhlenbeck speed and turn-rate process,
  a trotting gait (diagonal paw pairs, paws planted during stance, swing only when moving),
  head scanning, a spine that bends with the turn rate, walls it steers away from and, with
  several animals, a social attraction (they meet) and a soft collision (they touch but never
  overlap for long).
* :func:`corrupt_predictions` turns ground truth into DLC-like predictions: Gaussian jitter
  everywhere, plus modest, recorded corruptions of the kinds of
  :data:`stablemotion_dlc.dlc.corruption.CORRUPTION_KINDS`, with their codes
  (:data:`~stablemotion_dlc.dlc.corruption.KIND_CODES`, 0 = clean). The events are drawn from
  the simulated truth (identity swaps during close encounters, jumps onto a neighbour's body
  part, occlusion-weighted paws), which the corruption protocol applied to real predictions
  (:func:`~stablemotion_dlc.dlc.corruption.inject_corruption`) cannot see.

Coordinates are image pixels (x right, y down). "Left" is the animal's own left seen from
above.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, fields

import numpy as np

from .._arrays import true_runs
from ..dlc.corruption import CORRUPTION_KINDS, KIND_CODES

__all__ = [
    "BODYPARTS",
    "SKELETON",
    "LR_PAIRS",
    "ArenaSpec",
    "CorruptionConfig",
    "simulate_animals",
    "corrupt_predictions",
    "arena_for_frame",
]

logger = logging.getLogger(__name__)

BODYPARTS: tuple[str, ...] = (
    "snout",
    "left_ear",
    "right_ear",
    "neck",
    "left_forepaw",
    "right_forepaw",
    "spine_mid",
    "left_hindpaw",
    "right_hindpaw",
    "tailbase",
)
"""Keypoint names, in the order of axis 2 of every array produced here."""

SKELETON: tuple[tuple[str, str], ...] = (
    ("snout", "left_ear"),
    ("snout", "right_ear"),
    ("left_ear", "neck"),
    ("right_ear", "neck"),
    ("neck", "spine_mid"),
    ("spine_mid", "tailbase"),
    ("neck", "left_forepaw"),
    ("neck", "right_forepaw"),
    ("tailbase", "left_hindpaw"),
    ("tailbase", "right_hindpaw"),
)
"""Bones (pairs of keypoint names), as DLC's ``skeleton`` config entry."""

LR_PAIRS: tuple[tuple[str, str], ...] = (
    ("left_ear", "right_ear"),
    ("left_forepaw", "right_forepaw"),
    ("left_hindpaw", "right_hindpaw"),
)
"""Left/right keypoint pairs (what a left/right swap exchanges)."""

_K = {name: i for i, name in enumerate(BODYPARTS)}

# Behaviour states of the animal model.
_WALK, _PAUSE, _GROOM, _REAR = 0, 1, 2, 3
_MEAN_DURATION_S = {_WALK: 2.6, _PAUSE: 1.3, _GROOM: 2.5, _REAR: 1.1}
_MAX_TURN = 6.0  # rad/s
_NEXT_STATE = {  # transition probabilities out of each state
    _WALK: ((_PAUSE, 0.55), (_GROOM, 0.17), (_REAR, 0.28)),
    _PAUSE: ((_WALK, 0.8), (_REAR, 0.12), (_GROOM, 0.08)),
    _GROOM: ((_WALK, 0.7), (_PAUSE, 0.3)),
    _REAR: ((_WALK, 0.65), (_PAUSE, 0.35)),
}


@dataclass(frozen=True)
class ArenaSpec:
    """A rectangular open field inside the video frame.

    Attributes
    ----------
    x0, y0, x1, y1 : float
        Inner wall positions in pixels (the floor is ``[x0, x1] x [y0, y1]``).
    """

    x0: float
    y0: float
    x1: float
    y1: float


def arena_for_frame(width: int, height: int) -> ArenaSpec:
    """Return the arena used for a ``width`` x ``height`` video (walls ~4 % inside the frame).

    Parameters
    ----------
    width, height : int
        Frame size in pixels.

    Returns
    -------
    ArenaSpec
        The floor rectangle.
    """
    m = 0.04 * min(width, height)
    return ArenaSpec(m, m, width - m, height - m)


def _wrap(a: float) -> float:
    return (a + np.pi) % (2.0 * np.pi) - np.pi


def _smoothstep(w: float) -> float:
    return w * w * (3.0 - 2.0 * w)


def _paw_offset(u: float, amp: float) -> float:
    """Fore-aft paw offset at gait phase ``u`` in [0, 1): stance 60 %, then a smooth swing."""
    if u < 0.6:
        return amp * (1.0 - 2.0 * u / 0.6)
    return amp * (-1.0 + 2.0 * _smoothstep((u - 0.6) / 0.4))


@dataclass
class _Animal:
    """Mutable state of one simulated animal (internal)."""

    pos: np.ndarray
    heading: float
    scale: float
    cruise: float
    speed: float = 0.0
    turn: float = 0.0
    head: float = 0.0
    head_vel: float = 0.0
    bend: float = 0.0
    phase: float = 0.0
    state: int = _PAUSE
    state_left: float = 1.0
    target: int = -1
    front: float = 1.0  # forward spine stretch (rearing shortens it)
    head_len: float = 1.0  # head length factor (grooming tucks it)
    lift: float = 0.0  # forepaws raised toward the head (rear / groom)
    groom_t: float = 0.0
    fore_amp: float = 0.0
    hind_amp: float = 0.0
    paw_phase_offsets: tuple[float, float, float, float] = (0.0, 0.5, 0.5, 0.0)

    def pose(self) -> np.ndarray:
        """Keypoints ``(K, 2)`` of the current state."""
        s = self.scale
        th = self.heading
        d = np.array([np.cos(th), np.sin(th)])
        r = np.array([-np.sin(th), np.cos(th)])  # the animal's right, seen from above
        s_neck = 24.0 * s * self.front
        s_tail = -30.0 * s
        kappa = self.bend / (s_neck - s_tail)

        def spine(arc: float) -> tuple[np.ndarray, float]:
            if abs(kappa) < 1e-6:
                x, y = arc, 0.0
            else:
                x = np.sin(kappa * arc) / kappa
                y = (1.0 - np.cos(kappa * arc)) / kappa
            return self.pos + x * d + y * r, th + kappa * arc

        def frame(angle: float) -> tuple[np.ndarray, np.ndarray]:
            c, s_ = np.cos(angle), np.sin(angle)
            return np.array([c, s_]), np.array([-s_, c])

        out = np.empty((len(BODYPARTS), 2))
        neck, a_neck = spine(s_neck)
        hd, hr = frame(a_neck + self.head)
        snout = neck + 19.0 * s * self.head_len * hd
        out[_K["neck"]] = neck
        out[_K["snout"]] = snout
        out[_K["left_ear"]] = neck + 6.0 * s * hd - 8.5 * s * hr
        out[_K["right_ear"]] = neck + 6.0 * s * hd + 8.5 * s * hr
        out[_K["spine_mid"]] = spine(0.0)[0]
        out[_K["tailbase"]] = spine(s_tail)[0]

        lf_u, rf_u, lh_u, rh_u = ((self.phase + o) % 1.0 for o in self.paw_phase_offsets)
        fore_c, a_fore = spine(14.0 * s * self.front)
        fd, fr = frame(a_fore)
        groom_wiggle = 2.0 * s * np.sin(2.0 * np.pi * 5.0 * self.groom_t)
        for name, side, u, phase_shift in (
            ("left_forepaw", -1.0, lf_u, 0.0),
            ("right_forepaw", 1.0, rf_u, np.pi),
        ):
            walk_pos = fore_c + _paw_offset(u, self.fore_amp) * fd + side * 12.0 * s * fr
            near_head = (
                neck + (7.0 * s + groom_wiggle * np.cos(phase_shift)) * hd + side * 5.5 * s * hr
            )
            out[_K[name]] = (1.0 - self.lift) * walk_pos + self.lift * near_head
        hind_c, a_hind = spine(-19.0 * s)
        hd2, hr2 = frame(a_hind)
        for name, side, u in (("left_hindpaw", -1.0, lh_u), ("right_hindpaw", 1.0, rh_u)):
            out[_K[name]] = hind_c + _paw_offset(u, self.hind_amp) * hd2 + side * 13.5 * s * hr2
        return out


def _choose_state(rng: np.random.Generator, current: int, social: bool) -> int:
    options = _NEXT_STATE[current]
    probs = np.array([p for _, p in options])
    nxt = options[int(rng.choice(len(options), p=probs / probs.sum()))][0]
    if social and nxt != _WALK and rng.random() < 0.25:
        nxt = _WALK  # socially housed animals move more
    return nxt


def _start_state(a: _Animal, state: int, rng: np.random.Generator, n_animals: int, me: int) -> None:
    a.state = state
    a.state_left = max(0.3, rng.gamma(2.0, _MEAN_DURATION_S[state] / 2.0))
    a.target = -1
    if state == _WALK:
        a.cruise = float(rng.uniform(70.0, 190.0))
        if n_animals > 1 and rng.random() < 0.4:
            others = [j for j in range(n_animals) if j != me]
            a.target = int(rng.choice(others))
            a.state_left *= 1.5
        if rng.random() < 0.3:  # a sharp turn at the start of a bout
            a.turn += float(rng.choice([-1.0, 1.0]) * rng.uniform(2.0, 4.0))


def _wall_push(q: np.ndarray, arena: ArenaSpec, reach: float) -> np.ndarray:
    """Repulsion vector from the walls felt at point ``q`` (zero beyond ``reach`` px)."""
    push = np.zeros(2)
    for dist, normal in (
        (q[0] - arena.x0, (1.0, 0.0)),
        (arena.x1 - q[0], (-1.0, 0.0)),
        (q[1] - arena.y0, (0.0, 1.0)),
        (arena.y1 - q[1], (0.0, -1.0)),
    ):
        if dist < reach:
            push += np.asarray(normal) * (1.0 - max(dist, -reach) / reach) ** 2
    return push


def _wall_shift(pose: np.ndarray, arena: ArenaSpec, margin: float = 4.0) -> np.ndarray:
    """Translation that brings every keypoint of ``pose`` inside the arena (zero if inside)."""
    lo = np.array([arena.x0 + margin, arena.y0 + margin])
    hi = np.array([arena.x1 - margin, arena.y1 - margin])
    return np.maximum(lo - pose.min(axis=0), 0.0) - np.maximum(pose.max(axis=0) - hi, 0.0)


def _closest_spine_points(p1: np.ndarray, p2: np.ndarray) -> tuple[float, np.ndarray]:
    """Smallest distance between two animals' spine points and the unit vector from 2 to 1."""
    idx = [_K["snout"], _K["neck"], _K["spine_mid"], _K["tailbase"]]
    a = p1[idx][:, None, :]
    b = p2[idx][None, :, :]
    diff = a - b
    dist = np.linalg.norm(diff, axis=-1)
    i, j = np.unravel_index(int(np.argmin(dist)), dist.shape)
    dmin = float(dist[i, j])
    vec = diff[i, j] / dmin if dmin > 1e-6 else np.array([1.0, 0.0])
    return dmin, vec


def simulate_animals(
    n_frames: int,
    n_animals: int,
    fps: float,
    width: int,
    height: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Simulate top-view mice walking in an open field.

    Parameters
    ----------
    n_frames : int
        Number of frames to produce (>= 1).
    n_animals : int
        Number of animals, 1 to 3.
    fps : float
        Frame rate; the dynamics are defined in seconds, so motion per frame scales with it
        (below 30 fps the model is integrated in sub-steps and sampled at ``fps``).
    width, height : int
        Frame size in pixels; the arena is :func:`arena_for_frame` of it. Body length
        (snout to tail base) is about 73 px, about right for a mouse at 640 x 480.
    rng : np.random.Generator
        Source of randomness; the result is a deterministic function of its state.

    Returns
    -------
    np.ndarray
        ``(n_frames, n_animals, len(BODYPARTS), 2)`` float64 ground-truth pixel coordinates.

    Raises
    ------
    ValueError
        If an argument is out of range.
    """
    if n_frames < 1:
        raise ValueError(f"n_frames must be >= 1, got {n_frames}")
    if not 1 <= n_animals <= 3:
        raise ValueError(f"n_animals must be 1, 2 or 3, got {n_animals}")
    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    if width < 160 or height < 120:
        raise ValueError(f"frame {width}x{height} is too small for the arena (min 160x120)")
    arena = arena_for_frame(width, height)
    substeps = max(1, int(np.ceil(30.0 / fps)))  # integrate at >= 30 Hz for stability
    dt = 1.0 / (fps * substeps)
    body_r = 20.0  # centre must stay this far from a wall (keypoints are checked too)
    lo = np.array([arena.x0 + body_r, arena.y0 + body_r])
    hi = np.array([arena.x1 - body_r, arena.y1 - body_r])

    animals: list[_Animal] = []
    for i in range(n_animals):
        for _ in range(200):
            pos = rng.uniform(lo, hi)
            if all(np.linalg.norm(pos - a.pos) > 110.0 for a in animals):
                break
        a = _Animal(
            pos=pos,
            heading=float(rng.uniform(-np.pi, np.pi)),
            scale=float(rng.uniform(1.02, 1.18)),
            cruise=120.0,
        )
        _start_state(a, _WALK if rng.random() < 0.6 else _PAUSE, rng, n_animals, i)
        a.state_left *= rng.uniform(0.2, 1.0)
        animals.append(a)

    out = np.empty((n_frames, n_animals, len(BODYPARTS), 2))
    sq = np.sqrt(dt)
    contact = 21.0  # spine lines closer than this are pushed apart (bodies just touch)
    poses = [a.pose() for a in animals]
    for step in range(n_frames * substeps):
        for i, a in enumerate(animals):
            a.state_left -= dt
            if a.state_left <= 0.0:
                _start_state(a, _choose_state(rng, a.state, n_animals > 1), rng, n_animals, i)
            walking = a.state == _WALK
            # speed: OU toward the bout's cruise speed (0 when not walking)
            mu = a.cruise if walking else 0.0
            tau_v = 0.35 if walking else 0.15
            a.speed += (mu - a.speed) * dt / tau_v + (45.0 if walking else 4.0) * sq * rng.normal()
            # turn rate: OU around 0, plus occasional sharp turns
            a.turn += -a.turn * dt / 0.4 + (3.2 if walking else 1.2) * sq * rng.normal()
            if walking and rng.random() < 0.25 * dt:
                a.turn += float(rng.choice([-1.0, 1.0]) * rng.uniform(2.0, 3.5))
            steer = 0.0
            d = np.array([np.cos(a.heading), np.sin(a.heading)])
            ahead = a.pos + d * (40.0 + 0.45 * a.speed)
            push = _wall_push(ahead, arena, 70.0) + 0.5 * _wall_push(a.pos, arena, 55.0)
            strength = float(np.linalg.norm(push))
            if strength > 1e-9:
                want = np.arctan2(*(d + 2.5 * push)[::-1])
                steer += 7.0 * min(strength, 1.5) * _wrap(want - a.heading)
                a.speed *= 1.0 - min(0.5, 0.6 * strength) * dt * 4.0
            if a.target >= 0:
                other = animals[a.target]
                vec = other.pos - a.pos
                dist = float(np.linalg.norm(vec))
                if dist < 70.0 * a.scale:  # arrived: stop and sniff
                    _start_state(a, _PAUSE, rng, n_animals, i)
                else:
                    steer += 2.5 * _wrap(np.arctan2(vec[1], vec[0]) - a.heading)
            a.speed = max(0.0, a.speed)
            omega = float(
                np.clip(a.turn * (0.35 + min(1.0, a.speed / 120.0)) + steer, -_MAX_TURN, _MAX_TURN)
            )
            a.heading = float(_wrap(a.heading + omega * dt))
            a.pos = a.pos + a.speed * dt * np.array([np.cos(a.heading), np.sin(a.heading)])
            a.pos = np.clip(a.pos, lo, hi)
            # posture: bend with turning, head leads turns and scans when still
            a.bend += (np.clip(0.32 * omega, -1.2, 1.2) - a.bend) * min(1.0, dt / 0.15)
            head_target = np.clip(0.18 * omega, -0.6, 0.6) if walking else 0.0
            head_sigma = 5.0 if walking else (3.0 if a.state == _GROOM else 14.0)
            a.head_vel += (
                -a.head_vel * dt / 0.15
                - (a.head - head_target) * dt * 25.0
                + head_sigma * sq * rng.normal()
            )
            a.head = float(np.clip(a.head + a.head_vel * dt, -1.0, 1.0))
            if abs(a.head) >= 1.0:
                a.head_vel = 0.0
            front_t = 0.62 if a.state == _REAR else 1.0
            head_t = 0.62 if a.state == _GROOM else (0.85 if a.state == _REAR else 1.0)
            lift_t = 0.85 if a.state in (_GROOM, _REAR) else 0.0
            k = min(1.0, dt / 0.25)
            a.front += (front_t - a.front) * k
            a.head_len += (head_t - a.head_len) * k
            a.lift += (lift_t - a.lift) * k
            a.groom_t += dt if a.state == _GROOM else 0.0
            # gait: trot with diagonal pairs; stride length from speed, planted paws in stance
            freq = float(np.clip(2.5 + 0.025 * a.speed, 2.5, 8.0))
            amp = float(np.clip(a.speed * 0.6 / (2.0 * freq), 0.0, 12.0))
            if amp > 0.3:
                a.phase = (a.phase + freq * dt) % 1.0
            a.fore_amp = amp * (1.0 - a.lift)
            a.hind_amp = amp
        poses = [a.pose() for a in animals]
        for i, a in enumerate(animals):  # no keypoint through a wall
            shift = _wall_shift(poses[i], arena)
            if np.any(shift):
                a.pos = a.pos + shift
                poses[i] = poses[i] + shift
        # soft collision between animals: push apart the closest spine points
        for _ in range(2):
            moved = False
            for i in range(n_animals):
                for j in range(i + 1, n_animals):
                    dmin, vec = _closest_spine_points(poses[i], poses[j])
                    if dmin < contact:
                        shift = 0.5 * (contact - dmin) * vec
                        animals[i].pos = np.clip(animals[i].pos + shift, lo, hi)
                        animals[j].pos = np.clip(animals[j].pos - shift, lo, hi)
                        animals[i].speed *= 0.9
                        animals[j].speed *= 0.9
                        moved = True
            if moved:
                for a in animals:
                    a.pos = a.pos + _wall_shift(a.pose(), arena)
                poses = [a.pose() for a in animals]
        if (step + 1) % substeps == 0:
            t = step // substeps
            for i in range(n_animals):
                out[t, i] = poses[i]
    return out


# --------------------------------------------------------------------------------------------
# Prediction errors


@dataclass(frozen=True)
class CorruptionConfig:
    """Rates and lengths of the simulated DLC errors.

    Rates are events per individual per second of video (``identity_swap``: probability per
    close encounter of two animals). Lengths are ``(min, max)`` frames, drawn log-uniformly.

    Attributes
    ----------
    jitter_px : float
        Mean standard deviation (px) of the Gaussian jitter on every point; paws get more,
        the head less.
    rates : dict
        Kind name -> event rate.
    lengths : dict
        Kind name -> ``(min_frames, max_frames)``.
    encounter_px : float
        Centre distance under which two animals count as close (identity swaps).
    """

    jitter_px: float = 1.5
    rates: dict[str, float] = field(
        default_factory=lambda: {
            "jitter_burst": 0.10,
            "low_likelihood": 0.10,
            "jump_bodypart": 0.15,
            "jump_background": 0.08,
            "lr_swap": 0.06,
            "identity_swap": 0.15,
            "dropout": 0.08,
            "frozen": 0.05,
        }
    )
    lengths: dict[str, tuple[int, int]] = field(
        default_factory=lambda: {
            "jitter_burst": (3, 30),
            "low_likelihood": (5, 60),
            "jump_bodypart": (1, 10),
            "jump_background": (1, 8),
            "lr_swap": (3, 45),
            "identity_swap": (5, 60),
            "dropout": (1, 30),
            "frozen": (5, 40),
        }
    )
    encounter_px: float = 80.0

    def __post_init__(self) -> None:
        kinds = set(CORRUPTION_KINDS)
        for name in ("rates", "lengths"):
            keys = set(getattr(self, name))
            if keys != kinds:
                raise ValueError(
                    f"CorruptionConfig.{name} must have exactly the kinds {sorted(kinds)}; "
                    f"missing {sorted(kinds - keys)}, unknown {sorted(keys - kinds)}"
                )
        for k, v in self.rates.items():
            if v < 0:
                raise ValueError(f"CorruptionConfig.rates[{k!r}] must be >= 0, got {v}")
        for k, (a, b) in self.lengths.items():
            if not 1 <= a <= b:
                raise ValueError(f"CorruptionConfig.lengths[{k!r}] must be 1 <= min <= max")
        if self.jitter_px < 0:
            raise ValueError(f"jitter_px must be >= 0, got {self.jitter_px}")

    def scaled(self, factor: float) -> CorruptionConfig:
        """Return a copy with every rate multiplied by ``factor`` (probabilities capped at 1)."""
        rates = {k: v * factor for k, v in self.rates.items()}
        rates["identity_swap"] = min(1.0, rates["identity_swap"])
        kw = {f.name: getattr(self, f.name) for f in fields(self)}
        kw["rates"] = rates
        return CorruptionConfig(**kw)


_JITTER_FACTOR = {
    "snout": 0.8,
    "left_ear": 0.8,
    "right_ear": 0.8,
    "neck": 1.0,
    "spine_mid": 1.2,
    "tailbase": 1.0,
    "left_forepaw": 1.3,
    "right_forepaw": 1.3,
    "left_hindpaw": 1.3,
    "right_hindpaw": 1.3,
}
_OCCLUSION_WEIGHT = {  # paws disappear under the body far more often than the head
    "left_forepaw": 3.0,
    "right_forepaw": 3.0,
    "left_hindpaw": 3.0,
    "right_hindpaw": 3.0,
    "tailbase": 1.5,
}


def _ar1(rng: np.random.Generator, shape: tuple[int, ...], a: float) -> np.ndarray:
    """Unit-variance AR(1) noise along axis 0."""
    e = rng.normal(size=shape)
    out = np.empty(shape)
    out[0] = e[0]
    b = np.sqrt(1.0 - a * a)
    for t in range(1, shape[0]):
        out[t] = a * out[t - 1] + b * e[t]
    return out


def _length(rng: np.random.Generator, lo: int, hi: int) -> int:
    return int(np.clip(np.round(np.exp(rng.uniform(np.log(lo), np.log(hi + 1)))), lo, hi))


def _merge_runs(runs: list[tuple[int, int]], gap: int) -> list[tuple[int, int]]:
    """Merge runs separated by fewer than ``gap`` frames (one encounter, not many)."""
    merged: list[tuple[int, int]] = []
    for a, b in runs:
        if merged and a - merged[-1][1] < gap:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


def corrupt_predictions(
    truth: np.ndarray,
    rng: np.random.Generator,
    *,
    fps: float = 30.0,
    width: int = 640,
    height: int = 480,
    config: CorruptionConfig | None = None,
    rate_scale: float = 1.0,
    bodyparts: tuple[str, ...] = BODYPARTS,
    lr_pairs: tuple[tuple[str, str], ...] = LR_PAIRS,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn ground-truth keypoints into DLC-like predictions with recorded errors.

    Every point gets Gaussian jitter (``config.jitter_px``) and a high likelihood
    (0.9-1.0, slowly varying). On top, events of these kinds (codes in
    :data:`~stablemotion_dlc.dlc.corruption.KIND_CODES`) replace a few % of the points; each
    point carries at most one kind and events never overlap:

    ``jitter_burst``
        Several frames of 3-8 px noise, likelihood a little lower.
    ``low_likelihood``
        Occlusion: likelihood < 0.6 and the position drifts away (random walk).
    ``jump_bodypart``
        Confident (~0.9) jump onto another body part (of this or, when close, another animal).
    ``jump_background``
        Confident jump to a fixed spot of the background.
    ``lr_swap``
        A left/right pair (ears, fore- or hind paws) exchanged, confidently.
    ``identity_swap``
        While two animals are close, all their keypoints exchange individuals.
    ``dropout``
        Missing points: x, y and likelihood NaN (one to three keypoints, or a whole animal).
    ``frozen``
        A point stuck at its last position.

    Parameters
    ----------
    truth : np.ndarray
        ``(frames, individuals, keypoints, 2)`` ground truth.
    rng : np.random.Generator
        Source of randomness.
    fps : float
        Frame rate (rates are per second).
    width, height : int
        Frame size, for background jumps.
    config : CorruptionConfig, optional
        Rates and lengths; defaults to :class:`CorruptionConfig()`.
    rate_scale : float
        Multiplies every rate (0 gives jitter only).
    bodyparts : tuple of str
        Names of axis 2 of ``truth`` (selects jitter levels, occlusion weights, pairs).
    lr_pairs : tuple of (str, str)
        Left/right pairs that may be swapped.

    Returns
    -------
    xy : np.ndarray
        ``(frames, individuals, keypoints, 2)`` predictions (NaN for dropouts).
    likelihood : np.ndarray
        ``(frames, individuals, keypoints)`` in [0, 1] (NaN for dropouts).
    kinds : np.ndarray
        ``(frames, individuals, keypoints)`` int8 kind codes (0 = clean).
    """
    truth = np.asarray(truth, dtype=np.float64)
    if truth.ndim != 4 or truth.shape[-1] != 2:
        raise ValueError(f"truth must be (frames, individuals, keypoints, 2), got {truth.shape}")
    n_f, n_i, n_k, _ = truth.shape
    if len(bodyparts) != n_k:
        raise ValueError(f"{len(bodyparts)} bodyparts given for {n_k} keypoints in truth")
    if rate_scale < 0:
        raise ValueError(f"rate_scale must be >= 0, got {rate_scale}")
    cfg = (config or CorruptionConfig()).scaled(rate_scale)
    code = KIND_CODES
    duration = n_f / fps

    sig = np.array([_JITTER_FACTOR.get(b, 1.0) for b in bodyparts]) * cfg.jitter_px
    xy = truth + rng.normal(size=truth.shape) * sig[None, None, :, None]
    # base likelihood: 0.9-1.0, slowly varying per point (AR(1), ~0.5 s correlation)
    z = 1.6 + 1.1 * _ar1(rng, (n_f, n_i, n_k), float(np.exp(-1.0 / (0.5 * fps))))
    lik = 0.9 + 0.1 / (1.0 + np.exp(-z))
    kinds = np.zeros((n_f, n_i, n_k), dtype=np.int8)
    pairs = [
        (bodyparts.index(a), bodyparts.index(b))
        for a, b in lr_pairs
        if a in bodyparts and b in bodyparts
    ]
    occl_w = np.array([_OCCLUSION_WEIGHT.get(b, 1.0) for b in bodyparts])
    occl_w /= occl_w.sum()

    def n_events(kind: str) -> int:
        return int(rng.poisson(cfg.rates[kind] * duration))

    def window(kind: str) -> tuple[int, int]:
        length = min(_length(rng, *cfg.lengths[kind]), n_f)
        start = int(rng.integers(0, n_f - length + 1))
        return start, start + length

    # identity swaps first: they exchange whole (jittered) animals during close encounters
    if n_i > 1 and cfg.rates["identity_swap"] > 0:
        centre = truth[:, :, bodyparts.index("spine_mid") if "spine_mid" in bodyparts else 0]
        for i in range(n_i):
            for j in range(i + 1, n_i):
                close = np.linalg.norm(centre[:, i] - centre[:, j], axis=-1) < cfg.encounter_px
                for a, b in _merge_runs(list(zip(*true_runs(close))), gap=int(fps)):
                    if rng.random() >= cfg.rates["identity_swap"]:
                        continue
                    lo, hi = cfg.lengths["identity_swap"]
                    length = _length(rng, lo, hi)
                    start = int(rng.integers(a, b))
                    stop = min(n_f, start + length)
                    sl = slice(start, stop)
                    free = np.all(kinds[sl, i] == 0, axis=-1) & np.all(kinds[sl, j] == 0, axis=-1)
                    rows = np.arange(start, stop)[free]
                    xy[rows, i], xy[rows, j] = xy[rows, j].copy(), xy[rows, i].copy()
                    lik[rows, i], lik[rows, j] = lik[rows, j].copy(), lik[rows, i].copy()
                    kinds[rows, i] = code["identity_swap"]
                    kinds[rows, j] = code["identity_swap"]

    for ind in range(n_i):
        # left/right swaps (confident)
        if pairs:
            for _ in range(n_events("lr_swap")):
                a_k, b_k = pairs[int(rng.integers(len(pairs)))]
                s, e = window("lr_swap")
                rows = np.arange(s, e)[(kinds[s:e, ind, a_k] == 0) & (kinds[s:e, ind, b_k] == 0)]
                xy[rows, ind, a_k], xy[rows, ind, b_k] = (
                    xy[rows, ind, b_k].copy(),
                    xy[rows, ind, a_k].copy(),
                )
                kinds[rows, ind, a_k] = kinds[rows, ind, b_k] = code["lr_swap"]

        # dropouts: one to three keypoints, sometimes the whole animal
        for _ in range(n_events("dropout")):
            s, e = window("dropout")
            if n_i > 1 and rng.random() < 0.2:
                kps = np.arange(n_k)
            else:
                kps = rng.choice(
                    n_k,
                    size=int(rng.choice([1, 2, 3], p=[0.6, 0.25, 0.15])),
                    replace=False,
                    p=occl_w,
                )
            for kp in kps:
                rows = np.arange(s, e)[kinds[s:e, ind, kp] == 0]
                xy[rows, ind, kp] = np.nan
                lik[rows, ind, kp] = np.nan
                kinds[rows, ind, kp] = code["dropout"]

        # occlusions: likelihood below 0.6, drifting position
        for _ in range(n_events("low_likelihood")):
            s, e = window("low_likelihood")
            k = int(rng.choice(n_k, p=occl_w))
            rows = np.arange(s, e)[kinds[s:e, ind, k] == 0]
            if rows.size == 0:
                continue
            drift = np.cumsum(rng.normal(0.0, 1.8, size=(rows.size, 2)), axis=0)
            xy[rows, ind, k] += drift
            level = rng.uniform(0.08, 0.45)
            wiggle = 0.08 * _ar1(rng, (rows.size,), 0.8)
            lik[rows, ind, k] = np.clip(level + wiggle, 0.01, 0.59)
            kinds[rows, ind, k] = code["low_likelihood"]

        # confident jumps to another body part (this animal, or a close neighbour)
        for _ in range(n_events("jump_bodypart")):
            s, e = window("jump_bodypart")
            k = int(rng.integers(n_k))
            rows = np.arange(s, e)[kinds[s:e, ind, k] == 0]
            if rows.size == 0:
                continue
            src_ind = ind
            if n_i > 1 and rng.random() < 0.4:
                other = int(rng.choice([j for j in range(n_i) if j != ind]))
                gap = np.linalg.norm(truth[rows[0], other].mean(0) - truth[rows[0], ind].mean(0))
                if gap < 150.0:
                    src_ind = other
            src_k = int(rng.choice([j for j in range(n_k) if j != k or src_ind != ind]))
            xy[rows, ind, k] = truth[rows, src_ind, src_k] + rng.normal(
                0.0, sig[src_k], size=(rows.size, 2)
            )
            lik[rows, ind, k] = np.clip(
                rng.uniform(0.82, 0.97) + 0.02 * rng.normal(size=rows.size), 0.6, 1.0
            )
            kinds[rows, ind, k] = code["jump_bodypart"]

        # confident jumps to the background (a fixed spot: wall, corner, bedding)
        for _ in range(n_events("jump_background")):
            s, e = window("jump_background")
            k = int(rng.integers(n_k))
            rows = np.arange(s, e)[kinds[s:e, ind, k] == 0]
            if rows.size == 0:
                continue
            if rng.random() < 0.5:
                spot = rng.uniform([10.0, 10.0], [width - 10.0, height - 10.0])
            else:
                ang = rng.uniform(-np.pi, np.pi)
                spot = truth[rows[0], ind, k] + rng.uniform(40.0, 150.0) * np.array(
                    [np.cos(ang), np.sin(ang)]
                )
            xy[rows, ind, k] = spot + rng.normal(0.0, 1.0, size=(rows.size, 2))
            lik[rows, ind, k] = np.clip(
                rng.uniform(0.8, 0.97) + 0.02 * rng.normal(size=rows.size), 0.6, 1.0
            )
            kinds[rows, ind, k] = code["jump_background"]

        # frozen points: stuck at the last value
        for _ in range(n_events("frozen")):
            s, e = window("frozen")
            k = int(rng.integers(n_k))
            rows = np.arange(s, e)[kinds[s:e, ind, k] == 0]
            if rows.size == 0:
                continue
            xy[rows, ind, k] = xy[rows[0], ind, k]
            lik[rows, ind, k] = np.clip(
                rng.uniform(0.6, 0.95) + 0.01 * rng.normal(size=rows.size), 0.5, 1.0
            )
            kinds[rows, ind, k] = code["frozen"]

        # bursts of strong jitter
        for _ in range(n_events("jitter_burst")):
            s, e = window("jitter_burst")
            k = int(rng.integers(n_k))
            rows = np.arange(s, e)[kinds[s:e, ind, k] == 0]
            if rows.size == 0:
                continue
            xy[rows, ind, k] += rng.normal(0.0, rng.uniform(3.0, 8.0), size=(rows.size, 2))
            lik[rows, ind, k] *= rng.uniform(0.7, 0.98, size=rows.size)
            kinds[rows, ind, k] = code["jitter_burst"]

    shares = {name: float(np.mean(kinds == c)) for name, c in code.items() if c}
    logger.debug("corruption shares: %s", str(shares))
    return xy, lik, kinds
