"""Benchmark: orientation + pelvis and hip kinematics for one hour of three sensors at 100 Hz.

Times ``GaitPipeline`` with and without kinematics on the same recording (a simulated walker: 1 h of walking
bouts of 60 s separated by 5 s of standing, pelvis and both thighs, random mounting) and reports the median
difference, i.e. what the kinematics stage costs. Run pinned to one core::

    taskset -c 0 .venv/bin/python benchmarks/bench_kinematics.py

Writes docs/performance_kinematics.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gait.pipeline import GaitPipeline  # noqa: E402
from hardware.simulator.walker import Segment, WalkerParams, simulate_session  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "performance_kinematics.json")
    args = ap.parse_args()
    n_bouts = max(1, round(args.minutes * 60 / 65))
    schedule = [Segment(kind="stand", duration_s=5.0)]
    for _ in range(n_bouts):
        schedule += [Segment(kind="walk", duration_s=60.0), Segment(kind="stand", duration_s=5.0)]
    t0 = time.perf_counter()
    rec = simulate_session(WalkerParams(), schedule=schedule, random_mounting=True, seed=0).recording
    print(f"simulated {rec.duration_s / 60:.1f} min of 3 sensors in {time.perf_counter() - t0:.1f} s")
    with_k, without_k = GaitPipeline(height_m=1.75), GaitPipeline(height_m=1.75, with_kinematics=False)
    times_with, times_without = [], []
    for _ in range(args.repeats):
        for pipe, times in ((without_k, times_without), (with_k, times_with)):
            t = time.perf_counter()
            result = pipe.run(rec)
            times.append(time.perf_counter() - t)
    assert result.kinematics is not None
    tracemalloc.start()
    with_k.run(rec)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    med_with, med_without = statistics.median(times_with), statistics.median(times_without)
    figures = {
        "input": f"{rec.duration_s / 3600:.2f} h, 3 sensors, {rec.sampling_rate_hz:g} Hz ({rec.n_samples} samples)",
        "strides": int(result.kinematics.strides.start_idx.size),
        "repeats": args.repeats,
        "pipeline_with_kinematics_median_s": round(med_with, 3),
        "pipeline_without_kinematics_median_s": round(med_without, 3),
        "kinematics_median_s": round(med_with - med_without, 3),
        "peak_traced_mib_with_kinematics": round(peak / 2**20, 1),
        "input_mib": round((rec.acc_mps2.nbytes + rec.gyr_dps.nbytes) / 2**20, 1),
    }
    print(json.dumps(figures, indent=1))
    args.out.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
