#!/usr/bin/env bash
# Run the test suite in the project environment. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
set -euo pipefail
python -m pytest "$@"
