"""Fuzzing the serial path: 10^5 mutated frames through the deframer, the decoder and reassembly, nothing crashes.

Frames of real packets (a recorded fixture) are mutated the ways a serial line damages them: flipped bits, bytes
dropped or inserted, frames cut short, runs of garbage, zero bytes in the middle. Every frame that arrives intact
must come out; every damaged one must be counted and skipped; the stream must resynchronise at the next delimiter.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_bridge.stream import SensorStream
from hardware.capture import Source, parse_capture
from hardware.framing import Deframer, frame
from hardware.protocol import decode_packets

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
N_FRAMES = 100_000


def _packets() -> list[bytes]:
    cap = parse_capture((FIXTURES / "dropouts_reconnect.imucap").read_bytes())
    keep = np.flatnonzero(cap.source != Source.HOST_COMMAND)
    return [cap.packet(int(i)) for i in keep]


def _mutate(rng: np.random.Generator, data: bytes) -> bytes:
    b = bytearray(data)
    kind = rng.integers(0, 6)
    if kind == 0:  # bit flips
        for _ in range(int(rng.integers(1, 4))):
            k = int(rng.integers(0, len(b) * 8))
            b[k // 8] ^= 1 << (k % 8)
    elif kind == 1:  # cut short
        del b[int(rng.integers(0, len(b))) :]
    elif kind == 2:  # bytes dropped
        k = int(rng.integers(0, len(b)))
        del b[k : k + int(rng.integers(1, 5))]
    elif kind == 3:  # bytes inserted
        k = int(rng.integers(0, len(b) + 1))
        b[k:k] = rng.integers(0, 256, int(rng.integers(1, 8))).astype(np.uint8).tobytes()
    elif kind == 4:  # a zero byte in the middle splits the frame
        b.insert(int(rng.integers(0, len(b) + 1)), 0)
    else:  # a long run of line noise
        b += rng.integers(0, 256, int(rng.integers(100, 700))).astype(np.uint8).tobytes()
    return bytes(b)


def test_a_hundred_thousand_mutated_frames_are_survived_and_counted() -> None:
    rng = np.random.default_rng(2026)
    packets = _packets()
    pick = rng.integers(0, len(packets), N_FRAMES)
    damaged = rng.random(N_FRAMES) < 0.3
    stream = bytearray()
    intact: list[bytes] = []
    for i, bad in zip(pick.tolist(), damaged.tolist(), strict=True):
        f = frame(packets[i])
        if bad:
            stream += _mutate(rng, f)
        else:
            stream += f
            intact.append(packets[i])
    deframer = Deframer()
    out: list[bytes] = []
    pos = 0
    view = memoryview(bytes(stream))
    while pos < len(view):  # random read sizes, as a serial driver returns them
        n = int(rng.integers(1, 4096))
        out += deframer.feed(view[pos : pos + n])
        pos += n
    decoded = decode_packets(out)
    valid = [out[i] for i in decoded.imu.position.tolist()] + [out[i] for i, _ in decoded.others]
    # Every intact frame comes through, except that a damaged frame that lost its delimiter swallows the one after.
    at_risk = int(np.count_nonzero(~damaged[1:] & damaged[:-1]))
    assert len(intact) - at_risk <= len(valid) <= len(intact)
    known = set(packets)
    assert all(v in known for v in valid)  # a CRC-valid packet is never a corrupted one
    stats = deframer.stats
    assert stats.frames == len(out) and stats.cobs_errors + stats.oversize > 0.05 * damaged.sum()
    assert len(decoded.rejected) > 0
    # The survivors go through reassembly without complaint (each sensor its own stream).
    for sid in np.unique(decoded.imu.sensor_id):
        mine = decoded.imu.take(decoded.imu.sensor_id == sid)
        s = SensorStream(int(sid), f"sensor{sid}")
        s.add_imu(mine, np.arange(len(mine), dtype=np.float64) * 5e4)
        assert s.health().packets == len(mine)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000), st.lists(st.integers(1, 64), min_size=1, max_size=40))
def test_arbitrary_bytes_never_crash_the_serial_path(data: bytes, sizes: list[int]) -> None:
    deframer = Deframer()
    out: list[bytes] = []
    pos, k = 0, 0
    while pos < len(data):
        n = sizes[k % len(sizes)]
        out += deframer.feed(data[pos : pos + n])
        pos, k = pos + n, k + 1
    decoded = decode_packets(out)
    assert len(decoded.imu) + len(decoded.others) + len(decoded.rejected) == len(out)
