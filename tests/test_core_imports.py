"""The core is representation-agnostic: it imports nothing of dlc, smpl, evaluate, the CLI,
napari or the top package itself, only shared leaf helpers (checked by parsing its source)."""

from __future__ import annotations

import ast
from pathlib import Path

import stablemotion_dlc.core

CORE = Path(stablemotion_dlc.core.__file__).parent
#: Leaf modules of the package the core may use (no imports of dlc/smpl themselves).
ALLOWED = {"_arrays", "_atomic", "_progress", "_threads", "_version", "errors"}


def _package_imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every import of this package, as a dotted name below it."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "stablemotion_dlc":
                    out.append((node.lineno, alias.name.partition(".")[2]))
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level == 0 and mod.split(".")[0] == "stablemotion_dlc":
                out.append((node.lineno, mod.partition(".")[2]))
            elif node.level >= 2:  # above core/
                out.append((node.lineno, mod))
    return out


def test_core_imports_only_leaf_helpers() -> None:
    bad = []
    files = sorted(CORE.glob("*.py"))
    assert len(files) >= 8
    for f in files:
        for line, mod in _package_imports(f):
            if mod.split(".")[0] not in ALLOWED:
                bad.append(f"{f.name}:{line} imports {mod or 'the top package'!r}")
    assert not bad, "core must not import dlc/smpl/the top package:\n" + "\n".join(bad)


def test_checker_sees_forbidden_imports(tmp_path: Path) -> None:
    f = tmp_path / "m.py"
    f.write_text(
        "import stablemotion_dlc\nfrom .. import x\nfrom ..dlc.io import y\n"
        "from stablemotion_dlc.smpl import z\nfrom .._version import v\n"
        "def g():\n    from ..evaluate import w\n"
    )
    mods = [m for _, m in _package_imports(f)]
    assert mods == ["", "", "dlc.io", "smpl", "_version", "evaluate"]
