"""One self-describing model file (safetensors + JSON metadata); no code is unpickled.

Tensors stored:

* ``ema.<param>``: EMA weights (used for inference);
* ``model.<param>``: raw weights (optional, for resuming training);
* ``opt.<index>.<key>``: AdamW state tensors (optional, for resuming);

and one metadata entry ``stablemotion_dlc`` holding JSON with the model and diffusion
configs, the train config, the normaliser, the representation spec, the label layout, the
package version, the training step and the optimizer's scalar state.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .._atomic import atomic_path
from ..errors import ModelError, ModelMismatchError
from .diffusion import DiffusionConfig, GaussianDiffusion
from .model import DiT, DiTConfig
from .normalize import Normalizer
from .representation import LabelLayout

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "ModelBundle",
    "save_checkpoint",
    "load_checkpoint",
    "spec_differences",
    "layout_to_dict",
    "layout_from_dict",
    "package_version",
    "read_model_info",
    "tensor_checksum",
    "LIMITS",
]

log = logging.getLogger(__name__)

FORMAT_NAME = "stablemotion-dlc-model"
FORMAT_VERSION = 1
_META_KEY = "stablemotion_dlc"
_SUM_KEY = "stablemotion_dlc_sha256"


def package_version() -> str:
    """The package version recorded in model files.

    Read from ``_version``, a leaf module: the core imports nothing of the top package, of
    ``dlc`` or of ``smpl``.
    """
    from .._version import __version__

    return str(__version__)


def layout_to_dict(layout: LabelLayout) -> dict[str, Any]:
    """JSON-serialisable form of a :class:`LabelLayout`."""
    return {
        "n_features": layout.n_features,
        "n_labels": layout.n_labels,
        "label_of_feature": list(layout.label_of_feature),
        "extra_labels": [list(e) for e in layout.extra_labels],
        "names": list(layout.names),
    }


def layout_from_dict(d: dict[str, Any]) -> LabelLayout:
    """Inverse of :func:`layout_to_dict`."""
    return LabelLayout(
        n_features=int(d["n_features"]),
        n_labels=int(d["n_labels"]),
        label_of_feature=tuple(int(v) for v in d["label_of_feature"]),
        extra_labels=tuple(tuple(int(v) for v in e) for e in d.get("extra_labels", [])),
        names=tuple(str(v) for v in d.get("names", [])),
    )


def _jsonable(x: Any) -> Any:
    return json.loads(json.dumps(x))


def spec_differences(expected: dict[str, Any], found: dict[str, Any],
                     prefix: str = "") -> list[str]:
    """Human-readable differences between two representation specs.

    Parameters
    ----------
    expected : dict
        Spec of the data at hand.
    found : dict
        Spec stored in the model.

    Returns
    -------
    list of str
        One line per differing key, e.g. ``"bodyparts: model has [...], data has [...]"``.
    """
    expected, found = _jsonable(expected), _jsonable(found)
    out: list[str] = []
    for key in sorted(set(expected) | set(found), key=str):
        name = f"{prefix}{key}"
        if key not in found:
            out.append(f"{name}: missing in the model, data has {expected[key]!r}")
        elif key not in expected:
            out.append(f"{name}: model has {found[key]!r}, missing in the data")
        elif isinstance(expected[key], dict) and isinstance(found[key], dict):
            out.extend(spec_differences(expected[key], found[key], prefix=f"{name}."))
        elif expected[key] != found[key]:
            out.append(f"{name}: model has {found[key]!r}, data has {expected[key]!r}")
    return out


@dataclass
class ModelBundle:
    """Everything loaded from a model file.

    Attributes
    ----------
    model : DiT
        Network with the EMA weights, in eval mode.
    diffusion : GaussianDiffusion
        The diffusion process it was trained with.
    normalizer : Normalizer
        Feature normalisation.
    layout : LabelLayout
        Label layout.
    spec : dict
        Representation spec.
    train_config : dict
        Training settings (window length, residual mode, ...).
    step : int
        Training step the file was written at.
    package_version : str
        Version of the package that wrote it.
    raw_state : dict or None
        Raw (non-EMA) weights, if stored.
    optimizer_state : dict or None
        ``torch.optim`` state dict, if stored.
    extra : dict
        Free JSON data stored by the writer.
    path : Path or None
        File it was read from.
    """

    model: DiT
    diffusion: GaussianDiffusion
    normalizer: Normalizer
    layout: LabelLayout
    spec: dict[str, Any]
    train_config: dict[str, Any]
    step: int
    package_version: str
    raw_state: dict[str, torch.Tensor] | None = None
    optimizer_state: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None


def _flatten_optimizer(sd: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, st in sd["state"].items():
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"opt.{pid}.{k}"] = v.detach().cpu().clone().contiguous()
            else:
                scalars.setdefault(str(pid), {})[k] = v
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict:
    state: dict[int, dict[str, Any]] = {}
    for name, v in tensors.items():
        _, pid, key = name.split(".", 2)
        state.setdefault(int(pid), {})[key] = v
    for pid, sc in meta.get("scalars", {}).items():
        state.setdefault(int(pid), {}).update(sc)
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(path: str | Path, *, model: DiT, diffusion: GaussianDiffusion,
                    normalizer: Normalizer, layout: LabelLayout, spec: dict[str, Any],
                    train_config: dict[str, Any], step: int,
                    ema_state: dict[str, torch.Tensor] | None = None,
                    raw_state: dict[str, torch.Tensor] | None = None,
                    optimizer_state: dict[str, Any] | None = None,
                    extra: dict[str, Any] | None = None, overwrite: bool = True) -> Path:
    """Write a model file atomically.

    Parameters
    ----------
    path : str or Path
        Target ``.safetensors`` file.
    model : DiT
        Network; its weights are the EMA weights unless ``ema_state`` is given.
    diffusion, normalizer, layout, spec, train_config, step
        Saved as metadata.
    ema_state : dict, optional
        EMA weights to store (default: ``model.state_dict()``).
    raw_state : dict, optional
        Raw weights (for resuming).
    optimizer_state : dict, optional
        ``optimizer.state_dict()`` (for resuming).
    extra : dict, optional
        Further JSON-serialisable data (e.g. the training log tail).
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    Path
    """
    from safetensors.torch import save_file

    path = Path(path)
    tensors: dict[str, torch.Tensor] = {}
    ema = ema_state if ema_state is not None else model.state_dict()
    for k, v in ema.items():
        tensors[f"ema.{k}"] = v.detach().cpu().clone().contiguous()
    if raw_state is not None:
        for k, v in raw_state.items():
            tensors[f"model.{k}"] = v.detach().cpu().clone().contiguous()
    opt_meta = None
    if optimizer_state is not None:
        opt_tensors, opt_meta = _flatten_optimizer(optimizer_state)
        tensors.update(opt_tensors)
    meta = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "package_version": package_version(),
        "step": int(step),
        "model": {"n_features": model.n_features, "n_labels": model.n_labels,
                  "config": model.config.to_dict()},
        "diffusion": diffusion.config.to_dict(),
        "train_config": _jsonable(train_config),
        "normalizer": normalizer.to_dict(),
        "spec": _jsonable(spec),
        "layout": layout_to_dict(layout),
        "optimizer": opt_meta,
        "extra": _jsonable(extra or {}),
    }
    bad = [k for k, v in tensors.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise ModelError(f"{path}: not written: non-finite (NaN/inf) values in {bad[:5]} "
                         "(training diverged; lower the learning rate)")
    meta_json = json.dumps(meta)
    checksum = tensor_checksum(tensors, meta_json)
    with atomic_path(path, overwrite=overwrite) as tmp:
        save_file(tensors, str(tmp), metadata={_META_KEY: meta_json, _SUM_KEY: checksum})
    return path


def tensor_checksum(tensors: dict[str, torch.Tensor], meta_json: str) -> str:
    """SHA-256 over the metadata JSON and every tensor (name, dtype, shape, bytes), by name.

    Stored in the file's metadata by :func:`save_checkpoint` and checked by
    :func:`load_checkpoint`: safetensors itself has no checksum, so a flipped byte in the
    weights would otherwise be used without a word.
    """
    h = hashlib.sha256()
    h.update(meta_json.encode("utf-8"))
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"\0{name}\0{t.dtype}\0{tuple(t.shape)}\0".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


#: Upper bounds on the sizes a model file may declare, checked before anything is built (a
#: 1 MB file declaring a huge network must not allocate gigabytes). Far above any real model.
LIMITS: dict[str, int] = {
    "width": 8192,
    "depth": 256,
    "heads": 1024,
    "n_features": 65536,
    "n_labels": 65536,
    "t_max": 100_000,
    "diffusion_steps": 100_000,
    "window": 100_000,
}


def _check_sizes(path: Path, meta: dict[str, Any]) -> None:
    """Refuse metadata whose sizes exceed :data:`LIMITS` (before building anything)."""
    mcfg = meta.get("model") or {}
    cfg = mcfg.get("config") or {}
    values = {
        "width": cfg.get("width"), "depth": cfg.get("depth"), "heads": cfg.get("heads"),
        "t_max": cfg.get("t_max"), "n_features": mcfg.get("n_features"),
        "n_labels": mcfg.get("n_labels"),
        "diffusion_steps": (meta.get("diffusion") or {}).get("steps"),
        "window": (meta.get("train_config") or {}).get("window"),
    }
    for key, v in values.items():
        if v is None:
            continue
        if not isinstance(v, int) or isinstance(v, bool) or not 0 < v <= LIMITS[key]:
            raise ModelError(f"{path}: implausible model size {key}={v!r} (allowed: 1 to "
                             f"{LIMITS[key]}); not a valid model file")
    ratio = cfg.get("mlp_ratio")
    if ratio is not None and (not isinstance(ratio, (int, float)) or not 0 < ratio <= 64):
        raise ModelError(f"{path}: implausible model size mlp_ratio={ratio!r}")


#: Declared networks up to about this many parameters are built on the CPU to read their
#: shapes; larger ones on torch's meta device (no memory). The meta device routes every
#: initialiser through torch's Python reference ops, whose first use imports
#: ``torch._dynamo``: 1.3-1.5 s of every clean on a 2-core machine for the tiny default.
CPU_SHAPE_PARAMS = 8_000_000


def _expected_shapes(mcfg: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """Parameter shapes of the declared network (small ones on the CPU, others on meta)."""
    cfg = DiTConfig(**mcfg["config"])
    c = int(mcfg["n_features"]) + int(mcfg["n_labels"])
    w = int(cfg.width)
    approx = int(cfg.depth) * w * w * (10 + 2 * float(cfg.mlp_ratio)) + w * (6 * c + 4 * w)
    if approx <= CPU_SHAPE_PARAMS:
        with torch.random.fork_rng(devices=[]):  # the caller's RNG is not consumed
            net = DiT(mcfg["n_features"], mcfg["n_labels"], cfg)
    else:
        with torch.device("meta"):
            net = DiT(mcfg["n_features"], mcfg["n_labels"], cfg)
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


def read_model_info(path: str | Path) -> dict[str, Any]:
    """The metadata of a model file (step, train config, spec...) without loading weights.

    Returns
    -------
    dict
        The stored JSON metadata plus ``complete`` (the run reached its planned steps).

    Raises
    ------
    ModelError
        If the file is missing or not a stablemotion-dlc model.
    """
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            raw = (f.metadata() or {}).get(_META_KEY)
    except Exception as exc:  # noqa: BLE001 - safetensors raises several types
        raise ModelError(f"{path}: corrupt or truncated model file ({exc})") from None
    if raw is None:
        raise ModelError(f"{path}: not a stablemotion-dlc model (no metadata)")
    try:
        meta = json.loads(raw)
    except ValueError as exc:
        raise ModelError(f"{path}: damaged model metadata ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise ModelError(f"{path}: not a stablemotion-dlc model")
    planned = (meta.get("train_config") or {}).get("steps")
    step = meta.get("step", 0)
    meta["complete"] = not (isinstance(planned, int) and isinstance(step, int)
                            and step < planned)
    return meta


def load_checkpoint(path: str | Path, expected_spec: dict[str, Any] | None = None,
                    device: str | torch.device = "cpu",
                    training_state: bool = False) -> ModelBundle:
    """Read a model file written by :func:`save_checkpoint`.

    Parameters
    ----------
    path : str or Path
        Model file.
    expected_spec : dict, optional
        Spec of the data the model will be used on; a difference raises.
    device : str or torch.device
        Where to put the network.
    training_state : bool
        Also return raw weights and optimizer state (when stored).

    Returns
    -------
    ModelBundle

    Raises
    ------
    ModelError
        The file is missing, truncated, corrupt or not a stablemotion-dlc model.
    ModelMismatchError
        ``expected_spec`` differs from the stored spec (the message lists each difference).
    """
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            file_meta = f.metadata() or {}
            raw_meta = file_meta.get(_META_KEY)
            if raw_meta is None:
                raise ModelError(f"{path}: not a stablemotion-dlc model (no metadata)")
            meta = json.loads(raw_meta)
            if not isinstance(meta, dict):
                raise ModelError(f"{path}: not a stablemotion-dlc model (bad metadata)")
            if meta.get("format") != FORMAT_NAME:
                raise ModelError(f"{path}: not a stablemotion-dlc model (format "
                                 f"{meta.get('format')!r})")
            _check_sizes(path, meta)
            shapes = {n: tuple(f.get_slice(n).get_shape())
                      for n in f.keys()}  # noqa: SIM118 - safe_open is not iterable
            expected = _expected_shapes(meta["model"])
            stored = {n[4:]: s for n, s in shapes.items() if n.startswith("ema.")}
            if stored != expected:
                diff = sorted(set(stored) ^ set(expected)) or sorted(
                    k for k in expected if stored.get(k) != expected[k])
                raise ModelError(f"{path}: weights do not match the declared architecture "
                                 f"(e.g. {diff[:3]}); damaged or not a valid model file")
            checksum = file_meta.get(_SUM_KEY)
            # every tensor is read when a checksum is to be verified
            names = list(shapes) if checksum is not None else [
                n for n in shapes if n.startswith("ema.")
                or (training_state and (n.startswith("model.") or n.startswith("opt.")))]
            tensors = {n: f.get_tensor(n) for n in names}
    except ModelError:
        raise
    except Exception as exc:  # safetensors raises several types on damaged files
        raise ModelError(f"{path}: corrupt or truncated model file ({exc})") from exc
    if checksum is None:
        log.warning("%s: model file has no checksum (written before version 0.x); its "
                    "integrity cannot be checked", path)
    elif tensor_checksum(tensors, raw_meta) != checksum:
        raise ModelError(f"{path}: checksum mismatch: the file was damaged or modified after "
                         "it was written; retrain or restore it")
    bad = [n for n, t in tensors.items() if t.is_floating_point() and not torch.isfinite(t).all()]
    if bad:
        raise ModelError(f"{path}: non-finite (NaN/inf) weights in {bad[:5]}; the model is "
                         "unusable: retrain it")
    if not training_state:
        tensors = {n: t for n, t in tensors.items() if n.startswith("ema.")}
        step, planned = meta.get("step", 0), (meta.get("train_config") or {}).get("steps")
        if step == 0:
            raise ModelError(f"{path}: untrained model (0 training steps); train it first")
        if isinstance(planned, int) and isinstance(step, int) and step < planned:
            log.warning("%s: training was interrupted at step %d of %d; the model is "
                        "under-trained (run the training command again to resume it)",
                        path, step, planned)
    if int(meta.get("format_version", 0)) > FORMAT_VERSION:
        raise ModelError(f"{path}: written by a newer version (format "
                         f"{meta['format_version']} > {FORMAT_VERSION}); upgrade the package")
    if expected_spec is not None:
        diffs = spec_differences(expected_spec, meta.get("spec", {}))
        if diffs:
            raise ModelMismatchError(f"{path}: model does not match the data: "
                                     + "; ".join(diffs))
    try:
        mcfg = meta["model"]
        model = DiT(mcfg["n_features"], mcfg["n_labels"], DiTConfig(**mcfg["config"]))
        ema = {k[4:]: v for k, v in tensors.items() if k.startswith("ema.")}
        model.load_state_dict(ema)
        diffusion = GaussianDiffusion(DiffusionConfig(**meta["diffusion"]))
        normalizer = Normalizer.from_dict(meta["normalizer"])
        layout = layout_from_dict(meta["layout"])
    except (KeyError, TypeError, RuntimeError, ValueError) as exc:
        raise ModelError(f"{path}: inconsistent model file ({exc})") from exc
    model.to(device).eval()
    diffusion.to(device)
    raw_state = opt_state = None
    if training_state:
        raw = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
        raw_state = raw or None
        if meta.get("optimizer") is not None:
            opt_t = {k: v for k, v in tensors.items() if k.startswith("opt.")}
            opt_state = _unflatten_optimizer(opt_t, meta["optimizer"])
    return ModelBundle(model=model, diffusion=diffusion, normalizer=normalizer, layout=layout,
                       spec=meta.get("spec", {}), train_config=meta.get("train_config", {}),
                       step=int(meta.get("step", 0)),
                       package_version=str(meta.get("package_version", "0")),
                       raw_state=raw_state, optimizer_state=opt_state,
                       extra=meta.get("extra", {}), path=path)
