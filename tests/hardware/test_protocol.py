"""Packet codec (PROTOCOL.md §1): property-based round trips, CRC, rejects, and vectorized == one-by-one."""

from __future__ import annotations

import binascii

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware.errors import PacketError
from hardware.protocol import (
    ACC_RANGES_G,
    GYR_RANGES_DPS,
    MAX_IMU_SAMPLES,
    OUTPUT_RATES_HZ,
    Command,
    ImuPacket,
    Marker,
    MarkerKind,
    SensorConfig,
    Status,
    SyncReply,
    crc16,
    crc16_rows,
    decode,
    decode_command,
    decode_packets,
    encode,
    encode_command,
)

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFF_FFFF)
configs = st.builds(
    SensorConfig, st.sampled_from(OUTPUT_RATES_HZ), st.sampled_from(ACC_RANGES_G), st.sampled_from(GYR_RANGES_DPS)
)


@st.composite
def imu_packets(draw: st.DrawFn) -> ImuPacket:
    n = draw(st.integers(1, MAX_IMU_SAMPLES))
    counts = draw(st.lists(st.integers(-32768, 32767), min_size=6 * n, max_size=6 * n))
    return ImuPacket(draw(u8), draw(u16), draw(u32), draw(u32), draw(configs), np.array(counts).reshape(n, 6))


packets = st.one_of(
    imu_packets(),
    st.builds(SyncReply, u8, u16, u32, u32, configs, u32, u32, u32),
    st.builds(
        Status,
        u8,
        u16,
        u32,
        u32,
        configs,
        st.integers(0, 100),
        u8,
        u16,
        st.tuples(u8, u8, u8),
        u32,
        st.integers(-32768, 32767),
    ),
    st.builds(Marker, u8, u16, u32, u32, configs, st.sampled_from(MarkerKind), u8),
)


def test_crc_check_value() -> None:
    assert crc16(b"123456789") == 0x29B1
    rows = np.frombuffer(b"123456789\x00" * 3, dtype=np.uint8).reshape(3, 10)
    # The table-driven word CRC agrees with binascii on even-length rows.
    assert list(crc16_rows(rows)) == [binascii.crc_hqx(b"123456789\x00", 0xFFFF)] * 3


def test_cfg_byte_matches_the_spec() -> None:
    cfg = SensorConfig(200.0, 16, 2000).cfg
    assert cfg & 0x07 == 3 and (cfg >> 3) & 0x03 == 3 and cfg >> 5 == 4
    assert SensorConfig.from_cfg(cfg) == SensorConfig(200.0, 16, 2000)
    assert SensorConfig(100.0, 16, 2000).acc_mps2_per_count == pytest.approx(0.488e-3 * 9.80665, rel=1e-3)
    assert SensorConfig(100.0, 16, 2000).gyr_dps_per_count == pytest.approx(0.061, rel=1e-3)
    with pytest.raises(PacketError, match="rate code 6 is reserved"):
        SensorConfig.from_cfg(0x06)
    with pytest.raises(PacketError, match="rate_hz: expected one of"):
        SensorConfig(rate_hz=120.0)


def test_counts_saturate_and_round() -> None:
    cfg = SensorConfig(100.0, 2, 125)
    counts = cfg.to_counts([[100.0, -100.0, 0.4 * cfg.acc_mps2_per_count]], [[1e4, -1e4, np.nan]])
    assert counts.tolist() == [[32767, -32768, 0, 32767, -32768, 0]]


@given(packets)
@settings(max_examples=300, deadline=None)
def test_decode_encode_round_trip(packet: ImuPacket | SyncReply | Status | Marker) -> None:
    data = encode(packet)
    assert decode(data) == packet
    assert encode(decode(data)) == data


