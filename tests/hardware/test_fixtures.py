"""The recorded fixtures stand in for hardware: intact (sha256), decodable, and their losses exactly as injected."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hardware.capture import Source, parse_capture
from hardware.framing import Deframer
from hardware.protocol import SyncReply, decode_packets

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MANIFEST: dict[str, Any] = json.loads((FIXTURES / "MANIFEST.json").read_text())["files"]
CAPTURES = sorted(n for n in MANIFEST if n.endswith(".imucap"))


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_fixture_matches_its_manifest(name: str) -> None:
    data = (FIXTURES / name).read_bytes()
    assert len(data) == MANIFEST[name]["bytes"]
    assert hashlib.sha256(data).hexdigest() == MANIFEST[name]["sha256"]
    assert MANIFEST[name]["what"]


@pytest.mark.parametrize("name", CAPTURES)
def test_capture_losses_are_exactly_the_injected_ones(name: str) -> None:
    cap = parse_capture((FIXTURES / name).read_bytes())
    assert cap.torn_tail_bytes == 0
    decoded = cap.decode()
    injected = MANIFEST[name]["injected"]
    assert len(decoded.rejected) == sum(v["lost_by_reason"].get("bit_error", 0) for v in injected.values())
    for placement, info in injected.items():
        assert cap.header.placement_of(info["sensor_id"]) == placement
        own = decoded.imu.take(decoded.imu.sensor_id == info["sensor_id"])
        idx = np.unique(own.sample_idx)  # duplicates collapse
        n = int(own.n[0])
        covered = int(idx[-1] + n - idx[0])
        # Every sample between the first and last received packet arrived, was lost on the link (logged), or was
        # not streamed because the device had stopped (disconnect until the next START, logged).
        assert covered - idx.size * n == info["samples_lost"] + info["samples_not_streamed"]
        replies = [p for _, p in decoded.others if isinstance(p, SyncReply) and p.sensor_id == info["sensor_id"]]
        assert replies, "sync replies recorded"
    assert (cap.source == Source.HOST_COMMAND).sum() > 0


def test_dropout_fixture_keeps_counting_across_the_disconnect() -> None:
    cap = parse_capture((FIXTURES / "dropouts_reconnect.imucap").read_bytes())
    imu = cap.decode().imu
    pelvis = imu.take(imu.sensor_id == 0)
    t_s = (cap.t_host_ns[pelvis.position] - cap.t_host_ns[0]) / 1e9
    k = pelvis.sample_idx
    jump = np.argmax(np.diff(k))
    assert 14.0 < t_s[jump + 1] < 18.0
    assert np.diff(k)[jump] > 200  # > 2 s at 100 Hz: the disconnect plus the restart delay


def test_serial_garbage_stream_recovers_every_intact_frame() -> None:
    data = (FIXTURES / "serial_garbage.bin").read_bytes()
    info = MANIFEST["serial_garbage.bin"]["injected"]
    for chunk in (1, 7, 64, len(data)):
        deframer = Deframer()
        frames = [f for i in range(0, len(data), chunk) for f in deframer.feed(data[i : i + chunk])]
        got = decode_packets(frames)
        assert len(got.imu) + len(got.others) == info["frames_intact"]
        assert deframer.stats.errors + len(got.rejected) >= info["frames_corrupted"]
