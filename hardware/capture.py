"""The capture file ``.imucap`` (``hardware/PROTOCOL.md`` §5): the raw, lossless record of a session. Pure bytes.

Layout::

    b"IMUCAP1\\n" | header_len u32 | header (UTF-8 JSON) | record | record | ...
    record = t_host_ns u64 | source u8 | sensor_id u8 | len u16 | packet bytes (len)

all little-endian. Every packet the host received is kept as it came (CRC included, even a packet that fails its
CRC), stamped with the host's monotonic clock; commands the host sent (sync pings) are kept too, so the clock sync
can be redone offline. This module builds and parses those bytes; it does no file I/O.

Parsing is vectorized: records of one length follow each other at a constant stride, so the walk over the file
steps over whole runs of equal records (checked with one strided read each, no Python per record); the record heads,
and then the packets of each length, are gathered at once from a sliding-window view of the bytes and decoded
together by :func:`hardware.protocol.decode_rows`. A file cut short (a recorder killed mid-write) keeps every whole
record and reports the torn tail.
"""

from __future__ import annotations

import enum
import json
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

from hardware.errors import CaptureError
from hardware.protocol import DecodedPackets, decode_rows

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "RECORD_DTYPE",
    "Capture",
    "CaptureHeader",
    "CaptureSensor",
    "Source",
    "encode_header",
    "encode_record",
    "encode_records",
    "parse_capture",
]

IntArray: TypeAlias = NDArray[np.int64]

MAGIC: Final = b"IMUCAP1\n"
FORMAT_VERSION: Final = 1
#: The fixed part of a record, 12 bytes, before the packet bytes.
RECORD_DTYPE: Final = np.dtype([("t_host_ns", "<u8"), ("source", "u1"), ("sensor_id", "u1"), ("len", "<u2")])
_RECORD = struct.Struct("<QBBH")
_U32 = struct.Struct("<I")
#: A header longer than this is refused as corrupt rather than read into memory.
_MAX_HEADER_BYTES: Final = 1 << 20


class Source(enum.IntEnum):
    """How a record reached the host."""

    BLE = 0  #: a BLE notification
    SERIAL = 1  #: a deframed serial frame
    RELAY = 2  #: a packet uploaded by a relay
    HOST_COMMAND = 3  #: a command the host wrote to the device (its bytes, e.g. a sync ping)


@dataclass(frozen=True, slots=True)
class CaptureSensor:
    """One sensor of a capture, as the header describes it."""

    sensor_id: int
    placement: str
    device: str = ""
    firmware: str = ""
    rate_hz: float | None = None
    acc_range_g: int | None = None
    gyr_range_dps: int | None = None
    address: str = ""

    def to_json(self) -> dict[str, Any]:
        """The header entry."""
        return {
            "id": self.sensor_id,
            "placement": self.placement,
            "device": self.device,
            "firmware": self.firmware,
            "rate_hz": self.rate_hz,
            "acc_range_g": self.acc_range_g,
            "gyr_range_dps": self.gyr_range_dps,
            "address": self.address,
        }


