"""Relay batches (hardware/PROTOCOL.md §6): a capture body of raw packets in, packet rows out, exactly once.

:func:`parse_relay_batch` is pure (bytes in, rows out): it refuses a body that is not a whole capture (bad magic,
broken header, a torn last record) and keeps each valid packet with its dedup key. Packets that fail their CRC or
carry another sensor's id than their record are not stored, and are listed in the answer. Host commands the relay
sent (sync pings) are kept too, keyed on their token, since the clock sync pairs them with the sensor's replies.

:func:`store_relay_batch` writes the rows in one transaction with ``ON CONFLICT DO NOTHING`` on (session, sensor,
type, sample_idx, device time), under the session's ``Idempotency-Key``: the same key with the same body answers
what it answered the first time; with another body it is refused. Only after the commit (synchronous, so on disk)
does the caller answer 2xx. The same transaction adds the new IMU packets to the session's 15-min wall-clock counts
(:class:`server.db.RelayPacketBucket`), from which the home service finds the days with new data.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hardware.capture import Capture, CaptureHeader, CaptureSensor, Source, encode_header, encode_records, parse_capture
from hardware.errors import HardwareError
from hardware.protocol import decode_command
from server.db import WALL_BUCKET_NS, GaitSession, IdempotencyRecord, RelayPacket
from server.errors import BadInput, Conflict

__all__ = [
    "COMMAND_TYPE_BASE",
    "ParsedBatch",
    "parse_relay_batch",
    "relay_capture",
    "relay_packet_counts",
    "store_relay_batch",
]

#: Host commands are stored with ``ver_type = COMMAND_TYPE_BASE + command byte`` (packet types are below 0x100).
COMMAND_TYPE_BASE = 0x100
_MAX_REPORTED_REJECTS = 20


@dataclass(frozen=True, slots=True)
class ParsedBatch:
    """A relay batch, checked: its sensors, the rows to store, and what was refused.

    Attributes
    ----------
    sensors : dict of int to str
        ``sensor_id → placement`` from the batch's header.
    rows : list of dict
        One per packet or command kept: ``sensor_id, ver_type, sample_idx, t_us, t_host_ns, t_wall_ns, packet``
        (``t_wall_ns``: the arrival on the relay's wall clock, UTC, from the header's first clock pair; None when
        the header has none).
    rejected : list of str
        One line per refused record (record index and reason).
    body_sha256 : str
    """

    sensors: dict[int, str]
    rows: list[dict[str, Any]]
    rejected: list[str] = field(default_factory=list)
    body_sha256: str = ""


def _u32(buf: NDArray[np.uint8], at: NDArray[np.int64]) -> NDArray[np.int64]:
    """The little-endian u32 at each offset ``at`` of ``buf``."""
    b = buf[at[:, None] + np.arange(4)].astype(np.int64)
    out: NDArray[np.int64] = b[:, 0] | b[:, 1] << 8 | b[:, 2] << 16 | b[:, 3] << 24
    return out


def parse_relay_batch(body: bytes) -> ParsedBatch:
    """Check a relay batch and turn it into rows (pure).

    Raises
    ------
    BadInput
        When the body is not a whole capture, its header lists no sensor, or records name sensors the header
        does not list.
    """
    if not body:
        raise BadInput("relay batch: the body is empty, expected a capture (hardware/PROTOCOL.md §5)")
    try:
        capture = parse_capture(body)
    except HardwareError as exc:
        raise BadInput(f"relay batch: {exc}") from None
    if capture.torn_tail_bytes:
        raise BadInput(
            f"relay batch: truncated: the last {capture.torn_tail_bytes} bytes do not make a whole record; "
            "nothing was stored, send the whole batch again"
        )
    sensors = {s.sensor_id: s.placement for s in capture.header.sensors}
    if not sensors:
        raise BadInput("relay batch: the header lists no sensor")
    unknown = sorted(set(np.unique(capture.sensor_id).tolist()) - set(sensors))
    if unknown:
        raise BadInput(f"relay batch: records of sensor ids {unknown} that the header does not list")

    pairs = capture.header.clock_pairs
    wall_offset_ns = pairs[0][0] - pairs[0][1] if pairs else None
    rejected: list[str] = []
    decoded = capture.decode()
    valid = np.zeros(len(capture), dtype=bool)
    valid[decoded.imu.position] = True
    for position, _packet in decoded.others:
        valid[position] = True
    for r in decoded.rejected:
        rejected.append(f"record {r.position}: {r.reason}")
    buf = np.frombuffer(capture.data, dtype=np.uint8)
    is_cmd = capture.source == Source.HOST_COMMAND
    packets = np.flatnonzero(valid & ~is_cmd)
    offsets = capture.offset[packets]
    claimed = buf[offsets + 1].astype(np.int64)
    mislabeled = claimed != capture.sensor_id[packets]
    for i in packets[mislabeled]:
        rejected.append(
            f"record {int(i)}: packet of sensor {int(buf[capture.offset[i] + 1])} on sensor "
            f"{int(capture.sensor_id[i])}'s link"
        )
    packets, offsets = packets[~mislabeled], offsets[~mislabeled]

    ver_type = buf[offsets].astype(np.int64)
    sample_idx = _u32(buf, offsets + 4)
    t_us = _u32(buf, offsets + 8)
    rows = [
        {
            "sensor_id": int(capture.sensor_id[i]),
            "ver_type": int(v),
            "sample_idx": int(s),
            "t_us": int(t),
            "t_host_ns": int(capture.t_host_ns[i]),
            "t_wall_ns": None if wall_offset_ns is None else int(capture.t_host_ns[i]) + wall_offset_ns,
            "packet": capture.packet(int(i)),
        }
        for i, v, s, t in zip(packets.tolist(), ver_type.tolist(), sample_idx.tolist(), t_us.tolist(), strict=True)
    ]
    for i in np.flatnonzero(is_cmd).tolist():
        packet = capture.packet(i)
        try:
            command = decode_command(packet)
        except HardwareError as exc:
            rejected.append(f"record {i}: {exc}")
            continue
        rows.append(
            {
                "sensor_id": int(capture.sensor_id[i]),
                "ver_type": COMMAND_TYPE_BASE + int(command.command),
                "sample_idx": command.token,
                "t_us": int(capture.t_host_ns[i]),  # a command has no device time: the relay's clock keys it
                "t_host_ns": int(capture.t_host_ns[i]),
                "t_wall_ns": None if wall_offset_ns is None else int(capture.t_host_ns[i]) + wall_offset_ns,
                "packet": packet,
            }
        )
    if len(rejected) > _MAX_REPORTED_REJECTS:
        rejected = [*rejected[:_MAX_REPORTED_REJECTS], f"... and {len(rejected) - _MAX_REPORTED_REJECTS} more"]
    return ParsedBatch(sensors, rows, rejected, hashlib.sha256(body).hexdigest())


def _insert(db: Session) -> Any:
    dialect = db.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(RelayPacket)


_PACKET_COLUMNS = ("session_id", "sensor_id", "ver_type", "sample_idx", "t_us", "t_host_ns", "t_wall_ns", "packet")


def _copy_insert_postgresql(db: Session, session_id: str, rows: list[dict[str, Any]]) -> tuple[int, dict[int, int]]:
    """Insert rows with PostgreSQL's binary COPY into a temporary table, then ``INSERT ... ON CONFLICT DO NOTHING``;
    returns how many were new and the new IMU packets per wall-clock bucket (:func:`_count_buckets`). A multi-row
    INSERT of 600 packets spends most of its time converting 4,200 parameters in the driver; COPY sends them as one
    binary stream, and the counting is done by the database on the rows the INSERT returns."""
    cursor = db.connection().connection.cursor()
    columns = ", ".join(_PACKET_COLUMNS)
    cursor.execute(
        "CREATE TEMPORARY TABLE IF NOT EXISTS relay_packets_in (session_id varchar(32), sensor_id integer, "
        "ver_type integer, sample_idx bigint, t_us bigint, t_host_ns bigint, t_wall_ns bigint, packet bytea) "
        "ON COMMIT DELETE ROWS"
    )
    with cursor.copy(f"COPY relay_packets_in ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(["varchar", "int4", "int4", "int8", "int8", "int8", "int8", "bytea"])
        for r in rows:
            copy.write_row((session_id, *(r[c] for c in _PACKET_COLUMNS[1:])))
    cursor.execute(
        f"WITH new AS (INSERT INTO relay_packets ({columns}) SELECT {columns} FROM relay_packets_in "
        "ON CONFLICT DO NOTHING RETURNING t_wall_ns, ver_type) "
        f"SELECT CASE WHEN ver_type < {COMMAND_TYPE_BASE} THEN t_wall_ns / {WALL_BUCKET_NS} END, count(*) "
        "FROM new GROUP BY 1"
    )
    per_bucket = {int(b) if b is not None else None: int(n) for b, n in cursor.fetchall()}
    cursor.execute("DELETE FROM relay_packets_in")  # a later batch in the same transaction starts empty
    stored = sum(per_bucket.values())
    return stored, {b: n for b, n in per_bucket.items() if b is not None}


def _count_buckets(stored: list[tuple[int | None, int]]) -> dict[int, int]:
    """New IMU packets per wall-clock bucket, from the ``(t_wall_ns, ver_type)`` of the rows stored (commands and
    packets without a wall-clock time are not counted)."""
    return dict(Counter(t // WALL_BUCKET_NS for t, v in stored if t is not None and v < COMMAND_TYPE_BASE))


# One statement for both databases (SQLite ≥ 3.24 and PostgreSQL share the upsert syntax), built once: constructing
# and compiling an ``insert().on_conflict_do_update()`` per batch cost as much as the upsert itself.
_ADD_TO_BUCKETS = text(
    "INSERT INTO relay_packet_buckets (session_id, bucket, n_packets) VALUES (:session_id, :bucket, :n_packets) "
    "ON CONFLICT (session_id, bucket) DO UPDATE SET n_packets = relay_packet_buckets.n_packets + excluded.n_packets"
)


def _add_to_buckets(db: Session, session_id: str, per_bucket: dict[int, int]) -> None:
    """Add new packets to the session's wall-clock buckets (in the transaction that stored them)."""
    if per_bucket:
        db.execute(
            _ADD_TO_BUCKETS, [{"session_id": session_id, "bucket": b, "n_packets": n} for b, n in per_bucket.items()]
        )


