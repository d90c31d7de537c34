"""Integration tests against the real DeepLabCut package (marked ``dlc`` and ``slow``)."""
