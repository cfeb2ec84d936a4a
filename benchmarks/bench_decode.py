"""Benchmark: decoding a one-hour three-sensor capture (PROTOCOL.md §5) into IMU samples.

Builds a capture as the bridge writes it (three sensors at 200 Hz, n = 10 samples per packet, a status packet every
5 s and a sync reply every 2 s per sensor interleaved, records in arrival order) and times, median over repeats:

* ``parse_capture`` + ``Capture.decode`` (CRC of every packet, header fields, counts) + conversion to m/s² and deg/s;
* ``decode_packets`` on the same packets as a list of bytes (the live path: notifications or deframed frames).

Run pinned to one core::

    taskset -c 0 .venv/bin/python benchmarks/bench_decode.py

Writes docs/performance_decode.json. The target (issue 5) is ≥ 5 million samples per second on one core.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hardware.capture import (  # noqa: E402
    RECORD_DTYPE,
    CaptureHeader,
    CaptureSensor,
    Source,
    encode_header,
    encode_record,
    parse_capture,
)
from hardware.protocol import SensorConfig, Status, SyncReply, decode_packets, encode, encode_imu_rows  # noqa: E402


def build_capture(minutes: float, rate_hz: float, seed: int = 0) -> tuple[bytes, int]:
    """A capture of three sensors; returns its bytes and the number of IMU samples in it."""
    cfg = SensorConfig(rate_hz=rate_hz)
    n = int(rate_hz // 20)
    n_packets = int(minutes * 60 * 20)
    rng = np.random.default_rng(seed)
    per_sensor = []
    for sid in range(3):
        k0 = np.arange(n_packets, dtype=np.int64) * n + 1000 * sid
        counts = rng.integers(-4000, 4000, size=(n_packets, n, 6), dtype=np.int16)
        rows = encode_imu_rows(sid, np.arange(n_packets), k0, (k0 * 1e6 / rate_hz).astype(np.int64), cfg, counts)
        t_ns = (k0 * 1e9 / rate_hz).astype(np.int64) + 20_000_000 + rng.integers(0, 15_000_000, n_packets)
        per_sensor.append((sid, rows, t_ns))
    size = per_sensor[0][1].shape[1]
    rec_dtype = np.dtype([*RECORD_DTYPE.descr, ("packet", "u1", (size,))])
    records = np.zeros(3 * n_packets, dtype=rec_dtype)
    for i, (sid, rows, t_ns) in enumerate(per_sensor):
        sl = slice(i * n_packets, (i + 1) * n_packets)
        records["t_host_ns"][sl] = t_ns
        records["source"][sl] = Source.BLE
        records["sensor_id"][sl] = sid
        records["len"][sl] = size
        records["packet"][sl] = rows
    records = records[np.argsort(records["t_host_ns"], kind="stable")]
    # Interleave a sync reply per sensor every 2 s and a status packet every 5 s, at their arrival positions.
    out = [
        encode_header(
            CaptureHeader(
                sensors=tuple(CaptureSensor(i, p) for i, p in enumerate(("pelvis", "left_thigh", "right_thigh")))
            )
        )
    ]
    step_ns = 1_000_000_000
    edges = np.searchsorted(records["t_host_ns"], np.arange(0, int(minutes * 60) + 1) * step_ns)
    for second, (a, b) in enumerate(itertools.pairwise(edges.tolist())):
        out.append(records[a:b].tobytes())
        t = (second + 1) * step_ns
        for sid in range(3):
            if second % 2 == 0:
                out.append(encode_record(t, Source.BLE, sid, encode(SyncReply(sid, 0, 0, 0, cfg, second, 1, 2))))
            if second % 5 == 0:
                out.append(encode_record(t, Source.BLE, sid, encode(Status(sid, 0, 0, 0, cfg))))
    out.append(records[edges[-1] :].tobytes())
    return b"".join(out), 3 * n_packets * n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--rate-hz", type=float, default=200.0)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "performance_decode.json")
    args = ap.parse_args()
    data, n_samples = build_capture(args.minutes, args.rate_hz)
    print(f"capture: {len(data) / 2**20:.1f} MiB, {n_samples} samples")
    times_capture, times_list = [], []
    cap = parse_capture(data)
    packets = [cap.packet(i) for i in range(len(cap))]
    for _ in range(args.repeats):
        t = time.perf_counter()
        cap = parse_capture(data)
        decoded = cap.decode()
        acc, gyr = decoded.imu.physical()
        times_capture.append(time.perf_counter() - t)
        t = time.perf_counter()
        live = decode_packets(packets)
        times_list.append(time.perf_counter() - t)
    assert decoded.imu.n_samples == n_samples == live.imu.n_samples and not decoded.rejected
    assert acc.shape == gyr.shape == (n_samples, 3)
    tracemalloc.start()
    cap = parse_capture(data)
    decoded = cap.decode()
    decoded.imu.physical()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    med_cap, med_list = statistics.median(times_capture), statistics.median(times_list)
    figures = {
        "input": f"{args.minutes:g} min, 3 sensors at {args.rate_hz:g} Hz, {len(cap)} records, "
        f"{len(data) / 2**20:.1f} MiB, {n_samples} samples",
        "repeats": args.repeats,
        "capture_parse_decode_physical_median_s": round(med_cap, 3),
        "capture_samples_per_s_median": round(n_samples / med_cap),
        "packet_list_decode_median_s": round(med_list, 3),
        "packet_list_samples_per_s_median": round(n_samples / med_list),
        "ratio_list_over_capture": round(med_list / med_cap, 2),
        "peak_traced_memory_mib": round(peak / 2**20, 1),
        "capture_mib": round(len(data) / 2**20, 1),
    }
    print(json.dumps(figures, indent=2))
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
