"""One sensor's stream on the host: reassembly, clock sync, samples and health, the same live and offline (pure).

A :class:`SensorStream` is fed what arrives over one sensor link, in arrival order and in chunks of any size: IMU
packets (as an :class:`~hardware.protocol.ImuBatch`), the other packet types, the sync pings the host sent, and the
packets that failed to decode. It keeps

* the accepted samples with their segment and device time (:mod:`firmware_bridge.reassembly`), at most
  ``max_samples`` of the newest when a bound is given (live) or all of them (offline);
* one :class:`~firmware_bridge.clocksync.ClockSync` per segment, fed by every packet and every answered ping;
* counters and the latest status (battery, firmware, overflow), as a :class:`SensorHealth` snapshot.

:meth:`SensorStream.samples` gives the samples on the host clock, ready for :mod:`firmware_bridge.timeline`.
Nothing here does I/O or reads a clock: arrival times come in with the data (µs on the host's monotonic clock).
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from firmware_bridge.clocksync import ClockFit, ClockSync
from firmware_bridge.errors import BridgeError
from firmware_bridge.reassembly import Placement, Reassembler, unwrap_u32
from hardware.protocol import ImuBatch, Marker, Packet, SensorConfig, Status, SyncReply

__all__ = ["SensorHealth", "SensorSamples", "SensorStream"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

_U32: Final = 1 << 32
_HALF: Final = 1 << 31
#: Pings sent but not answered are forgotten after this many (a reply that never came).
_MAX_OUTSTANDING_PINGS: Final = 256


def _distinct(segment: IntArray) -> list[int]:
    """The segments present (usually one: no sort needed then)."""
    if segment.size and segment[0] == segment[-1] and (segment == segment[0]).all():
        return [int(segment[0])]
    return [int(v) for v in np.unique(segment)]


@dataclass(frozen=True, slots=True)
class SensorHealth:
    """Counters and state of one sensor link (a snapshot; for the API, the status line and the report).

    Attributes
    ----------
    packets : int
        IMU packets received with a valid CRC (duplicates included).
    samples : int
        Samples kept.
    lost_samples, gaps : int
        Samples that never arrived, and in how many gaps.
    loss_pct : float
        ``lost / (kept + lost)`` in %.
    duplicate_packets, overlap_packets, mismatched_duplicates : int
        Packets received again whole or in part, and those whose repeated samples differed (an alarm).
    rejected_packets : int
        Packets that failed to decode (CRC, length, type, configuration); ``rejected_reasons`` counts each reason.
    reboots, segments : int
        Device reboots (its counters restarted) and clock segments.
    sync_pings : int
        Answered sync pings.
    sync_method : str
        ``"pings"``, ``"envelope"`` or ``""`` (no clock yet) for the newest segment.
    sync_uncertainty_ms : float or None
        Width of the clock bracket of the newest segment (None without pings).
    skew_ppm : float or None
    rate_hz : float or None
        The device's true sample rate, measured from its clock (a nominal 100 Hz part may run at 104 Hz).
    battery_pct, overflow_samples : int or None
        From the latest status packet.
    firmware : str
    markers : int
    last_arrival_us : float or None
        Host time of the newest packet, µs.
    """

    sensor_id: int
    placement: str
    packets: int
    samples: int
    lost_samples: int
    gaps: int
    loss_pct: float
    duplicate_packets: int
    overlap_packets: int
    mismatched_duplicates: int
    rejected_packets: int
    rejected_reasons: dict[str, int]
    reboots: int
    segments: int
    sync_pings: int
    sync_method: str
    sync_uncertainty_ms: float | None
    skew_ppm: float | None
    rate_hz: float | None
    battery_pct: int | None
    overflow_samples: int | None
    firmware: str
    markers: int
    last_arrival_us: float | None

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(frozen=True, eq=False, slots=True)
class SensorSamples:
    """One sensor's kept samples on the host clock, in order.

    Attributes
    ----------
    host_us : ndarray of float64, shape (n,)
        Host time of each sample, µs (monotonic clock of the capture).
    acc_mps2, gyr_dps : ndarray of float64, shape (n, 3)
    continues : ndarray of bool, shape (n,)
        True where the next sample is the very next one of the same segment (no gap, no reboot in between).
    sample_idx, segment : ndarray of int64, shape (n,)
    rate_hz : float
        Nominal rate of the packets' ``cfg``.
    """

    placement: str
    host_us: FloatArray
    acc_mps2: FloatArray
    gyr_dps: FloatArray
    continues: NDArray[np.bool_]
    sample_idx: IntArray
    segment: IntArray
    rate_hz: float


@dataclass(frozen=True, eq=False, slots=True)
class _Chunk:
    """Kept samples of one :meth:`SensorStream.add_imu` call, held per packet (rows of ``counts`` in packet order).

    Packet ``p`` contributes ``n[p]`` samples: unwrapped indices ``first_idx[p] + j`` at rows ``in_packet[p] + j`` of
    the packet sent at device time ``t_us[p]``, for ``j`` in ``0 … n[p] − 1``. Per-sample arrays are built only once,
    by :meth:`SensorStream.samples`.
    """

    first_idx: IntArray
    segment: IntArray
    t_us: IntArray  # unwrapped t_us of the packet
    in_packet: IntArray  # row of the first kept sample in its packet
    n: IntArray
    cfg: IntArray
    counts: NDArray[np.int16]  # (sum(n), 6)

    @property
    def size(self) -> int:
        return int(self.counts.shape[0])

    def per_sample(self) -> tuple[IntArray, IntArray]:
        """Unwrapped sample index and segment of every kept sample."""
        start = np.cumsum(self.n) - self.n
        j = np.arange(self.size, dtype=np.int64) - np.repeat(start, self.n)
        return np.repeat(self.first_idx, self.n) + j, np.repeat(self.segment, self.n)

    @classmethod
    def join(cls, chunks: Sequence[_Chunk]) -> _Chunk:
        """The chunks as one (the one itself when there is just one: nothing copied)."""
        if len(chunks) == 1:
            return chunks[0]
        return cls(*(np.concatenate([getattr(c, name) for c in chunks]) for name in cls.__slots__))

    def drop_first(self, e: int) -> _Chunk:
        """The chunk without its first ``e`` samples (0 < e < size)."""
        whole = int(np.searchsorted(np.cumsum(self.n), e, side="right"))  # packets dropped entirely
        r = e - int(self.n[:whole].sum())  # and samples of the next one
        first_idx, in_packet, n = self.first_idx[whole:].copy(), self.in_packet[whole:].copy(), self.n[whole:].copy()
        first_idx[0] += r
        in_packet[0] += r
        n[0] -= r
        rest = slice(whole, None)
        return _Chunk(first_idx, self.segment[rest], self.t_us[rest], in_packet, n, self.cfg[rest], self.counts[e:])


class SensorStream:
    """Everything the host knows about one sensor link, fed incrementally.

    Parameters
    ----------
    sensor_id : int
    placement : str
    max_samples : int, optional
        Keep at most this many of the newest samples (a ring for live use); default: all.
    reassembler : Reassembler, optional
        Its parameters; default ``Reassembler()``.
    window_s, keep_rtt_fraction : float
        Passed to each segment's :class:`ClockSync`.
    """

    def __init__(
        self,
        sensor_id: int,
        placement: str,
        *,
        max_samples: int | None = None,
        reassembler: Reassembler | None = None,
        window_s: float = 1.0,
        keep_rtt_fraction: float = 0.8,
    ) -> None:
        if max_samples is not None and max_samples < 1:
            raise BridgeError(f"max_samples: expected a positive count or None, got {max_samples!r}")
        self.sensor_id = int(sensor_id)
        self.placement = placement
        self.max_samples = max_samples
        self.reassembler = reassembler or Reassembler()
        self._window_s = float(window_s)
        self._keep_rtt_fraction = float(keep_rtt_fraction)
        self._clocks: list[ClockSync] = []
        self._chunks: deque[_Chunk] = deque()
        self._n_kept = 0
        self._mismatched = 0
        self._rejected: dict[str, int] = {}
        self._pending_pings: dict[int, float] = {}
        self._n_pings = 0
        self._status: Status | None = None
        self._markers: list[tuple[float, Marker]] = []
        self._last_arrival_us: float | None = None
        self._fits_cache: tuple[float, list[ClockFit | None]] | None = None  # (arrival clock, fits) of clock_fits
        # Where other packets find their clock segment: position, segment, raw and unwrapped t_us of the IMU packets
        # of the latest add_imu call (and the newest one before it).
        self._anchors = np.zeros((0, 4), dtype=np.int64)
        self._next_position = 0

    # ------------------------------------------------------------------------------------------------- input
    def add_imu(self, batch: ImuBatch, arrival_us: ArrayLike) -> None:
        """IMU packets of this link (valid CRC), in arrival order, with their host arrival times (µs)."""
        if not len(batch):
            return
        arrival = np.asarray(arrival_us, dtype=np.float64)
        place = self.reassembler.feed(batch, arrival)
        while len(self._clocks) < len(self.reassembler.segments):
            self._clocks.append(ClockSync(window_s=self._window_s, keep_rtt_fraction=self._keep_rtt_fraction))
        n = place.n
        first = np.cumsum(n) - n
        if not place.keep_from.any() and bool((n > 0).all()):
            # Every packet appended whole (the usual case): its samples are the batch's rows as they are.
            chunk = _Chunk(place.sample_idx, place.segment, place.t_us, place.keep_from, n, batch.cfg, batch.counts)
        else:
            # Samples kept: rows [keep_from, n) of each packet.
            keep = place.n_new > 0
            new_n = place.n_new[keep]
            starts = (first + place.keep_from)[keep]
            rows = np.repeat(starts - (np.cumsum(new_n) - new_n), new_n) + np.arange(int(new_n.sum()), dtype=np.int64)
            chunk = _Chunk(
                (place.sample_idx + place.keep_from)[keep],
                place.segment[keep],
                place.t_us[keep],
                place.keep_from[keep],
                new_n,
                batch.cfg[keep],
                batch.counts[rows],
            )
        if place.duplicate.any():
            self._compare_duplicates(batch, place, first, chunk)
        if chunk.size:
            self._chunks.append(chunk)
            self._n_kept += chunk.size
            self._trim()
        # Clock evidence: the device time of each packet's last sample against its arrival.
        for seg in _distinct(place.segment):
            m = place.segment == seg
            period = self.reassembler.period_us(int(seg))
            self._clocks[int(seg)].add_packets(place.t_us[m] + (n[m] - 1) * period, arrival[m])
        anchors = np.stack([batch.position, place.segment, batch.t_us, place.t_us], axis=-1)
        self._anchors = np.concatenate([self._anchors[-1:], anchors]) if self._anchors.size else anchors
        self._next_position = max(self._next_position, int(batch.position[-1]) + 1)
        self._last_arrival_us = float(arrival[-1])

    def add_ping_sent(self, token: int, send_us: float) -> None:
        """A SYNC command with ``token`` was written at host time ``send_us`` (µs)."""
        self._pending_pings[int(token)] = float(send_us)
        while len(self._pending_pings) > _MAX_OUTSTANDING_PINGS:
            self._pending_pings.pop(next(iter(self._pending_pings)))

    def add_other(self, packet: Packet, arrival_us: float, position: int | None = None) -> None:
        """A sync reply, status or marker packet of this link, with its arrival time (µs).

        ``position`` places it among the IMU packets (their :attr:`ImuBatch.position`); default: after all of them.
        """
        self._last_arrival_us = max(self._last_arrival_us or -np.inf, float(arrival_us))
        if isinstance(packet, SyncReply):
            send_us = self._pending_pings.pop(packet.token, None)
            q = self._next_position if position is None else int(position)
            k = int(np.searchsorted(self._anchors[:, 0], q)) - 1 if self._anchors.size else -1
            if send_us is None or k < 0:
                return  # an answer to a ping we did not send, or before any packet: nothing to pair it with
            _pos, seg, raw_t, t = (int(v) for v in self._anchors[k])
            rx, tx = unwrap_u32([packet.t_rx_us, packet.t_tx_us], raw_t, t)
            self._clocks[seg].add_pings([send_us], [rx], [tx], [arrival_us])
            self._n_pings += 1
        elif isinstance(packet, Status):
            self._status = packet
        elif isinstance(packet, Marker):
            self._markers.append((float(arrival_us), packet))

    def add_rejected(self, reason: str) -> None:
        """A packet of this link that failed to decode, by reason (counted only)."""
        key = " ".join(reason.split())[:100] or "unknown"
        self._rejected[key] = self._rejected.get(key, 0) + 1

    # ------------------------------------------------------------------------------------------------ output
    def clock_fits(self, *, max_age_s: float | None = None) -> list[ClockFit | None]:
        """The clock fit of each segment (None for a segment with no evidence).

        Parameters
        ----------
        max_age_s : float, optional
            Reuse the fits computed at most this long ago (by the arrival clock) when no segment was added since:
            a live reader asking many times a second then refits once a second, whatever the session's length.
            Default: the current fits.
        """
        now = self._last_arrival_us
        cached = self._fits_cache
        if (
            max_age_s is not None
            and cached is not None
            and now is not None
            and len(cached[1]) == len(self._clocks)
            and now - cached[0] <= max_age_s * 1e6
        ):
            return cached[1]
        fits: list[ClockFit | None] = []
        for clock in self._clocks:
            fits.append(clock.fit() if clock.n_windows or clock.n_pings else None)
        self._fits_cache = (now if now is not None else -np.inf, fits)
        return fits

    @property
    def last_arrival_us(self) -> float | None:
        """Host time of the newest packet of this link, µs (None before any)."""
        return self._last_arrival_us

    @property
    def nominal_rate_hz(self) -> float | None:
        """The output rate the newest kept packet's ``cfg`` names (None before any)."""
        return SensorConfig.from_cfg(int(self._chunks[-1].cfg[-1])).rate_hz if self._chunks else None

    def samples(self, newest: int | None = None) -> SensorSamples:
        """The kept samples on the host clock (with the current clock fits).

        The per-sample arrays are built here, once, from the per-packet columns of the chunks held.

        Parameters
        ----------
        newest : int, optional
            Only (at least) the newest ``newest`` samples, in whole chunks as they arrived: a live reader that
            needs the last seconds does not pay for the whole ring. Such reads also reuse clock fits up to one
            second old (:meth:`clock_fits`).
        """
        chunks: Sequence[_Chunk] = self._chunks
        if newest is not None and chunks:
            held, k = 0, len(chunks)
            while k > 0 and held < newest:
                k -= 1
                held += chunks[k].size
            chunks = list(itertools.islice(self._chunks, k, None))
        if not chunks:
            z = np.zeros(0, dtype=np.int64)
            no_xyz = np.zeros((0, 3), dtype=np.float64)
            return SensorSamples(self.placement, np.zeros(0), no_xyz, no_xyz.copy(), z > 0, z, z, float("nan"))
        c = _Chunk.join(chunks)
        first_idx, seg, pkt_t, in0, n, cfg, counts = c.first_idx, c.segment, c.t_us, c.in_packet, c.n, c.cfg, c.counts
        segments = _distinct(seg)
        m = int(n[0])
        if len(segments) == 1 and bool((n == m).all()):
            # One segment, packets of one size (the usual case): (packet, row) grids, broadcast, never repeated.
            def expand(v: IntArray) -> IntArray:
                return v[:, None]

            j = np.arange(m, dtype=np.int64)[None, :]
        else:

            def expand(v: IntArray) -> IntArray:
                return np.repeat(v, n)

            j = np.arange(counts.shape[0], dtype=np.int64) - np.repeat(np.cumsum(n) - n, n)
        idx = (expand(first_idx) + j).ravel()
        in_pkt = expand(in0) + j
        fits = self.clock_fits(max_age_s=None if newest is None else 1.0)  # live reads: refit once a second
        if len(segments) == 1:
            s = segments[0]
            fit = fits[s]
            assert fit is not None  # a segment with samples has packets, hence evidence
            host = fit.host_us(expand(pkt_t) + in_pkt * self.reassembler.period_us(s)).ravel()
            seg_of_sample = np.full(idx.shape, s, dtype=np.int64)
        else:
            seg_of_sample = expand(seg)
            pkt_t_of_sample = expand(pkt_t)
            host = np.empty(idx.shape, dtype=np.float64)
            for s in segments:
                sel = seg_of_sample == s
                fit = fits[s]
                assert fit is not None
                host[sel] = fit.host_us(pkt_t_of_sample[sel] + in_pkt[sel] * self.reassembler.period_us(s))
        acc, gyr = ImuBatch(first_idx, first_idx, first_idx, first_idx, first_idx, n, cfg, counts).physical()
        # The next sample is the very next one of the segment: always inside a packet; between packets, when the
        # next packet starts where this one ends, in the same segment.
        continues = np.ones(idx.shape, dtype=bool)
        continues[np.cumsum(n)[:-1] - 1] = (first_idx[1:] == first_idx[:-1] + n[:-1]) & (seg[1:] == seg[:-1])
        continues[-1] = False
        rate = SensorConfig.from_cfg(int(cfg[-1])).rate_hz
        return SensorSamples(self.placement, host, acc, gyr, continues, idx, seg_of_sample, rate)

    def health(self) -> SensorHealth:
        """The link's counters now."""
        st = self.reassembler.stats
        fits = self.clock_fits()
        fit = fits[-1] if fits else None
        seg = len(self.reassembler.segments) - 1
        rate = 1e6 / self.reassembler.period_us(seg) if seg >= 0 else None
        status = self._status
        total = st.samples + st.lost_samples
        return SensorHealth(
            sensor_id=self.sensor_id,
            placement=self.placement,
            packets=st.packets,
            samples=st.samples,
            lost_samples=st.lost_samples,
            gaps=st.gaps,
            loss_pct=100.0 * st.lost_samples / total if total else 0.0,
            duplicate_packets=st.duplicate_packets,
            overlap_packets=st.overlap_packets,
            mismatched_duplicates=self._mismatched,
            rejected_packets=sum(self._rejected.values()),
            rejected_reasons=dict(self._rejected),
            reboots=st.reboots,
            segments=st.segments,
            sync_pings=self._n_pings,
            sync_method=fit.method if fit else "",
            sync_uncertainty_ms=None if fit is None or fit.uncertainty_us is None else fit.uncertainty_us / 1e3,
            skew_ppm=None if fit is None else fit.skew * 1e6,
            rate_hz=rate,
            battery_pct=None if status is None else status.battery_pct,
            overflow_samples=None if status is None else status.overflow_samples,
            firmware="" if status is None else ".".join(map(str, status.firmware)),
            markers=len(self._markers),
            last_arrival_us=self._last_arrival_us,
        )

    # ------------------------------------------------------------------------------------------------ internals
    def _trim(self) -> None:
        if self.max_samples is None:
            return
        while self._n_kept - self._chunks[0].size >= self.max_samples:
            self._n_kept -= self._chunks.popleft().size
        excess = self._n_kept - self.max_samples
        if excess > 0:
            self._chunks.appendleft(self._chunks.popleft().drop_first(excess))
            self._n_kept -= excess

    def _compare_duplicates(self, batch: ImuBatch, place: Placement, first: IntArray, chunk: _Chunk) -> None:
        """Count duplicates whose repeated samples differ from the ones kept (while those are still held)."""
        held = [*self._chunks, chunk]
        # Kept samples are in increasing (segment, sample_idx) order, so one sorted key finds them all.
        key = np.concatenate([(seg << 40) + idx for idx, seg in (c.per_sample() for c in held)])
        counts = np.concatenate([c.counts for c in held])
        for p in np.flatnonzero(place.duplicate):
            k = int(place.keep_from[p])
            want = (place.segment[p] << 40) + place.sample_idx[p] + np.arange(k, dtype=np.int64)
            at = np.searchsorted(key, want)
            if at[-1] >= key.size or not np.array_equal(key[at], want):
                continue  # no longer held: nothing to compare with
            if not np.array_equal(counts[at], batch.counts[first[p] : first[p] + k]):
                self._mismatched += 1
