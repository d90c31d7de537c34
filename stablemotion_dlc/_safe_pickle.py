"""Read pickles of plain data without running code from them.

``pickle.load`` calls whatever callable a pickle names, so a crafted ``.pickle`` file runs code
(``os.system``, ``eval``...). DLC writes its analysis metadata (``<stem><scorer>_meta.pickle``)
and SMPL model files as pickles, and such files are shared between labs and downloaded. The
:class:`RestrictedUnpickler` here admits only the classes and functions plain data needs:
builtin containers and scalars, numpy arrays, dtypes and scalars, and the ``ruamel.yaml``
scalar/collection types DLC's metadata carries (read as plain ``float``/``int``/``str``/
``dict``/``list`` subclasses, so ``ruamel`` is never imported), and DeepLabCut's own
enums (``NetType`` in DLC 3 metadata: read as their string value, DLC is never imported).
Anything else raises :class:`UnsafePickleError` before it is called.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

__all__ = ["UnsafePickleError", "RestrictedUnpickler", "safe_load", "safe_load_path",
           "safe_load_npz", "SCIPY_SPARSE"]


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle names a class or function outside the allowed plain-data set."""


# ruamel.yaml round-trip types seen in DLC pickles, replaced by plain subclasses that accept
# the instance state (``BUILD``) without running any ruamel code.
class _YamlFloat(float):
    """Stand-in for ``ruamel.yaml.scalarfloat.ScalarFloat``."""


class _YamlInt(int):
    """Stand-in for ``ruamel.yaml.scalarint.ScalarInt`` and its subclasses."""


class _YamlStr(str):
    """Stand-in for ``ruamel.yaml.scalarstring.*ScalarString``."""


class _DlcValue(str):
    """Stand-in for DeepLabCut's own enums and value classes.

    E.g. ``NetType`` in DLC 3's ``_meta.pickle``: read as the plain string value, without
    importing DeepLabCut.
    """

    def __new__(cls, value: Any = "", *args: Any) -> _DlcValue:  # noqa: D102
        return super().__new__(cls, value if isinstance(value, str) else repr(value))


class _YamlMap(dict):
    """Stand-in for ``ruamel.yaml.comments.CommentedMap``."""


class _YamlSeq(list):
    """Stand-in for ``ruamel.yaml.comments.CommentedSeq``."""


_BUILTINS = {
    "dict", "list", "tuple", "set", "frozenset", "str", "bytes", "bytearray", "int", "float",
    "complex", "bool", "slice", "range",
}

_NUMPY_CORE = ("numpy.core", "numpy._core")
_NUMPY_FUNCS = {
    ("multiarray", "_reconstruct"),
    ("multiarray", "scalar"),
    ("numeric", "_frombuffer"),
}

_RUAMEL: dict[tuple[str, str], type] = {
    ("ruamel.yaml.scalarfloat", "ScalarFloat"): _YamlFloat,
    ("ruamel.yaml.scalarfloat", "ExponentialFloat"): _YamlFloat,
    ("ruamel.yaml.scalarfloat", "ExponentialCapsFloat"): _YamlFloat,
    ("ruamel.yaml.scalarint", "ScalarInt"): _YamlInt,
    ("ruamel.yaml.scalarint", "BinaryInt"): _YamlInt,
    ("ruamel.yaml.scalarint", "OctalInt"): _YamlInt,
    ("ruamel.yaml.scalarint", "HexInt"): _YamlInt,
    ("ruamel.yaml.scalarint", "HexCapsInt"): _YamlInt,
    ("ruamel.yaml.scalarint", "DecimalInt"): _YamlInt,
    ("ruamel.yaml.scalarbool", "ScalarBoolean"): _YamlInt,
    ("ruamel.yaml.comments", "CommentedMap"): _YamlMap,
    ("ruamel.yaml.comments", "CommentedOrderedMap"): _YamlMap,
    ("ruamel.yaml.comments", "CommentedSeq"): _YamlSeq,
    ("ruamel.yaml.scalarstring", "ScalarString"): _YamlStr,
    ("ruamel.yaml.scalarstring", "LiteralScalarString"): _YamlStr,
    ("ruamel.yaml.scalarstring", "FoldedScalarString"): _YamlStr,
    ("ruamel.yaml.scalarstring", "SingleQuotedScalarString"): _YamlStr,
    ("ruamel.yaml.scalarstring", "DoubleQuotedScalarString"): _YamlStr,
    ("ruamel.yaml.scalarstring", "PlainScalarString"): _YamlStr,
}

