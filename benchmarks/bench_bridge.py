"""Benchmark: the bridge's ingest speed on a one-hour capture and its CPU use while streaming live.

1. Ingest, as fast as possible (median over repeats, one process): a one-hour capture of three sensors at 200 Hz
   (the same synthetic capture as ``bench_decode.py``) through

   * ``ingest``: parse + decode + reassembly + clock sync, up to every sensor's samples on the host clock
     (``SensorStream.samples``), which is the bridge's own work;
   * ``to_recording``: the above plus resampling onto one grid and the ``Recording`` constructor's validation.

2. Live: three virtual sensors at 200 Hz served over pseudo-terminals by ``fusiongait simulate`` in another process,
   recorded by a ``BridgeSession`` (capture file, fsync every second, reassembly every 0.1 s) in this process for
   ``--live-s`` seconds; the CPU time of this process over the wall time is the bridge's share of one core.

Run pinned to one core::

    taskset -c 0 .venv/bin/python benchmarks/bench_bridge.py

Writes docs/performance_bridge.json. Targets (issue 6): ingest ≥ 5 million samples/s; live ≤ 5 % of one core.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_decode import build_capture  # noqa: E402
from firmware_bridge.readers.capture_format import assemble_capture  # noqa: E402
from firmware_bridge.session import BridgeSession  # noqa: E402
from firmware_bridge.stream import SensorStream  # noqa: E402
from hardware.capture import parse_capture  # noqa: E402


def ingest_only(data: bytes) -> int:
    """Bytes → per-sensor samples on the host clock; returns the samples kept."""
    cap = parse_capture(data)
    decoded = cap.decode()
    imu = decoded.imu
    t_us = cap.t_host_ns / 1e3
    link = cap.sensor_id[imu.position]
    total = 0
    for s in cap.header.sensors:
        stream = SensorStream(s.sensor_id, s.placement)
        mine = link == s.sensor_id
        stream.add_imu(imu.take(mine), t_us[imu.position[mine]])
        total += stream.samples().host_us.size
    return total


def live_cpu(seconds: float, rate_hz: float) -> dict[str, float]:
    sim = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "fusiongait"), "simulate", "--rate-hz", f"{rate_hz:g}", "--no-tcp"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert sim.stdout is not None
        urls: dict[str, str] = {}
        while len(urls) < 3:
            line = sim.stdout.readline()
            if not line:
                raise RuntimeError("the simulator ended before printing its ports")
            parts = line.split()
            if len(parts) >= 4 and parts[-1].startswith("serial://"):
                urls[parts[0]] = parts[-1]
        with tempfile.TemporaryDirectory() as tmp:
            session = BridgeSession(urls, out=Path(tmp) / "live.imucap")

            async def run() -> None:
                await session.run(duration_s=seconds)

            cpu0, wall0 = time.process_time(), time.perf_counter()
            asyncio.run(run())
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            samples = sum(h["samples"] for h in session.health().values())
    finally:
        sim.terminate()
        sim.wait(timeout=10)
    return {
        "live_seconds": round(wall, 2),
        "live_samples": samples,
        "live_cpu_s": round(cpu, 3),
        "live_cpu_pct_of_one_core": round(100 * cpu / wall, 2),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--rate-hz", type=float, default=200.0)
    ap.add_argument("--live-s", type=float, default=20.0)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "performance_bridge.json")
    args = ap.parse_args()
    data, n_samples = build_capture(args.minutes, args.rate_hz)
    print(f"capture: {len(data) / 2**20:.1f} MiB, {n_samples} samples", flush=True)
    t_ingest, t_record = [], []
    for _ in range(args.repeats):
        t = time.perf_counter()
        kept = ingest_only(data)
        t_ingest.append(time.perf_counter() - t)
        t = time.perf_counter()
        rec = assemble_capture(parse_capture(data)).recording
        t_record.append(time.perf_counter() - t)
    assert kept == n_samples, (kept, n_samples)
    assert rec.n_sensors == 3
    med_i, med_r = statistics.median(t_ingest), statistics.median(t_record)
    figures: dict[str, object] = {
        "input": f"{args.minutes:g} min, 3 sensors at {args.rate_hz:g} Hz, {len(data) / 2**20:.1f} MiB, "
        f"{n_samples} samples",
        "repeats": args.repeats,
        "ingest_median_s": round(med_i, 3),
        "ingest_samples_per_s_median": round(n_samples / med_i),
        "to_recording_median_s": round(med_r, 3),
        "to_recording_samples_per_s_median": round(n_samples / med_r),
        "peak_rss_mib_after_ingest": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if args.live_s > 0:
        figures.update(live_cpu(args.live_s, args.rate_hz))
    print(json.dumps(figures, indent=2))
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
