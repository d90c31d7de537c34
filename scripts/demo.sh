#!/usr/bin/env bash
# The demo, end to end, on data the project generates itself:
#   simulate a mouse -> render a video + a DLC project with noisy predictions
#   -> train a cleaner on those predictions -> clean them -> a before/after figure.
# Output goes to demo_output/ (or the folder given as the first argument).
# DEMO_TRAIN_STEPS sets the training length (default: the library default, 600 steps, about
# 1-2 CPU minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
set -euo pipefail
out="${1:-demo_output}"
steps_opt=()
[ -n "${DEMO_TRAIN_STEPS:-}" ] && steps_opt=(--steps "$DEMO_TRAIN_STEPS")
sample="$out/sample"

echo "== 1/4 simulate a mouse and write a DLC project to $sample"
stablemotion-dlc sample "$sample" --duration 60 --seed 0 --overwrite
config="$sample/config.yaml"
video="$sample/videos/sim_mouse.mp4"
raw=$(ls "$sample"/videos/sim_mouseDLC_*shuffle1_snapshot_*[0-9].h5)

echo "== 2/4 train a cleaner on the project's own predictions"
stablemotion-dlc train "$config" "${steps_opt[@]}" --restart

echo "== 3/4 clean the video's DLC output (the step after deeplabcut.analyze_videos)"
stablemotion-dlc clean "$video" --config "$config" --overwrite
cleaned="${raw%.h5}_filtered.h5"

echo "== 4/4 before/after figure"
stablemotion-dlc plot "$raw" "$cleaned" --truth "$sample/ground_truth/sim_mouse_truth.h5" \
    -o "$out/before_after.png" --overwrite
echo "done: open $out/before_after.png; cleaned tracks in $cleaned"
