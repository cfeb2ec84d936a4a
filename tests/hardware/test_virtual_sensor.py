"""Virtual sensors: protocol behaviour, clocks, faults accounted for exactly, and real serial ports (pty, TCP)."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
import serial

from hardware.capture import Source, parse_capture
from hardware.framing import Deframer, frame
from hardware.protocol import Command, DecodedPackets, Status, SyncReply, decode_packets, encode_command
from hardware.simulator import healthy, simulate_session
from hardware.simulator.device import DeviceClock, FaultLog, FaultPlan, VirtualSensor, virtual_sensors
from hardware.simulator.record import LinkModel, record_session
from hardware.simulator.serve import SimulatorServer


@pytest.fixture(scope="module")
def session():  # type: ignore[no-untyped-def]
    return simulate_session(healthy(), sampling_rate_hz=100.0, seed=4)


def _check_gaps_match_log(decoded: DecodedPackets, log: FaultLog, n: int, *, received_from: int = 0) -> None:
    """Every sample_idx gap between received packets is exactly the packets the sensor's log says were lost."""
    imu = decoded.imu
    first = np.unique(imu.sample_idx)  # duplicates collapse
    lost = sorted({p.sample_idx for p in log.lost if p.n and p.sample_idx >= first[0]})
    expected = np.arange(first[0], first[-1] + n, n)
    missing = sorted(set(expected.tolist()) - set(first.tolist()))
    assert missing == [k for k in lost if k <= first[-1]]


def test_streams_only_after_start_and_keeps_sample_idx_across_stop(session) -> None:  # type: ignore[no-untyped-def]
    vs = VirtualSensor.from_session(session, "pelvis", 0, boot_s=-2.0)
    assert vs.poll(1.0) == []  # idle until START
    vs.command(encode_command(Command.START), 1.0)
    got = decode_packets([e.packet for e in vs.poll(3.0)])
    assert isinstance(got.others[0][1], Status)  # a status packet first
    k = got.imu.sample_idx
    assert k[0] == 300 and np.all(np.diff(k) == 5)  # 2 s after power-up at 100 Hz
    assert np.all(np.diff(got.imu.seq) == 1) and got.imu.seq[0] == 1
    vs.command(encode_command(Command.STOP), 3.0)
    assert decode_packets([e.packet for e in vs.poll(4.0)]).imu.n_samples == 0
    vs.command(encode_command(Command.START), 4.0)
    again = decode_packets([e.packet for e in vs.poll(5.0)])
    assert again.imu.sample_idx[0] == 600  # the index counts from power-up, not from START


def test_clock_drift_and_sync_reply(session) -> None:  # type: ignore[no-untyped-def]
    clock = DeviceClock(offset_us=(1 << 32) - 3_000_000, drift_ppm=50.0)  # wraps 3 s after power-up
    vs = VirtualSensor.from_session(session, "pelvis", 0, clock=clock, boot_s=0.0)
    vs.command(encode_command(Command.START), 0.0)
    vs.command(encode_command(Command.SYNC, 0xDEADBEEF), 10.0)
    got = decode_packets([e.packet for e in vs.poll(10.5)])
    reply = next(p for _, p in got.others if isinstance(p, SyncReply))
    assert reply.token == 0xDEADBEEF
    assert reply.t_rx_us == (clock.offset_us + round(10.0 * 1e6 * (1 + 50e-6))) % (1 << 32)
    assert 0 < (reply.t_tx_us - reply.t_rx_us) % (1 << 32) < 1000
    # t_us of each packet is the device time of its first sample: it wraps once and advances 50 ms per packet.
    t = np.unwrap(got.imu.t_us.astype(float), period=2.0**32)
    assert np.all(np.abs(np.diff(t) - 50_000) <= 1)
    assert np.sum(np.diff(got.imu.t_us) < 0) == 1


def test_sensors_sample_the_body_at_their_own_clock(session) -> None:  # type: ignore[no-untyped-def]
    """Two crystals 100 ppm apart: after 40 s their sample 4000 is 4 ms apart in true time."""
    fast = VirtualSensor.from_session(session, "pelvis", 0, clock=DeviceClock(0, 50.0))
    slow = VirtualSensor.from_session(session, "pelvis", 0, clock=DeviceClock(0, -50.0))
    assert float(slow.sample_host_s(4000) - fast.sample_host_s(4000)) == pytest.approx(0.004, rel=1e-3)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_gap_is_a_logged_loss(session, seed: int) -> None:  # type: ignore[no-untyped-def]
    faults = FaultPlan(
        drop_probability=0.03,
        burst_probability=0.01,
        burst_packets=7,
        duplicate_probability=0.03,
        bit_error_probability=0.03,
        seed=seed,
    )
    vs = VirtualSensor.from_session(session, "left_thigh", 1, faults=faults)
    vs.command(encode_command(Command.START), 0.0)
    raw = [e.packet for h in np.arange(0.1, 30.0, 0.1) for e in vs.poll(float(h))]
    got = decode_packets(raw)
    reasons = {p.reason for p in vs.log.lost}
    assert {"dropped", "burst", "bit_error"} <= reasons and vs.log.duplicated_seq
    assert len(got.rejected) == sum(p.reason == "bit_error" for p in vs.log.lost)
    _check_gaps_match_log(got, vs.log, vs.n)


