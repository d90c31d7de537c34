#!/usr/bin/env bash
# Run the test suite in the project environment. Extra arguments go to pytest.
# System packages (Xvfb, Qt's X libraries) are checked and, where possible, installed first
# (scripts/system_deps.sh); without a display the GUI tests skip with the reason.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system_deps.sh
source scripts/env.sh
set -euo pipefail
python -m pytest "$@"