@dataclass(frozen=True, slots=True)
class CaptureHeader:
    """The JSON header of a capture.

    Attributes
    ----------
    sensors : tuple of CaptureSensor
        Unique ``sensor_id`` and placement per sensor.
    subject_id, session_id : str
        When known; empty otherwise.
    clock_pairs : tuple of (int, int)
        ``(wall_clock_ns, monotonic_ns)`` pairs taken by the host, mapping record stamps to wall-clock time.
    extra : mapping
        Any other keys found in (or to be written to) the header, kept as they are.
    """

    sensors: tuple[CaptureSensor, ...]
    subject_id: str = ""
    session_id: str = ""
    clock_pairs: tuple[tuple[int, int], ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ids = [s.sensor_id for s in self.sensors]
        if len(set(ids)) != len(ids):
            raise CaptureError(f"header sensors: expected unique ids, got {ids}")
        places = [s.placement for s in self.sensors]
        if len(set(places)) != len(places) or not all(places):
            raise CaptureError(f"header sensors: expected unique, non-empty placements, got {places}")

    def placement_of(self, sensor_id: int) -> str:
        """The placement of ``sensor_id``; :class:`CaptureError` if the header does not list it."""
        for s in self.sensors:
            if s.sensor_id == sensor_id:
                return s.placement
        raise CaptureError(f"sensor_id {sensor_id}: not listed in the capture header")

    def to_json(self) -> dict[str, Any]:
        """The header as a JSON object."""
        return {
            **dict(self.extra),
            "format": "fusiongait.imucap",
            "format_version": FORMAT_VERSION,
            "sensors": [s.to_json() for s in self.sensors],
            "subject_id": self.subject_id,
            "session_id": self.session_id,
            "clock_pairs": [list(p) for p in self.clock_pairs],
        }

    @classmethod
    def from_json(cls, obj: Any) -> CaptureHeader:
        """Validate a parsed header; the message names the key that is wrong."""
        if not isinstance(obj, dict):
            raise CaptureError(f"header: expected a JSON object, got {type(obj).__name__}")
        version = obj.get("format_version")
        if version != FORMAT_VERSION:
            raise CaptureError(f"header format_version: expected {FORMAT_VERSION}, got {version!r}")
        raw_sensors = obj.get("sensors")
        if not isinstance(raw_sensors, list) or not raw_sensors:
            raise CaptureError("header sensors: expected a non-empty list")
        sensors = []
        for i, s in enumerate(raw_sensors):
            if not isinstance(s, dict) or not isinstance(s.get("id"), int) or not isinstance(s.get("placement"), str):
                raise CaptureError(f"header sensors[{i}]: expected an object with an integer id and a placement")
            try:
                sensors.append(
                    CaptureSensor(
                        sensor_id=s["id"],
                        placement=s["placement"],
                        device=str(s.get("device") or ""),
                        firmware=str(s.get("firmware") or ""),
                        rate_hz=None if s.get("rate_hz") is None else float(s["rate_hz"]),
                        acc_range_g=None if s.get("acc_range_g") is None else int(s["acc_range_g"]),
                        gyr_range_dps=None if s.get("gyr_range_dps") is None else int(s["gyr_range_dps"]),
                        address=str(s.get("address") or ""),
                    )
                )
            except (TypeError, ValueError) as exc:
                raise CaptureError(f"header sensors[{i}]: {exc}") from None
        pairs = obj.get("clock_pairs") or []
        try:
            clock_pairs = tuple((int(a), int(b)) for a, b in pairs)
        except (TypeError, ValueError):
            raise CaptureError("header clock_pairs: expected a list of [wall_clock_ns, monotonic_ns] pairs") from None
        known = {"format", "format_version", "sensors", "subject_id", "session_id", "clock_pairs"}
        return cls(
            sensors=tuple(sensors),
            subject_id=str(obj.get("subject_id") or ""),
            session_id=str(obj.get("session_id") or ""),
            clock_pairs=clock_pairs,
            extra={k: v for k, v in obj.items() if k not in known},
        )


def encode_header(header: CaptureHeader) -> bytes:
    """The start of a capture file: magic, header length and the JSON header."""
    body = json.dumps(header.to_json(), separators=(",", ":"), sort_keys=True).encode()
    return MAGIC + _U32.pack(len(body)) + body


def encode_record(t_host_ns: int, source: Source, sensor_id: int, packet: bytes | bytearray | memoryview) -> bytes:
    """One record: the 12-byte record head and the packet bytes as received."""
    if not 0 <= t_host_ns < 1 << 64:
        raise CaptureError(f"t_host_ns: expected an unsigned 64-bit integer, got {t_host_ns!r}")
    if not 0 <= sensor_id < 256:
        raise CaptureError(f"sensor_id: expected 0..255, got {sensor_id!r}")
    if len(packet) >= 1 << 16:
        raise CaptureError(f"packet: expected fewer than 65536 bytes, got {len(packet)}")
    return _RECORD.pack(t_host_ns, int(source), sensor_id, len(packet)) + bytes(packet)


def encode_records(records: Iterable[tuple[int, Source, int, bytes]]) -> bytes:
    """Many records ``(t_host_ns, source, sensor_id, packet)`` in one byte string."""
    return b"".join(encode_record(*r) for r in records)


@dataclass(frozen=True, eq=False, slots=True)
class Capture:
    """A parsed capture: its header and its records as columns (one entry per record, in file order).

    Attributes
    ----------
    header : CaptureHeader
    t_host_ns, source, sensor_id : ndarray of int64, shape (n_records,)
    offset, length : ndarray of int64, shape (n_records,)
        Where each record's packet bytes are in ``data``.
    data : bytes
        The file content (records point into it).
    torn_tail_bytes : int
        Bytes at the end that do not make a whole record (the file was cut short); 0 for a clean file.
    """

    header: CaptureHeader
    t_host_ns: IntArray
    source: IntArray
    sensor_id: IntArray
    offset: IntArray
    length: IntArray
    data: bytes
    torn_tail_bytes: int = 0

    def __len__(self) -> int:
        return int(self.t_host_ns.shape[0])

    def packet(self, i: int) -> bytes:
        """The packet bytes of record ``i``."""
        o = int(self.offset[i])
        return self.data[o : o + int(self.length[i])]

    def decode(self, *, sources: Sequence[Source] | None = None) -> DecodedPackets:
        """Decode the packets of all records (positions are record indices).

        Parameters
        ----------
        sources : sequence of Source, optional
            Decode only records from these sources. Default: every source except :attr:`Source.HOST_COMMAND`,
            whose records are commands, not packets.
        """
        keep = [int(s) for s in (sources or (Source.BLE, Source.SERIAL, Source.RELAY))]
        wanted = np.flatnonzero(np.isin(self.source, keep))
        buf = np.frombuffer(self.data, dtype=np.uint8)
        lengths = self.length[wanted]
        decoded = []
        for length in np.unique(lengths).tolist():
            pos = wanted[lengths == length]
            # The packets of this length as rows (k, length): one gather from a window view of the file.
            rows = sliding_window_view(buf, length)[self.offset[pos]] if length else np.zeros((pos.size, 0), np.uint8)
            decoded.append(decode_rows(rows, pos))
        return DecodedPackets.merge(decoded)


def _read_header(data: bytes) -> tuple[CaptureHeader, int]:
    if len(data) < len(MAGIC) or data[: len(MAGIC)] != MAGIC:
        raise CaptureError(f"not a capture file: expected magic {MAGIC!r}, got {bytes(data[: len(MAGIC)])!r}")
    if len(data) < len(MAGIC) + _U32.size:
        raise CaptureError("capture: cut short inside the header length")
    (n,) = _U32.unpack_from(data, len(MAGIC))
    start = len(MAGIC) + _U32.size
    if n > _MAX_HEADER_BYTES:
        raise CaptureError(f"capture header: {n} bytes is more than the {_MAX_HEADER_BYTES}-byte limit")
    if len(data) < start + n:
        raise CaptureError(f"capture header: expected {n} bytes, the file holds {len(data) - start}")
    try:
        obj = json.loads(data[start : start + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CaptureError(f"capture header: not UTF-8 JSON ({exc})") from None
    return CaptureHeader.from_json(obj), start + n


def _scan_runs(buf: NDArray[np.uint8], start: int) -> tuple[list[tuple[int, int, int, int]], int]:
    """Walk the records from ``start``: runs of equal-length records, each checked in one strided read.

    Returns the runs ``(first record, count, head offset, packet length)`` and the offset where whole records end.
    The window doubles while a run continues, so the cost grows with the run, not with the rest of the file.
    """
    runs: list[tuple[int, int, int, int]] = []
    head_size = RECORD_DTYPE.itemsize
    end = buf.shape[0]
    pos, n_records = start, 0
    while end - pos >= head_size:
        length = int(buf[pos + 10]) | int(buf[pos + 11]) << 8
        stride = head_size + length
        if end - pos < stride:
            break  # torn last record
        count, window = 1, 64
        while True:
            probe = pos + count * stride
            avail = (end - probe) // stride  # whole records of this length that fit
            if avail <= 0:
                break
            k = min(window, avail)
            lens = buf[probe : probe + k * stride].reshape(k, stride)[:, 10:12]
            same = (lens[:, 0] == (length & 0xFF)) & (lens[:, 1] == (length >> 8))
            if same.all():
                count += k
                window *= 2
                continue
            count += int(np.argmin(same))
            break
        runs.append((n_records, count, pos, length))
        n_records += count
        pos += count * stride
    return runs, pos


def parse_capture(data: bytes | bytearray | memoryview) -> Capture:
    """Parse a capture's bytes: the header, and every whole record as columns.

    Raises
    ------
    CaptureError
        If the magic or the header is wrong. A torn last record is not an error: it is reported in
        :attr:`Capture.torn_tail_bytes` and everything before it is kept.
    """
    data = bytes(data)
    header, start = _read_header(data)
    buf = np.frombuffer(data, dtype=np.uint8)
    runs, stop = _scan_runs(buf, start)
    run = np.array(runs, dtype=np.int64).reshape(-1, 4)  # (first record, count, head offset, length)
    count = run[:, 1]
    # Head offset of every record: its run's head plus whole strides, for all runs at once.
    k = np.arange(int(count.sum()), dtype=np.int64) - np.repeat(run[:, 0], count)
    heads = np.repeat(run[:, 2], count) + k * np.repeat(RECORD_DTYPE.itemsize + run[:, 3], count)
    if heads.size:
        rec = sliding_window_view(buf, RECORD_DTYPE.itemsize)[heads].view(RECORD_DTYPE)[:, 0]
    else:
        rec = np.zeros(0, dtype=RECORD_DTYPE)
    return Capture(
        header=header,
        t_host_ns=rec["t_host_ns"].astype(np.int64),
        source=rec["source"].astype(np.int64),
        sensor_id=rec["sensor_id"].astype(np.int64),
        offset=heads + RECORD_DTYPE.itemsize,
        length=np.repeat(run[:, 3], count),
        data=data,
        torn_tail_bytes=len(data) - stop,
    )
