"""napari plugin of stablemotion-dlc: the "StableMotion cleaner" dock widget.

The widget (:class:`napari_plugin._widget.CleanerWidget`) is declared in this package's
``napari.yaml`` (npe2) and imported by napari only when the widget is opened, so importing this
package stays cheap.
"""

from __future__ import annotations

__all__ = ["CleanerWidget"]


def __getattr__(name: str):  # lazy: Qt and napari load only when the widget is used
    if name == "CleanerWidget":
        from napari_plugin._widget import CleanerWidget

        return CleanerWidget
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
