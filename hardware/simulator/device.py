"""Virtual sensors: the walking-body model's signals spoken through the wire protocol like the firmware would.

A :class:`VirtualSensor` is a pure state machine driven by the caller's clock (host time in seconds): it never sleeps
and never touches a port, so the same object serves a real-time pty or TCP link (:mod:`hardware.simulator.serve`),
a replaying BLE backend, or writes an hour of capture in a fraction of a second.

What it models, as a real sensor on the reference firmware does:

* **Its own clock.** The device counts microseconds from power-up with a crystal that is ``drift_ppm`` off
  (±50 ppm is typical), plus a boot offset; ``t_us`` wraps every 71.6 min. Samples are taken on that clock at the
  nominal rate, so in host time they are ``1 + drift`` apart, and the body signal is sampled at those true times:
  after an hour, sensors with different crystals really are up to 180 ms apart (PROTOCOL.md §4).
* **Batching.** ``n`` samples per packet (n = rate / 20: 5 at 100 Hz, 10 at 200 Hz), sent when the last one is taken.
  ``sample_idx`` counts from power-up and is not reset by STOP/START; ``seq`` counts every packet of every type.
* **Commands.** START (a status packet first, then data), STOP, SYNC (a 0x12 reply with receive/transmit times).
* **Faults** (:class:`FaultPlan`, seeded): packets lost singly or in bursts, duplicated, bit-flipped after the CRC,
  link disconnects (streaming stops until the host sends START again) and reboots (``sample_idx``, ``seq`` and the
  clock restart). Everything lost is written to the :class:`FaultLog`, so a test can check that the receiver
  accounts for every gap exactly.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gait.recording import LEFT_THIGH, PELVIS, RIGHT_THIGH
from hardware.errors import HardwareError
from hardware.protocol import (
    MAX_IMU_SAMPLES,
    Command,
    SensorConfig,
    Status,
    SyncReply,
    decode_command,
    encode,
    encode_imu_rows,
)
from hardware.simulator.walker import SimulatedSession, sample_linear

__all__ = [
    "SENSOR_IDS",
    "DeviceClock",
    "Emission",
    "FaultLog",
    "FaultPlan",
    "LostPacket",
    "VirtualSensor",
    "default_samples_per_packet",
    "virtual_sensors",
]

FloatArray = NDArray[np.float64]
Int16Array = NDArray[np.int16]

#: Time from the last sample of a batch to the packet leaving the device (FIFO read, radio slot), in s.
_SEND_LATENCY_S: Final = 0.002
#: Time from a SYNC command's arrival to its reply leaving the device, in s.
_SYNC_TURNAROUND_S: Final = 0.0002
#: Sensor ids by placement (PROTOCOL.md §1).
SENSOR_IDS: Final[Mapping[str, int]] = MappingProxyType({PELVIS: 0, LEFT_THIGH: 1, RIGHT_THIGH: 2})
_U32: Final = 1 << 32


def default_samples_per_packet(rate_hz: float) -> int:
    """Samples per packet for 20 packets/s (PROTOCOL.md §1): 5 at 100 Hz, 10 at 200 Hz; at least 1, at most 41."""
    return int(min(MAX_IMU_SAMPLES, max(1, round(rate_hz / 20.0))))


@dataclass(frozen=True, slots=True)
class DeviceClock:
    """The device's microsecond clock against host time.

    ``t_device_us(h) = offset_us + (h - boot_s) · 10⁶ · (1 + drift_ppm · 10⁻⁶)``, wrapped to 32 bits on the wire.

    Parameters
    ----------
    offset_us : int
        Device clock at power-up, in µs.
    drift_ppm : float
        Crystal error; positive = the device clock runs fast. Real crystals: within ±50 ppm.
    """

    offset_us: int = 0
    drift_ppm: float = 0.0

    def __post_init__(self) -> None:
        if not abs(self.drift_ppm) <= 1000.0:
            raise HardwareError(f"drift_ppm: expected a crystal error within ±1000 ppm, got {self.drift_ppm!r}")

    @property
    def rate(self) -> float:
        """Device seconds per host second."""
        return 1.0 + self.drift_ppm * 1e-6


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """Faults to inject, each drawn per packet from a seeded generator (``seed``).

    Parameters
    ----------
    drop_probability : float
        A packet is lost on the link.
    burst_probability, burst_packets : float, int
        A packet starts a burst of ``burst_packets`` consecutive lost packets (missed BLE connection events).
    duplicate_probability : float
        A packet arrives twice.
    bit_error_probability : float
        One random bit of the packet is flipped after the CRC was computed (the receiver must reject it).
    disconnects : sequence of (start_s, duration_s)
        Link outages in host time; streaming stops at the start and resumes only after a new START.
    reboots_s : sequence of float
        Host times at which the device resets (``sample_idx``, ``seq`` and clock restart; idle until START).
    """

    drop_probability: float = 0.0
    burst_probability: float = 0.0
    burst_packets: int = 10
    duplicate_probability: float = 0.0
    bit_error_probability: float = 0.0
    disconnects: tuple[tuple[float, float], ...] = ()
    reboots_s: tuple[float, ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("drop_probability", "burst_probability", "duplicate_probability", "bit_error_probability"):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise HardwareError(f"{name}: expected a probability in [0, 1], got {p!r}")
        if self.burst_packets < 1:
            raise HardwareError(f"burst_packets: expected at least 1, got {self.burst_packets!r}")
        for start_s, duration_s in self.disconnects:
            if not duration_s > 0:
                raise HardwareError(f"disconnects: expected positive durations, got {duration_s!r} at {start_s!r} s")


@dataclass(frozen=True, slots=True)
class LostPacket:
    """A packet the device produced that the host will not receive intact.

    ``sample_idx`` and ``n`` are the IMU samples lost with it (``n = 0`` for other packet types).
    """

    host_s: float
    seq: int
    sample_idx: int
    n: int
    reason: str  # "dropped", "burst", "bit_error", "disconnected"


@dataclass(slots=True)
class FaultLog:
    """What the virtual sensor did to its packets: the ground truth for loss accounting."""

    sent: int = 0
    lost: list[LostPacket] = field(default_factory=list)
    duplicated_seq: list[int] = field(default_factory=list)
    disconnects_s: list[float] = field(default_factory=list)
    reboots_s: list[float] = field(default_factory=list)
    #: ``(first sample_idx, n_samples)`` taken but not streamed between a stop (STOP, disconnect) and the next START.
    not_streamed: list[tuple[int, int]] = field(default_factory=list)

    def lost_samples(self) -> int:
        """IMU samples lost on the link."""
        return sum(p.n for p in self.lost)


@dataclass(frozen=True, slots=True)
class Emission:
    """A packet leaving the device: host time, bytes, and whether the link delivers it (else it is in the log)."""

    host_s: float
    packet: bytes


class VirtualSensor:
    """One simulated sensor speaking PROTOCOL.md v1; a pure state machine driven by host time.

    Parameters
    ----------
    sensor_id : int
        0 pelvis, 1 left thigh, 2 right thigh.
    acc_mps2, gyr_dps : array_like, shape (n_samples, 3)
        The body signal in the sensor frame at ``signal_rate_hz``; it loops, starting at host time 0.
    signal_rate_hz : float
        Rate of the signal arrays, in Hz.
    config : SensorConfig
        Output rate and ranges (the packets' ``cfg``).
    samples_per_packet : int, optional
        Default :func:`default_samples_per_packet`.
    clock : DeviceClock
    boot_s : float
        Host time of power-up (sample 0); may be negative (the device was on before the session).
    faults : FaultPlan
    battery_pct : int
        Battery at power-up; it falls by 1 % per 20 min of streaming.
    """

    def __init__(
        self,
        sensor_id: int,
        acc_mps2: ArrayLike,
        gyr_dps: ArrayLike,
        signal_rate_hz: float,
        *,
        config: SensorConfig | None = None,
        samples_per_packet: int | None = None,
        clock: DeviceClock | None = None,
        boot_s: float = 0.0,
        faults: FaultPlan | None = None,
        battery_pct: int = 95,
        status_period_s: float = 5.0,
    ) -> None:
        acc = np.asarray(acc_mps2, dtype=np.float64)
        gyr = np.asarray(gyr_dps, dtype=np.float64)
        if acc.ndim != 2 or acc.shape[1] != 3 or acc.shape != gyr.shape or acc.shape[0] < 2:
            raise HardwareError(
                f"acc_mps2, gyr_dps: expected two arrays of shape (n_samples >= 2, 3), got {acc.shape} and {gyr.shape}"
            )
        self.sensor_id = int(sensor_id)
        self.config = config or SensorConfig()
        self.n = samples_per_packet or default_samples_per_packet(self.config.rate_hz)
        if not 1 <= self.n <= MAX_IMU_SAMPLES:
            raise HardwareError(f"samples_per_packet: expected 1..{MAX_IMU_SAMPLES}, got {self.n!r}")
        self._acc = np.nan_to_num(acc)
        self._gyr = np.nan_to_num(gyr)
        self._signal_rate_hz = float(signal_rate_hz)
        self._period_s = acc.shape[0] / self._signal_rate_hz
        self.clock = clock or DeviceClock()
        self.faults = faults or FaultPlan()
        self.log = FaultLog()
        self.status_period_s = float(status_period_s)
        self._rng = np.random.default_rng(self.faults.seed)
        self._battery_pct0 = int(battery_pct)
        self._streamed_s = 0.0
        self._events = sorted(
            [(s, "disconnect", d) for s, d in self.faults.disconnects]
            + [(s, "reboot", 0.0) for s in self.faults.reboots_s]
        )
        self._burst_left = 0
        self._replies: list[tuple[float, bytes, int, int]] = []  # (host_s, packet, first sample, n samples)
        self._outbox: list[Emission] = []
        self._power_up(boot_s, self.clock.offset_us)
        self.now_s = boot_s

    @classmethod
    def from_session(cls, session: SimulatedSession, placement: str, sensor_id: int, **kwargs: object) -> VirtualSensor:
        """A virtual sensor at ``placement`` of a simulated session (its signal loops)."""
        rec = session.recording
        i = rec.placements.index(placement)
        return cls(sensor_id, rec.acc_mps2[i], rec.gyr_dps[i], rec.sampling_rate_hz, **kwargs)  # type: ignore[arg-type]

    # ------------------------------------------------------------------------------------------------- state
    def _power_up(self, at_s: float, offset_us: int) -> None:
        self._boot_s = at_s
        self._offset_us = offset_us
        self._seq = 0
        self.streaming = False
        self._next_k = 0  # first sample of the next packet
        self._next_status_s = math.inf
        self._streamed_since_boot = False

    @property
    def link_up(self) -> bool:
        """False during a disconnect window."""
        return not any(s <= self.now_s < s + d for s, d in self.faults.disconnects)

    def sample_host_s(self, k: ArrayLike) -> FloatArray:
        """Host time at which sample ``k`` (since the current power-up) is taken, in s."""
        return self._boot_s + np.asarray(k, dtype=np.float64) / (self.config.rate_hz * self.clock.rate)

    def device_us(self, host_s: ArrayLike) -> NDArray[np.int64]:
        """The device clock (unwrapped, µs) at host time ``host_s``."""
        dt = (np.asarray(host_s, dtype=np.float64) - self._boot_s) * 1e6 * self.clock.rate
        return self._offset_us + np.floor(dt).astype(np.int64)

    def _first_k_after(self, host_s: float) -> int:
        return max(0, math.ceil((host_s - self._boot_s) * self.config.rate_hz * self.clock.rate - 1e-9))

    def _counts(self, k: NDArray[np.int64]) -> Int16Array:
        t_s = np.mod(self.sample_host_s(k), self._period_s)
        acc = sample_linear(self._acc, self._signal_rate_hz, t_s, axis=-2)
        gyr = sample_linear(self._gyr, self._signal_rate_hz, t_s, axis=-2)
        return self.config.to_counts(acc, gyr)

    def _status(self, at_s: float, seq: int) -> bytes:
        battery = max(0, self._battery_pct0 - int(self._streamed_s / 1200.0))
        return encode(
            Status(
                self.sensor_id,
                seq,
                self._first_k_after(at_s) % _U32,
                int(self.device_us(at_s)) % _U32,
                self.config,
                battery_pct=battery,
                battery_mv=3300 + 9 * battery,
                firmware=(1, 0, 0),
            )
        )

    def _take_seq(self) -> int:
        seq = self._seq
        self._seq = (self._seq + 1) & 0xFFFF
        return seq

    # ---------------------------------------------------------------------------------------------- commands
    def command(self, data: bytes, host_s: float) -> None:
        """A host → device write arriving at ``host_s``. Replies come out of the next :meth:`poll`.

        Raises
        ------
        PacketError
            If the bytes are not a command (the firmware ignores them; the caller decides whether to count it).
        """
        cmd = decode_command(data)
        before = self.poll(host_s)  # what was sent before the command still reaches the host, on the next poll
        self._outbox.extend(before)
        if cmd.command is Command.START:
            # As the reference firmware: a status packet first; a START while streaming only repeats the status.
            if not self.streaming:
                self.streaming = True
                k_start = self._first_k_after(host_s)
                if self._streamed_since_boot and k_start > self._next_k:
                    self.log.not_streamed.append((self._next_k, k_start - self._next_k))
                self._next_k = max(self._next_k, k_start)
                self._streamed_since_boot = True
                self._next_status_s = host_s + self.status_period_s
            self._replies.append((host_s, self._status(host_s, self._take_seq()), 0, 0))
        elif cmd.command is Command.STOP:
            if self.streaming:
                self._flush_partial(host_s)
            self.streaming = False
            self._next_status_s = math.inf
        else:
            t_rx = int(self.device_us(host_s))
            tx_s = host_s + _SYNC_TURNAROUND_S
            t_tx = int(self.device_us(tx_s))
            reply = SyncReply(
                self.sensor_id,
                self._take_seq(),
                self._first_k_after(tx_s) % _U32,
                t_tx % _U32,
                self.config,
                cmd.token,
                t_rx % _U32,
                t_tx % _U32,
            )
            self._replies.append((tx_s, encode(reply), 0, 0))

    # -------------------------------------------------------------------------------------------------- time
    def poll(self, host_s: float) -> list[Emission]:
        """Advance to ``host_s`` and return the packets that reached the host by then, in order.

        Packets lost to faults are not returned; they are in :attr:`log`.
        """
        out = list(self._outbox)
        self._outbox.clear()
        while True:
            horizon = host_s
            event = self._events[0] if self._events and self._events[0][0] <= host_s else None
            if event is not None:
                horizon = event[0]
            out += self._advance(horizon)
            if event is None:
                break
            self._events.pop(0)
            at_s, kind, _duration_s = event
            if kind == "reboot":
                self.log.reboots_s.append(at_s)
                self._power_up(at_s, int(self._rng.integers(0, _U32)))
            else:
                self.log.disconnects_s.append(at_s)
                self.streaming = False
                self._next_status_s = math.inf
                self._replies.clear()
                self.now_s = at_s
        self.now_s = max(self.now_s, host_s)
        return out

    def _advance(self, until_s: float) -> list[Emission]:
        """Packets produced in ``(now, until]``, with faults applied."""
        times: list[NDArray[np.float64]] = []
        packets: list[list[bytes] | NDArray[np.uint8]] = []
        imu_meta: tuple[NDArray[np.int64], int] | None = None
        if self.streaming:
            first_k = self._next_k
            last_ready = self._first_k_after(until_s - _SEND_LATENCY_S + 1e-12) - 1  # last sample taken by then
            m = max(0, (last_ready - first_k + 1) // self.n)
            if m:
                k0 = first_k + self.n * np.arange(m, dtype=np.int64)
                emit_s = self.sample_host_s(k0 + self.n - 1) + _SEND_LATENCY_S
                self._streamed_s += m * self.n / self.config.rate_hz
                statuses = []
                while self._next_status_s <= emit_s[-1]:
                    statuses.append(self._next_status_s)
                    self._next_status_s += self.status_period_s
                # Sequence numbers in emission order: IMU packets and status packets interleave.
                all_s = np.concatenate([emit_s, np.asarray(statuses, dtype=np.float64)])
                order = np.argsort(all_s, kind="stable")
                seq_of = np.empty(all_s.shape[0], dtype=np.int64)
                seq_of[order] = (self._seq + np.arange(all_s.shape[0])) & 0xFFFF
                self._seq = (self._seq + all_s.shape[0]) & 0xFFFF
                k_all = np.arange(first_k, first_k + m * self.n, dtype=np.int64)
                counts = self._counts(k_all).reshape(m, self.n, 6)
                t_us = self._offset_us + np.floor(k0 * 1e6 / self.config.rate_hz).astype(np.int64)
                rows = encode_imu_rows(self.sensor_id, seq_of[:m], k0, t_us, self.config, counts)
                times.append(emit_s)
                packets.append(rows)
                imu_meta = (k0, m)
                for j, at_s in enumerate(statuses):
                    times.append(np.array([at_s]))
                    packets.append([self._status(at_s, int(seq_of[m + j]))])
                self._next_k = first_k + m * self.n
        replies = [r for r in self._replies if r[0] <= until_s]
        self._replies = [r for r in self._replies if r[0] > until_s]
        for at_s, raw, _k, _n in replies:
            times.append(np.array([at_s]))
            packets.append([raw])
        self.now_s = max(self.now_s, until_s)
        if not times:
            return []
        flat_s = np.concatenate(times)
        flat: list[bytes] = []
        for p in packets:
            flat += [r.tobytes() for r in p] if isinstance(p, np.ndarray) else p
        # First sample and sample count of each packet (0 samples for the other types), for the fault log.
        n_of = np.zeros(len(flat), dtype=np.int64)
        k_of = np.zeros(len(flat), dtype=np.int64)
        if imu_meta is not None:
            n_of[: imu_meta[1]] = self.n
            k_of[: imu_meta[1]] = imu_meta[0]
        n_of[len(flat) - len(replies) :] = [r[3] for r in replies]
        k_of[len(flat) - len(replies) :] = [r[2] for r in replies]
        return self._deliver(flat_s, flat, n_of, k_of)

    def _flush_partial(self, host_s: float) -> None:
        """On STOP, send the samples already taken for an unfinished packet (fewer than n), as the firmware does."""
        k_end = self._first_k_after(host_s)  # samples taken up to now are < k_end
        count = min(k_end - self._next_k, self.n - 1)
        if count <= 0:
            return
        k = np.arange(self._next_k, self._next_k + count, dtype=np.int64)
        t_us = self._offset_us + int(self._next_k * 1e6 / self.config.rate_hz)
        rows = encode_imu_rows(self.sensor_id, [self._take_seq()], k[:1], [t_us], self.config, self._counts(k)[None])
        self._replies.append((host_s, rows[0].tobytes(), self._next_k, count))
        self._next_k += count

    def _deliver(
        self, at_s: FloatArray, packets: Sequence[bytes], n_of: NDArray[np.int64], k_of: NDArray[np.int64]
    ) -> list[Emission]:
        order = np.argsort(at_s, kind="stable")
        f = self.faults
        u = self._rng.random((len(packets), 4))
        out: list[Emission] = []
        for i in order:
            raw = packets[i]
            seq = int.from_bytes(raw[2:4], "little")
            n = int(n_of[i])
            reason = ""
            if any(s <= at_s[i] < s + d for s, d in f.disconnects):
                reason = "disconnected"
            elif self._burst_left > 0:
                self._burst_left -= 1
                reason = "burst"
            elif u[i, 0] < f.burst_probability:
                self._burst_left = f.burst_packets - 1
                reason = "burst"
            elif u[i, 1] < f.drop_probability:
                reason = "dropped"
            self.log.sent += 1
            if reason:
                self.log.lost.append(LostPacket(float(at_s[i]), seq, int(k_of[i]), n, reason))
                continue
            if u[i, 2] < f.bit_error_probability:
                bit = int(self._rng.integers(0, 8 * len(raw)))
                bad = bytearray(raw)
                bad[bit // 8] ^= 1 << (bit % 8)
                self.log.lost.append(LostPacket(float(at_s[i]), seq, int(k_of[i]), n, "bit_error"))
                out.append(Emission(float(at_s[i]), bytes(bad)))
                continue
            out.append(Emission(float(at_s[i]), raw))
            if u[i, 3] < f.duplicate_probability:
                self.log.duplicated_seq.append(seq)
                out.append(Emission(float(at_s[i]), raw))
        return out


def virtual_sensors(
    session: SimulatedSession,
    *,
    config: SensorConfig | None = None,
    max_drift_ppm: float = 50.0,
    faults: FaultPlan | Mapping[str, FaultPlan] | None = None,
    seed: int = 0,
) -> dict[str, VirtualSensor]:
    """One virtual sensor per placement of ``session``, each with its own crystal and power-up time.

    Sensor ids follow PROTOCOL.md §1 (0 pelvis, 1 left thigh, 2 right thigh). Clock offsets are random 32-bit values,
    drifts uniform in ``±max_drift_ppm`` and power-up times within the 10 s before the session, all drawn from
    ``seed``; ``faults`` (with its seed offset per sensor) applies to every sensor, or, given per placement, to
    that sensor (a placement left out has none).
    """
    rng = np.random.default_rng(seed)
    ids = SENSOR_IDS
    out: dict[str, VirtualSensor] = {}
    for placement in session.recording.placements:
        plan = (faults.get(placement) if isinstance(faults, Mapping) else faults) or FaultPlan()
        out[placement] = VirtualSensor.from_session(
            session,
            placement,
            ids[placement],
            config=config or SensorConfig(rate_hz=session.recording.sampling_rate_hz),
            clock=DeviceClock(int(rng.integers(0, _U32)), float(rng.uniform(-max_drift_ppm, max_drift_ppm))),
            boot_s=-float(rng.uniform(1.0, 10.0)),
            faults=dataclasses.replace(plan, seed=plan.seed * 7 + ids[placement]),
        )
    return out
