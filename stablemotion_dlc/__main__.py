"""``python -m stablemotion_dlc`` is the command-line interface."""

from .cli import main

raise SystemExit(main())
