"""Validate a torch device name before any work (a clear error instead of a CUDA traceback)."""

from __future__ import annotations

import torch

from ..errors import OptionError

__all__ = ["resolve_device"]


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
