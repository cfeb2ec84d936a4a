"""``fusiongait record``: stream sensors into a capture file with a live status line, until Ctrl-C.

::

    fusiongait record --sensor pelvis=ble://FG-pelvis --sensor left_thigh=serial:///dev/ttyACM1 \\
                      --sensor right_thigh=socket://127.0.0.1:7003 --out walk.imucap [--duration-s 600]

Every packet goes to the capture as it arrives (fsynced every second), so even a killed recorder leaves a file that
``fusiongait analyze`` reads. Ctrl-C (or SIGTERM) sends STOP to every sensor and closes the file cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

from firmware_bridge.session import BridgeSession
from server.argtypes import sensor_url

__all__ = ["add_record_parser", "status_line"]


def add_record_parser(commands: Any) -> None:
    """Add the ``record`` sub-command to the ``fusiongait`` parser."""
    rec = commands.add_parser(
        "record",
        help="record sensors (BLE, serial, replay) into a capture file",
        description=(
            "Connect to each sensor (ble://ADDRESS-OR-NAME, serial:///dev/ttyACM0, socket://HOST:PORT, "
            "replay://CAPTURE?placement=P), start streaming, and write every packet to a capture file as it arrives. "
            "Reconnects by itself; Ctrl-C stops cleanly."
        ),
    )
    rec.add_argument(
        "--sensor", action="append", type=sensor_url, required=True, metavar="PLACEMENT=URL", help="a sensor link"
    )
    rec.add_argument("--out", type=Path, required=True, metavar="FILE.imucap", help="the capture to write (new file)")
    rec.add_argument("--duration-s", type=float, help="stop after this many seconds")
    rec.add_argument("--subject", default="", help="subject id for the header")
    rec.add_argument("--sync-period-s", type=float, default=1.0, help="mean time between sync pings (default 1)")
    rec.add_argument("--quiet", action="store_true", help="no status line")
    rec.set_defaults(handler=_record)


def status_line(health: dict[str, dict[str, Any]]) -> str:
    """One line: per sensor its state, samples, loss, clock bracket and battery."""
    parts = []
    for placement, h in health.items():
        sync = "—" if h["sync_uncertainty_ms"] is None else f"±{h['sync_uncertainty_ms'] / 2:.1f}ms"
        battery = "—" if h["battery_pct"] is None else f"{h['battery_pct']}%"
        rate = "—" if h["rate_hz"] is None else f"{h['rate_hz']:.0f}Hz"
        parts.append(
            f"{placement}: {h['state']} {rate} {h['samples']} smp loss {h['loss_pct']:.1f}% sync {sync} bat {battery}"
        )
    return " | ".join(parts)


def _record(args: argparse.Namespace) -> int:
    sensors: dict[str, str] = {}
    for placement, url in args.sensor:
        if placement in sensors:
            print(f"fusiongait: error: argument --sensor: {placement} given twice", file=sys.stderr)
            return 2
        sensors[placement] = url
    if args.out.suffix.lower() != ".imucap":
        print(f"fusiongait: error: --out {args.out}: expected a .imucap file name", file=sys.stderr)
        return 2
    return asyncio.run(_run(args, sensors))


async def _run(args: argparse.Namespace, sensors: dict[str, str]) -> int:
    session = BridgeSession(sensors, out=args.out, subject_id=args.subject, sync_period_s=args.sync_period_s)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, session.stop)
    runner = asyncio.ensure_future(session.run(args.duration_s))
    tty = sys.stderr.isatty()
    while not runner.done():
        await asyncio.wait({runner}, timeout=1.0)
        if not args.quiet:
            line = status_line(session.health())
            print(("\r\x1b[2K" if tty else "") + line, end="" if tty else "\n", file=sys.stderr, flush=True)
    runner.result()
    if not args.quiet and tty:
        print(file=sys.stderr)
    writer = session.writer
    n = 0 if writer is None else writer.records
    print(f"wrote {args.out} ({n} records); analyse with: fusiongait analyze {args.out}")
    return 0
