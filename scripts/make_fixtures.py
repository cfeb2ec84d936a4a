"""Regenerate the recorded fixtures in tests/fixtures/ (captures of virtual sensors) and their manifest.

Each fixture is made by the virtual sensors of hardware.simulator (the walking-body model spoken through the wire
protocol, with device clocks and injected faults) and recorded by a virtual host (record_session). The manifest
says what each file is, how it was made and its sha256, plus the loss the simulator injected, so tests can check
that decoding accounts for it exactly. Deterministic: the same code gives the same bytes.

    .venv/bin/python scripts/make_fixtures.py            # rewrite the fixtures
    .venv/bin/python scripts/make_fixtures.py --check    # exit 1 if a fixture differs from what the code makes
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from hardware.framing import frame
from hardware.protocol import Command, encode_command
from hardware.simulator import PRESETS, simulate_session
from hardware.simulator.device import FaultPlan, virtual_sensors
from hardware.simulator.record import LinkModel, record_session
from hardware.simulator.walker import Segment

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures"

LAB_WALK = (
    Segment(kind="stand", duration_s=4.0),
    Segment(kind="walk", duration_s=12.0),
    Segment(kind="turn", duration_s=2.5, turn_deg=180.0),
    Segment(kind="walk", duration_s=12.0),
    Segment(kind="stand", duration_s=3.0),
)


def _capture(
    name: str, preset: str, *, seed: int, faults: FaultPlan, link: LinkModel, what: str
) -> tuple[bytes, dict[str, Any]]:
    session = simulate_session(PRESETS[preset](), schedule=LAB_WALK, sampling_rate_hz=100.0, seed=seed)
    duration_s = session.recording.n_samples / session.recording.sampling_rate_hz
    made = {"preset": preset, "seed": seed, "rate_hz": 100.0, "duration_s": duration_s}
    sensors = virtual_sensors(session, faults=faults, seed=seed)
    rec = record_session(sensors, duration_s, link=link, session_id=name, header_extra={"simulated": made}, seed=seed)
    injected = {
        placement: {
            "sensor_id": s.sensor_id,
            "drift_ppm": round(s.clock.drift_ppm, 3),
            "packets_sent": s.log.sent,
            "packets_lost": len(s.log.lost),
            "samples_lost": s.log.lost_samples(),
            "lost_by_reason": {
                r: sum(p.reason == r for p in s.log.lost) for r in sorted({p.reason for p in s.log.lost})
            },
            "samples_not_streamed": sum(n for _, n in s.log.not_streamed),
            "duplicates": len(s.log.duplicated_seq),
            "disconnects_s": s.log.disconnects_s,
            "reboots_s": s.log.reboots_s,
        }
        for placement, s in rec.sensors.items()
    }
    return rec.capture, {
        "what": what,
        "made_with": {**made, "faults": _faults_json(faults), "link": link.source.name},
        "injected": injected,
    }


def _faults_json(f: FaultPlan) -> dict[str, Any]:
    return {
        k: getattr(f, k)
        for k in (
            "drop_probability",
            "burst_probability",
            "burst_packets",
            "duplicate_probability",
            "bit_error_probability",
            "disconnects",
            "reboots_s",
            "seed",
        )
    }


def _serial_garbage(seed: int) -> tuple[bytes, dict[str, Any]]:
    """A raw serial byte stream: COBS frames of one sensor with line noise and a partial frame mixed in."""
    session = simulate_session(PRESETS["healthy"](), schedule=LAB_WALK[:2], sampling_rate_hz=100.0, seed=seed)
    sensors = virtual_sensors(session, seed=seed)
    s = sensors["pelvis"]
    s.command(encode_command(Command.START), 0.0)
    packets = [e.packet for e in s.poll(5.0)]
    rng = np.random.default_rng(seed)
    stream = bytearray(b"\xaa\x55 boot garbage \xff\xfe")  # starts mid-nothing: no delimiter yet
    garbage_at = set(rng.choice(len(packets), size=6, replace=False).tolist())
    cut_at = min(garbage_at)
    for i, p in enumerate(packets):
        if i in garbage_at and i != cut_at:
            stream += bytes(rng.integers(1, 256, size=int(rng.integers(3, 40)), dtype=np.uint8))  # noise, no 0x00
        f = frame(p)
        if i == cut_at:
            stream += f[: len(f) // 2] + b"\x00"  # a frame cut short (a byte lost on the wire)
            continue
        stream += f
    # Noise (and the leading garbage) merges with the next frame, which is lost too; the cut frame is lost.
    lost = len(garbage_at | {0})
    return bytes(stream), {
        "what": "A raw serial byte stream (COBS frames, PROTOCOL.md §2) of the pelvis sensor, 5 s at 100 Hz, with "
        "leading garbage, five runs of line noise (each corrupting the frame it runs into) and one frame cut short.",
        "made_with": {"preset": "healthy", "seed": seed, "rate_hz": 100.0, "duration_s": 5.0},
        "injected": {"frames_sent": len(packets), "frames_corrupted": lost, "frames_intact": len(packets) - lost},
    }


def build() -> dict[str, tuple[bytes, dict[str, Any]]]:
    """Every fixture's bytes and manifest entry."""
    return {
        "healthy_walk.imucap": _capture(
            "healthy_walk",
            "healthy",
            seed=1,
            faults=FaultPlan(),
            link=LinkModel.ble(),
            what="A healthy walker in a gait lab: 4 s standing, 12 s walk, 180° turn, 12 s walk, 3 s standing; three "
            "sensors at 100 Hz over BLE with sync pings every 2 s; no loss.",
        ),
        "compensated_walk.imucap": _capture(
            "compensated_walk",
            "anterior_tilt_compensation",
            seed=2,
            faults=FaultPlan(drop_probability=0.002, seed=2),
            link=LinkModel.ble(),
            what="A walker with reduced hip extension compensated by more anterior pelvic tilt (the post-fusion "
            "pattern of CLINICAL.md §4 F1+F2), same lab walk, occasional single packet loss.",
        ),
        "dropouts_reconnect.imucap": _capture(
            "dropouts_reconnect",
            "healthy",
            seed=3,
            faults=FaultPlan(
                drop_probability=0.01,
                burst_probability=0.004,
                burst_packets=8,
                duplicate_probability=0.01,
                bit_error_probability=0.005,
                disconnects=((14.0, 2.0),),
                seed=3,
            ),
            link=LinkModel.ble(),
            what="A session with BLE trouble: single and burst packet loss, duplicates, bit errors, and a 2 s "
            "disconnect at 14 s after which the host re-sends START (sample_idx continues across the gap).",
        ),
        "serial_garbage.bin": _serial_garbage(seed=4),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    fixtures = build()
    manifest = {
        "about": "Recorded fixtures standing in for hardware in tests. Regenerate with scripts/make_fixtures.py.",
        "files": {
            name: {**entry, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for name, (data, entry) in fixtures.items()
        },
    }
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    if args.check:
        bad = [n for n, (d, _) in fixtures.items() if not (OUT / n).is_file() or (OUT / n).read_bytes() != d]
        if (OUT / "MANIFEST.json").read_text() != text:
            bad.append("MANIFEST.json")
        print("fixtures differ: " + ", ".join(bad) if bad else "fixtures are up to date")
        return 1 if bad else 0
    OUT.mkdir(parents=True, exist_ok=True)
    for name, (data, _) in fixtures.items():
        (OUT / name).write_bytes(data)
    (OUT / "MANIFEST.json").write_text(text)
    for name, entry in manifest["files"].items():
        print(f"{name}: {entry['bytes']} bytes, sha256 {entry['sha256'][:16]}…")
    return 0


if __name__ == "__main__":
    sys.exit(main())
