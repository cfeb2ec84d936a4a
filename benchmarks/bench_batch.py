"""Benchmark: ``fusiongait batch`` throughput on a dask.distributed LocalCluster of 1 and 2 worker processes (issue 10).

The cohort: the three recorded fixtures (tests/fixtures/*.imucap, 33 s each) and simulated clinic walks recorded as
captures by the virtual-host session (``hardware.simulator``: 4 s standing, 60 s of 10 m-style lengths with 180°
turns, 4 s standing; the six walker presets in turn, random sensor mountings, 0.2 % packet loss on a BLE link),
made once in a temporary folder, then copied ``--copies`` times under other names (distinct tasks on the same
data; one analysis takes a few tens of ms, so a cohort of 40 would time mostly Dask's start of each run). For
each cluster size the cluster is started (timed apart), warmed up on two
recordings (the workers import the analysis), then the whole cohort is analysed into a fresh output folder
``--repeats`` times; throughput = recordings / median wall time. A re-run on a finished folder (every recording
skipped: the cost of hashing and the summary) and the same analyses in this one process without Dask are timed too.

Run::

    .venv/bin/python benchmarks/bench_batch.py      # writes docs/performance_batch.json

The projected cost per 1,000 patient-days is a formula, not a measurement: see ``cost_projection`` in the output
and docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from server.batch import BatchItem, analysis_version, analyze_item, discover, run_batch  # noqa: E402
from server.batch_cmd import local_client  # noqa: E402

PRESET_ORDER = (
    "healthy",
    "anterior_tilt_compensation",
    "pelvic_drop",
    "reduced_hip_extension",
    "antalgic",
    "slow_short_steps",
)
#: An illustrative price, not a quote: substitute your provider's on-demand or spot price per vCPU-hour.
EXAMPLE_PRICE_PER_CORE_HOUR = 0.05


def make_cohort(folder: Path, n_simulated: int, walk_s: float, copies: int) -> None:
    from hardware.simulator import PRESETS, simulate_session
    from hardware.simulator.device import FaultPlan, virtual_sensors
    from hardware.simulator.record import LinkModel, record_session
    from hardware.simulator.walker import Segment

    for capture in sorted((ROOT / "tests" / "fixtures").glob("*.imucap")):
        shutil.copy(capture, folder / capture.name)
    n_lengths = max(1, round(walk_s / 15.0))
    walk = [
        Segment(kind="walk", duration_s=walk_s / n_lengths - 2.5),
        Segment(kind="turn", duration_s=2.5, turn_deg=180),
    ]
    schedule = (Segment(kind="stand", duration_s=4.0), *(walk * n_lengths), Segment(kind="stand", duration_s=4.0))
    for i in range(n_simulated):
        preset = PRESET_ORDER[i % len(PRESET_ORDER)]
        session = simulate_session(PRESETS[preset](), schedule=schedule, random_mounting=True, seed=100 + i)
        sensors = virtual_sensors(session, faults=FaultPlan(drop_probability=0.002, seed=100 + i), seed=100 + i)
        duration = session.recording.n_samples / session.recording.sampling_rate_hz
        capture = record_session(sensors, duration, link=LinkModel.ble(), seed=100 + i).capture
        (folder / f"sim_{i:03d}_{preset}.imucap").write_bytes(capture)
    for c in range(1, copies):  # the same recordings again under other names: more tasks, same data
        (folder / f"copy{c}").mkdir()
        for path in sorted(folder.glob("*.imucap")):
            shutil.copy(path, folder / f"copy{c}" / path.name)


def time_cluster(items: list[BatchItem], workers: int, repeats: int, scratch: Path) -> dict[str, Any]:
    t = time.perf_counter()
    with local_client(workers) as client:
        start_s = time.perf_counter() - t
        analysis_version.cache_clear()  # the code may have changed since the last cluster (a shared work tree)
        warm = run_batch(items[:2], scratch / f"warm{workers}", client=client, progress=False)
        assert warm.failed == 0, warm.failures
        runs = []
        for r in range(repeats):
            out = scratch / f"w{workers}_r{r}"
            t = time.perf_counter()
            result = run_batch(items, out, client=client, progress=False)
            runs.append(time.perf_counter() - t)
            assert result.failed == 0 and result.analysed == len(items), result.failures
        t = time.perf_counter()
        again = run_batch(items, out, client=client, progress=False)
        rerun_s = time.perf_counter() - t
        assert again.analysed == 0
        task_s = [row["elapsed_s"] for row in result.rows]
    median = statistics.median(runs)
    return {
        "workers": workers,
        "cluster_start_s": round(start_s, 2),
        "runs_s": [round(x, 2) for x in runs],
        "median_s": round(median, 2),
        "recordings_per_minute": round(len(items) / median * 60.0, 1),
        "load_average_1min_after": round(os.getloadavg()[0], 2),
        "task_median_s": round(statistics.median(task_s), 3),
        "task_sum_s": round(sum(task_s), 2),
        "rerun_all_skipped_s": round(rerun_s, 2),
    }


def time_in_process(items: list[BatchItem], repeats: int) -> dict[str, Any]:
    analyze_item(items[0])  # imports
    runs = []
    for _ in range(repeats):
        t = time.perf_counter()
        for item in items:
            assert analyze_item(item).status == "done"
        runs.append(time.perf_counter() - t)
    median = statistics.median(runs)
    return {
        "runs_s": [round(x, 2) for x in runs],
        "median_s": round(median, 2),
        "recordings_per_minute": round(len(items) / median * 60.0, 1),
        "load_average_1min_after": round(os.getloadavg()[0], 2),
    }


def cost_projection(recording_s_per_core: float) -> dict[str, Any]:
    """Machine time and cost per 1,000 patient-days, as a formula with its inputs (nothing here is measured)."""
    daily = json.loads((ROOT / "docs" / "performance_daily.json").read_text())
    day_s = float(daily["analysis_median_s"]) * 24.0 / float(daily["input"].split(" h")[0])
    clinic_core_h = 1000 * recording_s_per_core / 3600.0
    home_core_h = 1000 * day_s / 3600.0
    return {
        "formula": "cost = N_patient_days x core_seconds_per_patient_day / 3600 / efficiency x price_per_core_hour",
        "price_per_core_hour_example": EXAMPLE_PRICE_PER_CORE_HOUR,
        "price_source": "illustrative assumption (order of magnitude of a public-cloud on-demand vCPU-hour), not a "
        "quote and not measured; substitute your own price",
        "efficiency_assumed": 1.0,
        "clinic_session_per_patient_day": {
            "core_seconds_per_patient_day": round(recording_s_per_core, 3),
            "source": "this benchmark: 1-worker batch wall time per recording (one clinic walk of 33-68 s)",
            "core_hours_per_1000": round(clinic_core_h, 3),
            "cost_per_1000_example": round(clinic_core_h * EXAMPLE_PRICE_PER_CORE_HOUR, 4),
        },
        "home_day_24h_per_patient_day": {
            "core_seconds_per_patient_day": round(day_s, 2),
            "source": "docs/performance_daily.json (bench_daily: 24 h of 3 sensors at 100 Hz analysed by "
            "gait.daily on one core); fusiongait batch does not yet run the day-by-day analysis",
            "core_hours_per_1000": round(home_core_h, 2),
            "cost_per_1000_example": round(home_core_h * EXAMPLE_PRICE_PER_CORE_HOUR, 3),
        },
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--simulated", type=int, default=37, help="simulated recordings beside the 3 fixtures")
    ap.add_argument("--walk-s", type=float, default=60.0)
    ap.add_argument("--copies", type=int, default=5, help="each recording this many times, under other names")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "performance_batch.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        cohort, scratch = Path(tmp) / "cohort", Path(tmp) / "out"
        cohort.mkdir()
        t = time.perf_counter()
        make_cohort(cohort, args.simulated, args.walk_s, args.copies)
        print(f"made {args.simulated} simulated recordings in {time.perf_counter() - t:.0f} s", flush=True)
        items, _ = discover(cohort)
        in_process = time_in_process(items, args.repeats)
        print(f"in process: {in_process}", flush=True)
        clusters = []
        for workers in (1, 2):
            clusters.append(time_cluster(items, workers, args.repeats, scratch))
            print(clusters[-1], flush=True)
        sizes = [sum(Path(f).stat().st_size for f in i.files.values()) for i in items]
    one, two = clusters
    figures = {
        "cohort": f"{len(items)} captures: {args.copies} copies of 3 fixtures of 33 s and {args.simulated} simulated "
        f"walks of {args.walk_s + 8:g} s; 3 sensors at 100 Hz, {sum(sizes) / 2**20:.1f} MiB",
        "repeats": args.repeats,
        "in_process_no_dask": in_process,
        "local_cluster": clusters,
        "speedup_2_vs_1_workers": round(one["median_s"] / two["median_s"], 2),
        "cost_projection": cost_projection(one["median_s"] / len(items)),
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "machine": f"{platform.machine()}, {platform.python_version()}",
    }
    print(json.dumps(figures, indent=1))
    args.out.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
