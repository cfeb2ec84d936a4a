"""A virtual host session: drive virtual sensors like the bridge would and keep what arrives as a capture (pure).

:func:`record_session` plays the host side of a clinic session with no real time and no I/O: it writes START to
every sensor, sends sync pings, receives the packets over a link with a realistic arrival delay (BLE connection
intervals, or USB), re-sends START after a disconnect, and returns the capture file's bytes (PROTOCOL.md §5) with every
received packet and every command sent. It is how the recorded fixtures in ``tests/fixtures/`` and the benchmark's
one-hour capture are made, and what a test compares a live path against.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np

from gait.recording import Recording
from hardware.capture import CaptureHeader, CaptureSensor, Source, encode_header, encode_record
from hardware.errors import HardwareError
from hardware.protocol import Command, SensorConfig, encode_command
from hardware.simulator.device import SENSOR_IDS, DeviceClock, VirtualSensor

__all__ = ["LinkModel", "RecordedSession", "record_recording", "record_session"]

_NS: Final = 1_000_000_000


@dataclass(frozen=True, slots=True)
class LinkModel:
    """Delay of a packet or command over the link: a fixed part plus an exponential tail, in s.

    With ``connection_interval_s`` > 0 the link behaves like a BLE connection: data move only at connection events,
    every ``connection_interval_s`` from a random phase per sensor, so a packet (or a command) waits for the first
    event after it is ready. When the packet period is a multiple of the interval every packet waits the same time,
    and the lower envelope of the arrival delays never reaches the true clock offset (PROTOCOL.md §4): only the
    sync pings, sent at random phases, recover it.

    The defaults resemble BLE with a 7.5-15 ms connection interval (``ble()``); ``usb()`` is a few ms;
    ``ble_connection_events()`` models the event quantisation explicitly.
    """

    min_delay_s: float = 0.008
    mean_extra_delay_s: float = 0.012
    source: Source = Source.BLE
    connection_interval_s: float = 0.0

    @classmethod
    def ble(cls) -> LinkModel:
        """A BLE link: 8 ms minimum, 12 ms mean extra delay."""
        return cls()

    @classmethod
    def ble_connection_events(cls, interval_s: float = 0.030) -> LinkModel:
        """A BLE link that moves data only at connection events every ``interval_s`` (7.5 ms … 4 s in BLE)."""
        if not 0.0075 <= interval_s <= 4.0:
            raise HardwareError(f"interval_s: expected a BLE connection interval of 7.5 ms to 4 s, got {interval_s!r}")
        return cls(0.001, 0.0005, Source.BLE, interval_s)

    @classmethod
    def usb(cls) -> LinkModel:
        """A USB serial link: 1 ms minimum, 1 ms mean extra delay."""
        return cls(0.001, 0.001, Source.SERIAL)

    def arrival_s(self, ready_s: float, rng: np.random.Generator, phase_s: float = 0.0) -> float:
        """Host (or device) time at which something ready to go at ``ready_s`` arrives at the other end."""
        at_s = ready_s + self.min_delay_s + rng.exponential(self.mean_extra_delay_s)
        if self.connection_interval_s > 0:
            interval = self.connection_interval_s
            at_s = phase_s + math.ceil((at_s - phase_s) / interval) * interval
        return at_s


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
        Arrival delays (default BLE). Each sensor's packets arrive in the order they were sent, as over a real link.
        Records are stamped with the arrival time and kept in arrival order.
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
    # Connection-event phases (only drawn for a link with events, so that the other links' delays stay as they were).
    phase_s = {
        p: float(rng.uniform(0.0, link.connection_interval_s)) if link.connection_interval_s > 0 else 0.0
        for p in sensors
    }
    last_arrival_s = dict.fromkeys(sensors, -np.inf)
    for s in sensors.values():
        s.command(encode_command(Command.START), 0.0)
        arrivals.append((0.0, order, -1 - s.sensor_id, encode_command(Command.START)))
        order += 1
    for h in np.arange(poll_period_s, duration_s + 1e-9, poll_period_s).tolist():
        for placement, s in sensors.items():
            for em in s.poll(h):
                # A link delivers in order (BLE's link layer and USB both do): a packet never overtakes the one before.
                at_s = max(link.arrival_s(em.host_s, rng, phase_s[placement]), last_arrival_s[placement])
                last_arrival_s[placement] = at_s
                arrivals.append((at_s, order, s.sensor_id, em.packet))
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
            for placement, s in sensors.items():
                if s.streaming and s.link_up:
                    token = int(rng.integers(0, 1 << 32))
                    ping = encode_command(Command.SYNC, token)
                    # As the bridge does, a ping over a link with connection events leaves at a random phase.
                    sent_s = h + float(rng.uniform(0.0, poll_period_s)) if link.connection_interval_s > 0 else h
                    # The ping reaches the device after a link delay; it is recorded when the host sent it.
                    s.command(ping, link.arrival_s(sent_s, rng, phase_s[placement]))
                    arrivals.append((sent_s, order, -1 - s.sensor_id, ping))
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


def record_recording(
    recording: Recording,
    *,
    seed: int = 0,
    max_drift_ppm: float = 40.0,
    link: LinkModel | None = None,
    poll_period_s: float = 0.5,
    sync_period_s: float = 10.0,
) -> bytes:
    """A Recording in the sensor frame (e.g. a simulated day, ``SimulatedDay.recording()``) captured as a relay or
    recorder would have captured it: one virtual sensor per placement (ids of PROTOCOL.md §1, each with its own
    crystal and power-up time), streamed over ``link`` and recorded with the header's clock pair at the recording's
    ``start_time_s`` (UTC), so the capture's packets fall on the right calendar days.

    The coarse default polling (0.5 s) and sync period (10 s) make hours of data quick to record; the packets and
    their timing within the link model are the same as with finer polling.
    """
    fs = recording.sampling_rate_hz
    rng = np.random.default_rng(seed)
    sensors = {
        p: VirtualSensor(
            SENSOR_IDS[p],
            recording.acc_mps2[i],
            recording.gyr_dps[i],
            fs,
            config=SensorConfig(rate_hz=fs),
            clock=DeviceClock(int(rng.integers(0, 1 << 32)), float(rng.uniform(-max_drift_ppm, max_drift_ppm))),
            boot_s=-float(rng.uniform(1.0, 5.0)),
        )
        for i, p in enumerate(recording.placements)
    }
    return record_session(
        sensors,
        recording.n_samples / fs,
        link=link,
        poll_period_s=poll_period_s,
        sync_period_s=sync_period_s,
        wall_clock_ns=round(recording.start_time_s * _NS),
        seed=seed,
    ).capture
