"""Benchmark: bouts, events and spatiotemporal parameters for one hour of pelvis data at 100 Hz (issue 2).

The hour is real walking: the Voisard lower-back trials (../shared/datasets) concatenated until one hour is reached
(standing, walking and turns as recorded; lost packets kept as gaps). Runs the pipeline several times and reports
the median wall time and the peak of traced memory; writes docs/performance_pipeline.json.

Run:  .venv/bin/python benchmarks/bench_pipeline.py [--repeats 7] [--hours 1]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gait.pipeline import GaitPipeline  # noqa: E402
from gait.recording import Recording  # noqa: E402
from tests.voisard import load_trial, trial_codes  # noqa: E402


def hour_of_walking(root: Path, hours: float) -> Recording:
    target = int(hours * 3600 * 100)
    pieces_acc, pieces_gyr, n = [], [], 0
    codes = trial_codes(root, max_missing=1.0)
    i = 0
    while n < target:
        rec = load_trial(root, codes[i % len(codes)]).recording
        pieces_acc.append(rec.acc_mps2[0])
        pieces_gyr.append(rec.gyr_dps[0])
        n += rec.n_samples
        i += 1
    acc = np.concatenate(pieces_acc)[:target][None]
    gyr = np.concatenate(pieces_gyr)[:target][None]
    return Recording(acc_mps2=acc, gyr_dps=gyr, sampling_rate_hz=100.0, placements=("pelvis",))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "performance_pipeline.json")
    args = ap.parse_args()
    root = args.datasets / "voisard_ipol_healthy_lowerback"
    if not root.is_dir():
        print(f"dataset not found: {root}", file=sys.stderr)
        return 2
    rec = hour_of_walking(root, args.hours)
    pipe = GaitPipeline(height_m=1.75)
    pipe.run(rec)  # warm-up
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        result = pipe.run(rec)
        times.append(time.perf_counter() - t0)
    tracemalloc.start()
    pipe.run(rec)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    figures = {
        "what": "GaitPipeline.run: bouts, events, spatiotemporal; pelvis only, 100 Hz, real walking (Voisard)",
        "hours": args.hours,
        "samples": rec.n_samples,
        "repeats": args.repeats,
        "median_s": round(statistics.median(times), 3),
        "min_s": round(min(times), 3),
        "max_s": round(max(times), 3),
        "peak_traced_memory_mib": round(peak / 2**20, 1),
        "input_array_mib": round((rec.acc_mps2.nbytes + rec.gyr_dps.nbytes) / 2**20, 1),
        "steps_detected": int(result.ic_idx.size),
        "machine": f"{platform.machine()}, {platform.python_version()}, numpy {np.__version__}",
    }
    print(json.dumps(figures, indent=1))
    args.out.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
