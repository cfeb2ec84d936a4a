"""The live bridge over real links: pty serial ports, TCP, bleak with the virtual radio, a killed recorder.

The sensors are the simulator's virtual sensors; the bridge's own code (transports, supervisors, session, capture
writer, reassembly) runs unchanged. Reconnect behaviour is checked with an injected clock and sleep.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from firmware_bridge.readers.capture_format import read_capture
from firmware_bridge.session import BridgeSession
from firmware_bridge.supervisor import Backoff, LinkSupervisor
from firmware_bridge.transports import LinkLost, TransportError, open_transport
from hardware.capture import Source, parse_capture
from hardware.protocol import Command, decode_command, decode_packets
from hardware.simulator import healthy, simulate_session
from hardware.simulator.ble import VirtualBleakClient, VirtualBleakScanner, VirtualBleWorld
from hardware.simulator.device import FaultPlan, VirtualSensor, virtual_sensors
from hardware.simulator.serve import SimulatorServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def run(coro: Awaitable[Any], timeout_s: float = 60.0) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout_s))  # type: ignore[arg-type]


def sensors(faults: FaultPlan | dict[str, FaultPlan] | None = None, rate_hz: float = 100.0) -> dict[str, VirtualSensor]:
    session = simulate_session(healthy(), sampling_rate_hz=rate_hz, seed=3)
    return virtual_sensors(session, faults=faults, seed=5)


def kept_equals_delivered(stream_samples_idx: np.ndarray, sensor: VirtualSensor) -> None:
    lost = {k for p in sensor.log.lost for k in range(p.sample_idx, p.sample_idx + p.n)}
    lost |= {k for s, n in sensor.log.not_streamed for k in range(s, s + n)}
    first, last = int(stream_samples_idx[0]), int(stream_samples_idx[-1])
    expected = [k for k in range(first, last + 1) if k not in lost]
    np.testing.assert_array_equal(stream_samples_idx, expected)


# --------------------------------------------------------------------------------------------- serial and TCP
def test_session_over_ptys_and_tcp_keeps_every_delivered_sample(tmp_path: Path) -> None:
    virtual = sensors(FaultPlan(drop_probability=0.02, seed=2))
    out = tmp_path / "live.imucap"

    async def main() -> BridgeSession:
        async with SimulatorServer(virtual) as sim:
            ptys = {e.placement: e.url for e in await sim.open_pty()}
            tcp = {e.placement: e.url for e in await sim.open_tcp()}
            urls = {"pelvis": ptys["pelvis"], "left_thigh": ptys["left_thigh"], "right_thigh": tcp["right_thigh"]}
            session = BridgeSession(urls, out=out, sync_period_s=0.5)
            await session.run(duration_s=2.5)
            return session

    session = run(main())
    health = session.health()
    for placement, h in health.items():
        assert h["state"] == "stopped" and h["connects"] == 1
        assert h["samples"] >= 180 and h["sync_method"] == "pings", (placement, h)
        kept_equals_delivered(session.links[placement].stream.samples().sample_idx, virtual[placement])
    assert health["right_thigh"]["url"].startswith("socket://")
    recording, _ = read_capture(out)
    assert recording.placements == ("pelvis", "left_thigh", "right_thigh") and recording.duration_s > 2.0
    commands = [decode_command(p).command for p in _records(out, Source.HOST_COMMAND)]
    assert commands[0] is Command.START and commands[-1] is Command.STOP and Command.SYNC in commands
    live = session.recording()
    assert live is not None and live.n_samples >= 200


def _records(path: Path, source: Source) -> list[bytes]:
    cap = parse_capture(path.read_bytes())
    return [cap.packet(i) for i in np.flatnonzero(cap.source == source)]


def test_serial_garbage_is_counted_and_skipped() -> None:
    garbage = (FIXTURES / "serial_garbage.bin").read_bytes()

    async def main() -> tuple[list[bytes], Any]:
        async def serve(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            for k in range(0, len(garbage), 97):  # arbitrary chunking
                w.write(garbage[k : k + 97])
                await w.drain()
            w.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        transport = open_transport(f"socket://127.0.0.1:{port}")
        await transport.connect()
        packets = []
        with pytest.raises(LinkLost):
            while True:
                packets.append(await transport.recv())
        await transport.close()
        server.close()
        return packets, transport.deframer.stats  # type: ignore[attr-defined]

    packets, stats = run(main())
    decoded = decode_packets(packets)
    assert len(decoded.imu) > 10 and stats.cobs_errors + stats.oversize > 0 and stats.bytes_dropped > 0


def test_unknown_and_unreachable_urls_name_the_problem() -> None:
    with pytest.raises(TransportError, match="expected a URL starting with one of"):
        open_transport("usb:/dev/ttyACM0")
    transport = open_transport("serial:///dev/no-such-port")
    with pytest.raises(TransportError, match="cannot open the port"):
        run(transport.connect())


# ------------------------------------------------------------------------------------------------------- BLE
def test_ble_session_reconnects_after_a_disconnect_through_a_new_scan() -> None:
    virtual = sensors({"left_thigh": FaultPlan(disconnects=((1.0, 0.8),), seed=1)})
    world = VirtualBleWorld(virtual, speed=1.0)
    names = {p.placement: p.name for p in world.peripherals}
    backends = {"scanner_backend": VirtualBleakScanner, "client_backend": VirtualBleakClient, "scan_timeout_s": 5.0}

    async def main() -> BridgeSession:
        session = BridgeSession(
            {p: f"ble://{n}" for p, n in names.items()},
            sync_period_s=0.3,
            watchdog_s=1.0,
            backoff=Backoff(initial_s=0.1, max_s=0.5),
            transport_options=dict.fromkeys(names, backends),
        )
        await session.run(duration_s=3.5)
        return session

    with world.activate():
        session = run(main())
    health = session.health()
    assert health["left_thigh"]["connects"] >= 2, health["left_thigh"]
    assert health["pelvis"]["connects"] == 1 and health["right_thigh"]["connects"] == 1
    for placement, h in health.items():
        assert h["sync_method"] == "pings" and h["samples"] > 150
        kept_equals_delivered(session.links[placement].stream.samples().sample_idx, virtual[placement])
    assert health["left_thigh"]["lost_samples"] >= 60  # the disconnect is one gap, then streaming resumed


# ------------------------------------------------------------------------------- supervision, injected time
class FlakyTransport:
    """A test double of a link: fails the first connects, then streams packets from a fixture until told to drop."""

    source = Source.BLE
    active = 0
    max_active = 0

    def __init__(self, url: str, log: list[str], fail_first: int, packets: list[bytes]) -> None:
        self.url, self.log, self.fail_first, self.packets = url, log, fail_first, packets

    async def connect(self) -> None:
        FlakyTransport.active += 1
        FlakyTransport.max_active = max(FlakyTransport.max_active, FlakyTransport.active)
        await asyncio.sleep(0.01)  # a scan takes time: others must wait for the lock
        FlakyTransport.active -= 1
        self.log.append(f"connect {self.url}")
        if self.log.count(f"connect {self.url}") <= self.fail_first:
            raise TransportError(f"{self.url}: no advertising sensor found")

    async def recv(self) -> bytes:
        if not self.packets:
            raise LinkLost(f"{self.url}: disconnected")
        await asyncio.sleep(0)
        return self.packets.pop(0)

    async def send(self, command: bytes) -> None:
        self.log.append(f"send {self.url} {Command(command[0]).name}")

    async def close(self) -> None:
        self.log.append(f"close {self.url}")


def test_reconnects_back_off_with_jitter_and_connect_one_at_a_time() -> None:
    cap = parse_capture((FIXTURES / "healthy_walk.imucap").read_bytes())
    packets = [cap.packet(i) for i in np.flatnonzero((cap.sensor_id == 0) & (cap.source == Source.BLE))[:30]]
    log: list[str] = []
    slept: dict[int, list[float]] = {0: [], 1: [], 2: []}
    now_ns = [0]
    records: list[tuple[int, Source, bytes]] = []

    def fake_sleep(k: int) -> Callable[[float], Awaitable[None]]:
        async def sleep(seconds: float) -> None:
            slept[k].append(seconds)
            now_ns[0] += int(seconds * 1e9)
            await asyncio.sleep(0)

        return sleep

    def make(url: str, fail_first: int) -> Callable[[], FlakyTransport]:
        return lambda: FlakyTransport(url, log, fail_first, list(packets))

    async def main() -> list[LinkSupervisor]:
        lock = asyncio.Lock()
        sups = [
            LinkSupervisor(
                make(f"test://{k}", fail_first=3 if k == 0 else 0),
                lambda t, s, p: records.append((t, s, p)),
                connect_lock=lock,
                sync_period_s=0,
                backoff=Backoff(initial_s=0.5, factor=2.0, max_s=3.0, jitter=0.5),
                clock_ns=lambda: now_ns[0],
                sleep=fake_sleep(k),
                seed=7,
            )
            for k in range(3)
        ]
        tasks = [asyncio.ensure_future(s.run()) for s in sups]
        while min(s.counters.connects for s in sups) < 2:  # everyone streamed, lost the link, came back
            await asyncio.sleep(0.01)
        for s in sups:
            s.stop()
        await asyncio.gather(*tasks)
        return sups

    sups = run(main(), timeout_s=20)
    assert FlakyTransport.max_active == 1  # scan + connect under the shared lock
    assert sups[0].counters.failed_connects == 3
    # The failing link's first waits: 0.5, 1 and 2 s, each scaled by U(0.5, 1).
    for k, wait_s in enumerate(slept[0][:3]):
        assert 0.5 * 0.5 * 2**k <= wait_s <= 0.5 * 2**k + 1e-9, slept[0]
    assert len(slept[0]) >= 4 and slept[0][3] <= 0.5  # after a good connect the backoff starts over
    # On every connect: START right after it (subscribing is part of connect), then a sync ping.
    for url in ("test://0", "test://1", "test://2"):
        mine = [e for e in log if e.split(" ")[1] == url]
        starts = [k for k, e in enumerate(mine) if e == f"send {url} START"]
        assert len(starts) >= 2
        for k in starts:
            assert mine[k - 1] == f"connect {url}" and mine[k + 1] == f"send {url} SYNC"
    assert any(s is Source.HOST_COMMAND for _, s, _ in records)


# ------------------------------------------------------------------------------------------------ SIGKILL
def test_a_killed_recorder_leaves_everything_up_to_the_last_second(tmp_path: Path) -> None:
    virtual = sensors()
    out = tmp_path / "killed.imucap"
    exe = Path(sys.executable).with_name("fusiongait")

    async def main() -> int:
        async with SimulatorServer(virtual) as sim:
            urls = {e.placement: e.url for e in await sim.open_pty()}
            args = [a for p, u in urls.items() for a in ("--sensor", f"{p}={u}")]
            proc = await asyncio.create_subprocess_exec(
                str(exe), "record", *args, "--out", str(out), "--quiet", stdout=asyncio.subprocess.DEVNULL
            )
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:  # wait until it streams, then let it run 2 s
                await asyncio.sleep(0.2)
                if out.exists() and out.stat().st_size > 20_000:
                    break
            await asyncio.sleep(2.0)
            killed_ns = time.monotonic_ns()
            os.kill(proc.pid, signal.SIGKILL)
            await proc.wait()
            return killed_ns

    killed_ns = run(main())
    cap = parse_capture(out.read_bytes())
    packets = cap.t_host_ns[cap.source != Source.HOST_COMMAND]
    assert packets.size > 100
    assert killed_ns - int(packets.max()) < 1_000_000_000  # nothing older than a second is missing at the end
    recording, _ = read_capture(out)
    assert recording.duration_s > 2.0
