"""How the body's evidence of :func:`~stablemotion_dlc.dlc.identity.find_neighbour_swaps` splits
true exchanges from false ones, on a stress set of the tuning files.

The neighbour-swap finder undoes a span that continuity finds (both points jumped onto each
other's places at both ends) only where the animal's pose prior agrees: the pair unusual as
seen (``SWAP_MIN_D2``), several times more plausible exchanged back (``SWAP_MIN_RATIO``), in
most of the span's frames (``SWAP_MIN_SHARE``). This benchmark measures those thresholds where
settings may be chosen, on protocol B's tuning files:

1. a stress set: protocol B's generator (:func:`~stablemotion_dlc.evaluate.protocol.
   corrupt_independent`) with neighbour swaps only, one case per seed; every span continuity
   finds (:func:`~stablemotion_dlc.dlc.identity.neighbour_swap_candidates`) is *true* when it
   overlaps an injected exchange of the same pair, *false* otherwise;
2. the same files with every protocol-B kind (the exchanges among the other errors);
3. the clean tracks of every protocol-B file (held-out ones too: nothing is injected there,
   so any span undone would be a false one).

For a grid of floors and ratios it counts the spans undone, true / false. The report goes to
``--out`` (``.json`` and ``.md``).

Usage::

    PYTHONPATH=. python benchmarks/bench_neighbour_swaps.py \\
        --out docs/benchmarks/neighbour_swaps [--seeds 100-129] [--all-seeds 0-9]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_protocol import DEFAULT_DATA, FILES, corrupted_tracks  # noqa: E402

from stablemotion_dlc.dlc.identity import (  # noqa: E402
    SWAP_MIN_D2,
    SWAP_MIN_RATIO,
    SWAP_MIN_SHARE,
    NeighbourCandidate,
    neighbour_swap_candidates,
)
from stablemotion_dlc.dlc.io import read_tracks  # noqa: E402
from stablemotion_dlc.evaluate.protocol import corrupt_independent  # noqa: E402

#: Floors (``min_d2``) and ratios (``min_ratio``) the report tabulates.
FLOORS = (20.0, 15.0, 10.0, 8.0, 5.0)
RATIOS = (4.0, 3.0, 2.0)


def _seeds(text: str) -> list[int]:
    """``"100-129"`` or ``"1,2,5"`` -> seeds."""
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi) + 1)) if hi else [int(lo)]
    return out


def _rows(tracks: Any, case: Any | None, file: str, seed: int | None
          ) -> list[tuple[NeighbourCandidate, dict[str, Any]]]:
    """Every span continuity finds, with the body's evidence and whether it is true (the
    candidate and its report row)."""
    rows = []
    for c in neighbour_swap_candidates(tracks):
        ev = c.event
        i = tracks.individuals.index(ev.individuals[0])
        pair = {tracks.bodyparts.index(k) for k in ev.keypoints}
        true = case is not None and any(
            e["kind"] == "neighbour_swap" and e["individuals"][0] == i
            and set(e["keypoints"]) == pair and e["start"] < ev.stop and ev.start < e["stop"]
            for e in case.events)
        rows.append((c, {"file": file, "seed": seed, "individual": ev.individuals[0],
                          "keypoints": list(ev.keypoints), "start": ev.start, "stop": ev.stop,
                          "seen": c.seen, "exchanged": c.exchanged, "share": c.share,
                          "n_frames": c.n_frames, "true": bool(true)}))
    return rows


def _grid(rows: list[tuple[NeighbourCandidate, dict[str, Any]]]) -> dict[str, list[int]]:
    """Spans undone per floor and ratio (at the current share): [true, false]."""
    grid = {}
    for ratio in RATIOS:
        for d2 in FLOORS:
            acc = [r for c, r in rows if c.holds(d2, ratio, SWAP_MIN_SHARE)]
            grid[f"{d2:g}/{ratio:g}"] = [sum(r["true"] for r in acc),
                                         sum(not r["true"] for r in acc)]
    return grid


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Collect the candidates of the three sets and tabulate them."""
    from tqdm import tqdm

    tuning = [f for f in FILES if f[2] == "tuning"]
    sets: dict[str, list[tuple[NeighbourCandidate, dict[str, Any]]]] = {
        "stress": [], "all_kinds": [], "clean": []}
    n_injected = 0
    jobs = ([("stress", f, s) for f in tuning for s in args.seeds]
            + [("all_kinds", f, s) for f in tuning for s in args.all_seeds]
            + [("clean", f, None) for f in FILES])
    cache: dict[str, Any] = {}
    for which, (name, rel, _split), seed in tqdm(jobs, desc="cases", unit="case"):
        if name not in cache:
            tr = read_tracks(args.data / rel)
            cache[name] = tr.select(frames=slice(0, args.max_frames)) \
                if tr.n_frames > args.max_frames else tr
        tracks = cache[name]
        if seed is None:
            sets[which] += _rows(tracks, None, name, None)
            continue
        case = corrupt_independent(
            tracks.xy, tracks.likelihood, seed=seed, rate=0.05,
            kinds=["neighbour_swap"] if which == "stress" else None,
            individuals=tracks.individuals)
        if which == "stress":
            n_injected += sum(e["kind"] == "neighbour_swap" for e in case.events)
        sets[which] += _rows(corrupted_tracks(tracks, case), case, name, seed)
    return {
        "command": " ".join(sys.argv),
        "settings": {"seeds": args.seeds, "all_seeds": args.all_seeds,
                     "max_frames": args.max_frames, "files": [f[0] for f in tuning],
                     "current": {"min_d2": SWAP_MIN_D2, "min_ratio": SWAP_MIN_RATIO,
                                 "min_share": SWAP_MIN_SHARE}},
        "injected_stress_swaps": n_injected,
        "grids": {k: _grid(v) for k, v in sets.items()},
        "counts": {k: {"true": sum(r["true"] for _, r in v),
                       "false": sum(not r["true"] for _, r in v)} for k, v in sets.items()},
        "candidates": {k: [r for _, r in v] for k, v in sets.items()},
    }


