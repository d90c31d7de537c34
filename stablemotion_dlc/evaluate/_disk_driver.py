"""Drive DISK (Rose et al., Nature Methods 2025) inside its own virtual environment.

This file is executed as a script by the DISK venv's interpreter (see
:func:`stablemotion_dlc.evaluate.disk_baseline.fill_gaps_disk`); it must not import
``stablemotion_dlc`` and the project's own environment never imports it. It only uses
numpy, torch and the ``DISK`` package (``pip install disk-impute``, tested with 1.0.1).

Why the python functions and not DISK's launchers (``DISK-prepare-data``,
``DISK-train``, ``DISK-impute``):

* the network size is read from the installed package's ``conf/network/*.yaml`` and
  cannot be overridden on the command line, and training runs for a number of epochs,
  not a time budget;
* ``DISK-impute`` only fills a frame span where the union of missing keypoints forms a
  single run of at most ``length - 2`` frames flanked by frames where every keypoint is
  present; on DLC files with scattered low-likelihood points that excludes most gaps.

So this driver calls DISK's own building blocks, unchanged: ``create_dataset`` (windows
of the file's fully observed stretches; for training at stride 1 with ``fill_gap`` 3, as
DISK advises when a dataset has fewer than 2,000 windows), ``create_proba_missing_files`` (DISK's
missingness model learned from the file's own gaps), ``init_transforms`` /
``load_datasets`` (DISK's augmentations: random gaps, keypoint swaps, view invariance,
per-window normalisation), ``construct_NN_model`` and ``feed_forward`` (network and
loss), and DISK's ``ImputeDataset`` for inference, with one window centred on each
per-keypoint gap (every missing point in the window is masked, as in training).

Inputs (in ``--workdir``): ``train.npy`` and ``gappy.npy``, float arrays
``(frames, keypoints, 2)`` with NaN for missing. Outputs: ``filled.npy`` (NaN where DISK
could not impute, e.g. a gap longer than ``length - 2``) and ``report.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import random
import shutil
import sys
import time
from pathlib import Path

import numpy as np

LOG = logging.getLogger("DISK")


def _runs(mask_1d):
    """Return ``(start, length)`` of the True runs of a 1-D boolean array."""
    m = np.concatenate([[False], np.asarray(mask_1d, bool), [False]])
    d = np.diff(m.astype(np.int8))
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1)
    return list(zip(starts.tolist(), (ends - starts).tolist()))


def _network_config(name):
    """Small DISK network configurations that train in minutes on one CPU thread."""
    if name == "gru":
        # DISK's "lighter architecture" (2nd best in the paper), reduced from 3x512.
        return {"type": "GRU", "num_layers": 2, "size_layer": 128, "dropout": 0,
                "mu_sigma": True, "beta_mu_sigma": 0.5}
    if name == "transformer":
        # DISK's transformer with one token per frame ("mixed"); the default
        # per-keypoint tokens ("independent") cost ~20 s per step on one thread.
        # mu_sigma must be False with "mixed" in DISK 1.0.1 (shape error otherwise).
        return {"type": "transformer", "input_type": "mixed", "encoding": "fixed",
                "num_layers": 2, "dim_ff": 128, "d_model": 64, "num_heads": 4,
                "activation": "relu", "norm_first": True, "attn_type": "standard",
                "norm": "layer", "dropout": 0, "mu_sigma": False, "beta_mu_sigma": 0.5}
    raise ValueError(f"unknown network {name!r}")


def main(argv=None):
    """Prepare, train within the budget, impute; write ``filled.npy`` and ``report.json``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--budget-s", type=float, default=120.0,
                    help="CPU seconds of training (this process, one thread)")
    ap.add_argument("--wall-cap-s", type=float, default=0.0,
                    help="stop training after this many wall seconds anyway (default 4x budget)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--length", type=int, required=True)
    ap.add_argument("--stride", type=int, default=0)
    ap.add_argument("--train-stride", type=int, default=1)
    ap.add_argument("--fill-gap", type=int, default=3,
                    help="DISK's fill_gap for the training windows (linear fill of gaps <= N)")
    ap.add_argument("--network", default="gru")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--swap", type=float, default=0.5)
    ap.add_argument("--mu-sigma", type=int, default=-1,
                    help="1: probabilistic head (NLL loss), 0: plain L1; -1: network default")
    args = ap.parse_args(argv)

    import DISK
    import torch
    from DISK.create_dataset import create_dataset
    from DISK.create_proba_missing_files import create_proba_missing_files
    from DISK.launchers.train_evaluate import find_proba_files
    from DISK.utils.dataset_utils import ImputeDataset, load_datasets
    from DISK.utils.train_fillmissing import construct_NN_model, feed_forward
    from DISK.utils.transforms import init_transforms, reconstruct_before_normalization
    from torch.nn.utils import clip_grad_norm_
    from torch.utils.data import DataLoader

    torch.set_num_threads(1)
    with contextlib.suppress(RuntimeError):  # already set if torch started threads
        torch.set_num_interop_threads(1)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)  # noqa: NPY002 - DISK's gap simulation draws from the global RNG
    random.seed(args.seed)

    wd = Path(args.workdir)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s disk-driver %(message)s")
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    try:
        from importlib.metadata import version

        disk_version = version("disk-impute")
    except Exception:  # noqa: BLE001 - informational only
        disk_version = getattr(DISK, "__version__", "?")
    report = {"disk_version": disk_version, "torch": torch.__version__,
              "length": args.length, "network": args.network, "seed": args.seed,
              "budget_s": args.budget_s}
    t0 = time.perf_counter()
    c0 = time.process_time()

    train = np.load(wd / "train.npy").astype(np.float64)
    gappy = np.load(wd / "gappy.npy").astype(np.float64)
    n_frames, n_kp, n_dim = train.shape
    length = int(args.length)
    stride = args.stride if args.stride > 0 else max(1, length // 8)
    report["stride"] = stride

    # --- 1. DISK dataset from the training file -----------------------------------------
    # DISK splits files into train / val / test; we train on the whole file (no held-out
    # selection: training stops on the budget), so the same data is given three times
    # (non-sequential mode assigns file 0 -> train, 1 -> val, 2 -> test).
    project = wd / "project"
    dataset_path = project / "DISK_data" / "dataset"
    model_dir = project / "DISK_train" / "model"
    for d in (dataset_path, model_dir):
        d.mkdir(parents=True, exist_ok=True)
    files = []
    for part in ("train", "val", "test"):
        p = project / f"{part}.npy"
        shutil.copyfile(wd / "train.npy", p)
        files.append(str(p))
    train_stride = args.train_stride if args.train_stride > 0 else stride
    fell_back = False
    try:
        n_proba, keypoints, divider = create_dataset(
            str(dataset_path), files, "npy", length, stride, 0, False, 1, 1, 0.6, 0, 0, [],
            LOG)
    except ValueError as exc:  # no fully observed window at this stride: use the training
        LOG.warning("DISK dataset at stride %d: %s; retrying at stride %d with fill_gap %d",
                    stride, exc, train_stride, args.fill_gap)
        stride = train_stride
        fell_back = True
        report["stride"] = stride
        n_proba, keypoints, divider = create_dataset(
            str(dataset_path), files, "npy", length, stride, args.fill_gap, False, 1, 1, 0.6,
            0, 0, [], LOG)
    _, indep, _, suffix = create_proba_missing_files(
        str(project), str(dataset_path), False, False, "_set_keypoints", None, LOG)
    ok, proba_file, proba_length_file = find_proba_files(str(dataset_path), suffix)
    if not ok:
        raise RuntimeError(f"DISK wrote no proba_missing files in {dataset_path}")
    # Training windows: DISK asks for >= 2,000 samples and advises a lower stride when a
    # file gives fewer; one file gives ~50-200 windows at stride length / 8, on which the
    # network memorises its windows. So the training set is rebuilt at stride
    # `train_stride` (the missingness model above keeps the coarser stride: it loops over
    # every window one by one), and with DISK's `fill_gap` (its other advice): gaps of up
    # to `fill_gap` frames are filled linearly in the training windows only, so that a
    # 1-frame dropout does not discard a whole window.
    train_path = dataset_path
    n_train = n_proba
    if not fell_back and (train_stride != stride or args.fill_gap > 0):
        train_path = project / "DISK_data" / "dataset_train"
        train_path.mkdir(parents=True, exist_ok=True)
        n_train, _, _ = create_dataset(
            str(train_path), files, "npy", length, train_stride, args.fill_gap, False, 1, 1,
            0.6, 0, 0, [], LOG)
    report.update(n_train_windows=int(n_train), n_windows_missingness=int(n_proba),
                  train_stride=train_stride, fill_gap=args.fill_gap)
    report["prep_s"] = round(time.perf_counter() - t0, 2)

    # --- 2. training, stopped by the CPU-time budget -------------------------------------
    cfg = _network_config(args.network)
    if args.mu_sigma in (0, 1):
        cfg["mu_sigma"] = bool(args.mu_sigma)
    report["network_config"] = cfg
    transforms = init_transforms(keypoints, divider, length, str(model_dir), LOG,
                                 add_missing_pad=(1, 0), viewinvariant=True,
                                 normalize=False, normalizecube=True, swap=args.swap,
                                 proba_file=proba_file,
                                 proba_length_file=proba_length_file,
                                 indep_keypoints=indep, add_missing=True)
    train_ds, _, _ = load_datasets(
        dataset_path=str(train_path), keypoints=keypoints, divider=divider,
        transform=transforms, dataset_type="supervised", suffix="_w-0-nans",
        root_path=str(project), outputdir=str(model_dir), skeleton_graph=None,
        label_type="all", verbose=0, logger=LOG)
    gen = torch.Generator().manual_seed(args.seed)
    loader = DataLoader(train_ds, batch_size=args.batch_size, shuffle=True,
                        num_workers=0, generator=gen)
    model = construct_NN_model(cfg, keypoints, divider, length, None, "cpu")
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=args.lr)
    crit = torch.nn.L1Loss(reduction="none")
    t_train = time.perf_counter()
    c_train = time.process_time()
    wall_cap = args.wall_cap_s if args.wall_cap_s > 0 else 4 * args.budget_s
    steps = epochs = 0
    losses = []
    done = False
    while not done:
        for batch in loader:
            model.train()
            opt.zero_grad()
            out = feed_forward(batch["X"], batch["mask_holes"], divider, model, True, 100,
                               cfg, data_full=batch["x_supp"], criterion_seq=crit,
                               logger=LOG)
            loss = out[2]
            loss.backward()
            clip_grad_norm_(model.parameters(), 25, norm_type=2)
            opt.step()
            steps += 1
            losses.append(float(loss.item()))
            if (time.process_time() - c_train >= args.budget_s
                    or time.perf_counter() - t_train >= wall_cap):
                done = True
                break
        else:
            epochs += 1
        if steps % 50 == 0 or done:
            LOG.info("step %d epoch %d loss %.4f", steps, epochs, np.mean(losses[-20:]))
    report.update(train_s=round(time.perf_counter() - t_train, 2),
                  train_cpu_s=round(time.process_time() - c_train, 2),
                  stopped_by_wall_cap=bool(time.perf_counter() - t_train >= wall_cap),
                  lr=args.lr, swap=args.swap, batch_size=args.batch_size, steps=steps,
                  epochs=epochs, loss_first20=float(np.mean(losses[:20])),
                  loss_last20=float(np.mean(losses[-20:])))

    torch.save({"model_state_dict": model.state_dict(), "network": cfg, "length": length,
                "keypoints": keypoints}, model_dir / "model.pt")

    # --- 3. imputation: one window per per-keypoint gap -----------------------------------
    t_imp = time.perf_counter()
    nan = np.isnan(gappy).any(axis=-1)
    gaps = []  # (keypoint, start, length)
    for k in range(n_kp):
        gaps.extend((k, s, g) for s, g in _runs(nan[:, k]))
    win = min(length, n_frames)
    windows, targets, skipped = [], [], 0
    for k, s, g in gaps:
        if g > win - 2 or nan[:, k].all():
            skipped += 1
            continue
        start = int(np.clip(s - (win - g) // 2, 0, n_frames - win))
        windows.append([0, start, win])
        targets.append((k, s, g))
    filled = gappy.copy()
    if windows:
        npz = dataset_path / "gappy_fulllength.npz"
        np.savez(npz, X=gappy.reshape(1, n_frames, -1),
                 time=np.arange(n_frames, dtype=float).reshape(1, -1),
                 files=np.array([str(wd / "gappy.npy")]))
        windows_arr = np.asarray(windows, dtype=int)

        class _GapWindows(ImputeDataset):
            """DISK's ImputeDataset on given windows (any missing pattern inside)."""

            def get_possible_indices(self):
                return windows_arr

            def _get_sample(self, index):
                i_file, i_pos, len_ = self.possible_indices[index]
                x = np.full((self.seq_length, self.n_keypoints * self.divider), np.nan)
                x[:len_] = self.X[i_file, i_pos: i_pos + len_]
                m = np.zeros_like(x, dtype=bool)
                m[:len_] = self.mask[i_file, i_pos: i_pos + len_]
                return {"x": x, "m": m, "z": np.array([len_]), "i_file": i_file,
                        "i_pos": i_pos, "index": index}

        imp_transforms = init_transforms(keypoints, divider, length, str(model_dir), LOG,
                                         add_missing=False, viewinvariant=True,
                                         normalize=False, normalizecube=True, swap=0)
        ds = _GapWindows(str(npz), transform=imp_transforms, freq=1, skeleton_graph=None,
                         length_sample=length, stride=stride, padding=(1, 1),
                         outputdir=str(model_dir), verbose=0, keypoints=keypoints,
                         seq_length=length, divider=divider, label_type="all",
                         logger=LOG)
        model.eval()
        preds = np.empty((len(windows), length, n_kp, n_dim))
        with torch.no_grad():
            i0 = 0
            for batch in DataLoader(ds, batch_size=64, shuffle=False):
                de_out = feed_forward(batch["X"], batch["mask_holes"], divider, model,
                                      True, 1, cfg, key_padding_mask=batch["length_seq"],
                                      logger=LOG)
                out = de_out[0].detach().cpu().numpy()
                out = reconstruct_before_normalization(out, batch, imp_transforms)
                preds[i0: i0 + len(out)] = out
                i0 += len(out)
        for (k, s, g), (_, start, _), p in zip(targets, windows, preds):
            filled[s: s + g, k] = p[s - start: s - start + g, k]
    report.update(n_gaps=len(gaps), n_gaps_imputed=len(targets), n_gaps_skipped=skipped,
                  impute_s=round(time.perf_counter() - t_imp, 2),
                  total_s=round(time.perf_counter() - t0, 2),
                  total_cpu_s=round(time.process_time() - c0, 2))
    np.save(wd / "filled.npy", filled)
    (wd / "report.json").write_text(json.dumps(report, indent=2))
    LOG.info("done: %s", json.dumps({k: v for k, v in report.items()
                                      if k != "network_config"}))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