#: scipy sparse matrix classes (SMPL model files store ``J_regressor`` as one). Their state
#: is plain arrays set as attributes; no scipy code runs while unpickling.
SCIPY_SPARSE: frozenset[tuple[str, str]] = frozenset(
    (mod, f"{kind}_{what}")
    for kind in ("csc", "csr", "coo", "bsr", "dia", "dok", "lil")
    for what in ("matrix", "array")
    for mod in (f"scipy.sparse.{kind}", f"scipy.sparse._{kind}")
)


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only plain-data globals.

    Parameters
    ----------
    file : binary file
        The pickle stream.
    extra : iterable of (module, name), optional
        Further globals to admit (e.g. :data:`SCIPY_SPARSE`).
    encoding : str
        Passed to :class:`pickle.Unpickler` (``"latin1"`` for Python 2 pickles of numpy data).
    """

    def __init__(self, file: IO[bytes], *, extra: Iterable[tuple[str, str]] = (),
                 encoding: str = "ASCII") -> None:
        super().__init__(file, encoding=encoding)
        self._extra = frozenset(extra)

    def find_class(self, module: str, name: str) -> Any:  # noqa: D102 - pickle API
        if module in ("builtins", "__builtin__") and name in _BUILTINS:
            return super().find_class("builtins", name)
        if module == "collections" and name == "OrderedDict":
            return super().find_class(module, name)
        if module == "_codecs" and name == "encode":  # bytes in protocol 0-2 pickles
            return super().find_class(module, name)
        if module == "copyreg" and name == "_reconstructor":
            return _reconstructor
        if module == "numpy" and name in ("ndarray", "dtype"):
            return super().find_class(module, name)
        if module.startswith(("numpy.dtypes", "numpy")) and _is_numpy_dtype(module, name):
            return super().find_class(module, name)
        for core in _NUMPY_CORE:
            if module.startswith(core + ".") and (module[len(core) + 1:], name) in _NUMPY_FUNCS:
                return super().find_class(module, name)
        if (module, name) in _RUAMEL:
            return _RUAMEL[(module, name)]
        if module.startswith("deeplabcut.") and name.isidentifier() and name[:1].isupper():
            # DLC 3 pickles its enums (NetType...) into the analysis metadata: read the
            # value; no DeepLabCut code is imported or called
            return _DlcValue
        if (module, name) in self._extra:
            return super().find_class(module, name)
        raise UnsafePickleError(
            f"refused to load {module}.{name}: only plain data (numbers, strings, lists, "
            f"dicts, numpy arrays) is read from a pickle, no code")


def _is_numpy_dtype(module: str, name: str) -> bool:
    """``numpy.float64``, ``numpy.dtypes.Float64DType`` and the like (plain scalar types)."""
    import numpy as np

    if module == "numpy.dtypes":
        return name.endswith("DType")
    if module != "numpy":
        return False
    obj = getattr(np, name, None)
    return isinstance(obj, type) and issubclass(obj, np.generic)


def _reconstructor(cls: type, base: type, state: Any) -> Any:
    """``copyreg._reconstructor`` limited to classes the unpickler already admitted.

    ``cls`` and ``base`` reach here only through :meth:`RestrictedUnpickler.find_class`, so
    they are plain-data types; ``base.__new__`` / ``__init__`` of those run no foreign code.
    """
    if base is object:
        return object.__new__(cls)
    obj = base.__new__(cls, state)
    if base.__init__ != object.__init__:
        base.__init__(obj, state)
    return obj


def safe_load(file: IO[bytes], *, extra: Iterable[tuple[str, str]] = (),
              encoding: str = "ASCII") -> Any:
    """Unpickle plain data from an open binary file (see :class:`RestrictedUnpickler`).

    Raises
    ------
    UnsafePickleError
        If the pickle names anything outside the allowed set (nothing it names is called).
    """
    return RestrictedUnpickler(file, extra=extra, encoding=encoding).load()


def safe_load_path(path: str | Path, *, max_bytes: int = 256 * 2**20,
                   extra: Iterable[tuple[str, str]] = (), encoding: str = "ASCII") -> Any:
    """Unpickle plain data from a file of at most ``max_bytes`` bytes.

    Raises
    ------
    UnsafePickleError
        If the pickle names anything outside the allowed set.
    ValueError
        If the file is larger than ``max_bytes``.
    """
    path = Path(path)
    size = path.stat().st_size
    if size > max_bytes:
        raise ValueError(f"{size} bytes; larger than the {max_bytes} bytes read from a pickle")
    with open(path, "rb") as fh:
        return safe_load(io.BytesIO(fh.read()), extra=extra, encoding=encoding)


def safe_load_npz(path: str | Path, *, extra: Iterable[tuple[str, str]] = (),
                  encoding: str = "latin1") -> dict[str, Any]:
    """Every array of an ``.npz``; object arrays are unpickled with the restricted unpickler.

    ``np.load(..., allow_pickle=True)`` would unpickle object arrays with plain ``pickle``;
    here numeric arrays are read with ``allow_pickle=False`` and only object arrays go
    through :class:`RestrictedUnpickler`.

    Raises
    ------
    UnsafePickleError
        If an object array names anything outside the allowed set.
    """
    import zipfile

    import numpy as np

    out: dict[str, Any] = {}
    with np.load(Path(path), allow_pickle=False) as z:
        names = list(z.files)
        for k in names:
            try:
                out[k] = z[k]
            except ValueError:  # an object array: pickled inside the .npy member
                out[k] = None
    missing = [k for k, v in out.items() if v is None]
    if missing:
        with zipfile.ZipFile(path) as zf:
            for k in missing:
                with zf.open(f"{k}.npy") as fh:
                    version = np.lib.format.read_magic(fh)
                    if version == (1, 0):
                        np.lib.format.read_array_header_1_0(fh)
                    else:
                        np.lib.format.read_array_header_2_0(fh)
                    out[k] = safe_load(io.BytesIO(fh.read()), extra=extra, encoding=encoding)
    return out
