"""Serial framing (PROTOCOL.md §2): any chunking gives the same packets; resync after garbage; frame cap."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from cobs import cobs
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware.errors import FramingError
from hardware.framing import MAX_FRAME_BYTES, Deframer, frame, unframe
from hardware.protocol import MAX_IMU_SAMPLES, ImuPacket, SensorConfig, decode, decode_packets, encode

payloads = st.binary(min_size=1, max_size=400)


def _feed_in_chunks(stream: bytes, cuts: list[int]) -> tuple[list[bytes], Deframer]:
    d = Deframer()
    out: list[bytes] = []
    bounds = [0, *sorted(c % (len(stream) + 1) for c in cuts), len(stream)]
    for a, b in itertools.pairwise(bounds):
        out += d.feed(stream[a:b])
    return out, d


@given(st.lists(payloads, max_size=20), st.lists(st.integers(0, 10_000), max_size=40))
@settings(max_examples=200, deadline=None)
def test_any_chunking_gives_the_same_packets(items: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(frame(p) for p in items)
    out, d = _feed_in_chunks(stream, cuts)
    assert out == items
    assert d.stats.errors == 0 and d.buffered_bytes == 0


@given(st.lists(payloads, min_size=1, max_size=8))
@settings(max_examples=50, deadline=None)
def test_one_byte_at_a_time(items: list[bytes]) -> None:
    stream = b"".join(frame(p) for p in items)
    d = Deframer()
    out = [pkt for i in range(len(stream)) for pkt in d.feed(stream[i : i + 1])]
    assert out == items


@given(st.lists(payloads, min_size=1, max_size=10), st.binary(min_size=1, max_size=600), st.integers(0, 9))
@settings(max_examples=200, deadline=None)
def test_resynchronises_after_garbage(items: list[bytes], garbage: bytes, where: int) -> None:
    """Garbage between frames costs at most the frame it lands in: every later frame is recovered."""
    frames = [frame(p) for p in items]
    k = where % (len(frames) + 1)
    stream = b"".join(frames[:k]) + garbage + b"".join(frames[k:])
    out, _ = _feed_in_chunks(stream, [len(stream) // 3, len(stream) // 2])
    assert out[:k] == items[:k]
    # The garbage merges with the next frame at most: that one may be lost, none after it.
    later = items[k + 1 :]
    assert out[len(out) - len(later) :] == later if later else True
    assert len(out) >= len(items) - 1 - garbage.count(0)


def test_garbage_ending_in_a_delimiter_loses_nothing() -> None:
    packets = [encode(ImuPacket(0, i, 5 * i, 0, SensorConfig(), np.full((5, 6), i, dtype=np.int16))) for i in range(5)]
    stream = b"\x13\x37\xff\x00garbage\x00" + b"".join(frame(p) for p in packets)
    d = Deframer()
    out = d.feed(stream)
    good = decode_packets(out)
    assert good.imu.seq.tolist() == [0, 1, 2, 3, 4]
    assert good.rejected == ()
    assert (d.stats.frames, d.stats.cobs_errors) == (5, 2)  # both garbage runs are invalid COBS, counted and dropped
    # Garbage that happens to be valid COBS reaches the packet decoder, whose CRC rejects it.
    out = Deframer().feed(b"\x03ab\x00" + frame(packets[0]))
    assert len(decode_packets(out).rejected) == 1 and len(decode_packets(out).imu) == 1


def test_frame_cap() -> None:
    biggest = encode(ImuPacket(0, 0, 0, 0, SensorConfig(), np.ones((MAX_IMU_SAMPLES, 6), dtype=np.int16)))
    assert len(frame(biggest)) - 1 <= MAX_FRAME_BYTES
    with pytest.raises(FramingError, match="frame cap"):
        frame(bytes(600))
    with pytest.raises(FramingError, match="empty packet"):
        frame(b"")
    d = Deframer()
    # A run of 2000 non-zero bytes then a good frame: the run is dropped as oversize, never buffered whole.
    out = d.feed(b"\x01" * 2000)
    assert out == [] and d.buffered_bytes == 0
    out = d.feed(b"\x00" + frame(biggest))
    assert out == [biggest] and d.stats.oversize == 1
    assert decode(out[0]).n == MAX_IMU_SAMPLES


def test_unframe_reports_invalid_cobs() -> None:
    assert unframe(cobs.encode(b"\x00abc")) == b"\x00abc"
    with pytest.raises(FramingError, match="not valid COBS"):
        unframe(b"\x05ab")