def store_relay_batch(db: Session, session: GaitSession, batch: ParsedBatch, idempotency_key: str) -> dict[str, Any]:
    """Store a parsed batch in the caller's transaction and return the answer to send (see the module docstring).

    Raises
    ------
    Conflict
        When the key was used before for another body, or the batch gives a sensor another placement than the
        session already has.
    """
    if db.get_bind().dialect.name == "postgresql":  # one batch of a session at a time (SQLite: BEGIN IMMEDIATE)
        db.execute(select(GaitSession.id).where(GaitSession.id == session.id).with_for_update())
    earlier = db.get(IdempotencyRecord, (session.id, idempotency_key))
    if earlier is not None:
        if earlier.body_sha256 != batch.body_sha256:
            raise Conflict(
                f"Idempotency-Key {idempotency_key!r} was used for another batch of this session; use a new key "
                "for new data"
            )
        return {**earlier.response, "replayed": True}

    known = dict(session.sensors or {})
    for sensor_id, placement in batch.sensors.items():
        have = known.get(str(sensor_id))
        if have is not None and have != placement:
            raise Conflict(f"relay batch: sensor {sensor_id} is {have} in this session, the batch says {placement}")
        known[str(sensor_id)] = placement
    if known != session.sensors:
        session.sensors = known

    stored, per_bucket = 0, dict[int, int]()
    if batch.rows and db.get_bind().dialect.name == "postgresql":
        stored, per_bucket = _copy_insert_postgresql(db, session.id, batch.rows)
    elif batch.rows:
        statement = _insert(db).on_conflict_do_nothing().returning(RelayPacket.t_wall_ns, RelayPacket.ver_type)
        new = db.execute(statement, [{"session_id": session.id, **r} for r in batch.rows]).all()
        stored, per_bucket = len(new), _count_buckets([(t, v) for t, v in new])
    _add_to_buckets(db, session.id, per_bucket)
    answer = {
        "session_id": session.id,
        "received": len(batch.rows),
        "stored": stored,
        "duplicates": len(batch.rows) - stored,
        "rejected": batch.rejected,
        "replayed": False,
    }
    db.add(
        IdempotencyRecord(session_id=session.id, key=idempotency_key, body_sha256=batch.body_sha256, response=answer)
    )
    return answer


