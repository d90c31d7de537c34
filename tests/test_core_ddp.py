"""Two-process DistributedDataParallel training on CPU (gloo) through ``torchrun``."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent('''
    import hashlib, os, sys
    import torch
    torch.set_num_threads(1)
    from stablemotion_dlc.core.synthetic import SyntheticConfig, SyntheticSource, make_synthetic
    from stablemotion_dlc.core.train import TrainConfig, Trainer

    out = sys.argv[1]
    data = make_synthetic(3, 300, SyntheticConfig(n_groups=3), seed=0)
    src = SyntheticSource(data, 32, labelled=("dropout", "spike"))
    cfg = TrainConfig(window=32, batch_size=16, steps=40, lr=3e-3, warmup_steps=0,
                      model="tiny", dit={"width": 32, "depth": 2, "heads": 2}, log_every=5,
                      checkpoint_every=0, normalizer_batches=2,
                      log_csv=os.path.join(out, "log.csv"))
    tr = Trainer(src, src.layout, src.spec(), os.path.join(out, "m.safetensors"), cfg,
                 progress=False)
    tr.run()
    h = hashlib.sha256()
    for p in list(tr.model.parameters()) + list(tr.ema.parameters()):
        h.update(p.detach().cpu().numpy().tobytes())
    with open(os.path.join(out, f"rank{tr.rank}.txt"), "w") as fh:
        fh.write(f"{tr.world} {h.hexdigest()}")
    tr.close()
''')


@pytest.mark.slow
def test_two_process_ddp_on_cpu(tmp_path: Path) -> None:
    script = tmp_path / "ddp_train.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    env.pop("WORLD_SIZE", None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           "--nproc_per_node", "2", str(script), str(tmp_path)]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    r0 = (tmp_path / "rank0.txt").read_text().split()
    r1 = (tmp_path / "rank1.txt").read_text().split()
    assert r0[0] == "2" and r1[0] == "2"
    assert r0[1] == r1[1], "ranks drifted apart"
    rows = list(csv.DictReader((tmp_path / "log.csv").open()))
    losses = [float(r["loss"]) for r in rows]
    assert len(losses) == 8
    assert np.mean(losses[-2:]) < 0.8 * np.mean(losses[:2])
    assert (tmp_path / "m.safetensors").exists()
