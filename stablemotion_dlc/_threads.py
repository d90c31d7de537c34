"""How many CPU threads torch may use: the CPUs this process really has, never more.

A lab machine is shared (DeepLabCut's own analysis, a second notebook, a test run). Torch's
default is one intra-op thread per core of the *machine*; a container limited by a cgroup
quota, a job pinned to a few cores (``taskset``, SLURM) or a busy machine then runs more
threads than it has CPUs, and a workload of many small tensor operations collapses: every
operation waits at a barrier for a thread that the scheduler parked (30-50x slower measured
on 2 cores, issue 17). :func:`configure_threads` picks the counts once per process:

1. an explicit choice wins: the ``threads`` argument, else ``STABLEMOTION_NUM_THREADS``, else
   ``OMP_NUM_THREADS`` (then torch's own choice is left as it is);
2. otherwise the CPUs the process may use: its affinity mask (:func:`os.sched_getaffinity`)
   and its cgroup CPU quota (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us / cpu.cfs_period_us``),
   rounded up (:func:`available_cpus`);
3. capped by the size of the work: the default "tiny" network's operations are too small to
   share well between threads, and one thread is the only setting that does not collapse
   under contention (docs/performance.md: a second thread gains 18-35 % only on an idle
   machine); larger networks and GPUs get more.

Inter-op threads (parallel independent operators, unused by these models) are set to 1.
NumPy's BLAS (OpenBLAS, MKL) gets the same count as torch's intra-op threads (through
``threadpoolctl`` when installed): the pose prior's batched regressions are BLAS calls, and
OpenBLAS's default of one thread per core collapsed them the same way on a busy machine
(a 1-hour file's pose rule: 71.5 s with 2 BLAS threads, 9.6 s with 1, at load 9 on 2 cores).
BLAS variables in the environment (``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``,
``OMP_NUM_THREADS``) leave it as it is.
Call it at the start of training, cleaning and the CLI, not at import time: importing the
package never changes the caller's torch settings.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ThreadPlan", "available_cpus", "cgroup_cpu_limit", "choose_threads",
           "configure_threads", "model_work", "THREADS_ENV"]

logger = logging.getLogger(__name__)

#: Environment variable that sets the intra-op thread count of this package explicitly.
THREADS_ENV = "STABLEMOTION_NUM_THREADS"

#: Work sizes (``model width x batch windows x window frames``) up to which one intra-op
#: thread is used. The embedded default (tiny: width 64, 32 x 64 training windows and 64 x 64
#: cleaning windows) is below it: measured on 2 cores, a second thread gave <= 1.3x when
#: idle and lost 2-5x as soon as another process wanted a core (docs/performance.md).
SMALL_WORK = 64 * 64 * 64
#: Above ``SMALL_WORK``, one more thread per this much work (up to the available CPUs).
WORK_PER_THREAD = 128 * 32 * 64


@dataclass(frozen=True)
class ThreadPlan:
    """The thread counts chosen by :func:`choose_threads`.

    Attributes
    ----------
    intra : int or None
        Intra-op threads (``torch.set_num_threads``); None leaves torch's setting (an
        explicit ``OMP_NUM_THREADS`` that torch already read).
    inter : int
        Inter-op threads (``torch.set_num_interop_threads``).
    available : int
        CPUs this process may use (affinity and cgroup quota).
    reason : str
        Why, for the log.
    """

    intra: int | None
    inter: int
    available: int
    reason: str


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _own_cgroups(proc_cgroup: Path) -> dict[str, str]:
    """Controller -> cgroup path of this process (``""`` is the v2 unified hierarchy)."""
    out: dict[str, str] = {}
    text = _read(proc_cgroup) or ""
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        for ctrl in parts[1].split(","):
            out[ctrl] = parts[2]
    return out


def _candidates(base: Path, rel: str) -> list[Path]:
    """``base/rel`` and each of its parents up to ``base`` (the quota of any ancestor holds)."""
    rel = rel.strip("/")
    out = [base]
    if rel:
        parts = rel.split("/")
        out = [base.joinpath(*parts[:n]) for n in range(len(parts), 0, -1)] + [base]
    return out


def _v2_limit(folder: Path) -> float | None:
    text = _read(folder / "cpu.max")
    if not text:
        return None
    fields = text.split()
    if not fields or fields[0] == "max":
        return None
    try:
        quota = float(fields[0])
        period = float(fields[1]) if len(fields) > 1 else 100_000.0
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def _v1_limit(folder: Path) -> float | None:
    quota, period = _read(folder / "cpu.cfs_quota_us"), _read(folder / "cpu.cfs_period_us")
    if quota is None or period is None:
        return None
    try:
        q, p = float(quota), float(period)
    except ValueError:
        return None
    return q / p if q > 0 and p > 0 else None


def cgroup_cpu_limit(root: str | Path = "/sys/fs/cgroup",
                     proc_cgroup: str | Path = "/proc/self/cgroup") -> float | None:
    """CPU quota of this process's cgroup, in CPUs (None: no quota).

    Parameters
    ----------
    root : str or Path
        Where the cgroup file systems are mounted (v2 unified at ``root``, or at
        ``root/unified``; v1 controllers at ``root/cpu``, ``root/cpu,cpuacct``...).
    proc_cgroup : str or Path
        The process's cgroup membership file (``/proc/self/cgroup``).

    Returns
    -------
    float or None
        The smallest quota found on the process's cgroup or its ancestors (``1.5`` for a
        ``150000 100000`` ``cpu.max``), or None when no quota is set or nothing can be read.
    """
    root = Path(root)
    own = _own_cgroups(Path(proc_cgroup))
    limits: list[float] = []
    v2_rel = own.get("", "/")
    for base in (root, root / "unified"):
        for folder in _candidates(base, v2_rel):
            lim = _v2_limit(folder)
            if lim is not None:
                limits.append(lim)
    v1_rel = own.get("cpu", "/")
    for name in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
        for folder in _candidates(root / name, v1_rel):
            lim = _v1_limit(folder)
            if lim is not None:
                limits.append(lim)
    return min(limits) if limits else None


def available_cpus(*, root: str | Path = "/sys/fs/cgroup",
                   proc_cgroup: str | Path = "/proc/self/cgroup",
                   affinity: int | None = None) -> int:
    """CPUs this process may really use: affinity mask and cgroup quota, at least 1.

    Parameters
    ----------
    root, proc_cgroup : str or Path
        See :func:`cgroup_cpu_limit` (tests point them at fake files).
    affinity : int, optional
        CPUs in the affinity mask; default :func:`os.sched_getaffinity` (or
        :func:`os.cpu_count` where that does not exist).

    Returns
    -------
    int
        ``min(affinity, ceil(quota))``, at least 1.
    """
    if affinity is None:
        try:
            affinity = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            affinity = os.cpu_count() or 1
    n = max(1, int(affinity))
    quota = cgroup_cpu_limit(root, proc_cgroup)
    if quota is not None:
        n = min(n, max(1, math.ceil(quota - 1e-9)))
    return n


def _explicit(value: str | None, name: str) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        n = int(value.strip().split(",")[0])  # OMP_NUM_THREADS may list nested levels
    except ValueError:
        logger.warning("%s=%r is not a whole number; ignored", name, value)
        return None
    if n < 1:
        logger.warning("%s=%r is below 1; ignored", name, value)
        return None
    return n


def choose_threads(work: int | None = None, *, threads: int | None = None,
                   device: str = "cpu", available: int | None = None, processes: int = 1,
                   environ: dict[str, str] | None = None) -> ThreadPlan:
    """Thread counts for a piece of work (pure: changes nothing).

    Parameters
    ----------
    work : int, optional
        Size of one network call: ``model width x windows per batch x frames per window``
        (None: unknown, use the available CPUs).
    threads : int, optional
        Explicit intra-op count (wins over everything; may exceed the CPUs, it is asked for).
    device : str
        ``"cpu"``, ``"cuda"``...; on a GPU the CPU only feeds it: one thread.
    available : int, optional
        CPUs available (default :func:`available_cpus`).
    processes : int
        Processes of this job sharing those CPUs (``torchrun --nproc-per-node`` on a CPU
        machine): each gets its share.
    environ : dict, optional
        Environment to read (default :data:`os.environ`).

    Returns
    -------
    ThreadPlan
    """
    env = os.environ if environ is None else environ
    n_cpu = available_cpus() if available is None else max(1, int(available))
    n_cpu = max(1, n_cpu // max(1, int(processes)))
    if threads is not None:
        if isinstance(threads, bool) or int(threads) < 1:
            raise ValueError(f"threads must be a whole number >= 1, got {threads!r}")
        return ThreadPlan(int(threads), 1, n_cpu, "asked for")
    own = _explicit(env.get(THREADS_ENV), THREADS_ENV)
    if own is not None:
        return ThreadPlan(own, 1, n_cpu, f"{THREADS_ENV}={own}")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # torch read them at start-up
        given = _explicit(env.get(var), var)
        if given is not None:
            return ThreadPlan(None, 1, n_cpu, f"{var}={given} (left to torch)")
    if not str(device).startswith("cpu"):
        return ThreadPlan(1, 1, n_cpu, f"{device}: the CPU only feeds the device")
    if work is None:
        return ThreadPlan(n_cpu, 1, n_cpu, f"{n_cpu} CPU(s) available")
    if work <= SMALL_WORK:
        return ThreadPlan(1, 1, n_cpu, f"small network calls ({work}): one thread never "
                                       "collapses on a busy machine (--threads to use more "
                                       "on a free one)")
    want = 1 + math.ceil((work - SMALL_WORK) / WORK_PER_THREAD)
    n = max(1, min(n_cpu, want))
    return ThreadPlan(n, 1, n_cpu, f"work {work}: {n} of {n_cpu} available CPU(s)")


def model_work(width: int, batch: int, window: int) -> int:
    """Work size of one network call for :func:`choose_threads`."""
    return int(width) * int(batch) * int(window)


#: What :func:`configure_threads` last set (to tell a caller's own setting from ours).
_APPLIED: dict[str, int] = {}


def _physical_cores(cpuinfo: str | Path = "/proc/cpuinfo") -> int | None:
    """Physical cores from ``/proc/cpuinfo`` (torch's default thread count), else None."""
    text = _read(Path(cpuinfo))
    if not text:
        return None
    cores = set()
    phys = core = None
    for line in text.splitlines() + [""]:
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "physical id":
            phys = value.strip()
        elif key == "core id":
            core = value.strip()
        elif not line.strip():
            if core is not None:
                cores.add((phys, core))
            phys = core = None
    return len(cores) or None


def _set_by_caller(current: int) -> bool:
    """Whether torch's intra-op count was set by the caller (not torch's default, not ours)."""
    if "intra" in _APPLIED:
        return current != _APPLIED["intra"]
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = None
    defaults = {affinity, os.cpu_count(), _physical_cores()}
    return current not in defaults


def configure_threads(work: int | None = None, *, threads: int | None = None,
                      device: str = "cpu", processes: int = 1) -> ThreadPlan:
    """Apply :func:`choose_threads` to torch (intra-op and, when still possible, inter-op).

    Call it at the start of a job; safe to call again (training then cleaning). A count the
    caller set with ``torch.set_num_threads`` before (anything but torch's default or the
    count this function set last) is left as it is, like ``OMP_NUM_THREADS``. The inter-op
    count can only be set before torch's first parallel work; later calls leave it.

    Parameters
    ----------
    work, threads, device, processes
        See :func:`choose_threads`.

    Returns
    -------
    ThreadPlan
        What was chosen (logged at INFO level).
    """
    import torch

    plan = choose_threads(work, threads=threads, device=device, processes=processes)
    current = torch.get_num_threads()
    if plan.intra is not None and threads is None and plan.reason != "asked for" \
            and THREADS_ENV not in plan.reason and _set_by_caller(current):
        plan = ThreadPlan(None, plan.inter, plan.available,
                          f"torch.set_num_threads({current}) by the caller")
    if plan.intra is not None:
        if current != plan.intra:
            torch.set_num_threads(plan.intra)
        _APPLIED["intra"] = plan.intra
    try:
        if torch.get_num_interop_threads() != plan.inter:
            torch.set_num_interop_threads(plan.inter)
    except RuntimeError:  # already started: it can be set once per process only
        pass
    if plan.intra is not None:
        _limit_blas(plan.intra)
    logger.info("torch threads: %d intra-op, %d inter-op (%s)", torch.get_num_threads(),
                torch.get_num_interop_threads(), plan.reason)
    return plan


#: Environment variables through which a user sets NumPy's BLAS threads (then left alone).
BLAS_ENVS = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS",
             "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


def _limit_blas(n: int, environ: dict[str, str] | None = None) -> bool:
    """Limit NumPy's BLAS thread pools to ``n`` threads; False when left alone.

    Left alone when a BLAS variable is set in the environment or ``threadpoolctl`` is not
    installed.
    """
    env = os.environ if environ is None else environ
    if any(env.get(name) for name in BLAS_ENVS):
        return False
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional
        logger.debug("threadpoolctl not installed: NumPy's BLAS threads left as they are")
        return False
    threadpool_limits(limits=int(n), user_api="blas")
    _APPLIED["blas"] = int(n)
    return True
