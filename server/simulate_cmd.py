"""``fusiongait simulate``: three virtual sensors to try the whole system with no hardware.

Live mode serves the sensors in real time over pseudo-terminals (open them as serial ports) and TCP (pyserial's
``socket://`` URLs) until Ctrl-C or ``--duration-s``. ``--record OUT.imucap`` instead writes a capture of the
session as fast as possible, as a bridge would have recorded it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from pathlib import Path
from typing import Any

from hardware.protocol import OUTPUT_RATES_HZ, SensorConfig
from hardware.simulator import PRESETS, simulate_session
from hardware.simulator.device import FaultPlan, virtual_sensors
from hardware.simulator.record import LinkModel, record_session
from hardware.simulator.serve import SimulatorServer
from hardware.simulator.walker import Segment
from server.argtypes import positive_number

__all__ = ["add_simulate_parser"]


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a probability, got {text!r}") from None
    if not 0.0 <= value <= 0.5:
        raise argparse.ArgumentTypeError(f"expected a probability between 0 and 0.5, got {text!r}")
    return value


def add_simulate_parser(commands: Any) -> None:
    """Add the ``simulate`` sub-command to the ``fusiongait`` parser."""
    sim = commands.add_parser(
        "simulate",
        help="run three virtual sensors (no hardware needed)",
        description=(
            "Start virtual sensors (pelvis, left thigh, right thigh) driven by the walking-body model and print "
            "where to connect: pty paths (serial ports) and TCP ports. They speak the sensor protocol "
            "(hardware/PROTOCOL.md) and stream after START."
        ),
    )
    sim.add_argument("--preset", choices=sorted(PRESETS), default="healthy", help="the walker (default: healthy)")
    sim.add_argument(
        "--rate-hz", type=float, choices=OUTPUT_RATES_HZ[2:4], default=100.0, help="output rate (default: 100)"
    )
    sim.add_argument(
        "--walk-s", type=positive_number, default=120.0, help="length of the walk that loops (default: 120)"
    )
    sim.add_argument(
        "--speed", type=positive_number, default=1.0, help="simulated seconds per real second (default: 1)"
    )
    sim.add_argument("--duration-s", type=positive_number, help="stop after this many simulated seconds")
    sim.add_argument("--no-pty", action="store_true", help="do not open pseudo-terminals")
    sim.add_argument("--no-tcp", action="store_true", help="do not listen on TCP")
    sim.add_argument("--port", type=int, default=0, help="first TCP port (default: free ports)")
    sim.add_argument("--drop", type=_probability, default=0.0, help="probability that a packet is lost (default: 0)")
    sim.add_argument("--seed", type=int, default=0, help="seed of the walker, the clocks and the faults")
    sim.add_argument("--record", type=Path, metavar="OUT.imucap", help="write a capture of --duration-s and exit")
    sim.set_defaults(handler=_simulate)


def _simulate(args: argparse.Namespace) -> int:
    # A gait-lab walk: quiet standing (for calibration), then 10 m-style lengths with 180° turns, then standing.
    n_lengths = max(1, round(args.walk_s / 15.0))
    lengths = [Segment(kind="walk", duration_s=args.walk_s / n_lengths - 2.5)] * n_lengths
    turns = [Segment(kind="turn", duration_s=2.5, turn_deg=180.0)] * n_lengths
    walk = [seg for pair in zip(lengths, turns, strict=True) for seg in pair]
    schedule = (Segment(kind="stand", duration_s=4.0), *walk, Segment(kind="stand", duration_s=4.0))
    session = simulate_session(PRESETS[args.preset](), schedule=schedule, sampling_rate_hz=args.rate_hz, seed=args.seed)
    sensors = virtual_sensors(
        session,
        config=SensorConfig(rate_hz=args.rate_hz),
        faults=FaultPlan(drop_probability=args.drop, seed=args.seed),
        seed=args.seed,
    )
    if args.record is not None:
        duration = args.duration_s or float(sum(s.duration_s for s in schedule))
        rec = record_session(
            sensors,
            duration,
            link=LinkModel.ble(),
            session_id=f"simulated-{args.preset}-{args.seed}",
            header_extra={"simulated": {"preset": args.preset, "seed": args.seed, "rate_hz": args.rate_hz}},
            seed=args.seed,
        )
        tmp = args.record.with_name(args.record.name + ".part")
        tmp.write_bytes(rec.capture)
        os.replace(tmp, args.record)
        lost = sum(s.log.lost_samples() for s in rec.sensors.values())
        print(f"wrote {args.record} ({len(rec.capture)} bytes, {duration:g} s, {lost} samples lost on the link)")
        return 0
    if args.no_pty and args.no_tcp:
        print("fusiongait: error: --no-pty and --no-tcp leave nothing to serve", file=sys.stderr)
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args, sensors))
    return 0


async def _serve(args: argparse.Namespace, sensors: dict[str, Any]) -> None:
    async with SimulatorServer(sensors, speed=args.speed) as sim:
        endpoints = ([] if args.no_pty else await sim.open_pty()) + (
            [] if args.no_tcp else await sim.open_tcp(port=args.port)
        )
        print(f"virtual sensors ({args.preset}, {args.rate_hz:g} Hz); send START (0x01, COBS-framed) to stream:")
        for e in endpoints:
            print(f"  {e.placement:<12} sensor {e.sensor_id}  {e.url}")
        print("Ctrl-C to stop.", flush=True)
        sys.stdout.flush()
        if args.duration_s:
            await asyncio.sleep(args.duration_s / args.speed)
        else:
            await asyncio.Event().wait()