def write_markdown(report: dict[str, Any], path: Path) -> None:
    """The report as a page: one table per set."""
    cur = report["settings"]["current"]
    lines = [
        "# Neighbour swaps: the body's evidence on the tuning files",
        "",
        f"Command: `{report['command']}`. Files: {', '.join(report['settings']['files'])} "
        f"(first {report['settings']['max_frames']} frames). Current thresholds: floor "
        f"`SWAP_MIN_D2` {cur['min_d2']:g}, ratio `SWAP_MIN_RATIO` {cur['min_ratio']:g}, share "
        f"`SWAP_MIN_SHARE` {cur['min_share']:g} (every table at that share).",
        "",
        "A span is *true* when it overlaps an injected exchange of the same pair. Cells: spans "
        "undone, true / false.",
    ]
    titles = {
        "stress": f"Stress set: neighbour swaps only, seeds {report['settings']['seeds'][0]}-"
                  f"{report['settings']['seeds'][-1]} ({report['injected_stress_swaps']} "
                  "injected)",
        "all_kinds": "Every protocol-B kind, seeds "
                     f"{report['settings']['all_seeds'][0]}-{report['settings']['all_seeds'][-1]}",
        "clean": "Clean tracks of every protocol-B file (nothing injected)",
    }
    for key, title in titles.items():
        c = report["counts"][key]
        lines += ["", f"## {title}", "",
                  f"Continuity finds {c['true'] + c['false']} span(s): {c['true']} true, "
                  f"{c['false']} false.", "",
                  "| ratio \\ floor | " + " | ".join(f"{d:g}" for d in FLOORS) + " |",
                  "|---" * (len(FLOORS) + 1) + "|"]
        for ratio in RATIOS:
            cells = [report["grids"][key][f"{d:g}/{ratio:g}"] for d in FLOORS]
            lines.append(f"| {ratio:g} | " + " | ".join(f"{t} / {f}" for t, f in cells) + " |")
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--seeds", type=_seeds, default=_seeds("100-129"))
    p.add_argument("--all-seeds", type=_seeds, default=_seeds("0-9"))
    p.add_argument("--max-frames", type=int, default=3000)
    p.add_argument("--out", type=Path, required=True, help="report path without suffix")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    if not args.data.is_dir():
        print(f"no data folder {args.data}: nothing to measure", file=sys.stderr)
        return 0
    t0 = time.perf_counter()
    report = run(args)
    report["seconds"] = round(time.perf_counter() - t0, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=1))
    write_markdown(report, args.out.with_suffix(".md"))
    print(f"wrote {args.out}.{{json,md}} in {report['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
