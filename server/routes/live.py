"""Live clinic sessions: start, follow (WebSocket), stop. The contract is in ``docs/live.md``."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Annotated, Any

from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, field_validator

from server.analysis import AnalysisOptions
from server.auth import Principal, audit, authenticate, require_staff, session_for
from server.db import GaitSession, Patient
from server.deps import Auth, Db, state_of
from server.errors import BadInput, ServiceError
from server.live import LiveSession
from server.live_fanout import RemoteLive
from server.schemas import Placement

__all__ = ["router"]

router = APIRouter(tags=["live"])

#: How long a WebSocket client has to send its auth message.
AUTH_TIMEOUT_S = 5.0


class LiveIn(BaseModel):
    sensors: Annotated[
        dict[Placement, str],
        Field(min_length=1, description="placement → sensor URL (ble://, serial://, socket://, replay://)"),
    ]

    @field_validator("sensors")
    @classmethod
    def _urls(cls, value: dict[str, str]) -> dict[str, str]:
        for placement, url in value.items():
            if "://" not in url or len(url) > 500:
                raise ValueError(f"{placement}: expected a sensor URL such as socket://127.0.0.1:7001, got {url!r}")
        if "pelvis" not in value:
            raise ValueError("the pelvis sensor is required")
        return value


class LiveOut(BaseModel):
    session_id: str
    patient_id: str
    patient_code: str
    state: str
    started_at: str
    sensors: dict[str, str]
    analysis_id: str | None


def _out(live: LiveSession | RemoteLive) -> LiveOut:
    return LiveOut(
        session_id=live.session_id,
        patient_id=live.patient_id,
        patient_code=live.patient_code,
        state=live.state,
        started_at=live.started_at.isoformat(),
        sensors=dict(live.sensors),
        analysis_id=live.analysis_id,
    )


@router.get("/live", response_model=list[LiveOut], summary="Live sessions the token may see")
def list_live(request: Request, db: Db, principal: Auth) -> list[LiveOut]:
    require_staff(principal)
    hub = state_of(request).hub
    out = []
    for live in hub.listed():
        patient = db.get(Patient, live.patient_id)
        if patient is not None and (principal.role == "admin" or patient.clinic_id == principal.clinic_id):
            out.append(_out(live))
    return out


@router.post(
    "/sessions/{session_id}/live",
    response_model=LiveOut,
    status_code=status.HTTP_201_CREATED,
    summary="Start recording and analysing a clinic session live",
    responses={409: {"description": "the session is already live"}},
)
async def start_live(session_id: str, body: LiveIn, request: Request, principal: Auth) -> LiveOut:
    state = state_of(request)

    def check() -> tuple[GaitSession, Patient]:
        with state.database.session() as db:
            session, patient = session_for(db, principal, session_id)
            if session.kind != "clinic":
                raise BadInput(f"session {session_id} is a home session; live recording is for clinic sessions")
            audit(db, principal, "create", "live_session", session.id, patient.id)
            return session, patient

    session, patient = await run_in_threadpool(check)
    options = AnalysisOptions(
        height_m=patient.height_m if patient.sensor_height_m is None else None,
        sensor_height_m=patient.sensor_height_m,
        session={"patient": patient.code, "date": session.date.isoformat(), "label": session.label},
    )
    live = await state.hub.start(
        session_id=session.id,
        patient_id=patient.id,
        patient_code=patient.code,
        sensors={str(p): url for p, url in body.sensors.items()},
        options=options,
    )
    return _out(live)


@router.get("/sessions/{session_id}/live", response_model=LiveOut, summary="A live session's state")
def get_live(session_id: str, request: Request, db: Db, principal: Auth) -> LiveOut:
    session_for(db, principal, session_id)
    return _out(state_of(request).hub.get(session_id))


@router.post(
    "/sessions/{session_id}/live/stop",
    response_model=LiveOut,
    summary="Stop a live session: the capture is stored and the full analysis queued",
    responses={503: {"description": "the session runs on another service process, which did not answer"}},
)
async def stop_live(session_id: str, request: Request, principal: Auth) -> LiveOut:
    state = state_of(request)

    def check() -> None:
        with state.database.session() as db:
            session, patient = session_for(db, principal, session_id)
            audit(db, principal, "update", "live_session", session.id, patient.id)

    await run_in_threadpool(check)
    return _out(await state.hub.stop(session_id))


def _authorize(websocket: WebSocket, session_id: str, token: Any) -> Principal:
    state = websocket.app.state.service
    with state.database.session() as db:
        principal = authenticate(db, f"Bearer {token}" if isinstance(token, str) else None)
        session, patient = session_for(db, principal, session_id)
        audit(db, principal, "read", "live_session", session.id, patient.id)
    return principal


@router.websocket("/sessions/{session_id}/live/ws")
async def live_feed(websocket: WebSocket, session_id: str) -> None:
    """The live feed (docs/live.md): first message ``{"type": "auth", "token": ..., "after": seq|null}``."""
    await websocket.accept()
    try:
        first = json.loads(await asyncio.wait_for(websocket.receive_text(), AUTH_TIMEOUT_S))
        if not isinstance(first, dict) or first.get("type") != "auth":
            raise ValueError("expected an auth message")
        after = first.get("after")
        if after is not None and not isinstance(after, int):
            raise ValueError("after: expected a message number or null")
    except (TimeoutError, ValueError, WebSocketDisconnect):
        with contextlib.suppress(Exception):
            await websocket.close(code=4401, reason="expected {type: auth, token, after} first")
        return
    try:
        await run_in_threadpool(_authorize, websocket, session_id, first.get("token"))
        hub = websocket.app.state.service.hub
        live = hub.get(session_id)
        # a session another process runs: its messages reach this one through the link (docs/deployment.md)
        feed = live.feed if isinstance(live, LiveSession) else await hub.link.wait_ready(live)
    except ServiceError as exc:
        await websocket.close(code=4000 + exc.status_code, reason=exc.message[:120])
        return

    backlog, queue, reset = feed.subscribe(after)
    if live.state == "stopped":  # the feed is closed: send what was missed, then close
        feed.unsubscribe(queue)
        queue.put_nowait(None)
    hello = {
        "type": "hello",
        "session_id": live.session_id,
        "patient_code": live.patient_code,
        "started_at": live.started_at.isoformat(),
        "reset": reset,
    }

    async def send() -> None:
        await websocket.send_json(hello)
        for text in backlog:  # messages are serialised once by the feed, for every viewer
            await websocket.send_text(text)
        while (text := await queue.get()) is not None:
            await websocket.send_text(text)
        await websocket.close(code=1000)

    async def receive() -> None:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await websocket.receive_text()  # viewers send nothing more; this notices a disconnect

    sender = asyncio.create_task(send())
    receiver = asyncio.create_task(receive())
    try:
        await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        feed.unsubscribe(queue)
        for task in (sender, receiver):
            task.cancel()
        await asyncio.gather(sender, receiver, return_exceptions=True)
