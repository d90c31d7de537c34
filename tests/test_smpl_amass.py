"""AMASS loading on generated .npz files, resampling, canonical clips, body-model handling."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from stablemotion_dlc.smpl.amass import (
    AmassFileError,
    SmplModelNotFoundError,
    cut_clips,
    generate_motion,
    load_amass,
    load_amass_clips,
    resample,
    skeleton_from_body_model,
)
from stablemotion_dlc.smpl.skeleton import (
    PARENTS,
    axis_angle_to_matrix,
    generated_skeleton,
    heading_angle,
    joints_from_axis_angle,
    matrix_to_axis_angle,
    rot_z,
)


def _write_amass(path: Path, n_frames: int = 241, fps: float = 60.0, seed: int = 0,
                 rate_key: str = "mocap_framerate", width: int = 156) -> dict[str, np.ndarray]:
    """A generated motion moved to an arbitrary world place/heading, saved like AMASS."""
    m = generate_motion(n_frames, np.random.default_rng(seed), fps=fps,
                        skeleton=generated_skeleton())
    rz = rot_z(2.0)
    poses = m.poses.copy()
    poses[:, 0] = matrix_to_axis_angle(rz @ axis_angle_to_matrix(m.poses[:, 0]))
    pelvis = m.joints[:, 0] @ rz.T + [3.0, -1.0, 0.4]
    trans = pelvis - m.skeleton.rest_joints[0]
    flat = np.zeros((n_frames, width))
    flat[:, :66] = poses.reshape(n_frames, 66)
    arrays = {"poses": flat, "trans": trans, "betas": np.zeros(16), rate_key: np.array(fps),
              "gender": np.array(b"male")}
    np.savez(path, **arrays)
    return {"poses": poses, "trans": trans}


def test_load_resamples_60_to_20_fps(tmp_path: Path) -> None:
    src = _write_amass(tmp_path / "walk_poses.npz")
    m = load_amass(tmp_path / "walk_poses.npz")
    assert len(m) == 81 and m.fps == 20.0 and m.joints.shape == (81, 24, 3)
    # 60 -> 20 fps keeps every third frame exactly
    assert np.allclose(axis_angle_to_matrix(m.poses), axis_angle_to_matrix(src["poses"][::3]),
                       atol=1e-9)
    assert np.allclose(m.trans, src["trans"][::3])
    assert np.allclose(m.joints, joints_from_axis_angle(m.poses, m.trans, m.skeleton))
    assert "generated" in m.skeleton.source


def test_load_accepts_smpl_width_and_other_rate_key(tmp_path: Path) -> None:
    _write_amass(tmp_path / "a.npz", n_frames=101, fps=100.0, rate_key="mocap_frame_rate",
                 width=72)
    m = load_amass(tmp_path / "a.npz")
    assert len(m) == 21


def test_resample_slerps_rotations_and_lerps_translation() -> None:
    t = np.arange(10)
    poses = np.zeros((10, 2, 3))
    poses[:, 0, 2] = 0.1 * t  # constant angular velocity about z
    poses[:, 1, 0] = -0.2 * t
    trans = np.stack([t * 0.3, t * 0.0, t * 0.0 + 1], -1).astype(float)
    p, tr = resample(poses, trans, src_fps=30.0, dst_fps=20.0)
    src_pos = np.arange(len(p)) * 1.5
    assert len(p) == 7 and src_pos[-1] <= 9
    assert np.allclose(p[:, 0, 2], 0.1 * src_pos) and np.allclose(p[:, 1, 0], -0.2 * src_pos)
    assert np.allclose(tr[:, 0], 0.3 * src_pos)


def test_clips_are_canonical(tmp_path: Path) -> None:
    _write_amass(tmp_path / "walk.npz", n_frames=601)
    m = load_amass(tmp_path / "walk.npz")
    floor = m.joints[..., 2].min()
    clips = cut_clips(m, length=50, stride=25)
    assert len(clips) == (len(m) - 50) // 25 + 1
    lowest = min(c.joints[..., 2].min() for c in clips)
    assert lowest == pytest.approx(0.0, abs=1e-12)
    for c in clips:
        assert len(c) == 50
        assert heading_angle(axis_angle_to_matrix(c.poses[0, 0])) == pytest.approx(0.0, abs=1e-9)
        assert np.allclose(c.joints[0, 0, :2], 0.0, atol=1e-12)
        assert np.allclose(c.joints, joints_from_axis_angle(c.poses, c.trans, c.skeleton))
        # canonicalisation is rigid: bone geometry and heights above the floor are unchanged
        start = int(c.source.rsplit("[", 1)[1].split(":")[0])
        orig = m.joints[start:start + 50]
        assert np.allclose(c.joints[..., 2], orig[..., 2] - floor)
        assert np.allclose(np.linalg.norm(c.joints[:, 5] - c.joints[:, 0], axis=-1),
                           np.linalg.norm(orig[:, 5] - orig[:, 0], axis=-1))
    # a folder is searched recursively, shape.npz files skipped
    np.savez(tmp_path / "shape.npz", betas=np.zeros(16))
    assert len(load_amass_clips(tmp_path, clip_length=100)) == len(cut_clips(m, 100))


@pytest.mark.parametrize(("content", "message"), [
    ({"betas": np.zeros(16)}, "no 'poses'"),
    ({"poses": np.zeros((10, 156)), "trans": np.zeros((10, 3))}, "frame rate"),
    ({"poses": np.zeros((10, 30)), "trans": np.zeros((10, 3)), "mocap_framerate": 60},
     "'poses' must be"),
    ({"poses": np.zeros((10, 156)), "trans": np.zeros((9, 3)), "mocap_framerate": 60},
     "'trans' must be"),
    ({"poses": np.full((10, 156), np.nan), "trans": np.zeros((10, 3)), "mocap_framerate": 60},
     "NaN"),
])
def test_bad_files_name_file_and_problem(tmp_path: Path, content: dict, message: str) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, **content)
    with pytest.raises(AmassFileError, match=message) as info:
        load_amass(path)
    assert "bad.npz" in str(info.value)


def test_unreadable_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(AmassFileError, match="junk.npz: not a readable"):
        load_amass(tmp_path / "junk.npz")
    with pytest.raises(AmassFileError, match="file not found"):
        load_amass(tmp_path / "nothing.npz")


def test_missing_body_model_says_what_to_download(tmp_path: Path) -> None:
    _write_amass(tmp_path / "walk.npz", n_frames=31)
    with pytest.raises(SmplModelNotFoundError) as info:
        load_amass(tmp_path / "walk.npz", model_path=tmp_path / "models" / "SMPLH_MALE.npz")
    text = str(info.value)
    assert "SMPLH_MALE.npz" in text and "not found" in text
    assert "https://mano.is.tue.mpg.de" in text and "https://smpl.is.tue.mpg.de" in text
    (tmp_path / "models").mkdir()
    with pytest.raises(SmplModelNotFoundError, match="no model file for gender 'male'"):
        load_amass(tmp_path / "walk.npz", model_path=tmp_path / "models")
    np.savez(tmp_path / "models" / "SMPL_MALE.pkl.npz", x=np.zeros(1))
    (tmp_path / "models" / "SMPL_MALE.pkl").write_bytes(b"garbage")
    with pytest.raises(SmplModelNotFoundError, match="not a readable SMPL"):
        load_amass(tmp_path / "walk.npz", model_path=tmp_path / "models")


def _fake_smpl_model(path: Path, rng: np.random.Generator) -> None:
    """A random mesh with SMPL's 24-joint structure and vertex count (no licensed data)."""
    n_v = 6890
    rest = generated_skeleton().rest_joints
    owner = rng.integers(0, 24, n_v)
    v_template = rest[owner] + rng.normal(0, 0.03, (n_v, 3))
    weights = rng.random((n_v, 24)) ** 8
    weights[np.arange(n_v), owner] += 1.0
    weights /= weights.sum(1, keepdims=True)
    j_reg = np.zeros((24, n_v))
    for j in range(24):
        j_reg[j, owner == j] = 1.0
    j_reg /= j_reg.sum(1, keepdims=True)
    kintree = np.array([[2**32 - 1] + list(PARENTS[1:]), list(range(24))], dtype=np.int64)
    data = {"v_template": v_template, "shapedirs": rng.normal(0, 0.01, (n_v, 3, 10)),
            "posedirs": rng.normal(0, 0.001, (n_v, 3, 207)), "J_regressor": j_reg,
            "weights": weights, "kintree_table": kintree,
            "f": rng.integers(0, n_v, (1000, 3)).astype(np.int64)}
    with open(path, "wb") as fh:
        pickle.dump(data, fh)