def test_disconnect_and_reboot(session) -> None:  # type: ignore[no-untyped-def]
    vs = VirtualSensor.from_session(
        session, "pelvis", 0, faults=FaultPlan(disconnects=((5.0, 1.0),), reboots_s=(12.0,)), boot_s=-1.0
    )
    vs.command(encode_command(Command.START), 0.0)
    before = decode_packets([e.packet for e in vs.poll(7.0)])
    assert not vs.streaming and vs.link_up  # the link is back but the device waits for START
    vs.command(encode_command(Command.START), 7.0)
    after = decode_packets([e.packet for e in vs.poll(11.0)])
    assert after.imu.sample_idx[0] - before.imu.sample_idx[-1] > 100  # ≈ 2 s of samples missing
    assert vs.log.disconnects_s == [5.0]
    vs.poll(13.0)
    assert not vs.streaming and vs.log.reboots_s == [12.0]
    vs.command(encode_command(Command.START), 13.0)
    rebooted = decode_packets([e.packet for e in vs.poll(14.0)])
    assert rebooted.imu.sample_idx[0] == 100  # counts again from the reboot
    assert rebooted.others[0][1].seq == 0


def test_record_session_capture_accounts_for_all_losses(session) -> None:  # type: ignore[no-untyped-def]
    sensors = virtual_sensors(session, seed=5, faults=FaultPlan(drop_probability=0.01, seed=9))
    rec = record_session(sensors, 20.0, link=LinkModel.usb(), sync_period_s=1.0)
    cap = parse_capture(rec.capture)
    assert {s.placement for s in cap.header.sensors} == {"pelvis", "left_thigh", "right_thigh"}
    assert np.all(np.diff(cap.t_host_ns) >= 0)
    pings = cap.source == Source.HOST_COMMAND
    assert pings.sum() >= 3 * 18
    decoded = cap.decode()
    assert decoded.rejected == ()
    for placement, vs in rec.sensors.items():
        own = decoded.imu.take(decoded.imu.sensor_id == vs.sensor_id)
        _check_gaps_match_log(DecodedPackets(own), vs.log, vs.n)
        replies = [p for _, p in decoded.others if isinstance(p, SyncReply) and p.sensor_id == vs.sensor_id]
        assert len(replies) >= 15, placement


def test_pty_is_a_real_serial_port(session) -> None:  # type: ignore[no-untyped-def]
    """pyserial opens the simulator's pty and receives the packets sent, in order, gaps exactly as injected."""
    faults = FaultPlan(drop_probability=0.05, burst_probability=0.02, burst_packets=4, seed=11)
    sensors = {"pelvis": VirtualSensor.from_session(session, "pelvis", 0, faults=faults)}

    async def run() -> tuple[bytes, VirtualSensor]:
        async with SimulatorServer(sensors, speed=10.0) as sim:
            (endpoint,) = await sim.open_pty()
            port = serial.serial_for_url(endpoint.url.removeprefix("serial://"), baudrate=921600, timeout=0)
            try:
                port.write(frame(encode_command(Command.START)))
                received = bytearray()
                deadline = time.monotonic() + 1.5  # 15 s of sensor time
                while time.monotonic() < deadline:
                    await asyncio.sleep(0.02)
                    received += port.read(65536)
                port.write(frame(encode_command(Command.STOP)))
                await asyncio.sleep(0.1)
                received += port.read(65536)
            finally:
                port.close()
            return bytes(received), sensors["pelvis"]

    data, vs = asyncio.run(run())
    deframer = Deframer()
    got = decode_packets(deframer.feed(data))
    assert deframer.stats.errors == 0 and got.rejected == ()
    assert len(got.imu) > 150
    assert np.all(np.diff(got.imu.seq.astype(np.int64)) >= 1)  # in order
    _check_gaps_match_log(got, vs.log, vs.n)
    assert any(p.reason == "burst" for p in vs.log.lost)


def test_tcp_link_and_disconnect(session) -> None:  # type: ignore[no-untyped-def]
    sensors = {"pelvis": VirtualSensor.from_session(session, "pelvis", 0, faults=FaultPlan(disconnects=((3.0, 1.0),)))}

    async def run() -> tuple[bytes, bytes]:
        async with SimulatorServer(sensors, speed=10.0) as sim:
            (endpoint,) = await sim.open_tcp()
            host, port = endpoint.address.split(":")
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(frame(encode_command(Command.START)))
            first = await reader.read()  # until the simulator closes the link at 3 s
            writer.close()
            await asyncio.sleep(0.15)  # link back at 4 s
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(frame(encode_command(Command.START)))
            await asyncio.sleep(0.2)
            second = await reader.read(65536)
            writer.close()
            return first, second

    first, second = asyncio.run(run())
    a = decode_packets(Deframer().feed(first)).imu
    b = decode_packets(Deframer().feed(second)).imu
    assert len(a) > 20 and len(b) > 0
    assert b.sample_idx[0] > a.sample_idx[-1] + 5 * 10  # the outage is a gap, indices continue
    assert sensors["pelvis"].log.disconnects_s == [3.0]


def test_stop_sends_the_unfinished_batch_and_start_while_streaming_repeats_status(session) -> None:  # type: ignore[no-untyped-def]
    vs = VirtualSensor.from_session(session, "pelvis", 0)
    vs.command(encode_command(Command.START), 0.0)
    vs.command(encode_command(Command.START), 0.5)  # already streaming: a status packet, nothing else changes
    vs.command(encode_command(Command.STOP), 1.025)  # samples 100-102 taken: 3 into a 5-sample batch
    got = decode_packets([e.packet for e in vs.poll(2.0)])
    assert [type(p).__name__ for _, p in got.others] == ["Status", "Status"]
    assert got.imu.n.tolist() == [5] * 20 + [3]
    assert np.all(np.diff(got.imu.sample_idx) == got.imu.n[:-1])
    assert np.all(np.diff(got.imu.seq) >= 1)
