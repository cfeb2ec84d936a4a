"""Validate the bridge's reassembly and clock sync against the simulator's ground truth (issue 6).

Three virtual sensors at 200 Hz, ``--minutes`` (default 10) of a session with 1 % random packet loss, bursts of 8
lost packets (0.2 % chance per packet) and a 5 s disconnect of the left thigh half-way, recorded by the virtual host
over each link model: BLE with connection events every 7.5, 25 and 30 ms (at 25 ms the 50 ms packet period locks to
the interval), a generic BLE link (8 ms + exponential delay) and USB. For each: samples kept vs delivered, gap samples
vs logged losses, duplicates, and the timing error of every sample against the truth (absolute, and between sensors:
the thighs against the pelvis at the same instants). Writes docs/validation_bridge.json::

    .venv/bin/python scripts/validate_bridge.py
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from firmware_bridge.readers.capture_format import assemble_capture  # noqa: E402
from hardware.capture import parse_capture  # noqa: E402
from hardware.simulator import healthy, simulate_session  # noqa: E402
from hardware.simulator.device import FaultPlan, virtual_sensors  # noqa: E402
from hardware.simulator.record import LinkModel, record_session  # noqa: E402

MONO0_US = 10e6

LINKS = {
    "ble_events_7.5ms": LinkModel.ble_connection_events(0.0075),
    "ble_events_25ms_locked": LinkModel.ble_connection_events(0.025),
    "ble_events_30ms": LinkModel.ble_connection_events(0.030),
    "ble_generic": LinkModel.ble(),
    "usb": LinkModel.usb(),
}


def one(link_name: str, minutes: float, seed: int) -> dict[str, object]:
    duration_s = minutes * 60
    session = simulate_session(healthy(), sampling_rate_hz=200.0, seed=seed)
    plan = {"drop_probability": 0.01, "burst_probability": 0.002, "burst_packets": 8}
    faults = {
        "pelvis": FaultPlan(**plan, seed=seed + 1),  # type: ignore[arg-type]
        "left_thigh": FaultPlan(**plan, disconnects=((duration_s / 2, 5.0),), seed=seed + 2),  # type: ignore[arg-type]
        "right_thigh": FaultPlan(**plan, seed=seed + 3),  # type: ignore[arg-type]
    }
    sensors = virtual_sensors(session, faults=faults, seed=seed + 4)
    recorded = record_session(sensors, duration_s, link=LINKS[link_name], seed=seed + 5)
    assembled = assemble_capture(parse_capture(recorded.capture))
    out: dict[str, object] = {}
    errors = {}
    for placement, stream in assembled.streams.items():
        sensor = recorded.sensors[placement]
        samples = stream.samples()
        idx = samples.sample_idx
        lost = np.zeros(int(idx.max()) + 1, dtype=bool)
        for p in sensor.log.lost:
            lost[p.sample_idx : p.sample_idx + p.n] = True
        for start, n in sensor.log.not_streamed:
            lost[start : start + n] = True
        every = np.arange(int(idx.min()), int(idx.max()) + 1)
        expected = every[~lost[every]]
        err = samples.host_us - (MONO0_US + sensor.sample_host_s(idx) * 1e6)
        errors[placement] = (samples.host_us, err)
        h = stream.health()
        out[placement] = {
            "samples_kept": int(idx.size),
            "samples_delivered": int(expected.size),
            "kept_equals_delivered": bool(np.array_equal(idx, expected)),
            "gap_samples": h.lost_samples,
            "logged_lost_samples": int(lost[every].sum()),
            "duplicates_kept": int(idx.size - np.unique(idx).size),
            "sync_method": h.sync_method,
            "abs_error_ms_median": round(float(np.median(err)) / 1e3, 3),
        }
    ref_t, ref_e = errors["pelvis"]
    for placement in ("left_thigh", "right_thigh"):
        t, e = errors[placement]
        between = np.abs(np.interp(ref_t, t, e) - ref_e) / 1e3
        out[f"{placement}_vs_pelvis_ms"] = {
            "p50": round(float(np.percentile(between, 50)), 3),
            "p95": round(float(np.percentile(between, 95)), 3),
            "max": round(float(between.max()), 3),
        }
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "validation_bridge.json")
    args = ap.parse_args()
    results = {"minutes": args.minutes, "seed": args.seed, "links": {}}
    for name in LINKS:
        results["links"][name] = one(name, args.minutes, args.seed)  # type: ignore[index]
        print(name, json.dumps(results["links"][name]), flush=True)  # type: ignore[index]
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
