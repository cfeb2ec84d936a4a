"""The sensor wire protocol v1 (``hardware/PROTOCOL.md`` §1): packet layout, encode and decode as pure functions.

One byte layout travels everywhere: in a BLE notification, inside a serial frame, in a capture file and in a relay
upload. Every packet starts with the same 14-byte little-endian header and ends with a CRC-16/CCITT-FALSE over
everything before it:

======  ====  ==================================================================================================
offset  size  field
======  ====  ==================================================================================================
0       1     ``ver_type``: 0x11 IMU6 batch, 0x12 sync reply, 0x13 status, 0x14 marker
1       1     ``sensor_id``: 0 pelvis, 1 left thigh, 2 right thigh
2       2     ``seq`` u16: per-link packet counter over all types (wraps)
4       4     ``sample_idx`` u32: index of the first sample since power-up (not reset on reconnect)
8       4     ``t_us`` u32: device microsecond clock at the first sample (wraps every 71.6 min)
12      1     ``n``: samples in an IMU6 packet; payload bytes in the other types
13      1     ``cfg``: bits 0-2 output-rate code, bits 3-4 accelerometer range, bits 5-7 gyro range
14      ...   payload: IMU6 ``ax ay az gx gy gz`` int16 counts sample after sample; see the other types below
end-2   2     CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) over all bytes before it
======  ====  ==================================================================================================

Decoding one packet (:func:`decode`) is for the rare types and tests; decoding many at once
(:func:`decode_packets`, :func:`decode_rows`) is vectorized over packets: the header and samples are read through one
structured dtype with :func:`numpy.frombuffer`, and the CRC is computed for all packets together, sixteen bits per
step through a 65 536-entry table, so no Python code runs per sample or per byte.
"""

from __future__ import annotations

import binascii
import enum
import functools
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, TypeAlias

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gait.frames import GRAVITY_MPS2
from hardware.errors import PacketError

__all__ = [
    "ACC_RANGES_G",
    "CRC_SIZE",
    "GYR_RANGES_DPS",
    "HEADER_DTYPE",
    "HEADER_SIZE",
    "MAX_IMU_SAMPLES",
    "OUTPUT_RATES_HZ",
    "Command",
    "DecodedPackets",
    "HostCommand",
    "ImuBatch",
    "ImuPacket",
    "Marker",
    "MarkerKind",
    "Packet",
    "PacketType",
    "Rejection",
    "SensorConfig",
    "Status",
    "StatusFlag",
    "SyncReply",
    "crc16",
    "crc16_rows",
    "decode",
    "decode_command",
    "decode_packets",
    "decode_rows",
    "encode",
    "encode_command",
    "encode_imu_rows",
    "imu_packet_dtype",
    "imu_packet_size",
]

FloatArray: TypeAlias = NDArray[np.float64]
IntArray: TypeAlias = NDArray[np.int64]
Int16Array: TypeAlias = NDArray[np.int16]

#: Bytes before the payload, the same for every packet type.
HEADER_SIZE: Final = 14
#: Bytes of the trailing CRC.
CRC_SIZE: Final = 2
#: The most samples one IMU6 packet may carry: the COBS-encoded packet must fit the 512-byte serial frame cap
#: (PROTOCOL.md §2): 14 + 12·41 + 2 = 508 bytes, 510 after COBS.
MAX_IMU_SAMPLES: Final = 41
#: Output rate per ``cfg`` rate code (bits 0-2); codes 6 and 7 are reserved.
OUTPUT_RATES_HZ: Final = (25.0, 50.0, 100.0, 200.0, 400.0, 800.0)
#: Accelerometer full scale per ``cfg`` range code (bits 3-4), in g.
ACC_RANGES_G: Final = (2, 4, 8, 16)
#: Gyroscope full scale per ``cfg`` range code (bits 5-7), in deg/s; codes 5-7 are reserved.
GYR_RANGES_DPS: Final = (125, 250, 500, 1000, 2000)

#: The common header, little-endian, 14 bytes.
HEADER_DTYPE: Final = np.dtype(
    [
        ("ver_type", "u1"),
        ("sensor_id", "u1"),
        ("seq", "<u2"),
        ("sample_idx", "<u4"),
        ("t_us", "<u4"),
        ("n", "u1"),
        ("cfg", "u1"),
    ]
)
_HEADER = struct.Struct("<BBHIIBB")
_CRC = struct.Struct("<H")
_CRC_INIT: Final = 0xFFFF


class PacketType(enum.IntEnum):
    """``ver_type``: protocol version 1 (high nibble) and packet type (low nibble)."""

    IMU6 = 0x11
    SYNC_REPLY = 0x12
    STATUS = 0x13
    MARKER = 0x14


