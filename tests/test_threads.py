"""Thread counts from the CPUs the process may use (issue 17), with fake cgroup files."""

from __future__ import annotations

from pathlib import Path

import pytest

from stablemotion_dlc import _threads as th


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_cgroup_v2_quota(tmp_path):
    _write(tmp_path / "proc", "0::/user.slice/job\n")
    _write(tmp_path / "cg/user.slice/job/cpu.max", "150000 100000\n")
    assert th.cgroup_cpu_limit(tmp_path / "cg", tmp_path / "proc") == 1.5
    assert th.available_cpus(root=tmp_path / "cg", proc_cgroup=tmp_path / "proc",
                             affinity=8) == 2


def test_cgroup_v2_no_quota_and_parent_quota(tmp_path):
    _write(tmp_path / "proc", "0::/a/b\n")
    _write(tmp_path / "cg/a/b/cpu.max", "max 100000\n")
    assert th.cgroup_cpu_limit(tmp_path / "cg", tmp_path / "proc") is None
    _write(tmp_path / "cg/a/cpu.max", "100000 100000\n")  # a parent's quota holds too
    assert th.cgroup_cpu_limit(tmp_path / "cg", tmp_path / "proc") == 1.0
    assert th.available_cpus(root=tmp_path / "cg", proc_cgroup=tmp_path / "proc",
                             affinity=16) == 1


def test_cgroup_v1_quota(tmp_path):
    _write(tmp_path / "proc", "4:memory:/x\n3:cpu,cpuacct:/docker/abc\n0::/\n")
    _write(tmp_path / "cg/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "300000\n")
    _write(tmp_path / "cg/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n")
    assert th.cgroup_cpu_limit(tmp_path / "cg", tmp_path / "proc") == 3.0
    assert th.available_cpus(root=tmp_path / "cg", proc_cgroup=tmp_path / "proc",
                             affinity=2) == 2  # the affinity mask is smaller


def test_cgroup_v1_unlimited_and_garbage(tmp_path):
    _write(tmp_path / "proc", "1:cpu:/\n")
    _write(tmp_path / "cg/cpu/cpu.cfs_quota_us", "-1\n")
    _write(tmp_path / "cg/cpu/cpu.cfs_period_us", "100000\n")
    assert th.cgroup_cpu_limit(tmp_path / "cg", tmp_path / "proc") is None
    _write(tmp_path / "cg/cpu.max", "lots of cpus\n")
    assert th.cgroup_cpu_limit(tmp_path / "cg", tmp_path / "proc") is None
    assert th.available_cpus(root=tmp_path / "nothing", proc_cgroup=tmp_path / "none",
                             affinity=4) == 4


def test_tiny_quota_still_one_cpu(tmp_path):
    _write(tmp_path / "proc", "0::/\n")
    _write(tmp_path / "cg/cpu.max", "10000 100000\n")  # a tenth of a CPU
    assert th.available_cpus(root=tmp_path / "cg", proc_cgroup=tmp_path / "proc",
                             affinity=4) == 1


def test_real_machine_is_sane():
    n = th.available_cpus()
    assert 1 <= n <= (__import__("os").cpu_count() or 1)


def test_choose_by_work_size():
    tiny = th.model_work(64, 64, 64)  # the default model cleaning
    big = th.model_work(256, 64, 64)
    assert th.choose_threads(tiny, available=8, environ={}).intra == 1
    plan = th.choose_threads(big, available=8, environ={})
    assert 1 < plan.intra <= 8
    assert th.choose_threads(big, available=2, environ={}).intra == 2  # never above the CPUs
    assert th.choose_threads(None, available=3, environ={}).intra == 3
    assert th.choose_threads(big, available=8, processes=4, environ={}).intra <= 2
    assert th.choose_threads(big, device="cuda", available=8, environ={}).intra == 1
    assert th.choose_threads(big, available=8, environ={}).inter == 1


def test_explicit_settings_win():
    assert th.choose_threads(1, threads=6, available=2, environ={}).intra == 6
    env = {"STABLEMOTION_NUM_THREADS": "3", "OMP_NUM_THREADS": "1"}
    assert th.choose_threads(1, available=2, environ=env).intra == 3
    plan = th.choose_threads(10**9, available=8, environ={"OMP_NUM_THREADS": "2"})
    assert plan.intra is None and "OMP_NUM_THREADS" in plan.reason  # left to torch
    assert th.choose_threads(10**9, available=8, environ={"OMP_NUM_THREADS": "x"}).intra == 8
    with pytest.raises(ValueError):
        th.choose_threads(1, threads=0, available=2, environ={})


def test_configure_applies_and_respects_caller(monkeypatch):
    import torch

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    monkeypatch.delenv(th.THREADS_ENV, raising=False)
    before = torch.get_num_threads()
    monkeypatch.setattr(th, "_APPLIED", {})
    try:
        plan = th.configure_threads(threads=1)
        assert plan.intra == 1 and torch.get_num_threads() == 1
        torch.set_num_threads(2)  # the caller's own choice after ours: kept
        plan = th.configure_threads(th.model_work(64, 64, 64))
        assert plan.intra is None and torch.get_num_threads() == 2
        monkeypatch.setenv(th.THREADS_ENV, "1")
        assert th.configure_threads().intra == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_physical_cores(tmp_path):
    text = "".join(f"processor\t: {i}\nphysical id\t: 0\ncore id\t\t: {i % 2}\n\n"
                   for i in range(4))
    _write(tmp_path / "cpuinfo", text)
    assert th._physical_cores(tmp_path / "cpuinfo") == 2
    assert th._physical_cores(tmp_path / "missing") is None


def test_numpy_blas_threads_follow_the_choice() -> None:
    """NumPy's BLAS gets the chosen count (it collapsed like torch on a busy machine), unless
    a BLAS variable is set in the environment."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from stablemotion_dlc._threads import _limit_blas

    before = threadpoolctl.threadpool_info()
    try:
        assert not _limit_blas(1, environ={"OPENBLAS_NUM_THREADS": "2"})
        assert _limit_blas(1, environ={})
        blas = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
        assert all(i["num_threads"] == 1 for i in blas)
    finally:
        for info in before:
            if info["user_api"] == "blas":
                threadpoolctl.threadpool_limits(limits=info["num_threads"], user_api="blas")
