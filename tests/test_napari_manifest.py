"""The npe2 manifest: valid, one widget, no readers, packaged copy equal to the root one."""

from __future__ import annotations

from pathlib import Path

import pytest

npe2 = pytest.importorskip("npe2")

REPO = Path(__file__).resolve().parents[1]
ROOT_MANIFEST = REPO / "napari.yaml"
PACKAGE_MANIFEST = REPO / "napari_plugin" / "napari.yaml"


def test_package_copy_equals_root_manifest() -> None:
    assert ROOT_MANIFEST.read_text() == PACKAGE_MANIFEST.read_text()


def test_manifest_is_valid_and_declares_the_widget() -> None:
    manifest = npe2.PluginManifest.from_file(PACKAGE_MANIFEST)
    manifest.validate_imports()  # the python_name of every command imports
    assert manifest.name == "stablemotion-dlc"
    assert manifest.display_name == "StableMotion DLC"
    widgets = manifest.contributions.widgets or []
    assert [w.display_name for w in widgets] == ["StableMotion cleaner"]
    commands = {c.id: c for c in manifest.contributions.commands or []}
    assert commands[widgets[0].command].python_name == "napari_plugin._widget:CleanerWidget"
    assert not manifest.contributions.readers  # videos and .h5 are not claimed
    assert not manifest.contributions.writers


def test_manifest_discoverable_when_installed() -> None:
    """With the lead's entry point installed, npe2 finds the plugin by itself."""
    from importlib.metadata import entry_points

    eps = [ep for ep in entry_points(group="napari.manifest") if ep.name == "stablemotion-dlc"]
    if not eps:
        pytest.skip("napari.manifest entry point not installed (pyproject change pending)")
    assert eps[0].value == "napari_plugin:napari.yaml"
    pm = npe2.PluginManager()
    pm.discover()
    assert "stablemotion-dlc" in pm._manifests
