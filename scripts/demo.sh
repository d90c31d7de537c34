#!/usr/bin/env bash
# The demo, end to end, on data the project generates itself:
# simulate a mouse -> render a video + a DLC project with noisy predictions -> show what was made.
# Output goes to demo_output/ (or the folder given as the first argument).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
set -euo pipefail
out="${1:-demo_output}"
stablemotion-dlc sample "$out/sample" --duration 60 --seed 0 --overwrite
