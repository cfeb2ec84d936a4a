"""Uploads: recordings (a capture, or one CSV file per sensor) and relay batches (hardware/PROTOCOL.md §6).

Bodies are raw bytes (``application/octet-stream`` or ``text/csv``), read with a size limit. A recording is checked
by the same readers the analysis uses before anything is stored; a bad one gets 422 naming the problem and
nothing is kept. An accepted upload is on disk (file fsynced, database committed) before the 2xx answer.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Header, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from firmware_bridge.errors import BridgeError
from firmware_bridge.readers.capture_format import assemble_capture
from firmware_bridge.readers.csv_format import read_sensor_csv
from hardware.capture import parse_capture
from hardware.errors import HardwareError
from server.auth import Principal, audit, session_child_for, session_for, session_for_upload
from server.db import RecordingFile
from server.deps import Auth, Db, read_body, state_of
from server.errors import BadInput
from server.ingest import parse_relay_batch, relay_packet_counts, store_relay_batch
from server.schemas import Placement, RecordingOut, RelayAnswer

__all__ = ["router"]

router = APIRouter(tags=["recordings"])

_BINARY_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "text/csv": {"schema": {"type": "string"}},
        },
    }
}
_CAPTURE_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def _check_capture(data: bytes, name: str) -> dict[str, Any]:
    try:
        capture = parse_capture(data)
    except HardwareError as exc:
        raise BadInput(f"{name}: {exc} (format=capture expects a .imucap file)") from None
    if capture.torn_tail_bytes:
        raise BadInput(f"{name}: truncated: the last {capture.torn_tail_bytes} bytes do not make a whole record")
    try:
        assembled = assemble_capture(capture, name=name)
    except (BridgeError, HardwareError) as exc:
        raise BadInput(str(exc)) from None
    rec = assembled.recording
    return {
        "placements": list(rec.placements),
        "sampling_rate_hz": rec.sampling_rate_hz,
        "duration_s": round(rec.n_samples / rec.sampling_rate_hz, 3),
        "sensors": {p: h.to_json() for p, h in assembled.health.items()},
        "warnings": assembled.warnings,
    }


def _check_csv(data: bytes, name: str, placement: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="fusiongait-upload-") as tmp:
        path = Path(tmp) / (Path(name).name or "upload.csv")
        path.write_bytes(data)
        try:
            stream, warnings = read_sensor_csv(path, placement)
        except (BridgeError, HardwareError) as exc:
            raise BadInput(str(exc).replace(f"{tmp}/", "")) from None
    n = int(stream.t_s.shape[0])
    duration_s = float(stream.t_s[-1] - stream.t_s[0])
    lost = int((~np.isfinite(stream.acc_mps2).all(axis=-1) | ~np.isfinite(stream.gyr_dps).all(axis=-1)).sum())
    return {
        "placements": [placement],
        "n_samples": n,
        "lost_samples": lost,
        "duration_s": round(duration_s, 3),
        "warnings": [w.replace(f"{tmp}/", "") for w in warnings],
    }


def _store_recording(
    request: Request,
    principal: Principal,
    session_id: str,
    data: bytes,
    fmt: str,
    placement: str | None,
    filename: str,
) -> RecordingFile:
    state = state_of(request)
    with state.database.session() as db:  # 404 before any work on the body
        session_for(db, principal, session_id)
    name = filename or f"upload.{'imucap' if fmt == 'capture' else 'csv'}"
    if fmt == "capture":
        summary = _check_capture(data, name)
    else:
        if placement is None:
            raise BadInput("placement: a CSV file holds one sensor; say which (pelvis, left_thigh, right_thigh)")
        summary = _check_csv(data, name, placement)
    sha256 = state.blobs.put(data)  # durable before the row that points to it
    with state.database.session() as db:
        session, patient = session_for(db, principal, session_id)
        row = RecordingFile(
            session_id=session.id,
            format=fmt,
            placement=placement if fmt == "csv" else None,
            filename=filename,
            sha256=sha256,
            size_bytes=len(data),
            summary=summary,
        )
        db.add(row)
        db.flush()
        audit(db, principal, "create", "recording", row.id, patient.id)
    return row


@router.post(
    "/sessions/{session_id}/recordings",
    response_model=RecordingOut,
    status_code=status.HTTP_201_CREATED,
    summary="Upload a recording (a capture, or one sensor's CSV file)",
    openapi_extra=_BINARY_BODY,
    responses={413: {"description": "larger than the upload limit"}, 422: {"description": "not a valid recording"}},
)
async def upload_recording(
    session_id: str,
    request: Request,
    principal: Auth,
    format: Annotated[Literal["capture", "csv"], Query(description="what the body is")],
    placement: Annotated[Placement | None, Query(description="CSV only: the sensor the file holds")] = None,
    filename: Annotated[str, Query(max_length=255, description="the file's name, for messages")] = "",
) -> RecordingFile:
    state = state_of(request)
    data = await read_body(request, state.settings.max_upload_bytes, "recording")
    if not data:
        raise BadInput("recording: the body is empty")
    return await run_in_threadpool(_store_recording, request, principal, session_id, data, format, placement, filename)


@router.get("/sessions/{session_id}/recordings", response_model=list[RecordingOut], summary="A session's recordings")
def list_recordings(session_id: str, db: Db, principal: Auth) -> list[RecordingFile]:
    session, patient = session_for(db, principal, session_id)
    rows = list(
        db.scalars(
            select(RecordingFile).where(RecordingFile.session_id == session.id).order_by(RecordingFile.created_at)
        )
    )
    audit(db, principal, "read", "recordings", session.id, patient.id)
    return rows


def _recording_for(db: Db, principal: Principal, recording_id: str) -> tuple[RecordingFile, str]:
    return session_child_for(db, principal, RecordingFile, recording_id, "recording")


@router.get("/recordings/{recording_id}", response_model=RecordingOut, summary="One recording's details")
def get_recording(recording_id: str, db: Db, principal: Auth) -> RecordingFile:
    row, patient_id = _recording_for(db, principal, recording_id)
    audit(db, principal, "read", "recording", row.id, patient_id)
    return row


@router.get(
    "/recordings/{recording_id}/content",
    summary="Download a recording's bytes as uploaded",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}, "text/csv": {}}}},
)
def recording_content(recording_id: str, request: Request, db: Db, principal: Auth) -> Response:
    row, patient_id = _recording_for(db, principal, recording_id)
    data = state_of(request).blobs.get(row.sha256)
    audit(db, principal, "read", "recording_content", row.id, patient_id)
    media = "application/octet-stream" if row.format == "capture" else "text/csv"
    return Response(content=data, media_type=media, headers={"X-Content-SHA256": row.sha256})


def _ingest(request: Request, principal: Principal, session_id: str, data: bytes, key: str) -> dict[str, Any]:
    state = state_of(request)
    with state.database.session() as db:  # 404 before parsing: a relay learns nothing about other sessions
        session_for_upload(db, principal, session_id)
    batch = parse_relay_batch(data)
    with state.database.session() as db:
        session, patient = session_for_upload(db, principal, session_id)
        answer = store_relay_batch(db, session, batch, key)
        if not answer["replayed"]:
            audit(db, principal, "create", "relay_batch", session.id, patient.id)
    return answer


@router.post(
    "/sessions/{session_id}/relay-batches",
    response_model=RelayAnswer,
    summary="Upload a relay batch (raw packets as a capture body), exactly once",
    openapi_extra=_CAPTURE_BODY,
    responses={
        409: {"description": "the Idempotency-Key was used for another body, or a sensor changed placement"},
        413: {"description": "larger than the batch limit"},
        422: {"description": "not a whole capture"},
    },
)
async def upload_relay_batch(
    session_id: str,
    request: Request,
    principal: Auth,
    idempotency_key: Annotated[
        str,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=200,
            pattern=r"^[\x21-\x7e]+$",
            description="unique per batch; a retry sends the same key and body",
        ),
    ],
) -> dict[str, Any]:
    state = state_of(request)
    data = await read_body(request, state.settings.max_relay_batch_bytes, "relay batch")
    return await run_in_threadpool(_ingest, request, principal, session_id, data, idempotency_key)


@router.get(
    "/sessions/{session_id}/relay-packets",
    summary="Packets the relays uploaded to a session, per sensor",
    response_model=dict[str, int],
)
def relay_packets(session_id: str, db: Db, principal: Auth) -> dict[str, int]:
    session, patient = session_for(db, principal, session_id)
    counts = relay_packet_counts(db, session.id)
    audit(db, principal, "read", "relay_packets", session.id, patient.id)
    return {session.sensors.get(str(k), str(k)): v for k, v in sorted(counts.items())}
