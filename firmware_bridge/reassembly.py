"""Reassembly of one sensor's IMU packets into gap-aware sample segments (hardware/PROTOCOL.md §3), pure.

A :class:`Reassembler` follows one sensor link. It is fed the IMU packets of that link in arrival order, in chunks of
any size (one packet live, a whole capture offline: the same code), and says for every packet where its samples go:

* ``seq``, ``sample_idx`` and ``t_us`` are unwrapped to 64 bit;
* with ``expected`` = the end of the samples already accepted, a packet that starts there is appended; one that
  starts later leaves a **gap of exactly** ``sample_idx − expected`` samples (never interpolated); one that ends at or
  before ``expected`` is a duplicate and dropped; one that overlaps the end keeps only its new tail. The samples a
  duplicate repeats are reported so that the caller, who holds the samples, can raise an alarm if they differ;
* a packet whose ``(sample_idx, t_us)`` do not fit the segment's device clock (a ``t_us`` jump when ``sample_idx``
  falls back or leaps), or whose arrival time is impossible for that clock (a sample from minutes ago arriving
  now), starts a new **segment**: the device rebooted (its counters restarted) or the stream was reconfigured.

The decisions are made for a whole chunk with numpy; the only Python loop is over the (rare) segment starts.
No I/O, no clock of its own: arrival times come with the packets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from firmware_bridge.errors import BridgeError
from hardware.protocol import ImuBatch, SensorConfig

__all__ = ["Gap", "Placement", "Reassembler", "ReassemblyStats", "SegmentInfo", "unwrap_u32"]

_U32: Final = 1 << 32
_HALF: Final = 1 << 31
#: Relative slack for slow changes of a device clock's rate (temperature) over a long segment.
_DRIFT_SLACK: Final = 100e-6

IntArray = NDArray[np.int64]


def unwrap_u32(raw: ArrayLike, previous_raw: int, previous: int) -> IntArray:
    """Unwrap a u32 counter to int64, each value taken as the nearest continuation of the one before it.

    Parameters
    ----------
    raw : array_like of int, shape (n,)
        Counter values as sent (0 … 2³²−1).
    previous_raw, previous : int
        The raw and unwrapped value just before ``raw[0]``.

    Returns
    -------
    ndarray of int64, shape (n,)
        ``previous + cumsum(d)`` where each step ``d`` is the signed 32-bit difference to the value before it.
    """
    r = np.asarray(raw, dtype=np.int64)
    steps = np.diff(r, prepend=np.int64(previous_raw))
    steps = (steps + _HALF) % _U32 - _HALF
    return np.int64(previous) + np.cumsum(steps)


@dataclass(frozen=True, slots=True)
class Gap:
    """Samples that never arrived: ``n_samples`` starting at unwrapped sample index ``start_idx`` of ``segment``."""

    segment: int
    start_idx: int
    n_samples: int


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """A run of samples on one device clock (a new one starts when the device reboots or is reconfigured).

    ``first_idx`` is the unwrapped ``sample_idx`` of its first packet, ``first_t_us`` that packet's unwrapped
    ``t_us``, ``cfg`` the packets' configuration byte, ``reason`` why it started (``"start"``, ``"reboot"`` or
    ``"config"``), ``position`` the input position of its first packet.
    """

    index: int
    first_idx: int
    first_t_us: int
    cfg: int
    reason: str
    position: int


@dataclass(frozen=True, eq=False, slots=True)
class Placement:
    """Where the packets of one :meth:`Reassembler.feed` call go (arrays of shape ``(n_packets,)``).

    Attributes
    ----------
    segment : ndarray of int64
        Segment index of each packet (also for duplicates).
    sample_idx, t_us : ndarray of int64
        Unwrapped header fields.
    n : ndarray of int64
        Samples in each packet.
    keep_from : ndarray of int64
        Rows of the packet to skip: 0 for a packet appended whole, ``n`` for a duplicate, in between for an overlap.
    gap_before : ndarray of int64
        Samples missing just before the packet (0 unless it starts past the expected sample).
    duplicate : ndarray of bool
        Packets whose samples (or some of them) were already received; their repeated rows are
        ``[0, keep_from)``, at ``sample_idx`` onwards, for the caller to compare.
    gaps : tuple of Gap
    new_segments : tuple of SegmentInfo
    """

    segment: IntArray
    sample_idx: IntArray
    t_us: IntArray
    n: IntArray
    keep_from: IntArray
    gap_before: IntArray
    duplicate: NDArray[np.bool_]
    gaps: tuple[Gap, ...]
    new_segments: tuple[SegmentInfo, ...]

    @property
    def n_new(self) -> IntArray:
        """New samples each packet contributes (``n − keep_from``)."""
        return self.n - self.keep_from


@dataclass(slots=True)
class ReassemblyStats:
    """Running counters of one link (for the health API and the status line)."""

    packets: int = 0
    packets_kept: int = 0
    samples: int = 0
    gaps: int = 0
    lost_samples: int = 0
    duplicate_packets: int = 0
    overlap_packets: int = 0
    segments: int = 0
    reboots: int = 0


@dataclass(slots=True)
class _Segment:
    index: int
    cfg: int
    ref_idx: int  # unwrapped sample_idx / t_us of the first packet
    ref_t_us: int
    last_raw_idx: int  # raw and unwrapped values of the last packet that belonged to the segment
    last_idx: int
    last_raw_t: int
    last_t_us: int
    end_idx: int  # one past the last sample accepted
    min_lag_us: float  # lowest (arrival − device time of the last sample) seen: the clock's lower envelope so far


class Reassembler:
    """Follows one sensor link: unwraps counters, places samples, finds gaps, duplicates and reboots.

    Parameters
    ----------
    max_link_latency_s : float
        Longest a packet can plausibly take from its last sample to the host (buffering in the sensor, the radio and
        the operating system). A packet that would have taken longer, judged by the segment's clock envelope, came
        from a rebooted device. Default 10 s.
    clock_tolerance_us, clock_tolerance_rel : float
        Slack of the device-clock check: ``t_us`` may differ from the segment's clock line by
        ``clock_tolerance_us`` (default 2 ms), plus ``clock_tolerance_rel`` (default 6 %: a part sampling at 104 Hz on
        a nominal 100 Hz code is 4 % off until its real period is known) of the time since the last packet, plus
        100 ppm of the time since the segment's start.
    clock_tolerance_rel_settled : float
        The relative slack once the segment has 2 s of samples to measure the real period. Default 0.2 %.
    """

    def __init__(
        self,
        *,
        max_link_latency_s: float = 10.0,
        clock_tolerance_us: float = 2000.0,
        clock_tolerance_rel: float = 0.06,
        clock_tolerance_rel_settled: float = 0.002,
    ) -> None:
        if not max_link_latency_s > 0:
            raise BridgeError(f"max_link_latency_s: expected a positive time, got {max_link_latency_s!r}")
        self.max_link_latency_us = float(max_link_latency_s) * 1e6
        self.clock_tolerance_us = float(clock_tolerance_us)
        self.clock_tolerance_rel = float(clock_tolerance_rel)
        self.clock_tolerance_rel_settled = float(clock_tolerance_rel_settled)
        self.stats = ReassemblyStats()
        self.segments: list[SegmentInfo] = []
        self._segs: list[_Segment] = []
        self._seg: _Segment | None = None

    @property
    def expected_idx(self) -> int | None:
        """Unwrapped index of the next sample expected in the current segment (None before the first packet)."""
        return None if self._seg is None else self._seg.end_idx

    def period_us(self, segment: int) -> float:
        """The sample period of a segment measured from its packets so far (µs; nominal before a second packet)."""
        seg = self._segs[segment]
        span_idx = seg.last_idx - seg.ref_idx
        if span_idx > 0:
            return (seg.last_t_us - seg.ref_t_us) / span_idx
        return 1e6 / SensorConfig.from_cfg(seg.cfg).rate_hz

    # ------------------------------------------------------------------------------------------------ feeding
    def feed(self, batch: ImuBatch, t_host_us: ArrayLike) -> Placement:
        """Place the IMU packets of this link, in arrival order.

        Parameters
        ----------
        batch : ImuBatch
            The link's IMU packets (valid ones: CRC checked), in the order they arrived.
        t_host_us : array_like of float, shape (n_packets,)
            Host clock at each packet's arrival, in µs (monotonic; any origin).

        Returns
        -------
        Placement
        """
        m = len(batch)
        arrival = np.asarray(t_host_us, dtype=np.float64)
        if arrival.shape != (m,):
            raise BridgeError(f"t_host_us: expected shape ({m},) (one time per packet), got {arrival.shape}")
        segment = np.zeros(m, dtype=np.int64)
        s_unw = np.zeros(m, dtype=np.int64)
        t_unw = np.zeros(m, dtype=np.int64)
        keep_from = np.zeros(m, dtype=np.int64)
        gap_before = np.zeros(m, dtype=np.int64)
        gaps: list[Gap] = []
        new_segments: list[SegmentInfo] = []
        i0 = 0
        while i0 < m:
            if self._seg is None:
                new_segments.append(self._start_segment(batch, i0, "start"))
            seg = self._seg
            assert seg is not None
            stop = self._run_end(batch, arrival, i0, seg)
            self._place_run(batch, arrival, i0, stop, seg, segment, s_unw, t_unw, keep_from, gap_before, gaps)
            i0 = stop
            if i0 < m:
                reason = "config" if int(batch.cfg[i0]) != seg.cfg else "reboot"
                new_segments.append(self._start_segment(batch, i0, reason))
        n = np.asarray(batch.n, dtype=np.int64)
        duplicate = keep_from > 0
        st = self.stats
        st.packets += m
        st.packets_kept += int(np.count_nonzero(keep_from < n))
        st.samples += int((n - keep_from).sum())
        st.duplicate_packets += int(np.count_nonzero(keep_from >= n))
        st.overlap_packets += int(np.count_nonzero(duplicate & (keep_from < n)))
        st.gaps += len(gaps)
        st.lost_samples += sum(g.n_samples for g in gaps)
        return Placement(segment, s_unw, t_unw, n, keep_from, gap_before, duplicate, tuple(gaps), tuple(new_segments))

    # ------------------------------------------------------------------------------------------------ internals
    def _start_segment(self, batch: ImuBatch, i: int, reason: str) -> SegmentInfo:
        raw_s, raw_t = int(batch.sample_idx[i]), int(batch.t_us[i])
        index = len(self.segments)
        self._seg = _Segment(
            index=index,
            cfg=int(batch.cfg[i]),
            ref_idx=raw_s,
            ref_t_us=raw_t,
            last_raw_idx=raw_s,
            last_idx=raw_s,
            last_raw_t=raw_t,
            last_t_us=raw_t,
            end_idx=raw_s,
            min_lag_us=np.inf,
        )
        info = SegmentInfo(index, raw_s, raw_t, int(batch.cfg[i]), reason, int(batch.position[i]))
        self.segments.append(info)
        self._segs.append(self._seg)
        self.stats.segments += 1
        if reason == "reboot":
            self.stats.reboots += 1
        return info

    def _period_us(self, seg: _Segment) -> tuple[float, float]:
        """The segment's sample period so far (µs) and the relative slack that goes with it."""
        nominal = 1e6 / SensorConfig.from_cfg(seg.cfg).rate_hz
        span_idx = seg.last_idx - seg.ref_idx
        if span_idx > 0 and span_idx * nominal >= 2e6:
            return (seg.last_t_us - seg.ref_t_us) / span_idx, self.clock_tolerance_rel_settled
        return nominal, self.clock_tolerance_rel

    def _run_end(self, batch: ImuBatch, arrival: NDArray[np.float64], i0: int, seg: _Segment) -> int:
        """One past the last packet from ``i0`` on that still belongs to ``seg``."""
        s = unwrap_u32(batch.sample_idx[i0:], seg.last_raw_idx, seg.last_idx)
        t = unwrap_u32(batch.t_us[i0:], seg.last_raw_t, seg.last_t_us)
        period, rel = self._period_us(seg)
        predicted = seg.ref_t_us + (s - seg.ref_idx) * period
        clock_err = np.abs(t - predicted)
        # Slack: the period's uncertainty over the distance from the last packet, and slow drift (100 ppm) overall.
        tolerance = (
            self.clock_tolerance_us
            + rel * np.abs(predicted - seg.last_t_us)
            + _DRIFT_SLACK * np.abs(predicted - seg.ref_t_us)
        )
        bad = (clock_err > tolerance) | (batch.cfg[i0:] != seg.cfg)
        # Arrival check against the clock envelope: the last sample's device time plus the lowest lag seen.
        lag = arrival[i0:] - (t + (np.asarray(batch.n[i0:]) - 1) * period)
        envelope = np.minimum.accumulate(np.concatenate([[seg.min_lag_us], lag]))[:-1]
        bad |= lag - envelope > self.max_link_latency_us
        hits = np.flatnonzero(bad)
        return i0 + int(hits[0]) if hits.size else len(batch)

    def _place_run(
        self,
        batch: ImuBatch,
        arrival: NDArray[np.float64],
        i0: int,
        stop: int,
        seg: _Segment,
        segment: IntArray,
        s_out: IntArray,
        t_out: IntArray,
        keep_from: IntArray,
        gap_before: IntArray,
        gaps: list[Gap],
    ) -> None:
        if stop <= i0:
            return
        sl = slice(i0, stop)
        s = unwrap_u32(batch.sample_idx[sl], seg.last_raw_idx, seg.last_idx)
        t = unwrap_u32(batch.t_us[sl], seg.last_raw_t, seg.last_t_us)
        n = np.asarray(batch.n[sl], dtype=np.int64)
        end = s + n
        prev_end = np.maximum.accumulate(np.concatenate([[seg.end_idx], end]))[:-1]
        segment[sl] = seg.index
        s_out[sl] = s
        t_out[sl] = t
        keep_from[sl] = np.clip(prev_end - s, 0, n)
        gap = np.maximum(s - prev_end, 0)
        gap_before[sl] = gap
        for k in np.flatnonzero(gap):
            gaps.append(Gap(seg.index, int(prev_end[k]), int(gap[k])))
        period, _ = self._period_us(seg)
        lag = arrival[sl] - (t + (n - 1) * period)
        seg.min_lag_us = float(min(seg.min_lag_us, float(lag.min())))
        seg.last_raw_idx = int(batch.sample_idx[stop - 1])
        seg.last_idx = int(s[-1])
        seg.last_raw_t = int(batch.t_us[stop - 1])
        seg.last_t_us = int(t[-1])
        seg.end_idx = max(seg.end_idx, int(end.max()))
