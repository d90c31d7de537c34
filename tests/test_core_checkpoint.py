"""Model file: round trip, spec mismatch, corrupt files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from stablemotion_dlc.core.checkpoint import load_checkpoint, save_checkpoint, spec_differences
from stablemotion_dlc.core.diffusion import DiffusionConfig, GaussianDiffusion
from stablemotion_dlc.core.model import DiT, DiTConfig
from stablemotion_dlc.core.normalize import Normalizer
from stablemotion_dlc.core.synthetic import synthetic_layout
from stablemotion_dlc.errors import ModelError, ModelMismatchError

torch.set_num_threads(1)

SPEC = {"representation": "dlc", "bodyparts": ["nose", "tail"], "n_features": 4,
        "individuals": ["single"], "fps": 30.0}


def _save(path: Path, **kw: object) -> DiT:
    layout = synthetic_layout(2)
    model = DiT(4, 2, DiTConfig(width=32, depth=1, heads=2))
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.1)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.randn(1, 5, 6), torch.ones(1), torch.ones(1, 5, 6, dtype=torch.bool)).sum() \
        .backward()
    opt.step()
    save_checkpoint(path, model=model, diffusion=GaussianDiffusion(DiffusionConfig(steps=20)),
                    normalizer=Normalizer(np.arange(4.0), np.ones(4) * 2), layout=layout,
                    spec=SPEC, train_config={"window": 32}, step=7,
                    raw_state=model.state_dict(), optimizer_state=opt.state_dict(), **kw)
    return model


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    model = _save(path, extra={"note": "x"})
    b = load_checkpoint(path, expected_spec=dict(SPEC), training_state=True)
    for k, v in model.state_dict().items():
        assert torch.equal(b.model.state_dict()[k], v)
    assert b.step == 7 and b.train_config["window"] == 32
    assert b.diffusion.num_steps == 20 and b.model.config.width == 32
    assert np.array_equal(b.normalizer.mean, np.arange(4.0, dtype=np.float32))
    assert b.layout == synthetic_layout(2)
    assert b.extra["note"] == "x" and isinstance(b.package_version, str)
    assert not b.model.training
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    opt.load_state_dict(b.optimizer_state)
    assert torch.equal(opt.state_dict()["state"][0]["exp_avg"],
                       b.optimizer_state["state"][0]["exp_avg"])
    # plain load skips training state
    assert load_checkpoint(path).optimizer_state is None


def test_mismatch_names_keys_and_values(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    _save(path)
    other = dict(SPEC, bodyparts=["nose", "ear"], n_features=6)
    with pytest.raises(ModelMismatchError) as err:
        load_checkpoint(path, expected_spec=other)
    msg = str(err.value)
    assert "bodyparts" in msg and "'ear'" in msg and "'tail'" in msg
    assert "n_features" in msg and "6" in msg and str(path) in msg
    assert spec_differences({"a": {"b": 1}}, {"a": {"b": 2}}) == ["a.b: model has 2, data has 1"]


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_file_raises_model_error(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "m.safetensors"
    _save(path)
    raw = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "garbage":
        path.write_bytes(b"\x00\x01not a model" * 10)
    else:
        path.write_bytes(b"")
    with pytest.raises(ModelError, match="m.safetensors"):
        load_checkpoint(path)


def test_missing_and_foreign_files(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        load_checkpoint(tmp_path / "none.safetensors")
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "f.safetensors"))
    with pytest.raises(ModelError, match="not a stablemotion-dlc model"):
        load_checkpoint(tmp_path / "f.safetensors")