class Command(enum.IntEnum):
    """First byte of a host → device write."""

    START = 0x01
    STOP = 0x02
    SYNC = 0x21


class StatusFlag(enum.IntFlag):
    """Bits of a status packet's ``flags``."""

    CHARGING = 0x01
    IMU_ERROR = 0x02
    BUFFER_OVERFLOW = 0x04


class MarkerKind(enum.IntEnum):
    """What a marker packet marks."""

    BUTTON = 1
    STOMP = 2
    HOST = 3


# --------------------------------------------------------------------------------------------------- configuration
@dataclass(frozen=True, slots=True)
class SensorConfig:
    """Output rate and full-scale ranges, as carried in every packet's ``cfg`` byte.

    The scale of the raw counts comes from here, never from a guess (PROTOCOL.md §1): one count is
    ``acc_range_g / 32768`` g and ``gyr_range_dps / 32768`` deg/s.

    Parameters
    ----------
    rate_hz : float
        One of :data:`OUTPUT_RATES_HZ`.
    acc_range_g : int
        One of :data:`ACC_RANGES_G`.
    gyr_range_dps : int
        One of :data:`GYR_RANGES_DPS`.
    """

    rate_hz: float = 100.0
    acc_range_g: int = 16
    gyr_range_dps: int = 2000

    def __post_init__(self) -> None:
        for name, value, allowed in (
            ("rate_hz", self.rate_hz, OUTPUT_RATES_HZ),
            ("acc_range_g", self.acc_range_g, ACC_RANGES_G),
            ("gyr_range_dps", self.gyr_range_dps, GYR_RANGES_DPS),
        ):
            if value not in allowed:
                raise PacketError(f"{name}: expected one of {allowed}, got {value!r}")

    @property
    def cfg(self) -> int:
        """The ``cfg`` byte."""
        return (
            OUTPUT_RATES_HZ.index(self.rate_hz)
            | ACC_RANGES_G.index(self.acc_range_g) << 3
            | GYR_RANGES_DPS.index(self.gyr_range_dps) << 5
        )

    @classmethod
    @functools.cache
    def from_cfg(cls, cfg: int) -> SensorConfig:
        """Read a ``cfg`` byte; reserved codes raise :class:`PacketError`."""
        rate_code, acc_code, gyr_code = cfg & 0x07, (cfg >> 3) & 0x03, (cfg >> 5) & 0x07
        if rate_code >= len(OUTPUT_RATES_HZ):
            raise PacketError(f"cfg 0x{cfg:02x}: rate code {rate_code} is reserved")
        if gyr_code >= len(GYR_RANGES_DPS):
            raise PacketError(f"cfg 0x{cfg:02x}: gyro range code {gyr_code} is reserved")
        return cls(OUTPUT_RATES_HZ[rate_code], ACC_RANGES_G[acc_code], GYR_RANGES_DPS[gyr_code])

    @property
    def acc_mps2_per_count(self) -> float:
        """Accelerometer scale, in m/s² per count."""
        return self.acc_range_g * GRAVITY_MPS2 / 32768.0

    @property
    def gyr_dps_per_count(self) -> float:
        """Gyroscope scale, in deg/s per count."""
        return self.gyr_range_dps / 32768.0

    def to_counts(self, acc_mps2: ArrayLike, gyr_dps: ArrayLike) -> Int16Array:
        """Quantize physical samples as the IMU would: round to the nearest count and saturate at full scale.

        Parameters
        ----------
        acc_mps2, gyr_dps : array_like, shape (..., n_samples, 3)

        Returns
        -------
        ndarray of int16, shape (..., n_samples, 6)
            ``ax ay az gx gy gz`` counts. NaN becomes 0 (the caller marks such samples as lost).
        """
        acc = np.asarray(acc_mps2, dtype=np.float64) / self.acc_mps2_per_count
        gyr = np.asarray(gyr_dps, dtype=np.float64) / self.gyr_dps_per_count
        both = np.nan_to_num(np.concatenate([acc, gyr], axis=-1), nan=0.0)
        counts: Int16Array = np.clip(np.rint(both), -32768, 32767).astype(np.int16)
        return counts

    def from_counts(self, counts: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Counts ``(..., n_samples, 6)`` → ``(acc_mps2, gyr_dps)``, each ``(..., n_samples, 3)``."""
        c = np.asarray(counts, dtype=np.float64)
        return c[..., :3] * self.acc_mps2_per_count, c[..., 3:] * self.gyr_dps_per_count


def _scales_per_cfg() -> tuple[FloatArray, FloatArray, NDArray[np.bool_]]:
    """Lookup tables over all 256 cfg values: acc scale, gyro scale, and whether the byte is valid."""
    acc = np.full(256, np.nan)
    gyr = np.full(256, np.nan)
    ok = np.zeros(256, dtype=bool)
    for cfg in range(256):
        try:
            c = SensorConfig.from_cfg(cfg)
        except PacketError:
            continue
        acc[cfg], gyr[cfg], ok[cfg] = c.acc_mps2_per_count, c.gyr_dps_per_count, True
    return acc, gyr, ok


_ACC_SCALE, _GYR_SCALE, _CFG_OK = _scales_per_cfg()


# --------------------------------------------------------------------------------------------------------- packets
def _check_u(name: str, value: int, bits: int) -> None:
    if not 0 <= value < (1 << bits):
        raise PacketError(f"{name}: expected an unsigned {bits}-bit integer, got {value!r}")


@dataclass(frozen=True, slots=True)
class _Header:
    sensor_id: int
    seq: int
    sample_idx: int
    t_us: int

    def _check_header(self) -> None:
        _check_u("sensor_id", self.sensor_id, 8)
        _check_u("seq", self.seq, 16)
        _check_u("sample_idx", self.sample_idx, 32)
        _check_u("t_us", self.t_us, 32)


@dataclass(frozen=True, slots=True, eq=False)
class ImuPacket(_Header):
    """A batch of ``n`` consecutive IMU samples (type 0x11).

    Attributes
    ----------
    config : SensorConfig
        Rate and ranges in force for these samples.
    counts : ndarray of int16, shape (n, 6), read-only
        ``ax ay az gx gy gz`` raw counts, sample after sample.
    """

    config: SensorConfig = SensorConfig()
    counts: Int16Array = field(default_factory=lambda: np.zeros((1, 6), dtype=np.int16))

    def __post_init__(self) -> None:
        self._check_header()
        counts = np.array(self.counts, copy=True)
        if counts.ndim != 2 or counts.shape[1] != 6 or not 1 <= counts.shape[0] <= MAX_IMU_SAMPLES:
            raise PacketError(f"counts: expected shape (n, 6) with 1 <= n <= {MAX_IMU_SAMPLES}, got {counts.shape}")
        if counts.dtype != np.int16:
            if not np.issubdtype(counts.dtype, np.integer) or counts.min() < -32768 or counts.max() > 32767:
                raise PacketError(f"counts: expected int16 values, got dtype {counts.dtype}")
            counts = counts.astype(np.int16)
        counts.setflags(write=False)
        object.__setattr__(self, "counts", counts)

    @property
    def n(self) -> int:
        """Samples in the packet."""
        return int(self.counts.shape[0])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ImuPacket):
            return NotImplemented
        return (
            (self.sensor_id, self.seq, self.sample_idx, self.t_us, self.config)
            == (other.sensor_id, other.seq, other.sample_idx, other.t_us, other.config)
        ) and bool(np.array_equal(self.counts, other.counts))

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class SyncReply(_Header):
    """Answer to a SYNC command (type 0x12): payload ``token u32, t_rx_us u32, t_tx_us u32``.

    ``t_rx_us`` is the device clock when the command arrived, ``t_tx_us`` when the reply left. The header's
    ``sample_idx`` is the index of the next sample to be taken and its ``t_us`` equals ``t_tx_us``.
    """

    config: SensorConfig = SensorConfig()
    token: int = 0
    t_rx_us: int = 0
    t_tx_us: int = 0

    def __post_init__(self) -> None:
        self._check_header()
        for name in ("token", "t_rx_us", "t_tx_us"):
            _check_u(name, getattr(self, name), 32)


@dataclass(frozen=True, slots=True)
class Status(_Header):
    """Device status (type 0x13), sent after START and every few seconds while streaming.

    Payload (14 bytes): ``battery_pct u8, flags u8, battery_mv u16, fw_major u8, fw_minor u8, fw_patch u8,
    reserved u8, overflow_samples u32, temperature_cdeg i16``. The ranges and rate are in the header's ``cfg``.

    Attributes
    ----------
    flags : int
        :class:`StatusFlag` bits: charging, IMU error, the sample buffer overflowed since the last status.
    overflow_samples : int
        Samples the device had to drop since power-up because its buffer was full (a known loss: the bridge
        sees it as a gap of exactly this many samples).
    temperature_cdeg : int
        Die temperature in 0.01 °C.
    """

    config: SensorConfig = SensorConfig()
    battery_pct: int = 100
    flags: int = 0
    battery_mv: int = 4000
    firmware: tuple[int, int, int] = (1, 0, 0)
    overflow_samples: int = 0
    temperature_cdeg: int = 2500

    def __post_init__(self) -> None:
        self._check_header()
        if not 0 <= self.battery_pct <= 100:
            raise PacketError(f"battery_pct: expected 0..100, got {self.battery_pct!r}")
        _check_u("flags", self.flags, 8)
        _check_u("battery_mv", self.battery_mv, 16)
        if len(self.firmware) != 3:
            raise PacketError(f"firmware: expected (major, minor, patch), got {self.firmware!r}")
        for part in self.firmware:
            _check_u("firmware", part, 8)
        _check_u("overflow_samples", self.overflow_samples, 32)
        if not -32768 <= self.temperature_cdeg <= 32767:
            raise PacketError(f"temperature_cdeg: expected a signed 16-bit integer, got {self.temperature_cdeg!r}")


@dataclass(frozen=True, slots=True)
class Marker(_Header):
    """An event marker (type 0x14) at ``sample_idx``: payload ``kind u8, value u8``."""

    config: SensorConfig = SensorConfig()
    kind: MarkerKind = MarkerKind.BUTTON
    value: int = 0

    def __post_init__(self) -> None:
        self._check_header()
        object.__setattr__(self, "kind", MarkerKind(self.kind))
        _check_u("value", self.value, 8)


Packet: TypeAlias = ImuPacket | SyncReply | Status | Marker

_SYNC_PAYLOAD = struct.Struct("<III")
_STATUS_PAYLOAD = struct.Struct("<BBHBBBBIh")
_MARKER_PAYLOAD = struct.Struct("<BB")
_PAYLOAD_SIZE: Final = {
    PacketType.SYNC_REPLY: _SYNC_PAYLOAD.size,
    PacketType.STATUS: _STATUS_PAYLOAD.size,
    PacketType.MARKER: _MARKER_PAYLOAD.size,
}


def crc16(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor); ``crc16(b"123456789") == 0x29B1``."""
    return binascii.crc_hqx(data, _CRC_INIT)


def _with_crc(body: bytes) -> bytes:
    return body + _CRC.pack(crc16(body))


def imu_packet_size(n: int) -> int:
    """Bytes of an IMU6 packet with ``n`` samples."""
    return HEADER_SIZE + 12 * n + CRC_SIZE


def encode(packet: Packet) -> bytes:
    """The bytes of one packet, CRC included."""
    if isinstance(packet, ImuPacket):
        header = _HEADER.pack(
            PacketType.IMU6, packet.sensor_id, packet.seq, packet.sample_idx, packet.t_us, packet.n, packet.config.cfg
        )
        return _with_crc(header + packet.counts.astype("<i2", copy=False).tobytes())
    if isinstance(packet, SyncReply):
        kind, payload = PacketType.SYNC_REPLY, _SYNC_PAYLOAD.pack(packet.token, packet.t_rx_us, packet.t_tx_us)
    elif isinstance(packet, Status):
        kind = PacketType.STATUS
        payload = _STATUS_PAYLOAD.pack(
            packet.battery_pct,
            packet.flags,
            packet.battery_mv,
            *packet.firmware,
            0,
            packet.overflow_samples,
            packet.temperature_cdeg,
        )
    elif isinstance(packet, Marker):
        kind, payload = PacketType.MARKER, _MARKER_PAYLOAD.pack(int(packet.kind), packet.value)
    else:
        raise PacketError(f"packet: expected ImuPacket, SyncReply, Status or Marker, got {type(packet).__name__}")
    header = _HEADER.pack(
        kind, packet.sensor_id, packet.seq, packet.sample_idx, packet.t_us, len(payload), packet.config.cfg
    )
    return _with_crc(header + payload)


def decode(data: bytes | bytearray | memoryview) -> Packet:
    """Decode one packet.

    Raises
    ------
    PacketError
        Naming what is wrong: too short, CRC mismatch, unknown type, length not matching ``n``, reserved ``cfg``.
    """
    data = bytes(data)
    if len(data) < HEADER_SIZE + CRC_SIZE:
        raise PacketError(f"packet: expected at least {HEADER_SIZE + CRC_SIZE} bytes, got {len(data)}")
    (crc_got,) = _CRC.unpack_from(data, len(data) - CRC_SIZE)
    crc_want = crc16(memoryview(data)[:-CRC_SIZE])
    if crc_got != crc_want:
        raise PacketError(f"packet: CRC mismatch (computed 0x{crc_want:04x}, packet says 0x{crc_got:04x})")
    ver_type, sensor_id, seq, sample_idx, t_us, n, cfg = _HEADER.unpack_from(data)
    try:
        kind = PacketType(ver_type)
    except ValueError:
        raise PacketError(f"packet: unknown ver_type 0x{ver_type:02x}") from None
    payload_size = 12 * n if kind is PacketType.IMU6 else _PAYLOAD_SIZE[kind]
    if kind is not PacketType.IMU6 and n != payload_size:
        raise PacketError(f"{kind.name} packet: expected payload length {payload_size}, header says {n}")
    if len(data) != HEADER_SIZE + payload_size + CRC_SIZE:
        raise PacketError(
            f"{kind.name} packet with n={n}: expected {HEADER_SIZE + payload_size + CRC_SIZE} bytes, got {len(data)}"
        )
    config = SensorConfig.from_cfg(cfg)
    payload = data[HEADER_SIZE:-CRC_SIZE]
    if kind is PacketType.IMU6:
        if not 1 <= n <= MAX_IMU_SAMPLES:
            raise PacketError(f"IMU6 packet: n is {n}, expected 1..{MAX_IMU_SAMPLES}")
        counts = np.frombuffer(payload, dtype="<i2").reshape(n, 6).astype(np.int16)
        return ImuPacket(sensor_id, seq, sample_idx, t_us, config, counts)
    if kind is PacketType.SYNC_REPLY:
        token, t_rx_us, t_tx_us = _SYNC_PAYLOAD.unpack(payload)
        return SyncReply(sensor_id, seq, sample_idx, t_us, config, token, t_rx_us, t_tx_us)
    if kind is PacketType.STATUS:
        pct, flags, mv, major, minor, patch, _reserved, overflow, temp = _STATUS_PAYLOAD.unpack(payload)
        if pct > 100:
            raise PacketError(f"STATUS packet: battery_pct {pct} is above 100")
        return Status(sensor_id, seq, sample_idx, t_us, config, pct, flags, mv, (major, minor, patch), overflow, temp)
    marker_kind, value = _MARKER_PAYLOAD.unpack(payload)
    try:
        return Marker(sensor_id, seq, sample_idx, t_us, config, MarkerKind(marker_kind), value)
    except ValueError:
        raise PacketError(f"MARKER packet: unknown kind {marker_kind}") from None


# -------------------------------------------------------------------------------------------------- host commands
@dataclass(frozen=True, slots=True)
class HostCommand:
    """A host → device write: START, STOP, or SYNC with its token."""

    command: Command
    token: int = 0


_SYNC_COMMAND = struct.Struct("<BI")


def encode_command(command: Command, token: int = 0) -> bytes:
    """Bytes the host writes: ``[0x01]`` START, ``[0x02]`` STOP, ``[0x21][token u32]`` SYNC."""
    command = Command(command)
    if command is Command.SYNC:
        _check_u("token", token, 32)
        return _SYNC_COMMAND.pack(command, token)
    return bytes([command])


def decode_command(data: bytes | bytearray | memoryview) -> HostCommand:
    """Parse a host → device write (the device side of :func:`encode_command`)."""
    data = bytes(data)
    if not data:
        raise PacketError("command: expected at least 1 byte, got 0")
    try:
        command = Command(data[0])
    except ValueError:
        raise PacketError(f"command: unknown command byte 0x{data[0]:02x}") from None
    want = _SYNC_COMMAND.size if command is Command.SYNC else 1
    if len(data) != want:
        raise PacketError(f"{command.name} command: expected {want} bytes, got {len(data)}")
    if command is Command.SYNC:
        return HostCommand(command, _SYNC_COMMAND.unpack(data)[1])
    return HostCommand(command)


# ---------------------------------------------------------------------------------------------- vectorized decode
@functools.cache
def imu_packet_dtype(n: int) -> np.dtype[np.void]:
    """Structured dtype of a whole IMU6 packet with ``n`` samples: the header, ``counts (n, 6)`` and ``crc``."""
    return np.dtype([*HEADER_DTYPE.descr, ("counts", "<i2", (n, 6)), ("crc", "<u2")])


@functools.cache
def _crc_word_table() -> NDArray[np.uint16]:
    """CRC of every 16-bit register value after shifting in 16 zero bits: one table step consumes two bytes.

    For a 16-bit CRC without reflection, feeding the big-endian word ``w`` to register ``r`` gives
    ``table[r ^ w]``, because the register is exactly one word wide.
    """
    reg = np.arange(65536, dtype=np.uint32)
    for _ in range(16):
        reg = np.where(reg & 0x8000, ((reg << 1) ^ 0x1021) & 0xFFFF, (reg << 1) & 0xFFFF)
    return reg.astype(np.uint16)


def crc16_rows(rows: NDArray[np.uint8]) -> NDArray[np.uint16]:
    """CRC-16/CCITT-FALSE of every row of ``rows`` (shape ``(n_packets, n_bytes)``, ``n_bytes`` even).

    Vectorized over rows; loops over the ``n_bytes / 2`` words of a packet, never over packets or samples.
    """
    rows = np.asarray(rows, dtype=np.uint8)
    if rows.ndim != 2 or rows.shape[1] % 2:
        raise PacketError(f"rows: expected shape (n_packets, even n_bytes), got {rows.shape}")
    table = _crc_word_table()
    # Word-major copy (n_words, n_packets): each step then reads one contiguous row.
    words = np.ascontiguousarray(rows).view(">u2").astype(np.uint16).T.copy()
    crc = np.full(rows.shape[0], _CRC_INIT, dtype=np.uint16)
    for w in words:
        crc = table[crc ^ w]
    return crc


def encode_imu_rows(
    sensor_id: int,
    seq: ArrayLike,
    sample_idx: ArrayLike,
    t_us: ArrayLike,
    config: SensorConfig,
    counts: ArrayLike,
) -> NDArray[np.uint8]:
    """Encode many IMU6 packets of ``n`` samples each at once (the simulator's and benchmarks' fast path).

    Parameters
    ----------
    sensor_id : int
    seq, sample_idx, t_us : array_like of int, shape (n_packets,)
        Header fields; taken modulo 2**16, 2**32 and 2**32 (they wrap on the wire).
    config : SensorConfig
    counts : array_like of int16, shape (n_packets, n, 6)

    Returns
    -------
    ndarray of uint8, shape (n_packets, 14 + 12 n + 2)
        One packet per row, byte-identical to :func:`encode` of each.
    """
    c = np.asarray(counts)
    if c.ndim != 3 or c.shape[2] != 6 or not 1 <= c.shape[1] <= MAX_IMU_SAMPLES:
        raise PacketError(f"counts: expected shape (n_packets, n, 6) with 1 <= n <= {MAX_IMU_SAMPLES}, got {c.shape}")
    _check_u("sensor_id", sensor_id, 8)
    k, n = c.shape[0], c.shape[1]
    rec = np.zeros(k, dtype=imu_packet_dtype(n))
    rec["ver_type"] = PacketType.IMU6
    rec["sensor_id"] = sensor_id
    rec["seq"] = np.asarray(seq, dtype=np.int64) % (1 << 16)
    rec["sample_idx"] = np.asarray(sample_idx, dtype=np.int64) % (1 << 32)
    rec["t_us"] = np.asarray(t_us, dtype=np.int64) % (1 << 32)
    rec["n"] = n
    rec["cfg"] = config.cfg
    rec["counts"] = c
    rows = rec.view(np.uint8).reshape(k, rec.dtype.itemsize)
    crc = crc16_rows(rows[:, :-CRC_SIZE])
    rows[:, -2] = crc & 0xFF
    rows[:, -1] = crc >> 8
    return rows


@dataclass(frozen=True, slots=True)
class Rejection:
    """A packet that could not be decoded: its position in the input and the reason, for the bridge's counters."""

    position: int
    reason: str


@dataclass(frozen=True, eq=False, slots=True)
class ImuBatch:
    """Many IMU6 packets decoded at once, as columns (one entry per packet, in input order).

    Attributes
    ----------
    position : ndarray of int64, shape (n_packets,)
        Index of each packet in the input.
    sensor_id, seq, sample_idx, t_us, n, cfg : ndarray of int64, shape (n_packets,)
        Header fields.
    counts : ndarray of int16, shape (n_samples, 6)
        All samples in packet order; packet ``i`` holds rows ``first[i] : first[i] + n[i]``.
    """

    position: IntArray
    sensor_id: IntArray
    seq: IntArray
    sample_idx: IntArray
    t_us: IntArray
    n: IntArray
    cfg: IntArray
    counts: Int16Array

    @classmethod
    def empty(cls) -> ImuBatch:
        """A batch of no packets."""
        z = np.zeros(0, dtype=np.int64)
        return cls(z, z, z, z, z, z, z, np.zeros((0, 6), dtype=np.int16))

    def __len__(self) -> int:
        return int(self.position.shape[0])

    @property
    def n_samples(self) -> int:
        """Samples in all packets."""
        return int(self.counts.shape[0])

    @property
    def first(self) -> IntArray:
        """Row of each packet's first sample in ``counts``, shape (n_packets,)."""
        return np.cumsum(self.n) - self.n

    def packet_of_sample(self) -> IntArray:
        """For each row of ``counts``, the index (into this batch) of the packet it came from."""
        return np.repeat(np.arange(len(self), dtype=np.int64), self.n)

    def physical(self) -> tuple[FloatArray, FloatArray]:
        """``(acc_mps2, gyr_dps)``, each ``(n_samples, 3)``, scaled by each packet's own ``cfg``."""
        cfgs = np.unique(self.cfg)
        if cfgs.size <= 1:  # the usual case: one configuration for the whole batch
            acc_scale = float(_ACC_SCALE[cfgs[0]]) if cfgs.size else 1.0
            gyr_scale = float(_GYR_SCALE[cfgs[0]]) if cfgs.size else 1.0
            acc: FloatArray = self.counts[:, :3] * np.float64(acc_scale)
            gyr: FloatArray = self.counts[:, 3:] * np.float64(gyr_scale)
            return acc, gyr
        owner = self.packet_of_sample()
        return (
            self.counts[:, :3] * _ACC_SCALE[self.cfg[owner]][:, None],
            self.counts[:, 3:] * _GYR_SCALE[self.cfg[owner]][:, None],
        )

    def take(self, index: ArrayLike) -> ImuBatch:
        """The packets at ``index`` (a boolean mask or integer indices), samples included, in that order."""
        idx = np.arange(len(self))[np.asarray(index)]
        n = self.n[idx]
        if len(self) and self.counts.shape[0] == len(self) * int(self.n[0]) and bool((self.n == self.n[0]).all()):
            # Packets of one size: whole packets are taken at once, as blocks (n, 6).
            counts = self.counts.reshape(len(self), int(self.n[0]), 6)[idx].reshape(-1, 6)
        else:
            rows = np.repeat(self.first[idx] - (np.cumsum(n) - n), n) + np.arange(int(n.sum()), dtype=np.int64)
            counts = self.counts[rows]
        return ImuBatch(
            self.position[idx],
            self.sensor_id[idx],
            self.seq[idx],
            self.sample_idx[idx],
            self.t_us[idx],
            n,
            self.cfg[idx],
            counts,
        )

    @classmethod
    def concat(cls, batches: Sequence[ImuBatch]) -> ImuBatch:
        """Concatenate batches and sort the packets, with their samples, by input position."""
        batches = [b for b in batches if len(b)]
        if not batches:
            return cls.empty()
        if len(batches) == 1:
            b = batches[0]
            if np.all(np.diff(b.position) > 0):
                return b
        joined = cls(
            np.concatenate([b.position for b in batches]),
            np.concatenate([b.sensor_id for b in batches]),
            np.concatenate([b.seq for b in batches]),
            np.concatenate([b.sample_idx for b in batches]),
            np.concatenate([b.t_us for b in batches]),
            np.concatenate([b.n for b in batches]),
            np.concatenate([b.cfg for b in batches]),
            np.concatenate([b.counts for b in batches]),
        )
        order = np.argsort(joined.position, kind="stable")
        if np.all(order == np.arange(len(order))):
            return joined
        return joined.take(order)

    def packets(self) -> list[ImuPacket]:
        """The batch as :class:`ImuPacket` objects (for tests and small batches; slow for many)."""
        first = self.first
        return [
            ImuPacket(
                int(self.sensor_id[i]),
                int(self.seq[i]),
                int(self.sample_idx[i]),
                int(self.t_us[i]),
                SensorConfig.from_cfg(int(self.cfg[i])),
                self.counts[first[i] : first[i] + self.n[i]],
            )
            for i in range(len(self))
        ]


@dataclass(frozen=True, eq=False, slots=True)
class DecodedPackets:
    """Everything decoded from many packets: the IMU samples as columns, the rare types as objects, the rejects.

    Attributes
    ----------
    imu : ImuBatch
        The valid IMU6 packets, in input order.
    others : tuple of (int, Packet)
        ``(position, packet)`` of valid sync replies, status and marker packets, in input order.
    rejected : tuple of Rejection
        Packets that failed (CRC, length, type, reserved ``cfg``), in input order.
    """

    imu: ImuBatch
    others: tuple[tuple[int, Packet], ...] = ()
    rejected: tuple[Rejection, ...] = ()

    @classmethod
    def merge(cls, parts: Sequence[DecodedPackets]) -> DecodedPackets:
        """Join results decoded in parts (e.g. one per packet length), everything in input-position order."""
        others = sorted((o for p in parts for o in p.others), key=lambda o: o[0])
        rejected = sorted((r for p in parts for r in p.rejected), key=lambda r: r.position)
        return cls(ImuBatch.concat([p.imu for p in parts]), tuple(others), tuple(rejected))


def _decode_imu_group(rows: NDArray[np.uint8], positions: IntArray) -> tuple[ImuBatch, list[Rejection]]:
    """Decode IMU6 packets that all have the same length (rows ``(k, size)``) whose CRC is already checked."""
    k, size = rows.shape
    n_samples = (size - HEADER_SIZE - CRC_SIZE) // 12
    if (size - HEADER_SIZE - CRC_SIZE) % 12 or not 1 <= n_samples <= MAX_IMU_SAMPLES:
        reason = f"IMU6 packet of {size} bytes: expected 16 + 12·n bytes with 1 <= n <= {MAX_IMU_SAMPLES}"
        return ImuBatch.empty(), [Rejection(int(p), reason) for p in positions]
    rec = np.ascontiguousarray(rows).view(imu_packet_dtype(n_samples)).reshape(k)
    n = rec["n"].astype(np.int64)
    cfg = rec["cfg"].astype(np.int64)
    ok = (n == n_samples) & _CFG_OK[cfg]
    rejected = [
        Rejection(
            int(p),
            f"IMU6 packet of {size} bytes says n={int(nn)}"
            if nn != n_samples
            else f"IMU6 packet: cfg 0x{int(c):02x} has a reserved code",
        )
        for p, nn, c in zip(positions[~ok], n[~ok], cfg[~ok], strict=True)
    ]
    rec = rec[ok]
    kk = rec.shape[0]
    batch = ImuBatch(
        positions[ok],
        rec["sensor_id"].astype(np.int64),
        rec["seq"].astype(np.int64),
        rec["sample_idx"].astype(np.int64),
        rec["t_us"].astype(np.int64),
        np.full(kk, n_samples, dtype=np.int64),
        cfg[ok],
        rec["counts"].reshape(kk * n_samples, 6).astype(np.int16),
    )
    return batch, rejected


def decode_rows(rows: NDArray[np.uint8], positions: ArrayLike | None = None) -> DecodedPackets:
    """Decode many packets of one length, given as the rows of a ``(n_packets, size)`` byte array.

    The rows may be a strided view into a larger buffer (a capture file), so nothing is copied before the CRC.

    Parameters
    ----------
    rows : ndarray of uint8, shape (n_packets, size)
    positions : array_like of int, shape (n_packets,), optional
        Each packet's index in the caller's input (default ``0..n_packets-1``); kept in the results.
    """
    rows = np.asarray(rows, dtype=np.uint8)
    k, size = rows.shape
    pos = np.arange(k, dtype=np.int64) if positions is None else np.asarray(positions, dtype=np.int64)
    if size < HEADER_SIZE + CRC_SIZE or size % 2:
        reason = f"packet: {size} bytes is not a valid packet length"
        return DecodedPackets(ImuBatch.empty(), (), tuple(Rejection(int(p), reason) for p in pos))
    crc_got = rows[:, -2].astype(np.uint16) | (rows[:, -1].astype(np.uint16) << 8)
    crc_ok = crc16_rows(rows[:, :-CRC_SIZE]) == crc_got
    rejected = [Rejection(int(p), "packet: CRC mismatch") for p in pos[~crc_ok]]
    imu = crc_ok & (rows[:, 0] == PacketType.IMU6)
    batch, bad = _decode_imu_group(rows[imu], pos[imu]) if imu.any() else (ImuBatch.empty(), [])
    rejected += bad
    others: list[tuple[int, Packet]] = []
    for i in np.flatnonzero(crc_ok & ~imu):
        try:
            others.append((int(pos[i]), decode(rows[i].tobytes())))
        except PacketError as exc:
            rejected.append(Rejection(int(pos[i]), str(exc)))
    rejected.sort(key=lambda r: r.position)
    return DecodedPackets(batch, tuple(others), tuple(rejected))


def decode_packets(packets: Sequence[bytes | bytearray | memoryview]) -> DecodedPackets:
    """Decode a sequence of packets (BLE notifications, deframed serial frames) at once.

    Packets are grouped by length and each group is decoded by :func:`decode_rows`; the results keep the input
    order. A packet that fails is listed in ``rejected`` with the reason and never stops the others.
    """
    lengths = np.fromiter((len(p) for p in packets), dtype=np.int64, count=len(packets))
    parts = []
    for size in np.unique(lengths):
        pos = np.flatnonzero(lengths == size)
        buf = b"".join([packets[int(i)] for i in pos])
        parts.append(decode_rows(np.frombuffer(buf, dtype=np.uint8).reshape(len(pos), int(size)), pos))
    return DecodedPackets.merge(parts)