def relay_packet_counts(db: Session, session_id: str) -> dict[int, int]:
    """Stored packets (commands excluded) per sensor id of a session."""
    rows = db.execute(
        select(RelayPacket.sensor_id, func.count())
        .where(RelayPacket.session_id == session_id, RelayPacket.ver_type < COMMAND_TYPE_BASE)
        .group_by(RelayPacket.sensor_id)
    ).all()
    return {int(s): int(n) for s, n in rows}


def relay_capture(
    db: Session, session: GaitSession, *, wall_from_ns: int | None = None, wall_to_ns: int | None = None
) -> Capture | None:
    """What the relays uploaded to a session, as one capture.

    Records come in the relays' arrival order. When every packet carries the relay's wall-clock time (the batch
    headers had a clock pair), that time is the capture's host clock, so the Recording starts at its UTC time and
    packets of relay runs with different monotonic clocks fall in order; otherwise the relays' own clock is used.

    Parameters
    ----------
    wall_from_ns, wall_to_ns : int, optional
        Only the packets that arrived in ``[wall_from_ns, wall_to_ns)`` on the relay's wall clock (UTC ns), e.g. one
        calendar day of a home session; packets without a wall-clock time are then left out.

    Returns None when nothing was uploaded (in the window).
    """
    where = [RelayPacket.session_id == session.id]
    if wall_from_ns is not None:
        where.append(RelayPacket.t_wall_ns >= wall_from_ns)
    if wall_to_ns is not None:
        where.append(RelayPacket.t_wall_ns < wall_to_ns)
    windowed = wall_from_ns is not None or wall_to_ns is not None
    if not windowed:
        without_wall = db.scalar(
            select(func.count()).where(RelayPacket.session_id == session.id, RelayPacket.t_wall_ns.is_(None))
        )
        windowed = without_wall == 0  # every packet has a wall-clock time: use it
    host = RelayPacket.t_wall_ns if windowed else RelayPacket.t_host_ns
    rows = db.execute(
        select(host, RelayPacket.sensor_id, RelayPacket.ver_type, RelayPacket.packet)
        .where(*where)
        .order_by(host, RelayPacket.id)
    ).all()
    if not rows:
        return None
    # On the wall clock, host times count from the first packet (UTC ns are too large for the float64 microseconds
    # of the clock sync); the clock pair says where that is.
    base_ns = int(rows[0][0] or 0) if windowed else 0
    header = CaptureHeader(
        sensors=tuple(CaptureSensor(int(k), v) for k, v in sorted(session.sensors.items(), key=lambda kv: int(kv[0]))),
        session_id=session.id,
        clock_pairs=((base_ns, 0),) if windowed else (),
    )
    records = encode_records(
        (int(t or 0) - base_ns, Source.HOST_COMMAND if v >= COMMAND_TYPE_BASE else Source.RELAY, int(s), bytes(p))
        for t, s, v, p in rows
    )
    return parse_capture(encode_header(header) + records)
