"""Virtual BLE sensors: :class:`VirtualSensor` objects behind bleak's own API, as a custom bleak backend.

The bridge's BLE transport talks to sensors through :class:`bleak.BleakScanner` and :class:`bleak.BleakClient`. Both
take a ``backend=`` class; this module provides one for each (:class:`VirtualBleakScanner`,
:class:`VirtualBleakClient`) that, instead of a radio, reaches the virtual sensors of a :class:`VirtualBleWorld`.
The code under test keeps using bleak's public API unchanged::

    world = VirtualBleWorld(virtual_sensors(session), speed=20.0)
    with world.activate():
        device = await BleakScanner.find_device_by_name(name, backend=VirtualBleakScanner)
        async with BleakClient(device, disconnected_callback=on_lost, backend=VirtualBleakClient) as client:
            await client.start_notify(world.data_uuid, on_packet)
            await client.write_gatt_char(world.command_uuid, encode_command(Command.START), response=True)
            await world.sleep(2.0)

**How a backend finds its world.** bleak constructs the backend itself, so the world travels by one of, in order:
a ``world=`` keyword argument (``BleakClient(..., backend=VirtualBleakClient, world=world)``; bleak passes unknown
keyword arguments on to the backend), the ``details`` of a :class:`~bleak.backends.device.BLEDevice` found by
:class:`VirtualBleakScanner` (it is the :class:`VirtualPeripheral`), or the world made current with
:meth:`VirtualBleWorld.activate` (a :mod:`contextvars` variable, so it follows asyncio tasks).

**Host time.** One clock is shared by all sensors of a world. With ``speed`` set, host time runs ``speed`` times as
fast as the event loop's clock (from ``start_s`` at the world's first use), so two seconds of streaming take 0.1 s at
``speed=20``. With ``speed=None`` host time stands still until :meth:`VirtualBleWorld.advance` moves it, which makes
every packet, command time and fault exactly reproducible.

**What the link does.** Like a BLE connection, a connected peripheral is serviced once per connection interval
(``connection_interval_s``, host time): the sensor is advanced to the current host time and every packet it emitted
is delivered as one notification, in order, to the subscribed callback. The sensor's :class:`FaultPlan` applies as on
any link: lost packets are simply never notified (they are in the sensor's :class:`FaultLog`), bit errors arrive
corrupted, duplicates arrive twice. A disconnect window drops the connection (``is_connected`` becomes False and
bleak's ``disconnected_callback`` is scheduled), the sensor stops streaming and stops advertising until the window
ends; connecting during the window fails. A reboot makes the sensor stop streaming and restart ``sample_idx``.
Packets emitted while nobody is subscribed are discarded, like a firmware whose notify fails with the CCCD off, and
are counted in :attr:`VirtualPeripheral.undelivered` (not in the fault log). A client-initiated disconnect makes the
firmware stop streaming (as on a STOP). Peripherals advertise only while their link is up and no central is connected.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import math
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final

import numpy as np
from bleak.assigned_numbers import CharacteristicPropertyName
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError

from hardware.errors import HardwareError, PacketError
from hardware.profiles import REFERENCE_IMU, DeviceProfile
from hardware.protocol import Command, encode_command, imu_packet_size
from hardware.simulator.device import VirtualSensor

if TYPE_CHECKING:
    from bleak.args import SizedBuffer

__all__ = [
    "CCCD_UUID",
    "DEFAULT_MTU",
    "VirtualBleWorld",
    "VirtualBleakClient",
    "VirtualBleakScanner",
    "VirtualPeripheral",
]

_log = logging.getLogger(__name__)

#: ATT MTU negotiated by the virtual link (nRF52 and phones commonly agree on 247).
DEFAULT_MTU: Final = 247
#: Client Characteristic Configuration Descriptor (enables notifications).
CCCD_UUID: Final = "00002902-0000-1000-8000-00805f9b34fb"
#: Wall time between advertisement rounds when host time is advanced by hand (``speed=None``), in s.
_MANUAL_ADVERTISING_WALL_S: Final = 0.005
# Attribute handles of the virtual GATT table: service, data characteristic, its CCCD, command characteristic.
_SERVICE_HANDLE: Final = 0x0010

_CURRENT_WORLD: contextvars.ContextVar[VirtualBleWorld | None] = contextvars.ContextVar(
    "fusiongait_virtual_ble_world", default=None
)


class VirtualPeripheral:
    """One virtual sensor as a BLE peripheral of a :class:`VirtualBleWorld` (made by :meth:`VirtualBleWorld.add`).

    Attributes
    ----------
    world : VirtualBleWorld
    sensor : VirtualSensor
        The state machine behind it; its ``log`` is the ground truth of what the link lost.
    placement, name, address : str
        ``name`` is the advertised local name (``"FG-pelvis-1A2B"``), ``address`` a random static address.
    rssi : int
        Advertised signal strength, in dBm.
    notified : int
        Notifications delivered to a subscriber.
    undelivered : int
        Packets the sensor emitted while nobody was subscribed (discarded; not in the fault log).
    bad_commands : int
        Writes to the command characteristic that were not a command (ignored, as the firmware does).
    """

    def __init__(
        self, world: VirtualBleWorld, placement: str, sensor: VirtualSensor, name: str, address: str, rssi: int
    ) -> None:
        self.world = world
        self.placement = placement
        self.sensor = sensor
        self.name = name
        self.address = address
        self.rssi = rssi
        self.notified = 0
        self.undelivered = 0
        self.bad_commands = 0
        self._client: VirtualBleakClient | None = None
        self._disconnects_seen = 0

    def __repr__(self) -> str:
        return f"VirtualPeripheral({self.name!r}, {self.address!r}, sensor_id={self.sensor.sensor_id})"

    @property
    def connected(self) -> bool:
        """A central is connected."""
        return self._client is not None

    @property
    def advertising(self) -> bool:
        """No central is connected and the link is up (no disconnect window at the current host time)."""
        if self._client is not None:
            return False
        self.world._service(self)  # brings the sensor to now, so its link state is current
        return self.sensor.link_up


class VirtualBleWorld:
    """Virtual BLE peripherals sharing one host clock, reached through :class:`VirtualBleakScanner` and
    :class:`VirtualBleakClient`.

    Parameters
    ----------
    sensors : mapping of placement to VirtualSensor, optional
        Added in order with :meth:`add` and default names, addresses and RSSI (e.g. from
        :func:`~hardware.simulator.device.virtual_sensors`).
    speed : float or None
        Host seconds per second of the event loop's clock; ``None`` for a clock moved only by :meth:`advance`.
    start_s : float
        Host time at the world's first use, in s.
    connection_interval_s : float
        Host time between deliveries to a connected client (BLE connection events), in s.
    advertising_interval_s : float
        Host time between advertisement rounds while a scanner runs, in s.
    mtu_size : int
        The ATT MTU of every connection; a sensor whose packets do not fit one notification (MTU − 3) is refused.
    profile : DeviceProfile
        Where the GATT service and characteristic UUIDs come from (a ``data_notify`` and a ``command_write``
        characteristic in its first service).
    seed : int
        Seed of the default addresses.
    """

    def __init__(
        self,
        sensors: Mapping[str, VirtualSensor] | None = None,
        *,
        speed: float | None = 1.0,
        start_s: float = 0.0,
        connection_interval_s: float = 0.015,
        advertising_interval_s: float = 0.1,
        mtu_size: int = DEFAULT_MTU,
        profile: DeviceProfile = REFERENCE_IMU,
        seed: int = 0,
    ) -> None:
        if speed is not None and not (math.isfinite(speed) and speed > 0):
            raise HardwareError(f"speed: expected a positive factor or None (manual clock), got {speed!r}")
        for name, value in (
            ("connection_interval_s", connection_interval_s),
            ("advertising_interval_s", advertising_interval_s),
        ):
            if not (math.isfinite(value) and value > 0):
                raise HardwareError(f"{name}: expected a positive duration, got {value!r}")
        if not 23 <= mtu_size <= 517:
            raise HardwareError(f"mtu_size: expected an ATT MTU in 23..517, got {mtu_size!r}")
        if not profile.gatt:
            raise HardwareError(f"profile: {profile.name!r} has no GATT service")
        service = profile.gatt[0]
        self.speed = speed
        self.start_s = float(start_s)
        self.connection_interval_s = float(connection_interval_s)
        self.advertising_interval_s = float(advertising_interval_s)
        self.mtu_size = int(mtu_size)
        self.profile = profile
        #: UUIDs of the GATT service and of its data (notify) and command (write) characteristics.
        self.service_uuid = service.uuid
        self.data_uuid = service.characteristic("data_notify").uuid
        self.command_uuid = service.characteristic("command_write").uuid
        self._seed = int(seed)
        self._peripherals: dict[str, VirtualPeripheral] = {}
        self._manual_s = self.start_s
        self._loop_t0: float | None = None
        for placement, sensor in (sensors or {}).items():
            self.add(placement, sensor)

    # ------------------------------------------------------------------------------------------------- devices
    def add(
        self,
        placement: str,
        sensor: VirtualSensor,
        *,
        name: str | None = None,
        address: str | None = None,
        rssi: int | None = None,
    ) -> VirtualPeripheral:
        """Add a sensor as a peripheral.

        Defaults: a random static address drawn from ``seed`` and the sensor id, the name
        ``"FG-<placement>-<last four hex digits of the address>"`` and an RSSI of −55 dBm minus 4 dB per peripheral
        already added.
        """
        size = imu_packet_size(sensor.n)
        if size > self.mtu_size - 3:
            raise HardwareError(
                f"sensor {placement!r}: its {size}-byte packets do not fit one notification at MTU {self.mtu_size} "
                f"(at most {self.mtu_size - 3} bytes); lower its samples_per_packet or raise mtu_size"
            )
        if address is None:
            raw = np.random.default_rng([self._seed, sensor.sensor_id, len(self._peripherals)]).integers(0, 256, 6)
            raw[0] |= 0xC0  # random static address: the two top bits set
            address = ":".join(f"{int(b):02X}" for b in raw)
        address = address.upper()
        if name is None:
            name = f"FG-{placement}-{address[-5:].replace(':', '')}"
        if rssi is None:
            rssi = -55 - 4 * len(self._peripherals)
        for p in self._peripherals.values():
            if address == p.address or name == p.name or placement == p.placement:
                raise HardwareError(
                    f"add: placement {placement!r}, name {name!r} and address {address!r} must be new; "
                    f"{p!r} has one of them"
                )
        peripheral = VirtualPeripheral(self, placement, sensor, name, address, int(rssi))
        self._peripherals[address] = peripheral
        return peripheral

    @property
    def peripherals(self) -> tuple[VirtualPeripheral, ...]:
        """All peripherals, in the order they were added."""
        return tuple(self._peripherals.values())

    def peripheral(self, key: str) -> VirtualPeripheral:
        """The peripheral with this address (any case), advertised name or placement.

        Raises
        ------
        BleakDeviceNotFoundError
            If there is none (bleak's own error for an unknown device).
        """
        for p in self._peripherals.values():
            if key.upper() == p.address or key in (p.name, p.placement):
                return p
        raise BleakDeviceNotFoundError(key, f"no virtual peripheral {key!r} in this world")

    # ------------------------------------------------------------------------------------------------ the clock
    def now_s(self) -> float:
        """The current host time, in s (with ``speed`` set, call it inside a running event loop)."""
        if self.speed is None:
            return self._manual_s
        loop_s = asyncio.get_running_loop().time()
        if self._loop_t0 is None:
            self._loop_t0 = loop_s
        return self.start_s + (loop_s - self._loop_t0) * self.speed

    async def advance(self, duration_s: float) -> None:
        """Move a manual clock (``speed=None``) forward, servicing connections at every connection interval.

        After each step the event loop runs once, so callbacks scheduled by the deliveries (async notification
        handlers, ``disconnected_callback``) start before the next step.
        """
        if self.speed is not None:
            raise HardwareError("advance: only a manual clock (speed=None) is advanced by hand; use sleep()")
        if not duration_s >= 0:
            raise HardwareError(f"duration_s: expected a duration >= 0, got {duration_s!r}")
        end_s = self._manual_s + duration_s
        while self._manual_s < end_s:
            self._manual_s = min(end_s, self._manual_s + self.connection_interval_s)
            for p in self.peripherals:
                self._service(p)
            await asyncio.sleep(0)

    async def sleep(self, duration_s: float) -> None:
        """Let ``duration_s`` of host time pass: wait ``duration_s / speed``, or :meth:`advance` a manual clock."""
        if self.speed is None:
            await self.advance(duration_s)
        else:
            await asyncio.sleep(duration_s / self.speed)

    def _wall_s(self, host_s: float) -> float:
        return _MANUAL_ADVERTISING_WALL_S if self.speed is None else host_s / self.speed

    # ----------------------------------------------------------------------------------------------- context
    @contextlib.contextmanager
    def activate(self) -> Iterator[VirtualBleWorld]:
        """Make this the world that virtual backends use when none is passed (``with world.activate(): ...``)."""
        token = _CURRENT_WORLD.set(self)
        try:
            yield self
        finally:
            _CURRENT_WORLD.reset(token)

    @staticmethod
    def current() -> VirtualBleWorld:
        """The world made current by :meth:`activate`; :class:`HardwareError` if there is none."""
        world = _CURRENT_WORLD.get()
        if world is None:
            raise HardwareError(
                "no virtual BLE world: pass world=..., connect to a BLEDevice found by VirtualBleakScanner, "
                "or use `with world.activate():`"
            )
        return world

    # ------------------------------------------------------------------------------------------------ the link
    def _service(self, p: VirtualPeripheral) -> None:
        """Advance the sensor to now, deliver what it emitted, and drop the connection if its link went down."""
        emissions = p.sensor.poll(self.now_s())
        client = p._client
        if client is not None and client._notify is not None:
            for em in emissions:
                client._deliver(em.packet)
        else:
            p.undelivered += len(emissions)
        if client is not None and (not p.sensor.link_up or len(p.sensor.log.disconnects_s) > p._disconnects_seen):
            client._link_lost()


def _resolve_world(world: object, address_or_ble_device: BLEDevice | str | None) -> VirtualBleWorld:
    if world is not None:
        if not isinstance(world, VirtualBleWorld):
            raise HardwareError(f"world: expected a VirtualBleWorld, got {type(world).__name__}")
        return world
    if isinstance(address_or_ble_device, BLEDevice) and isinstance(address_or_ble_device.details, VirtualPeripheral):
        return address_or_ble_device.details.world
    return VirtualBleWorld.current()


class VirtualBleakScanner(BaseBleakScanner):
    """A bleak scanner backend that hears the advertisements of a :class:`VirtualBleWorld`'s peripherals.

    Use it through bleak: ``BleakScanner(backend=VirtualBleakScanner)``, ``BleakScanner.discover(...)``,
    ``BleakScanner.find_device_by_name(name, backend=VirtualBleakScanner)``. While scanning, every advertising
    peripheral is heard once per ``advertising_interval_s`` of host time with its local name, the profile's service
    UUID and its RSSI; ``service_uuids`` filters as bleak does. The ``BLEDevice.details`` of a result is its
    :class:`VirtualPeripheral`, so a client built from it finds the world by itself. ``scanning_mode`` is accepted
    and ignored (the name is always in the advertisement).
    """

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        *,
        world: VirtualBleWorld | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._world = _resolve_world(world, None)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start hearing advertisements (the first round comes after the caller's next await)."""
        await self.stop()
        self.seen_devices = {}
        self._task = asyncio.create_task(self._listen())

    async def stop(self) -> None:
        """Stop scanning."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _listen(self) -> None:
        world = self._world
        while True:
            for p in world.peripherals:
                if not p.advertising:
                    continue
                adv = AdvertisementData(
                    local_name=p.name,
                    manufacturer_data={},
                    service_data={},
                    service_uuids=[world.service_uuid],
                    tx_power=None,
                    rssi=p.rssi,
                    platform_data=(p,),
                )
                if not self.is_allowed_uuid(adv.service_uuids):
                    continue
                device = self.create_or_update_device(p.address, p.address, p.name, p, adv)
                self.call_detection_callbacks(device, adv)
            await asyncio.sleep(world._wall_s(world.advertising_interval_s))


class VirtualBleakClient(BaseBleakClient):
    """A bleak client backend connected to a :class:`VirtualBleWorld`'s peripheral.

    Use it through bleak: ``BleakClient(device_or_address, backend=VirtualBleakClient)``. The GATT table has the
    profile's service with a notify-only data characteristic (with its CCCD) and a command characteristic that takes
    writes with and without response. A write is a command arriving at the sensor at the current host time; the
    sensor's replies (status after START, the 0x12 packet after SYNC) come back as notifications. Reading either
    characteristic fails as on the device (they have no read property). ``pair`` is not supported (the reference
    firmware needs no bonding); a ``pair=True`` connect ignores it.
    """

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None = None,
        timeout: float = 30.0,
        world: VirtualBleWorld | None = None,
        services: set[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout)
        self._world = _resolve_world(world, address_or_ble_device)
        self._service_filter = None if services is None else {s.lower() for s in services}
        self._peripheral: VirtualPeripheral | None = None
        self._notify: NotifyCallback | None = None
        self._pump_task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------------------------------------------ properties
    @property
    def name(self) -> str:
        """The peripheral's advertised name."""
        try:
            return self._world.peripheral(self.address).name
        except BleakDeviceNotFoundError:
            return self.address.replace(":", "-")

    @property
    def mtu_size(self) -> int:
        """The world's ATT MTU."""
        return self._world.mtu_size

    @property
    def is_connected(self) -> bool:
        """True from :meth:`connect` until :meth:`disconnect` or a link loss."""
        return self._peripheral is not None

    # ------------------------------------------------------------------------------------------------ connection
    async def connect(self, pair: bool, **kwargs: Any) -> None:
        """Connect to the peripheral at :attr:`address` and resolve its services.

        Raises
        ------
        BleakDeviceNotFoundError
            If the world has no such peripheral or it is in a disconnect window (not advertising).
        BleakError
            If another client is connected to it.
        """
        if self._peripheral is not None:
            return
        if pair:
            _log.debug("%s: pairing requested; virtual peripherals need none, ignored", self.address)
        world = self._world
        p = world.peripheral(self.address)
        if p._client is not None:
            raise BleakError(f"{p.name} is already connected to another client")
        world._service(p)
        if not p.sensor.link_up:
            raise BleakDeviceNotFoundError(self.address, f"{p.name} is out of range (a disconnect window)")
        p._client = self
        p._disconnects_seen = len(p.sensor.log.disconnects_s)
        self._peripheral = p
        self._loop = asyncio.get_running_loop()
        self.services = self._build_services()
        if world.speed is not None:
            self._pump_task = asyncio.create_task(self._pump(p))

    async def disconnect(self) -> None:
        """Disconnect; the firmware stops streaming when its central leaves. No callback (it was not unsolicited)."""
        p = self._peripheral
        if p is None:
            return
        self._world._service(p)
        if self._peripheral is p:
            p.sensor.command(encode_command(Command.STOP), self._world.now_s())
        task = self._pump_task
        self._drop()
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        """Not supported: the reference firmware needs no bonding."""
        raise NotImplementedError("virtual peripherals need no pairing")

    async def unpair(self) -> None:
        """Not supported: the reference firmware needs no bonding."""
        raise NotImplementedError("virtual peripherals need no pairing")

    # ------------------------------------------------------------------------------------------------------ GATT
    def _build_services(self) -> BleakGATTServiceCollection:
        world = self._world
        collection = BleakGATTServiceCollection()
        if self._service_filter is not None and world.service_uuid not in self._service_filter:
            return collection
        service = BleakGATTService(None, _SERVICE_HANDLE, world.service_uuid)
        collection.add_service(service)
        handle = _SERVICE_HANDLE
        for char in world.profile.gatt[0].characteristics:
            props: list[CharacteristicPropertyName]
            props = ["write", "write-without-response"] if char.role == "command_write" else ["notify"]
            handle += 1
            bc = BleakGATTCharacteristic(None, handle, char.uuid, props, lambda: world.mtu_size - 3, service)
            collection.add_characteristic(bc)
            handle += 1
            if "notify" in props:
                collection.add_descriptor(BleakGATTDescriptor(None, handle, CCCD_UUID, bc))
                handle += 1
        return collection

    def _connected(self) -> VirtualPeripheral:
        if self._peripheral is None:
            raise BleakError("Not connected")
        return self._peripheral

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        """Fails: neither characteristic has the read property (ATT: read not permitted)."""
        self._connected()
        raise BleakError(f"characteristic {characteristic.uuid} is not readable (read not permitted)")

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        """The CCCD: ``01 00`` while subscribed, else ``00 00``."""
        self._connected()
        if descriptor.uuid != CCCD_UUID:
            raise BleakError(f"descriptor {descriptor.uuid} is not readable")
        return bytearray(b"\x01\x00" if self._notify is not None else b"\x00\x00")

    async def write_gatt_char(self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool) -> None:
        """A command to the sensor at the current host time; bytes that are not a command are ignored and counted."""
        p = self._connected()
        if characteristic.uuid != self._world.command_uuid:
            raise BleakError(f"characteristic {characteristic.uuid} is not writable (write not permitted)")
        raw = bytes(data)
        if len(raw) > (512 if response else self._world.mtu_size - 3):
            raise BleakError(f"write of {len(raw)} bytes is too long")
        self._world._service(p)
        if self._peripheral is not p:
            raise BleakError("Not connected")
        try:
            p.sensor.command(raw, self._world.now_s())
        except PacketError as exc:
            p.bad_commands += 1
            _log.debug("%s: ignored write %s (%s)", p.name, raw.hex(), exc)

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: SizedBuffer) -> None:
        """Fails: subscribe with ``start_notify`` instead of writing the CCCD."""
        self._connected()
        raise BleakError(f"descriptor {descriptor.uuid}: use start_notify()/stop_notify() instead")

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        """Subscribe to the data characteristic; what the sensor emitted before now is not delivered."""
        p = self._connected()
        if characteristic.uuid != self._world.data_uuid:
            raise BleakError(f"characteristic {characteristic.uuid} does not support notifications")
        self._world._service(p)
        self._connected()
        self._notify = callback

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        """Unsubscribe; what the sensor emitted up to now is delivered first."""
        p = self._connected()
        if characteristic.uuid != self._world.data_uuid:
            raise BleakError(f"characteristic {characteristic.uuid} does not support notifications")
        self._world._service(p)
        self._notify = None

    # ------------------------------------------------------------------------------------------------- the link
    async def _pump(self, p: VirtualPeripheral) -> None:
        """Service the connection once per connection interval while it lasts (real-time clock only)."""
        period_s = self._world._wall_s(self._world.connection_interval_s)
        while self._peripheral is p:
            await asyncio.sleep(period_s)
            if self._peripheral is p:
                self._world._service(p)

    def _deliver(self, packet: bytes) -> None:
        callback = self._notify
        if callback is None or self._peripheral is None:
            return
        self._peripheral.notified += 1
        try:
            callback(bytearray(packet))
        except Exception:  # a failing handler must not stop the link, as in bleak's backends
            _log.exception("%s: notification callback raised", self.address)

    def _drop(self) -> None:
        p = self._peripheral
        if p is not None and p._client is self:
            p._client = None
        self._peripheral = None
        self._notify = None
        self._pump_task = None

    def _link_lost(self) -> None:
        """The peripheral went out of range: drop the connection and schedule bleak's disconnected callback."""
        self._drop()
        callback = self._disconnected_callback
        if callback is not None and self._loop is not None:
            self._loop.call_soon(callback)
