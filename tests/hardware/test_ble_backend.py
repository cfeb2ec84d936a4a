"""The virtual BLE backend: virtual sensors reached through bleak's own BleakScanner/BleakClient API.

pytest-asyncio is not a dependency: each test runs its coroutine with ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from functools import cache
from typing import Any

import numpy as np
import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.exc import BleakDeviceNotFoundError, BleakError

from hardware.errors import HardwareError
from hardware.profiles import REFERENCE_IMU
from hardware.protocol import Command, Status, SyncReply, decode_packets, encode_command
from hardware.simulator import Segment, SimulatedSession, healthy, simulate_session
from hardware.simulator.ble import VirtualBleakClient, VirtualBleakScanner, VirtualBleWorld
from hardware.simulator.device import FaultPlan, VirtualSensor, virtual_sensors

SERVICE = REFERENCE_IMU.gatt[0].uuid
DATA = REFERENCE_IMU.gatt[0].characteristic("data_notify").uuid
COMMAND = REFERENCE_IMU.gatt[0].characteristic("command_write").uuid
START = encode_command(Command.START)
STOP = encode_command(Command.STOP)


@cache
def _session() -> SimulatedSession:
    schedule = (Segment(kind="stand", duration_s=1.0), Segment(kind="walk", duration_s=5.0))
    return simulate_session(healthy(), schedule=schedule, sampling_rate_hz=100.0, seed=1)


def _sensors(faults: FaultPlan | None = None) -> dict[str, VirtualSensor]:
    return virtual_sensors(_session(), faults=faults, seed=2)


def run(coro: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(asyncio.wait_for(coro(), timeout=10.0))


class Inbox:
    """Notification handler that keeps every packet."""

    def __init__(self) -> None:
        self.packets: list[bytes] = []

    def __call__(self, sender: BleakGATTCharacteristic, data: bytearray) -> None:
        assert sender.uuid == DATA
        self.packets.append(bytes(data))


def _lost_imu_idx(sensor: VirtualSensor) -> set[int]:
    return {p.sample_idx for p in sensor.log.lost if p.n > 0}


# ---------------------------------------------------------------------------------------------------------- scanning
def test_scan_finds_the_three_sensors_by_service_uuid() -> None:
    world = VirtualBleWorld(_sensors(), speed=20.0)

    async def main() -> None:
        with world.activate():
            found = await BleakScanner.discover(
                timeout=0.05, service_uuids=[SERVICE.upper()], return_adv=True, backend=VirtualBleakScanner
            )
            other = await BleakScanner.discover(
                timeout=0.02, service_uuids=["0000180d-0000-1000-8000-00805f9b34fb"], backend=VirtualBleakScanner
            )
        assert other == []
        assert sorted(found) == sorted(p.address for p in world.peripherals)
        for p in world.peripherals:
            device, adv = found[p.address]
            assert adv.local_name == device.name == p.name
            assert p.name.startswith(f"FG-{p.placement}-") and len(p.name) == len(f"FG-{p.placement}-") + 4
            assert adv.service_uuids == [SERVICE]
            assert adv.rssi == p.rssi < 0
            assert device.details is p

    run(main)


def test_find_device_by_name_and_filter_and_detection_callback() -> None:
    world = VirtualBleWorld(_sensors(), speed=20.0)
    seen: list[str] = []

    async def main() -> None:
        target = world.peripheral("left_thigh")
        with world.activate():
            device = await BleakScanner.find_device_by_name(target.name, timeout=1.0, backend=VirtualBleakScanner)
            assert device is not None and device.address == target.address
            strongest = await BleakScanner.find_device_by_filter(
                lambda d, ad: ad.rssi > -57 and SERVICE in ad.service_uuids, timeout=1.0, backend=VirtualBleakScanner
            )
            assert strongest is not None and strongest.name == world.peripheral("pelvis").name
            missing = await BleakScanner.find_device_by_name("FG-nobody", timeout=0.05, backend=VirtualBleakScanner)
            assert missing is None
        # The world can also be passed explicitly, and detection callbacks get every advertisement.
        async with BleakScanner(lambda d, ad: seen.append(d.address), backend=VirtualBleakScanner, world=world):
            await asyncio.sleep(0.02)

    run(main)
    assert set(seen) == {p.address for p in world.peripherals}


def test_a_backend_without_a_world_says_how_to_give_it_one() -> None:
    with pytest.raises(HardwareError, match="activate"):
        BleakScanner(backend=VirtualBleakScanner)


# ------------------------------------------------------------------------------------------------------- streaming
def test_stream_is_contiguous_except_the_packets_the_fault_log_lost() -> None:
    faults = FaultPlan(drop_probability=0.05, burst_probability=0.01, burst_packets=3, seed=3)
    world = VirtualBleWorld(_sensors(faults), speed=20.0)
    inboxes = {p.placement: Inbox() for p in world.peripherals}
    after_stop: dict[str, int] = {}
    streamed_s: dict[str, float] = {}

    async def stream(client: BleakClient, inbox: Inbox, placement: str) -> None:
        await client.start_notify(DATA, inbox)
        await client.write_gatt_char(COMMAND, START, response=True)
        start_s = world.now_s()
        await world.sleep(2.0)
        await client.write_gatt_char(COMMAND, STOP, response=True)
        streamed_s[placement] = world.now_s() - start_s
        after_stop[placement] = len(inbox.packets)
        await world.sleep(0.3)

    async def main() -> None:
        with world.activate():
            devices = await BleakScanner.discover(timeout=0.03, service_uuids=[SERVICE], backend=VirtualBleakScanner)
        clients = [BleakClient(d, backend=VirtualBleakClient) for d in devices]
        for c in clients:
            await c.connect()
            assert c.is_connected and c.mtu_size == 247
        await asyncio.gather(*(stream(c, inboxes[c.name.split("-")[1]], c.name.split("-")[1]) for c in clients))
        for c in clients:
            await c.disconnect()
            assert not c.is_connected

    run(main)
    for p in world.peripherals:
        inbox = inboxes[p.placement]
        # After STOP only the unfinished batch arrives (fewer than n samples), as the reference firmware sends it.
        late = decode_packets(inbox.packets[after_stop[p.placement] :])
        assert len(inbox.packets) - after_stop[p.placement] <= 1, "streaming went on after STOP"
        assert np.all(late.imu.n < p.sensor.n) and not late.others
        decoded = decode_packets(inbox.packets[: after_stop[p.placement]])
        assert decoded.rejected == ()
        assert isinstance(decoded.others[0][1], Status)  # the status packet START sends first
        imu = decoded.imu
        n = p.sensor.n
        assert np.all(imu.sensor_id == p.sensor.sensor_id) and np.all(imu.n == n)
        idx = imu.sample_idx
        assert streamed_s[p.placement] >= 2.0
        assert abs((idx[-1] + n - idx[0]) - 100 * streamed_s[p.placement]) <= 2 * n, "100 Hz from START to STOP"
        assert np.all(np.diff(idx) > 0) and np.all(np.diff(idx) % n == 0)
        missing = set(range(int(idx[0]), int(idx[-1]) + 1, n)) - set(idx.tolist())
        lost = _lost_imu_idx(p.sensor)
        assert missing == {k for k in lost if idx[0] < k < idx[-1]}
        assert not lost & set(idx.tolist())
        assert p.notified == len(inbox.packets)
    assert sum(len(p.sensor.log.lost) for p in world.peripherals) > 0, "the faults were exercised"


def test_sync_write_is_answered_with_its_token() -> None:
    world = VirtualBleWorld(_sensors(), speed=None)
    inbox = Inbox()

    async def main() -> None:
        async with BleakClient(world.peripheral("pelvis").address, backend=VirtualBleakClient, world=world) as c:
            await c.start_notify(DATA, inbox)
            await world.advance(0.1)
            await c.write_gatt_char(COMMAND, encode_command(Command.SYNC, 0xDEADBEEF), response=True)
            await world.advance(0.05)

    run(main)
    others = [pkt for _, pkt in decode_packets(inbox.packets).others]
    assert len(others) == 1 and isinstance(others[0], SyncReply)
    assert others[0].token == 0xDEADBEEF and others[0].t_rx_us <= others[0].t_tx_us


def test_disconnect_window_drops_the_link_and_a_reconnect_resumes_sample_idx() -> None:
    world = VirtualBleWorld(_sensors(FaultPlan(disconnects=((1.0, 0.5),))), speed=None)
    pelvis = world.peripheral("pelvis")
    inbox = Inbox()
    lost = asyncio.Event()

    async def main() -> None:
        with world.activate():
            device = await BleakScanner.find_device_by_name(pelvis.name, timeout=1.0, backend=VirtualBleakScanner)
        assert device is not None
        client = BleakClient(device, disconnected_callback=lambda c: lost.set(), backend=VirtualBleakClient)
        await client.connect()
        await client.start_notify(DATA, inbox)
        await client.write_gatt_char(COMMAND, START, response=True)
        await world.advance(0.99)
        assert client.is_connected and not lost.is_set()
        await world.advance(0.03)
        await asyncio.wait_for(lost.wait(), 1.0)
        assert not client.is_connected and not pelvis.advertising
        first_part = len(inbox.packets)
        with pytest.raises(BleakDeviceNotFoundError):
            await client.connect()  # still inside the window
        await world.advance(0.5)
        assert pelvis.advertising
        await client.connect()
        await client.start_notify(DATA, inbox)
        await client.write_gatt_char(COMMAND, START, response=True)
        await world.advance(1.0)
        await client.write_gatt_char(COMMAND, STOP, response=False)
        await client.disconnect()
        assert first_part < len(inbox.packets)

    run(main)
    assert pelvis.sensor.log.disconnects_s == [1.0] and pelvis.sensor.log.lost == []
    imu = decode_packets(inbox.packets).imu
    gap = np.flatnonzero(np.diff(imu.sample_idx) != pelvis.sensor.n)
    assert len(gap) == 1, "one gap, at the outage; contiguous elsewhere"
    before, after = int(imu.sample_idx[gap[0]]), int(imu.sample_idx[gap[0] + 1])
    # Not reset: the index goes on from power-up, past the ~0.5 s (50 samples) the device did not stream.
    assert 45 <= after - before <= 60
    dt_us = (int(imu.t_us[gap[0] + 1]) - int(imu.t_us[gap[0]])) % (1 << 32)
    assert abs(dt_us - (after - before) * 10_000) < 100


def test_manual_clock_is_deterministic() -> None:
    async def record() -> list[bytes]:
        world = VirtualBleWorld(_sensors(FaultPlan(drop_probability=0.1, seed=5)), speed=None)
        inbox = Inbox()
        async with BleakClient(world.peripheral("right_thigh").address, backend=VirtualBleakClient, world=world) as c:
            await c.start_notify(DATA, inbox)
            await c.write_gatt_char(COMMAND, START, response=True)
            await world.advance(0.7)
        return inbox.packets

    first: list[bytes] = []
    second: list[bytes] = []

    def into(out: list[bytes]) -> Callable[[], Coroutine[Any, Any, None]]:
        async def main() -> None:
            out.extend(await record())

        return main

    run(into(first))
    run(into(second))
    assert len(first) > 10 and first == second


# --------------------------------------------------------------------------------------------------- GATT surface
def test_gatt_table_and_what_it_refuses() -> None:
    world = VirtualBleWorld(_sensors(), speed=None)
    pelvis = world.peripheral("pelvis")

    async def main() -> None:
        with world.activate():
            with pytest.raises(BleakDeviceNotFoundError):
                await BleakClient("00:11:22:33:44:55", backend=VirtualBleakClient).connect()
            async with BleakClient(pelvis.address.lower(), backend=VirtualBleakClient) as c:
                assert c.name == pelvis.name
                service = c.services.get_service(SERVICE)
                assert service is not None
                props = {ch.uuid: ch.properties for ch in service.characteristics}
                assert props == {DATA: ["notify"], COMMAND: ["write", "write-without-response"]}
                data_char = c.services.get_characteristic(DATA)
                assert data_char is not None and data_char.max_write_without_response_size == 244
                with pytest.raises(BleakError):
                    await c.write_gatt_char(DATA, START, response=True)
                with pytest.raises(BleakError):
                    await c.read_gatt_char(COMMAND)
                with pytest.raises(BleakError):
                    await c.start_notify(COMMAND, Inbox())
                with pytest.raises(BleakError, match="already connected"):
                    await BleakClient(pelvis.address, backend=VirtualBleakClient).connect()
                await c.write_gatt_char(COMMAND, b"\x7f", response=True)  # not a command: ignored, counted
                assert pelvis.bad_commands == 1
                cccd = data_char.descriptors[0]
                assert await c.read_gatt_descriptor(cccd) == bytearray(b"\x00\x00")
                await c.start_notify(DATA, Inbox())
                assert await c.read_gatt_descriptor(cccd) == bytearray(b"\x01\x00")
                with pytest.raises(NotImplementedError):
                    await c.pair()

    run(main)


def test_world_validates_its_arguments() -> None:
    sensors = _sensors()
    with pytest.raises(HardwareError, match="speed"):
        VirtualBleWorld(sensors, speed=0.0)
    with pytest.raises(HardwareError, match="MTU"):
        VirtualBleWorld(sensors, mtu_size=23)  # a 76-byte packet does not fit 20 bytes
    world = VirtualBleWorld(sensors)
    with pytest.raises(HardwareError, match="must be new"):
        world.add("pelvis", sensors["pelvis"])
