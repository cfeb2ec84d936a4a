"""Clinics and tokens (admins), and revoking tokens."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, status
from sqlalchemy import select

from server.auth import audit, issue_token, require_admin
from server.db import Clinic, Token, utcnow
from server.deps import Auth, Db
from server.errors import Conflict, NotFound
from server.schemas import ClinicIn, ClinicOut, ErrorOut, IssuedToken, TokenIn

__all__ = ["router"]

router = APIRouter(tags=["admin"])


@router.post(
    "/clinics",
    response_model=ClinicOut,
    status_code=status.HTTP_201_CREATED,
    summary="Create a clinic",
    responses={409: {"model": ErrorOut, "description": "a clinic of that name exists"}},
)
def create_clinic(body: ClinicIn, db: Db, principal: Auth) -> Clinic:
    require_admin(principal)
    if db.scalar(select(Clinic).where(Clinic.name == body.name)) is not None:
        raise Conflict(f"a clinic named {body.name!r} exists")
    clinic = Clinic(name=body.name)
    db.add(clinic)
    db.flush()
    audit(db, principal, "create", "clinic", clinic.id)
    return clinic


@router.get("/clinics", response_model=list[ClinicOut], summary="List clinics")
def list_clinics(db: Db, principal: Auth) -> list[Clinic]:
    require_admin(principal)
    return list(db.scalars(select(Clinic).order_by(Clinic.name)))


@router.post("/tokens", response_model=IssuedToken, status_code=status.HTTP_201_CREATED, summary="Issue a token")
def create_token(body: TokenIn, db: Db, principal: Auth) -> IssuedToken:
    require_admin(principal)
    ttl = dt.timedelta(days=body.ttl_days) if body.ttl_days is not None else None
    secret, row = issue_token(db, role=body.role, label=body.label, clinic_id=body.clinic_id, ttl=ttl)
    audit(db, principal, "create", "token", row.id)
    return IssuedToken(id=row.id, role=row.role, token=secret, expires_at=row.expires_at, clinic_id=row.clinic_id)


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke a token")
def revoke_token(token_id: str, db: Db, principal: Auth) -> None:
    require_admin(principal)
    row = db.get(Token, token_id)
    if row is None:
        raise NotFound(f"no token {token_id}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    audit(db, principal, "delete", "token", token_id, row.patient_id)
