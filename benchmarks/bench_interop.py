"""Benchmark: reading and analysing a one-hour, three-sensor APDM Opal HDF5 file (issue 11).

The file is written as APDM's Mobility Lab writes version-5 files (``/Sensors/<serial>/Accelerometer|Gyroscope|Time``
as float32 m/s², rad/s and uint64 microseconds, ``Configuration`` with ``Label 0`` Lumbar / Left Upper Leg / Right
Upper Leg and ``Sample Rate``), at 128 Hz (the Opal's usual rate), from a simulated walker: 1 h of 60-s walking
bouts separated by 5 s of standing, random mountings. It is a vendor file (no FusionGait extras), so reading goes
through the whole vendor path: HDF5 read, label → placement, time and unit checks against physics, the common time
base. Then ``fusiongait analyze``'s analysis (``GaitPipeline`` with kinematics, the report).

Each repeat runs in a fresh child process pinned to one core (imports included, as a user's ``fusiongait analyze``
pays them): reading, analysing and the total are timed; medians are printed and written to
docs/performance_interop.json. Target (issue 11): at most 5 s. Run::

    .venv/bin/python benchmarks/bench_interop.py [--repeats 5] [--minutes 60]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from firmware_bridge.readers.dispatch import open_recording
from server.analysis import AnalysisOptions, analyze_recording
t1 = time.perf_counter()
recording, warnings = open_recording(sys.argv[1])
t2 = time.perf_counter()
outcome = analyze_recording(recording, options=AnalysisOptions(height_m=1.75), reader_warnings=warnings)
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "read_s": t2 - t1, "analyse_s": t3 - t2, "total_s": t3 - t0,
                  "samples": recording.n_samples, "rate_hz": recording.sampling_rate_hz,
                  "placements": list(recording.placements), "reader_warnings": warnings,
                  "strides": outcome.report["kinematics"]["strides_used"]["pelvis"]}))
"""


def make_file(path: Path, minutes: float) -> dict[str, float]:
    import h5py
    import numpy as np

    from hardware.simulator.walker import Segment, WalkerParams, simulate_session

    n_bouts = max(1, round(minutes * 60 / 65))
    schedule = [Segment(kind="stand", duration_s=5.0)]
    for _ in range(n_bouts):
        schedule += [Segment(kind="walk", duration_s=60.0), Segment(kind="stand", duration_s=5.0)]
    t = time.perf_counter()
    rec = simulate_session(
        WalkerParams(), schedule=schedule, sampling_rate_hz=128.0, random_mounting=True, seed=0
    ).recording
    simulate_s = time.perf_counter() - t
    labels = {"pelvis": "Lumbar", "left_thigh": "Left Upper Leg", "right_thigh": "Right Upper Leg"}
    t_us = np.round((1_772_409_600.0 + rec.time_s) * 1e6).astype(np.uint64)
    with h5py.File(path, "w") as h5:
        h5.attrs["FileFormatVersion"] = np.int32(5)
        for k, placement in enumerate(rec.placements):
            group = h5.create_group(f"Sensors/{13000 + k}")
            group.create_dataset("Time", data=t_us)
            group.create_dataset("Accelerometer", data=rec.acc_mps2[k].astype(np.float32)).attrs["Units"] = b"m/s^2"
            group.create_dataset("Gyroscope", data=np.radians(rec.gyr_dps[k]).astype(np.float32)).attrs["Units"] = (
                b"rad/s"
            )
            config = group.create_group("Configuration")
            config.attrs["Label 0"] = np.bytes_(labels[placement])
            config.attrs["Sample Rate"] = np.uint16(128)
    return {"simulate_s": simulate_s, "duration_s": rec.duration_s, "file_mib": path.stat().st_size / 2**20}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "performance_interop.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "opal_1h.h5"
        made = make_file(path, args.minutes)
        print(f"wrote {made['duration_s'] / 60:.1f} min, 3 sensors, 128 Hz: {made['file_mib']:.1f} MiB")
        runs = []
        pin = ["taskset", "-c", "0"] if sys.platform.startswith("linux") and _has_taskset() else []
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        for i in range(args.repeats):
            out = subprocess.run(
                [*pin, sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, check=True, env=env
            )
            run = json.loads(out.stdout.strip().splitlines()[-1])
            runs.append(run)
            print(
                f"run {i + 1}: read {run['read_s']:.2f} s, analyse {run['analyse_s']:.2f} s, "
                f"total {run['total_s']:.2f} s"
            )
    med = {
        key: round(statistics.median(r[key] for r in runs), 3) for key in ("import_s", "read_s", "analyse_s", "total_s")
    }
    figures = {
        "input": f"APDM Opal HDF5 v5, {made['duration_s'] / 3600:.2f} h, 3 sensors, 128 Hz, float32, "
        f"{made['file_mib']:.1f} MiB (vendor layout, no FusionGait extras)",
        "repeats": args.repeats,
        "pinned_to_one_core": bool(pin),
        "median": med,
        "runs_total_s": [round(r["total_s"], 3) for r in runs],
        "target_total_s": 5.0,
        "met": med["total_s"] <= 5.0,
        "strides_used_pelvis": runs[-1]["strides"],
        "placements": runs[-1]["placements"],
        "reader_warnings": runs[-1]["reader_warnings"],
        "python": platform.python_version(),
    }
    print(json.dumps(figures, indent=1))
    args.out.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


def _has_taskset() -> bool:
    from shutil import which

    return which("taskset") is not None


if __name__ == "__main__":
    raise SystemExit(main())
