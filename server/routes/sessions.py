"""Sessions of a patient (clinic visits or home monitoring), and relay enrolment for a session."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, status
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


@router.post(
    "/sessions/{session_id}/relay-token",
    response_model=IssuedToken,
    status_code=status.HTTP_201_CREATED,
    summary="Enrol a relay: a token that may only upload to this session",
)
def enrol_relay(session_id: str, body: RelayTokenIn, db: Db, principal: Auth) -> IssuedToken:
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
