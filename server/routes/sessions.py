"""Sessions of a patient (clinic visits or home monitoring), and relay enrolment for a session.

A relay is enrolled with a token that may only upload to its session (``POST .../relay-token``). For the phone relay
(``/relay.html``, docs/relay.md) ``POST .../relay-enrolment`` issues the same token and also answers the link that
opens the relay page already enrolled, ``<service>/relay.html#session=<id>&token=<token>``, with a QR code of it as SVG
for the dashboard to show. The QR code is made here with segno (pure Python): the token is issued and encoded in one
request, and the dashboard needs no QR library of its own. The token travels after ``#``, which a browser never sends
to a server, so it stays out of access logs; the relay page takes it out of the address bar at once.
"""

from __future__ import annotations

import datetime as dt
import io
from urllib.parse import quote

import segno
from fastapi import APIRouter, Request, status
from pydantic import Field
from sqlalchemy import select

from server.auth import audit, issue_token, patient_for, session_for
from server.db import GaitSession
from server.deps import Auth, Db
from server.schemas import IssuedToken, RelayTokenIn, SessionIn, SessionOut

__all__ = ["router"]

router = APIRouter(tags=["sessions"])


@router.post(
    "/patients/{patient_id}/sessions",
    response_model=SessionOut,
    status_code=status.HTTP_201_CREATED,
    summary="Open a session for a patient",
)
def create_session(patient_id: str, body: SessionIn, db: Db, principal: Auth) -> GaitSession:
    patient = patient_for(db, principal, patient_id)
    session = GaitSession(patient_id=patient.id, kind=body.kind, date=body.date, label=body.label, sensors={})
    db.add(session)
    db.flush()
    audit(db, principal, "create", "session", session.id, patient.id)
    return session


@router.get("/patients/{patient_id}/sessions", response_model=list[SessionOut], summary="A patient's sessions")
def list_sessions(patient_id: str, db: Db, principal: Auth) -> list[GaitSession]:
    patient = patient_for(db, principal, patient_id)
    sessions = list(
        db.scalars(
            select(GaitSession)
            .where(GaitSession.patient_id == patient.id)
            .order_by(GaitSession.date, GaitSession.created_at)
        )
    )
    audit(db, principal, "read", "sessions", patient.id, patient.id)
    return sessions


@router.get("/sessions/{session_id}", response_model=SessionOut, summary="One session")
def get_session(session_id: str, db: Db, principal: Auth) -> GaitSession:
    session, patient = session_for(db, principal, session_id)
    audit(db, principal, "read", "session", session.id, patient.id)
    return session


class RelayEnrolmentIn(RelayTokenIn):
    service_url: str | None = Field(
        default=None,
        max_length=300,
        pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        description="the address the patient's phone reaches the service at (default: the one of this request); "
        "Web Bluetooth needs https:// (or localhost)",
    )


class RelayEnrolmentOut(IssuedToken):
    relay_url: str = Field(description="opens the phone relay page enrolled for this session (holds the token)")
    qr_svg: str = Field(description="a QR code of relay_url, as an SVG document")


def relay_url(service_url: str, session_id: str, token: str) -> str:
    """The link that opens the relay page enrolled: the token after ``#`` (never sent to a server)."""
    return f"{service_url.rstrip('/')}/relay.html#session={quote(session_id, safe='')}&token={quote(token, safe='')}"


def qr_svg(text: str) -> str:
    """A QR code of ``text`` as a standalone SVG document (error correction M or better, 4-module quiet zone)."""
    out = io.BytesIO()
    segno.make(text, error="m", micro=False).save(
        out,
        kind="svg",
        scale=5,
        border=4,
        dark="#000",
        light="#fff",
        xmldecl=False,
        svgns=True,
        nl=False,
        title="QR code: open the FusionGait sensor page on the patient's phone",
    )
    return out.getvalue().decode("utf-8")


def _issue_relay_token(db: Db, principal: Auth, session_id: str, body: RelayTokenIn) -> IssuedToken:
    session, patient = session_for(db, principal, session_id)
    ttl = dt.timedelta(days=body.ttl_days) if body.ttl_days is not None else None
    secret, row = issue_token(db, role="relay", label=body.label, patient_id=patient.id, session_id=session.id, ttl=ttl)
    audit(db, principal, "create", "relay_token", row.id, patient.id)
    return IssuedToken(
        id=row.id,
        role=row.role,
        token=secret,
        expires_at=row.expires_at,
        patient_id=patient.id,
        session_id=session.id,
    )


@router.post(
    "/sessions/{session_id}/relay-enrolment",
    response_model=RelayEnrolmentOut,
    status_code=status.HTTP_201_CREATED,
    summary="Enrol a phone relay: a relay token, the link that opens the relay page with it, and its QR code (SVG)",
)
def enrol_phone_relay(
    session_id: str, body: RelayEnrolmentIn, request: Request, db: Db, principal: Auth
) -> RelayEnrolmentOut:
    issued = _issue_relay_token(db, principal, session_id, body)
    url = relay_url(body.service_url or str(request.base_url), str(issued.session_id), issued.token)
    return RelayEnrolmentOut(**issued.model_dump(), relay_url=url, qr_svg=qr_svg(url))


@router.post(
    "/sessions/{session_id}/relay-token",
    response_model=IssuedToken,
    status_code=status.HTTP_201_CREATED,
    summary="Enrol a relay: a token that may only upload to this session",
)
def enrol_relay(session_id: str, body: RelayTokenIn, db: Db, principal: Auth) -> IssuedToken:
    return _issue_relay_token(db, principal, session_id, body)
