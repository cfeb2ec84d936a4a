"""Benchmark: everyday-walking analysis of a 24-hour, three-sensor, 100 Hz home recording in chunks (issue 9).

The recording is made by tiling one simulated 12-hour day at home twice (``hardware.simulator.simulate_day``: sitting,
standing, short and long walks with turns; pelvis and both thighs in random mountings, default sensor errors). It is
never stored: it is produced in 10-minute chunks, as a home recording is read from storage, and fed to
``DailyAnalyzer`` (GaitPipeline on 10-min windows, walking bouts, daily outcomes, kinematics of the long bouts).

The simulation runs in this process; the day is handed to a fresh child process (pickled to a temporary file) that
is pinned to one core and measures: the time to produce the chunks alone, the time to produce and analyse them
(median of ``--repeats``), the analysis = the difference, the peak traced Python memory of one run (tracemalloc)
and the child's peak resident memory (``VmHWM``: interpreter, libraries, the day's signals, the analysis; also read
after loading the day and after the timed runs, before the traced one). Run::

    .venv/bin/python benchmarks/bench_daily.py      # writes docs/performance_daily.json

Targets (issue 9): at most 60 s on one core, under 2 GiB.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pickle
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gait.daily import DailyAnalyzer  # noqa: E402
from gait.pipeline import GaitPipeline  # noqa: E402
from gait.recording import Recording  # noqa: E402
from hardware.simulator import DayPlan, SimulatedDay, WalkerParams, simulate_day  # noqa: E402

CHUNK_S = 600.0
#: 2026-03-02 00:00 UTC: the tiled recording starts at midnight, so it is one calendar day.
START_S = 1_772_409_600.0


def stream(day: SimulatedDay, hours: float) -> Iterator[Recording]:
    """``hours`` of recording: the day's chunks over and over, each stamped where it falls."""
    fs = day.sampling_rate_hz
    total = round(hours * 3600.0 * fs)
    emitted = 0
    while emitted < total:
        for chunk in day.chunks(chunk_s=CHUNK_S):
            take = min(chunk.n_samples, total - emitted)
            yield Recording(
                acc_mps2=chunk.acc_mps2[:, :take],
                gyr_dps=chunk.gyr_dps[:, :take],
                sampling_rate_hz=fs,
                placements=chunk.placements,
                valid=chunk.valid[:, :take],
                start_time_s=START_S + emitted / fs,
                source="bench_daily (tiled simulated day)",
            )
            emitted += take
            if emitted >= total:
                return


def peak_rss_mib() -> float:
    """This process's peak resident memory since its exec, in MiB.

    ``VmHWM`` of /proc/self/status where there is one: ``ru_maxrss`` would carry over the parent's high-water mark
    through fork and exec on Linux (the parent held the simulation's 1 GiB).
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child(path: Path, hours: float, repeats: int) -> dict[str, Any]:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    with path.open("rb") as fh:
        day: SimulatedDay = pickle.load(fh)
    rss_loaded_mib = peak_rss_mib()
    analyzer = DailyAnalyzer(pipeline=GaitPipeline(height_m=day.params.height_m))
    gen_times, total_times = [], []
    result = None
    for _ in range(repeats):
        t = time.perf_counter()
        n = sum(c.n_samples for c in stream(day, hours))
        gen_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        result = analyzer.run(stream(day, hours))
        total_times.append(time.perf_counter() - t)
    assert result is not None
    rss_runs_mib = peak_rss_mib()
    tracemalloc.start()
    analyzer.run(stream(day, hours))
    peak_traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    maxrss_mib = peak_rss_mib()
    gen, total = statistics.median(gen_times), statistics.median(total_times)
    (d,) = result.days
    return {
        "input": f"{hours:g} h, {len(day.placements)} sensors, {day.sampling_rate_hz:g} Hz ({n} samples), "
        f"{CHUNK_S:g} s chunks",
        "repeats": repeats,
        "produce_chunks_median_s": round(gen, 2),
        "produce_and_analyse_median_s": round(total, 2),
        "analysis_median_s": round(total - gen, 2),
        "analysis_runs_s": [round(t - g, 2) for t, g in zip(total_times, gen_times, strict=True)],
        "peak_traced_mib_one_run": round(peak_traced / 2**20, 1),
        "child_peak_rss_after_loading_day_mib": round(rss_loaded_mib, 1),
        "child_peak_rss_after_timed_runs_mib": round(rss_runs_mib, 1),
        "child_peak_rss_mib": round(maxrss_mib, 1),
        "windows": result.n_windows,
        "walking_bouts": result.bouts.n,
        "steps": d.steps,
        "walking_s": round(d.walking_s, 1),
        "kinematic_bouts": d.kinematics.n_bouts,
        "cpu_affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--day-h", type=float, default=12.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "performance_daily.json")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.hours, args.repeats)))
        return 0
    t = time.perf_counter()
    day = simulate_day(WalkerParams(speed_mps=1.1), plan=DayPlan(wear_h=args.day_h), random_mounting=True, seed=7)
    print(f"simulated a {args.day_h:g} h day in {time.perf_counter() - t:.0f} s", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "day.pickle"
        with path.open("wb") as fh:
            pickle.dump(dataclasses.replace(day, mounting=dict(day.mounting)), fh)
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        cmd = [sys.executable, __file__, "--child", str(path), "--hours", str(args.hours)]
        out = subprocess.run(
            [*cmd, "--repeats", str(args.repeats)], capture_output=True, text=True, env=env, check=True
        )
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    figures["simulated_day_h"] = args.day_h
    figures["machine"] = f"{platform.machine()}, {platform.python_version()}, numpy {np.__version__}"
    figures["targets"] = {"analysis_s": 60.0, "memory_gib": 2.0}
    print(json.dumps(figures, indent=1))
    args.out.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
