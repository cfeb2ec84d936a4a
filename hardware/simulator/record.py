"""A virtual host session: drive virtual sensors like the bridge would and keep what arrives as a capture (pure).

:func:`record_session` plays the host side of a clinic session with no real time and no I/O: it writes START to
every sensor, sends sync pings, receives the packets over a link with a realistic arrival delay (BLE connection
intervals, or USB), re-sends START after a disconnect, and returns the capture file's bytes (PROTOCOL.md §5) with every
received packet and every command sent. It is how the recorded fixtures in ``tests/fixtures/`` and the benchmark's
one-hour capture are made, and what a test compares a live path against.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np

from hardware.capture import CaptureHeader, CaptureSensor, Source, encode_header, encode_record
from hardware.errors import HardwareError
from hardware.protocol import Command, encode_command
from hardware.simulator.device import VirtualSensor

__all__ = ["LinkModel", "RecordedSession", "record_session"]

_NS: Final = 1_000_000_000


@dataclass(frozen=True, slots=True)
class LinkModel:
    """Arrival delay of packets at the host: a fixed part plus an exponential tail, in s.

    The defaults resemble BLE with a 7.5-15 ms connection interval (``ble()``); ``usb()`` is a few ms.
    """

    min_delay_s: float = 0.008
    mean_extra_delay_s: float = 0.012
    source: Source = Source.BLE

    @classmethod
    def ble(cls) -> LinkModel:
        """A BLE link: 8 ms minimum, 12 ms mean extra delay."""
        return cls()

    @classmethod
    def usb(cls) -> LinkModel:
        """A USB serial link: 1 ms minimum, 1 ms mean extra delay."""
        return cls(0.001, 0.001, Source.SERIAL)


@dataclass(frozen=True, slots=True)
class RecordedSession:
    """The capture bytes and, per placement, the virtual sensor (with its fault log) that produced them."""

    capture: bytes
    sensors: Mapping[str, VirtualSensor]


def record_session(
    sensors: Mapping[str, VirtualSensor],
    duration_s: float,
    *,
    link: LinkModel | None = None,
    sync_period_s: float = 2.0,
    poll_period_s: float = 0.05,
    restart_after_s: float = 1.0,
    session_id: str = "",
    header_extra: Mapping[str, object] | None = None,
    wall_clock_ns: int = 1_767_225_600 * _NS,
    seed: int = 0,
) -> RecordedSession:
    """Record ``duration_s`` seconds of the given sensors as a capture.

    Parameters
    ----------
    sensors : mapping of placement to VirtualSensor
    duration_s : float
        Host time recorded, from 0.
    link : LinkModel
        Arrival delays (default BLE). Records are stamped with the arrival time and kept in arrival order.
    sync_period_s : float
        A sync ping to every sensor this often (0 = none). Each ping is recorded as a HOST_COMMAND record.
    poll_period_s : float
        How often the virtual host looks at its sensors (the resolution of command times).
    restart_after_s : float
        After a sensor stops streaming (disconnect or reboot), the host sends START again this much later, as the
        bridge's watchdog would.
    session_id : str
    header_extra : mapping, optional
        Extra header keys (e.g. how the capture was made).
    wall_clock_ns : int
        Wall-clock time of host time 0, for the header's clock pair.
    seed : int
        Seed of the arrival delays and ping tokens.
    """
    if not duration_s > 0:
        raise HardwareError(f"duration_s: expected a positive duration, got {duration_s!r}")
    link = link or LinkModel.ble()
    rng = np.random.default_rng(seed)
    mono0_ns = 10 * _NS  # the host's monotonic clock at host time 0
    header = CaptureHeader(
        sensors=tuple(
            CaptureSensor(
                s.sensor_id,
                placement,
                device="fusiongait-virtual",
                firmware="1.0.0",
                rate_hz=s.config.rate_hz,
                acc_range_g=s.config.acc_range_g,
                gyr_range_dps=s.config.gyr_range_dps,
            )
            for placement, s in sensors.items()
        ),
        session_id=session_id,
        clock_pairs=((wall_clock_ns, mono0_ns),),
        extra=dict(header_extra or {}),
    )
    arrivals: list[tuple[float, int, int, bytes]] = []  # (host_s, order, sensor_id, packet)
    order = 0
    stopped_since: dict[str, float] = {}
    next_sync = 0.5 if sync_period_s > 0 else np.inf
    for s in sensors.values():
        s.command(encode_command(Command.START), 0.0)
        arrivals.append((0.0, order, -1 - s.sensor_id, encode_command(Command.START)))
        order += 1
    for h in np.arange(poll_period_s, duration_s + 1e-9, poll_period_s).tolist():
        for placement, s in sensors.items():
            for em in s.poll(h):
                delay = link.min_delay_s + rng.exponential(link.mean_extra_delay_s)
                arrivals.append((em.host_s + delay, order, s.sensor_id, em.packet))
                order += 1
            if not s.streaming and s.link_up:
                since = stopped_since.setdefault(placement, h)
                if h - since >= restart_after_s:
                    s.command(encode_command(Command.START), h)
                    arrivals.append((h, order, -1 - s.sensor_id, encode_command(Command.START)))
                    order += 1
                    stopped_since.pop(placement)
            else:
                stopped_since.pop(placement, None)
        if h >= next_sync:
            for s in sensors.values():
                if s.streaming and s.link_up:
                    token = int(rng.integers(0, 1 << 32))
                    ping = encode_command(Command.SYNC, token)
                    # The ping reaches the device after a link delay; it is recorded when the host sent it.
                    s.command(ping, h + link.min_delay_s + rng.exponential(link.mean_extra_delay_s))
                    arrivals.append((h, order, -1 - s.sensor_id, ping))
                    order += 1
            next_sync += sync_period_s
    arrivals.sort()
    body = bytearray(encode_header(header))
    for at_s, _order, sid, packet in arrivals:
        if at_s > duration_s:
            continue
        t_ns = mono0_ns + round(at_s * _NS)
        if sid < 0:
            body += encode_record(t_ns, Source.HOST_COMMAND, -1 - sid, packet)
        else:
            body += encode_record(t_ns, link.source, sid, packet)
    return RecordedSession(bytes(body), dict(sensors))
