"""Sensor links behind one small async protocol, chosen by URL (DESIGN.md §5 rule 7).

=============================  ===========================================================================
``ble://<address-or-name>``    a BLE sensor through bleak (:mod:`firmware_bridge.transports.ble`)
``serial:///dev/ttyACM0``      a USB serial sensor through pyserial-asyncio-fast; any pyserial URL handler
``socket://host:port``         works too (:mod:`firmware_bridge.transports.serial`)
``replay://<capture>?...``     one sensor of a recorded capture, at real time or as fast as possible
                               (:mod:`firmware_bridge.transports.replay`)
=============================  ===========================================================================

Backends are imported only when a URL needs them. A :class:`Transport` moves whole packets: it receives packets
(a BLE notification, a deframed serial frame, a capture record) and sends commands (PROTOCOL.md §1).
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol, runtime_checkable

from firmware_bridge.errors import BridgeError
from hardware.capture import Source

__all__ = ["LinkLost", "StreamEnded", "Transport", "TransportError", "open_transport"]


class TransportError(BridgeError):
    """A link could not be opened or failed; the message names the URL and the cause."""


class LinkLost(TransportError):
    """An open link went away (disconnect, unplugged, closed by the peer)."""


class StreamEnded(LinkLost):
    """A finite source (a replayed capture) has no more packets: there is nothing to reconnect to."""


@runtime_checkable
class Transport(Protocol):
    """One sensor link.

    ``connect`` opens it (for BLE: scan, connect, subscribe), ``recv`` waits for the next packet and raises
    :class:`LinkLost` when the link goes away, ``send`` writes a command, ``close`` releases it (idempotent).
    ``source`` is what the capture records it as.
    """

    url: str
    source: Source

    async def connect(self) -> None: ...

    async def recv(self) -> bytes: ...

    async def send(self, command: bytes) -> None: ...

    async def close(self) -> None: ...


_SCHEMES = {
    "ble": ("firmware_bridge.transports.ble", "BleTransport"),
    "serial": ("firmware_bridge.transports.serial", "SerialTransport"),
    "socket": ("firmware_bridge.transports.serial", "SerialTransport"),
    "rfc2217": ("firmware_bridge.transports.serial", "SerialTransport"),
    "loop": ("firmware_bridge.transports.serial", "SerialTransport"),
    "replay": ("firmware_bridge.transports.replay", "ReplayTransport"),
}


def open_transport(url: str, **options: Any) -> Transport:
    """A transport for ``url`` (not yet connected); ``options`` go to its constructor.

    Raises
    ------
    TransportError
        For a URL without a known scheme.
    """
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in _SCHEMES:
        known = ", ".join(f"{s}://" for s in _SCHEMES)
        raise TransportError(f"{url!r}: expected a URL starting with one of {known}")
    module, name = _SCHEMES[scheme]
    cls = getattr(importlib.import_module(module), name)
    transport: Transport = cls(url, **options)
    return transport
