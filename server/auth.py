"""Tokens, roles and who may see what.

A token is 32 random bytes (``fg_`` + URL-safe base64), shown once when it is created and stored only as its
SHA-256: a leaked database holds no usable token. (A slow password hash buys nothing for a secret of 256 random
bits; SHA-256 keeps the look-up one indexed query.)

Roles:

- ``admin``: everything, including clinics and tokens.
- ``clinician``: the patients of their clinic, and everything below them (sessions, recordings, analyses,
  reports, relay enrolment), and their clinic's devices.
- ``relay``: may only upload to the one session it was issued for, and reads nothing.

A resource the token may not see answers exactly as one that does not exist (404), so ids of other clinics'
patients leak nothing. A relay token on a read route gets 403: it may read nothing, whatever the id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.db import AuditEntry, Clinic, GaitSession, Patient, Token, utcnow
from server.errors import BadInput, Forbidden, NotFound, Unauthorized

__all__ = [
    "TOKEN_PREFIX",
    "Principal",
    "audit",
    "authenticate",
    "clinic_for_new",
    "hash_token",
    "issue_token",
    "patient_for",
    "require_admin",
    "require_staff",
    "session_child_for",
    "session_for",
    "session_for_upload",
]

TOKEN_PREFIX = "fg_"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's id and role, and the clinic, patient and session it is bound to."""

    token_id: str
    role: str
    clinic_id: str | None = None
    patient_id: str | None = None
    session_id: str | None = None


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(
    db: Session,
    *,
    role: str,
    label: str = "",
    clinic_id: str | None = None,
    patient_id: str | None = None,
    session_id: str | None = None,
    ttl: dt.timedelta | None = None,
) -> tuple[str, Token]:
    """Create a token and return ``(secret, row)``; the secret is not stored and cannot be shown again.

    Raises
    ------
    BadInput
        When the role's binding is incomplete (a clinician needs a clinic; a relay needs a patient and session).
    """
    if role == "clinician" and clinic_id is None:
        raise BadInput("a clinician token needs a clinic")
    if role == "relay" and (patient_id is None or session_id is None):
        raise BadInput("a relay token needs a patient and a session")
    if role == "admin" and (clinic_id is not None or patient_id is not None or session_id is not None):
        raise BadInput("an admin token is not bound to a clinic, patient or session")
    if role == "clinician" and db.get(Clinic, clinic_id) is None:
        raise NotFound(f"no clinic {clinic_id}")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = Token(
        token_sha256=hash_token(secret),
        role=role,
        label=label,
        clinic_id=clinic_id,
        patient_id=patient_id,
        session_id=session_id,
        expires_at=None if ttl is None else utcnow() + ttl,
    )
    db.add(row)
    db.flush()
    return secret, row


def authenticate(db: Session, authorization: str | None) -> Principal:
    """The principal of an ``Authorization: Bearer <token>`` header.

    Raises
    ------
    Unauthorized
        No header, not a bearer token, an unknown, expired or revoked token. The message says which, but never
        whether a token exists for another reason.
    """
    if not authorization:
        raise Unauthorized("missing token: send 'Authorization: Bearer <token>'")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("expected 'Authorization: Bearer <token>'")
    row = db.scalar(select(Token).where(Token.token_sha256 == hash_token(token.strip())))
    if row is None:
        raise Unauthorized("invalid token")
    now = utcnow()
    if row.revoked_at is not None:
        raise Unauthorized("token revoked")
    if row.expires_at is not None and row.expires_at <= now:
        raise Unauthorized("token expired")
    return Principal(row.id, row.role, row.clinic_id, row.patient_id, row.session_id)


def require_staff(principal: Principal) -> None:
    """Admins and clinicians only (a relay token reads nothing)."""
    if principal.role not in ("admin", "clinician"):
        raise Forbidden("a relay token may only upload to its own session")


def require_admin(principal: Principal) -> None:
    """Admins only."""
    if principal.role != "admin":
        raise Forbidden("this needs an admin token")


def patient_for(db: Session, principal: Principal, patient_id: str) -> Patient:
    """The patient, if the principal is staff allowed to see it; else :class:`NotFound` (same as absent)."""
    require_staff(principal)
    patient = db.get(Patient, patient_id)
    if patient is None or (principal.role == "clinician" and patient.clinic_id != principal.clinic_id):
        raise NotFound(f"no patient {patient_id}")
    return patient


def session_for(db: Session, principal: Principal, session_id: str) -> tuple[GaitSession, Patient]:
    """The session and its patient, for staff allowed to see them; else :class:`NotFound`."""
    require_staff(principal)
    session = db.get(GaitSession, session_id)
    if session is None:
        raise NotFound(f"no session {session_id}")
    patient = db.get(Patient, session.patient_id)
    if patient is None or (principal.role == "clinician" and patient.clinic_id != principal.clinic_id):
        raise NotFound(f"no session {session_id}")
    return session, patient


def session_for_upload(db: Session, principal: Principal, session_id: str) -> tuple[GaitSession, Patient]:
    """The session a relay batch goes to: a relay token's own session, or one its staff may see."""
    if principal.role == "relay":
        if principal.session_id != session_id:
            raise NotFound(f"no session {session_id}")
        session = db.get(GaitSession, session_id)
        patient = db.get(Patient, session.patient_id) if session is not None else None
        if session is None or patient is None:
            raise NotFound(f"no session {session_id}")
        return session, patient
    return session_for(db, principal, session_id)


class _InSession(Protocol):
    id: str
    session_id: str


T = TypeVar("T", bound=_InSession)


def session_child_for(db: Session, principal: Principal, model: type[T], item_id: str, what: str) -> tuple[T, str]:
    """A row that belongs to a session (a recording, an analysis) and its patient's id, for staff allowed to see
    that session; else :class:`NotFound`, the same as for an id that does not exist."""
    require_staff(principal)  # before the look-up: a relay learns nothing about which ids exist
    row = db.get(model, item_id)
    if row is None:
        raise NotFound(f"no {what} {item_id}")
    try:
        _session, patient = session_for(db, principal, row.session_id)
    except NotFound:
        raise NotFound(f"no {what} {item_id}") from None
    return row, patient.id


def clinic_for_new(db: Session, principal: Principal, clinic_id: str | None, what: str) -> str:
    """The clinic a new patient or device goes to: a clinician's own (another one is answered as absent); an
    admin must name an existing one."""
    if principal.role == "clinician":
        if clinic_id is not None and clinic_id != principal.clinic_id:
            raise NotFound(f"no clinic {clinic_id}")
        assert principal.clinic_id is not None
        return principal.clinic_id
    if clinic_id is None:
        raise BadInput(f"clinic_id: an admin must say which clinic the {what} belongs to")
    if db.get(Clinic, clinic_id) is None:
        raise NotFound(f"no clinic {clinic_id}")
    return clinic_id


def audit(
    db: Session,
    principal: Principal,
    action: str,
    resource: str,
    resource_id: str = "",
    patient_id: str | None = None,
) -> None:
    """Record who read or changed which patient's data (in the caller's transaction)."""
    db.add(
        AuditEntry(
            token_id=principal.token_id,
            role=principal.role,
            action=action,
            resource=resource,
            resource_id=resource_id,
            patient_id=patient_id,
        )
    )
