"""BLE sensor links through bleak: ``ble://<address-or-name>``.

``connect`` scans (the address or the advertised name must match, and the profile's service UUID must be
advertised), connects from the scanned device (never from a bare address: BlueZ then reuses stale cached state),
subscribes to the data characteristic, and only then is the link ready for START (a notification sent before the
subscription completes can be lost, PROTOCOL.md §1). Every reconnect goes through a fresh scan, as bleak's
maintainers advise for BlueZ. A disconnect wakes :meth:`BleTransport.recv` with :class:`LinkLost`.

``scanner_backend``/``client_backend`` select bleak backends (the tests use
:mod:`hardware.simulator.ble`'s virtual radio); ``client_options`` go to :class:`bleak.BleakClient`.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from firmware_bridge.transports import LinkLost, TransportError
from hardware.capture import Source
from hardware.profiles import REFERENCE_IMU, DeviceProfile

__all__ = ["BleTransport"]


class BleTransport:
    """A BLE link to one sensor.

    Parameters
    ----------
    url : str
        ``ble://AA:BB:CC:DD:EE:FF`` (address) or ``ble://FG-pelvis`` (advertised name).
    profile : DeviceProfile
        GATT service, data (notify) and command (write) characteristics.
    scan_timeout_s, connect_timeout_s : float
    scanner_backend, client_backend : type, optional
        bleak backend classes (default: the platform's).
    client_options : dict, optional
        More keyword arguments for :class:`bleak.BleakClient`.
    """

    source = Source.BLE

    def __init__(
        self,
        url: str,
        *,
        profile: DeviceProfile = REFERENCE_IMU,
        scan_timeout_s: float = 10.0,
        connect_timeout_s: float = 20.0,
        scanner_backend: type | None = None,
        client_backend: type | None = None,
        client_options: dict[str, Any] | None = None,
        **_: Any,
    ) -> None:
        self.url = url
        self.target = url[len("ble://") :].strip("/")
        if not self.target:
            raise TransportError(f"{url!r}: expected ble://<address-or-name>")
        service = profile.gatt[0]
        self.service_uuid = service.uuid
        self.data_uuid = service.characteristic("data_notify").uuid
        self.command_uuid = service.characteristic("command_write").uuid
        self.scan_timeout_s = float(scan_timeout_s)
        self.connect_timeout_s = float(connect_timeout_s)
        self.scanner_backend = scanner_backend
        self.client_backend = client_backend
        self.client_options = dict(client_options or {})
        self.address = ""
        self._client: Any = None
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()

    async def connect(self) -> None:
        from bleak import BleakClient, BleakScanner  # noqa: PLC0415 - backends load lazily
        from bleak.exc import BleakError  # noqa: PLC0415

        target = self.target.lower()

        def matches(device: Any, adv: Any) -> bool:
            named = (adv.local_name or device.name or "").lower() == target
            return (device.address.lower() == target or named) and self.service_uuid in [
                u.lower() for u in adv.service_uuids
            ]

        try:
            scan_options: dict[str, Any] = {"backend": self.scanner_backend} if self.scanner_backend else {}
            device = await BleakScanner.find_device_by_filter(matches, timeout=self.scan_timeout_s, **scan_options)
        except (BleakError, OSError) as exc:
            raise TransportError(f"{self.url}: scanning failed ({exc})") from None
        if device is None:
            raise TransportError(f"{self.url}: no advertising sensor found within {self.scan_timeout_s:g} s")
        self.address = device.address
        self._queue = asyncio.Queue()
        queue = self._queue

        def lost(_client: Any) -> None:
            queue.put_nowait(None)

        client = BleakClient(
            device,
            disconnected_callback=lost,
            timeout=self.connect_timeout_s,
            backend=self.client_backend,
            **self.client_options,
        )
        try:
            await client.connect()
            await client.start_notify(self.data_uuid, lambda _char, data: queue.put_nowait(bytes(data)))
        except (TimeoutError, BleakError, OSError) as exc:
            with contextlib.suppress(Exception):
                await client.disconnect()
            raise TransportError(f"{self.url}: cannot connect to {device.address} ({exc})") from None
        self._client = client

    async def recv(self) -> bytes:
        item = await self._queue.get()
        if item is None:
            self._client = None
            raise LinkLost(f"{self.url}: disconnected")
        return item

    async def send(self, command: bytes) -> None:
        from bleak.exc import BleakError  # noqa: PLC0415

        if self._client is None:
            raise LinkLost(f"{self.url}: not connected")
        try:
            await self._client.write_gatt_char(self.command_uuid, command, response=True)
        except (BleakError, OSError) as exc:
            raise LinkLost(f"{self.url}: cannot write a command ({exc})") from None

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.disconnect()