@given(imu_packets(), st.data())
@settings(max_examples=100, deadline=None)
def test_every_single_bit_flip_is_rejected(packet: ImuPacket, data: st.DataObject) -> None:
    raw = bytearray(encode(packet))
    bit = data.draw(st.integers(0, 8 * len(raw) - 1))
    raw[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(PacketError):
        decode(bytes(raw))


def test_all_single_bit_flips_of_one_packet_fail_the_crc() -> None:
    raw = np.frombuffer(encode(ImuPacket(1, 7, 1000, 123456, SensorConfig(), np.arange(30).reshape(5, 6))), np.uint8)
    flips = np.repeat(raw[None, :], 8 * raw.size, axis=0)
    bits = np.arange(8 * raw.size)
    flips[bits, bits // 8] ^= (1 << (bits % 8)).astype(np.uint8)
    got = decode_packets([row.tobytes() for row in flips])
    assert len(got.imu) == 0 and len(got.others) == 0
    assert len(got.rejected) == flips.shape[0]


@given(packets, st.integers(1, 15), st.binary(min_size=1, max_size=8))
@settings(max_examples=200, deadline=None)
def test_truncation_and_extra_bytes_are_rejected(packet: ImuPacket, cut: int, extra: bytes) -> None:
    data = encode(packet)
    with pytest.raises(PacketError):
        decode(data[: max(0, len(data) - cut)])
    with pytest.raises(PacketError):
        decode(data + extra)


def test_error_messages_name_the_problem() -> None:
    good = encode(ImuPacket(0, 1, 2, 3, SensorConfig(), np.zeros((5, 6), dtype=np.int16)))
    with pytest.raises(PacketError, match="expected int16 values, got dtype float64"):
        ImuPacket(0, 1, 2, 3, SensorConfig(), np.zeros((5, 6)))
    with pytest.raises(PacketError, match="CRC mismatch"):
        decode(good[:-1] + bytes([good[-1] ^ 0xFF]))
    with pytest.raises(PacketError, match="at least 16 bytes"):
        decode(good[:10])
    bad_type = bytearray(good)
    bad_type[0] = 0x42
    bad_type[-2:] = crc16(bytes(bad_type[:-2])).to_bytes(2, "little")
    with pytest.raises(PacketError, match="unknown ver_type 0x42"):
        decode(bytes(bad_type))


@given(st.lists(packets, max_size=30), st.data())
@settings(max_examples=100, deadline=None)
def test_vectorized_decode_equals_one_by_one(items: list[ImuPacket], data: st.DataObject) -> None:
    raw = [encode(p) for p in items]
    # Corrupt some packets: they must be rejected at their positions and the rest decoded in order.
    corrupt = data.draw(st.sets(st.integers(0, max(0, len(raw) - 1)), max_size=len(raw) // 3)) if raw else set()
    for i in corrupt:
        b = bytearray(raw[i])
        b[len(b) // 2] ^= 0x10
        raw[i] = bytes(b)
    got = decode_packets(raw)
    assert [r.position for r in got.rejected] == sorted(corrupt)
    imu_expected = [(i, p) for i, p in enumerate(items) if i not in corrupt and isinstance(p, ImuPacket)]
    assert got.imu.position.tolist() == [i for i, _ in imu_expected]
    assert got.imu.packets() == [p for _, p in imu_expected]
    assert [(i, p) for i, p in got.others] == [
        (i, p) for i, p in enumerate(items) if i not in corrupt and not isinstance(p, ImuPacket)
    ]
    acc, gyr = got.imu.physical()
    for k, (_, p) in enumerate(imu_expected):
        rows = slice(int(got.imu.first[k]), int(got.imu.first[k] + got.imu.n[k]))
        want_acc, want_gyr = p.config.from_counts(p.counts)
        np.testing.assert_allclose(acc[rows], want_acc)
        np.testing.assert_allclose(gyr[rows], want_gyr)


def test_batch_take_keeps_samples_with_their_packets() -> None:
    items = [ImuPacket(i % 3, i, 10 * i, 0, SensorConfig(), np.full((1 + i % 4, 6), i)) for i in range(12)]
    batch = decode_packets([encode(p) for p in items]).imu
    sub = batch.take(batch.sensor_id == 1)
    assert sub.packets() == [p for p in items if p.sensor_id == 1]
    assert batch.packet_of_sample().tolist() == np.repeat(np.arange(12), [1 + i % 4 for i in range(12)]).tolist()


def test_batch_take_of_packets_of_one_size_equals_the_general_path() -> None:
    items = [ImuPacket(i % 3, i, 10 * i, 0, SensorConfig(), np.full((4, 6), i)) for i in range(12)]
    batch = decode_packets([encode(p) for p in items]).imu
    for index in (batch.sensor_id == 2, [5, 0, 5, 11], np.zeros(12, dtype=bool)):
        sub = batch.take(index)
        assert sub.packets() == [items[int(i)] for i in np.arange(12)[np.asarray(index)]]
        assert sub.counts.shape == (4 * len(sub), 6) and sub.counts.dtype == np.int16


@given(u32)
def test_commands_round_trip(token: int) -> None:
    assert encode_command(Command.START) == b"\x01"
    assert encode_command(Command.STOP) == b"\x02"
    raw = encode_command(Command.SYNC, token)
    assert raw[0] == 0x21 and len(raw) == 5
    assert decode_command(raw).token == token
    with pytest.raises(PacketError, match="SYNC command: expected 5 bytes"):
        decode_command(raw[:3])
    with pytest.raises(PacketError, match="unknown command byte 0x7f"):
        decode_command(b"\x7f")


def test_protocol_md_example_is_true() -> None:
    """The worked example in hardware/PROTOCOL.md is what the codec writes."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "hardware" / "PROTOCOL.md").read_text()
    example = "11 00 07 00 e8 03 00 00 40 e2 01 00 01 9a 01 00 02 00 03 00 04 00 05 00 06 00"
    assert example in text
    packet = encode(ImuPacket(0, 7, 1000, 123456, SensorConfig(100.0, 16, 2000), np.arange(1, 7).reshape(1, 6)))
    assert packet[:-2] == bytes.fromhex(example)


@pytest.mark.parametrize("n", [0, 42])
def test_n_out_of_range_is_rejected_by_both_decoders(n: int) -> None:
    """A packet whose length matches n but n is 0 or above the frame limit is refused one by one and in bulk."""
    import struct

    body = struct.pack("<BBHIIBB", 0x11, 0, 1, 2, 3, n, SensorConfig().cfg) + bytes(12 * n)
    raw = body + crc16(body).to_bytes(2, "little")
    with pytest.raises(PacketError, match=f"n is {n}"):
        decode(raw)
    got = decode_packets([raw])
    assert len(got.imu) == 0 and len(got.rejected) == 1
