"""Devices: names, mixed precision and batch sizes.

Validate a name before any work (a clear error instead of a CUDA traceback), the
mixed-precision type of a device, and how many windows one network call takes there.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch

from ..errors import OptionError

__all__ = ["resolve_device", "amp_dtype", "autocast", "window_batch_size"]


def resolve_device(device: str | torch.device | None, default: str = "cpu") -> torch.device:
    """The ``torch.device`` for ``device``, checked to exist on this machine.

    Parameters
    ----------
    device : str, torch.device or None
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``...; None gives ``default``.
    default : str
        Device used when ``device`` is None.

    Raises
    ------
    OptionError
        The name is not a device, or that device is not available here.
    """
    try:
        dev = torch.device(default if device is None else device)
    except (RuntimeError, TypeError) as exc:
        raise OptionError(f"device {device!r} is not a torch device name ({exc})") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise OptionError(f"device {device!r}: CUDA is not available on this machine "
                              "(no NVIDIA GPU or driver); use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise OptionError(f"device {device!r}: only {torch.cuda.device_count()} CUDA "
                              "device(s) here")
    elif dev.type == "mps" and not (getattr(torch.backends, "mps", None)
                                    and torch.backends.mps.is_available()):
        raise OptionError(f"device {device!r}: MPS is not available on this machine")
    return dev


def amp_dtype(device: str | torch.device, enabled: bool = True, *, cpu: bool = False
              ) -> torch.dtype | None:
    """The automatic-mixed-precision type for ``device``, or None for plain float32.

    CUDA: bfloat16 where the GPU supports it (Ampere and later: float32's range, no loss
    scaling), else float16 (the trainer scales the loss). CPU: bfloat16 only when ``cpu``
    (slower than float32 on most CPUs; useful on CPUs with bf16 units and to test the
    mixed-precision path without a GPU). Other devices: None.

    Parameters
    ----------
    device : str or torch.device
        Where the model runs.
    enabled : bool
        False always gives None.
    cpu : bool
        Allow bf16 autocast on CPU.
    """
    dev = torch.device(device)
    if not enabled:
        return None
    if dev.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if dev.type == "cpu" and cpu:
        return torch.bfloat16
    return None


def autocast(device: str | torch.device, dtype: torch.dtype | None) -> Any:
    """``torch.autocast`` on ``device`` with ``dtype``; a no-op context when ``dtype`` is None."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)


#: Windows per network call on a CPU (cleaning); on a GPU it is sized to the memory.
CPU_WINDOW_BATCH = 64
#: Most windows per call on a GPU (beyond this the GPU is already saturated for these models).
MAX_GPU_WINDOW_BATCH = 4096


def window_batch_size(device: str | torch.device, window: int, channels: int, width: int,
                      depth: int, *, bytes_per_value: int = 4, share: float = 0.25) -> int:
    """Windows per network call for cleaning on ``device``.

    CPU: :data:`CPU_WINDOW_BATCH` (larger batches only add memory; the thread choice does
    the rest). CUDA: as many windows as fit in ``share`` of the GPU's free memory, by a
    rough activation estimate (``window x (channels + 8 width) x depth`` values a window,
    inference mode keeps one block's activations at a time, so this is generous), rounded
    down to a power of two, between 64 and :data:`MAX_GPU_WINDOW_BATCH`.

    Parameters
    ----------
    device : str or torch.device
        Where the model runs.
    window : int
        Frames per window.
    channels : int
        Input channels (features + labels).
    width, depth : int
        The network's width and number of blocks.
    bytes_per_value : int
        4 for float32, 2 under bf16/fp16 autocast.
    share : float
        Share of the free GPU memory to plan for.
    """
    dev = torch.device(device)
    if dev.type != "cuda":
        return CPU_WINDOW_BATCH
    try:
        free, _ = torch.cuda.mem_get_info(dev)
    except (RuntimeError, AssertionError):  # pragma: no cover - driver without the query
        return CPU_WINDOW_BATCH
    per_window = max(1, window * (channels + 8 * width) * max(1, depth) * bytes_per_value)
    fit = int(share * free // per_window)
    size = CPU_WINDOW_BATCH
    while size * 2 <= min(fit, MAX_GPU_WINDOW_BATCH):
        size *= 2
    return size
