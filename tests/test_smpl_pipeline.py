"""SMPL pipeline end to end with a tiny, briefly trained model (behaviour, not quality).

Tests that need the trained model are marked slow: training even 2 steps takes 10-50 s on a
busy 2-core CPU (model build, normaliser fit, checkpoint write).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from stablemotion_dlc.core.inference import Cleaner, centred_windows  # noqa: E402
from stablemotion_dlc.smpl.amass import AmassFileError, generate_motion, load_amass  # noqa: E402
from stablemotion_dlc.smpl.corruption import (  # noqa: E402
    CORRUPTION_KINDS,
    apply_corruption,
    corrupt,
)
from stablemotion_dlc.smpl.pipeline import (  # noqa: E402
    clean_motion,
    clean_smpl,
    evaluate_smpl,
    interpolate_frames,
    load_cleaner,
    savgol_joints,
    train_smpl,
)
from stablemotion_dlc.smpl.rifke import RifkeRepresentation  # noqa: E402
from stablemotion_dlc.smpl.skeleton import (  # noqa: E402
    axis_angle_to_matrix,
    joints_from_axis_angle,
)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("smpl_model") / "model.pt"
    return train_smpl(out, n_generated=4, window=32, steps=2, batch_size=4, model="tiny",
                      progress=False, normalizer_batches=1, checkpoint_every=0)


@pytest.mark.slow
def test_clean_motion_keeps_unflagged_frames_exactly(model_file: Path) -> None:
    cleaner = load_cleaner(model_file)
    assert cleaner.bundle.spec["name"] == "smpl-rifke"
    motion = generate_motion(70, np.random.default_rng(0))
    bad, labels, _ = corrupt(motion, np.random.default_rng(1))
    res = clean_motion(bad, cleaner, mask=labels)
    keep = ~labels
    assert np.array_equal(res.motion.poses[keep], bad.poses[keep])
    assert np.array_equal(res.motion.trans[keep], bad.trans[keep])
    assert np.array_equal(res.motion.joints[keep], bad.joints[keep])
    assert np.all(np.isfinite(res.motion.joints))
    assert not np.allclose(res.motion.joints[labels], bad.joints[labels])
    rot = axis_angle_to_matrix(res.motion.poses)
    assert np.allclose(rot @ np.swapaxes(rot, -1, -2), np.eye(3), atol=1e-9)
    auto = clean_motion(bad, cleaner)
    assert auto.probability.shape == (70,) and np.all((auto.probability >= 0)
                                                      & (auto.probability <= 1))
    assert np.array_equal(auto.motion.joints[~auto.mask], bad.joints[~auto.mask])


@pytest.mark.slow
def test_clean_smpl_writes_new_file(model_file: Path, tmp_path: Path) -> None:
    m = generate_motion(61, np.random.default_rng(2), fps=20.0)
    src = tmp_path / "walk_poses.npz"
    poses = np.zeros((61, 156))
    poses[:, :66] = m.poses.reshape(61, -1)
    np.savez(src, poses=poses, trans=m.trans, mocap_framerate=20.0, betas=np.zeros(16))
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    res = clean_smpl(src, model_file, progress=False)
    assert res.out_path == tmp_path / "walk_poses_cleaned.npz"
    assert hashlib.sha256(src.read_bytes()).hexdigest() == digest
    with np.load(res.out_path) as z:
        assert z["poses"].shape == (61, 66) and z["joints"].shape == (61, 24, 3)
        assert z["cleaned_mask"].shape == (61,) and float(z["mocap_framerate"]) == 20.0
    again = load_amass(res.out_path)
    assert len(again) == 61
    with pytest.raises(FileExistsError):
        clean_smpl(src, model_file, progress=False)
    with pytest.raises(ValueError, match="overwrite the input"):
        clean_smpl(src, model_file, out_path=src, overwrite=True, progress=False)


def test_baselines() -> None:
    motion = generate_motion(50, np.random.default_rng(3))
    mask = np.zeros(50, bool)
    mask[20:25] = True
    interp = interpolate_frames(motion, mask)
    assert np.array_equal(interp.joints[~mask], motion.joints[~mask])
    assert np.abs(interp.joints[mask] - motion.joints[mask]).max() < 0.2
    sg = savgol_joints(motion.joints)
    assert sg.shape == motion.joints.shape and np.abs(sg - motion.joints).mean() < 0.01


@pytest.mark.slow
def test_evaluate_report(model_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    rep = evaluate_smpl(model_file, n_generated=1, n_frames=40, out_json=out, progress=False)
    assert out.is_file() and rep["n_motions"] == 1
    assert set(rep["methods"]) == {"corrupted", "model", "model_no_rules", "model_oracle_mask",
                                   "interp_detected", "interp_oracle", "savgol"}
    assert rep["methods"]["interp_oracle"]["gmpjpe_cm"] >= 0
    assert 0.0 <= rep["detection"]["recall"] <= 1.0
    assert set(rep["detection_ablation"]) == {"model", "model_no_rules", "rules"}
    assert set(rep["recall_by_kind"]) == set(CORRUPTION_KINDS)
    assert {"0.5", "0.5+rules"} <= set(rep["threshold_sweep"])
    # the rules only ever add frames
    for th in ("0.3", "0.9"):
        assert (rep["threshold_sweep"][f"{th}+rules"]["recall"]
                >= rep["threshold_sweep"][th]["recall"])


def _identity_cleaner(probability: float) -> Cleaner:
    """A core Cleaner whose 'model' detects every frame with ``probability`` and whose
    sampler returns its start values (the placed window, unchanged).

    With it, :func:`clean_motion` must give back the input motion (up to float32 rounding),
    which checks the representation's window placement, its inverse, the core's windowing
    and the decode.
    """
    from stablemotion_dlc.core.checkpoint import ModelBundle
    from stablemotion_dlc.core.diffusion import DiffusionConfig, GaussianDiffusion
    from stablemotion_dlc.core.model import DiT, DiT_models
    from stablemotion_dlc.core.normalize import Normalizer

    rep = RifkeRepresentation()
    bundle = ModelBundle(model=DiT(232, 1, DiT_models["tiny"]()),
                         diffusion=GaussianDiffusion(DiffusionConfig()),
                         normalizer=Normalizer(np.zeros(232), np.ones(232)),
                         layout=rep.layout, spec=rep.spec(), train_config={"window": 32},
                         step=0, package_version="0")
    cleaner = Cleaner(bundle, rep=rep, overlap=8)
    cleaner.diffusion.sample = lambda model, x, gen, **kw: kw["x_start"].clone()  # type: ignore
    calls = {"detect": 0, "cleanup": 0}
    real_cleanup = cleaner.cleanup

    def detect(features: np.ndarray, **_: object) -> np.ndarray:
        calls["detect"] += 1
        return np.full((len(features), 1), probability, np.float32)

    def cleanup(*a: object, **k: object):
        calls["cleanup"] += 1
        return real_cleanup(*a, **k)

    cleaner.detect = detect  # type: ignore[method-assign]
    cleaner.cleanup = cleanup  # type: ignore[method-assign]
    cleaner.calls = calls  # type: ignore[attr-defined]
    return cleaner


def test_window_geometry_round_trips_with_identity_cleaner() -> None:
    motion = generate_motion(90, np.random.default_rng(4))
    # move it far from the origin and turn it: windows must be placed and mapped back
    from stablemotion_dlc.smpl.amass import canonicalize

    moved = canonicalize(motion, floor=-0.3, heading=2.5)
    moved.joints[..., :2] += [40.0, -25.0]
    moved.trans[:, :2] += [40.0, -25.0]
    stub = _identity_cleaner(0.9)
    res = clean_motion(moved, stub, on_ood="ignore")
    assert res.mask.all() and stub.calls["cleanup"] == 1
    assert np.abs(res.motion.joints - moved.joints).max() < 1e-4
    assert np.allclose(axis_angle_to_matrix(res.motion.poses),
                       axis_angle_to_matrix(moved.poses), atol=1e-5)
    # the model flags every frame of a clean motion: out of distribution, never regenerated
    guarded = clean_motion(moved, stub)
    assert guarded.fallback and guarded.check is not None
    assert not guarded.check.in_distribution and "flags 100 %" in guarded.check.reason
    assert not guarded.mask.any()  # the rules find nothing in a clean walk
    assert np.array_equal(guarded.motion.joints, moved.joints)


def test_short_motion_is_cleaned_with_a_shorter_window() -> None:
    stub = _identity_cleaner(0.0)
    for n in (2, 5, 20):
        motion = generate_motion(n, np.random.default_rng(n))
        res = clean_motion(motion, stub, mask=np.ones(n, bool))
        assert res.mask.all() and np.abs(res.motion.joints - motion.joints).max() < 1e-4
        auto = clean_motion(motion, stub)
        assert auto.probability.shape == (n,)
    one = generate_motion(2, np.random.default_rng(0)).slice(0, 1)
    with pytest.raises(AmassFileError, match="only 1 frame"):
        clean_motion(one, stub)


def test_jitter_is_flagged_but_left_to_the_model() -> None:
    from stablemotion_dlc.smpl.labels import suspect_frames
    from stablemotion_dlc.smpl.pipeline import REPAIR_RULES

    assert "jitter" not in REPAIR_RULES and {"pop", "frozen"} <= set(REPAIR_RULES)
    motion = generate_motion(90, np.random.default_rng(7))
    poses, trans = apply_corruption(motion.poses, motion.trans, "jitter", 30, 55,
                                    np.random.default_rng(1))
    from dataclasses import replace

    jittered = replace(motion, poses=poses, trans=trans,
                       joints=joints_from_axis_angle(poses, trans, motion.skeleton))
    jitter = suspect_frames(jittered).rules["jitter"]
    assert jitter[30:55].sum() > 10
    stub = _identity_cleaner(0.0)
    assert not (clean_motion(jittered, stub).mask & jitter).any()


def test_rules_add_their_frames_to_the_model_detections() -> None:
    motion = generate_motion(90, np.random.default_rng(5))
    poses, trans = apply_corruption(motion.poses, motion.trans, "pop", 45, 46,
                                    np.random.default_rng(0))
    from dataclasses import replace

    popped = replace(motion, poses=poses, trans=trans,
                     joints=joints_from_axis_angle(poses, trans, motion.skeleton))
    stub = _identity_cleaner(0.0)  # the model sees nothing
    res = clean_motion(popped, stub)
    assert res.mask[45] and res.probability[45] == 1.0 and stub.calls["detect"] > 0
    assert not res.mask[:35].any() and not res.mask[56:].any()
    assert not clean_motion(popped, stub, rules=False).mask.any()
    calls = stub.calls["detect"]
    only_rules = clean_motion(popped, stub, threshold=1.0)
    assert stub.calls["detect"] == calls  # the model's detection is skipped
    assert np.array_equal(only_rules.mask, res.mask)


def test_centred_windows_cover_flagged_frames_once() -> None:
    rng = np.random.default_rng(6)
    for _ in range(20):
        flagged = rng.random(150) < 0.1
        flagged[rng.integers(0, 100):][:rng.integers(0, 70)] = True
        plan = centred_windows(flagged, 32, margin=4)
        owned = np.zeros(150, int)
        for start, own in plan:
            assert 0 <= start <= 150 - 32
            assert not own[:start].any() and not own[start + 32:].any()
            owned += own
        assert np.array_equal(owned, flagged.astype(int))
    # a short run in the middle gets a window centred on it
    one = np.zeros(100, bool)
    one[50:54] = True
    assert [s for s, _ in centred_windows(one, 32)] == [36]
    assert centred_windows(np.zeros(10, bool), 32) == []
