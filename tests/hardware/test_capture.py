"""Capture files (PROTOCOL.md §5): round trip, vectorized parsing == record by record, torn tails, bad headers."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware.capture import (
    MAGIC,
    CaptureHeader,
    CaptureSensor,
    Source,
    encode_header,
    encode_record,
    parse_capture,
)
from hardware.errors import CaptureError
from hardware.protocol import Command, ImuPacket, SensorConfig, Status, SyncReply, encode, encode_command

HEADER = CaptureHeader(
    sensors=(CaptureSensor(0, "pelvis"), CaptureSensor(1, "left_thigh"), CaptureSensor(2, "right_thigh")),
    session_id="s1",
    clock_pairs=((1_700_000_000_000_000_000, 5_000),),
)


def _packet(kind: int, i: int) -> tuple[int, bytes]:
    sensor = i % 3
    if kind == 0:
        return sensor, encode(
            ImuPacket(sensor, i, 5 * i, 50_000 * i, SensorConfig(), np.full((5, 6), i, dtype=np.int16))
        )
    if kind == 1:
        return sensor, encode(
            ImuPacket(sensor, i, 10 * i, 0, SensorConfig(200.0), np.full((10, 6), -i, dtype=np.int16))
        )
    if kind == 2:
        return sensor, encode(Status(sensor, i, 0, 0))
    if kind == 3:
        return sensor, encode(SyncReply(sensor, i, 0, 0, token=i))
    if kind == 4:
        return sensor, encode_command(Command.SYNC, i)
    return sensor, b"\x11\x00garbage"


@given(st.lists(st.integers(0, 5), max_size=300), st.integers(0, 40))
@settings(max_examples=60, deadline=None)
def test_parse_equals_record_by_record(kinds: list[int], cut: int) -> None:
    records = []
    for i, kind in enumerate(kinds):
        sensor, pkt = _packet(kind, i)
        source = Source.HOST_COMMAND if kind == 4 else Source.SERIAL
        records.append((1000 * i, source, sensor, pkt))
    data = encode_header(HEADER) + b"".join(encode_record(*r) for r in records)
    if records:
        cut %= 12 + len(records[-1][3])  # cut inside the last record only
        data = data[: len(data) - cut]
    else:
        cut = 0
    cap = parse_capture(data)
    whole = len(cap)
    assert cap.header == HEADER
    assert whole in (len(records), len(records) - 1)
    assert cap.torn_tail_bytes == (0 if whole == len(records) else 12 + len(records[-1][3]) - cut)
    for i in range(whole):
        assert (cap.t_host_ns[i], cap.source[i], cap.sensor_id[i]) == records[i][:3]
        assert cap.packet(i) == records[i][3]
    decoded = cap.decode()
    imu_expected = [i for i in range(whole) if kinds[i] in (0, 1)]
    assert decoded.imu.position.tolist() == imu_expected
    assert [p for p, _ in decoded.others] == [i for i in range(whole) if kinds[i] in (2, 3)]
    assert [r.position for r in decoded.rejected] == [i for i in range(whole) if kinds[i] == 5]
    for k, i in enumerate(imu_expected):
        rows = decoded.imu.counts[decoded.imu.first[k] : decoded.imu.first[k] + decoded.imu.n[k]]
        assert np.all(rows == (i if kinds[i] == 0 else -i))


def test_empty_capture_and_header_round_trip() -> None:
    cap = parse_capture(encode_header(HEADER))
    assert len(cap) == 0 and cap.torn_tail_bytes == 0 and len(cap.decode().imu) == 0
    assert cap.header.placement_of(2) == "right_thigh"
    with pytest.raises(CaptureError, match="sensor_id 7: not listed"):
        cap.header.placement_of(7)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"IMUCAP2\n" + bytes(8), "expected magic"),
        (MAGIC + b"\x01", "cut short inside the header length"),
        (MAGIC + struct.pack("<I", 50) + b"{}", "expected 50 bytes"),
        (MAGIC + struct.pack("<I", 3) + b"{x}", "not UTF-8 JSON"),
        (MAGIC + struct.pack("<I", 2) + b"[]", "expected a JSON object"),
        (MAGIC + struct.pack("<I", 2) + b"{}", "format_version: expected 1"),
    ],
)
def test_bad_files_say_what_is_wrong(data: bytes, message: str) -> None:
    with pytest.raises(CaptureError, match=message):
        parse_capture(data)


def test_header_validation_names_the_key() -> None:
    bad = json.dumps({"format_version": 1, "sensors": [{"id": 0, "placement": "pelvis"}, {"id": 0, "placement": "x"}]})
    with pytest.raises(CaptureError, match="unique ids"):
        parse_capture(MAGIC + struct.pack("<I", len(bad)) + bad.encode())
    bad = json.dumps({"format_version": 1, "sensors": [{"placement": "pelvis"}]})
    with pytest.raises(CaptureError, match=r"sensors\[0\]: expected an object with an integer id"):
        parse_capture(MAGIC + struct.pack("<I", len(bad)) + bad.encode())
    extra = CaptureHeader(sensors=HEADER.sensors, extra={"walker": {"preset": "healthy"}})
    assert parse_capture(encode_header(extra)).header.extra == {"walker": {"preset": "healthy"}}


def test_record_limits() -> None:
    with pytest.raises(CaptureError, match=r"sensor_id: expected 0\.\.255"):
        encode_record(0, Source.BLE, 300, b"x")
    with pytest.raises(CaptureError, match="fewer than 65536 bytes"):
        encode_record(0, Source.BLE, 0, bytes(70_000))