def test_body_model_joints_match_smplx(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    smplx = pytest.importorskip("smplx")
    rng = np.random.default_rng(5)
    model_file = tmp_path / "SMPL_NEUTRAL.pkl"
    _fake_smpl_model(model_file, rng)
    betas = rng.normal(0, 1, 16)
    np.savez(tmp_path / "walk.npz", poses=rng.normal(0, 0.4, (12, 72)),
             trans=rng.normal(0, 0.5, (12, 3)), betas=betas, mocap_framerate=20.0)
    m = load_amass(tmp_path / "walk.npz", model_path=tmp_path)  # folder -> SMPL_NEUTRAL.pkl
    assert m.skeleton.source == str(model_file)
    assert np.allclose(m.skeleton.rest_joints,
                       skeleton_from_body_model(model_file, betas).rest_joints)
    body = smplx.create(str(model_file), model_type="smpl", num_betas=10)
    full = np.zeros((12, 24, 3))
    full[:, :22] = m.poses
    with torch.no_grad():
        out = body(betas=torch.tensor(betas[None, :10], dtype=torch.float32).expand(12, -1),
                   global_orient=torch.tensor(full[:, 0], dtype=torch.float32),
                   body_pose=torch.tensor(full[:, 1:].reshape(12, -1), dtype=torch.float32),
                   transl=torch.tensor(m.trans, dtype=torch.float32))
    assert np.abs(out.joints[:, :24].numpy() - m.joints).max() < 1e-5
