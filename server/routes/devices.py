"""A clinic's sensors: which device (profile, address) is worn where, for live sessions and relays."""

from __future__ import annotations

from fastapi import APIRouter, status
from sqlalchemy import select

from hardware.profiles import PROFILES
from server.auth import audit, clinic_for_new, require_staff
from server.db import Device
from server.deps import Auth, Db
from server.errors import BadInput, Conflict, NotFound
from server.schemas import DeviceIn, DeviceOut, ErrorOut

__all__ = ["router"]

router = APIRouter(tags=["devices"])


@router.post(
    "/devices",
    response_model=DeviceOut,
    status_code=status.HTTP_201_CREATED,
    summary="Register a sensor",
    responses={409: {"model": ErrorOut, "description": "the clinic has a device at that address"}},
)
def create_device(body: DeviceIn, db: Db, principal: Auth) -> Device:
    require_staff(principal)
    if body.profile not in PROFILES:
        raise BadInput(f"profile: expected one of {', '.join(sorted(PROFILES))}, got {body.profile!r}")
    clinic_id = clinic_for_new(db, principal, body.clinic_id, "device")
    if db.scalar(select(Device).where(Device.clinic_id == clinic_id, Device.address == body.address)) is not None:
        raise Conflict(f"the clinic has a device at {body.address!r}")
    device = Device(clinic_id=clinic_id, **body.model_dump(exclude={"clinic_id"}))
    db.add(device)
    db.flush()
    audit(db, principal, "create", "device", device.id)
    return device


@router.get("/devices", response_model=list[DeviceOut], summary="The clinic's sensors")
def list_devices(db: Db, principal: Auth) -> list[Device]:
    require_staff(principal)
    query = select(Device).order_by(Device.name)
    if principal.role == "clinician":
        query = query.where(Device.clinic_id == principal.clinic_id)
    return list(db.scalars(query))


@router.delete("/devices/{device_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Remove a sensor")
def delete_device(device_id: str, db: Db, principal: Auth) -> None:
    require_staff(principal)
    device = db.get(Device, device_id)
    if device is None or (principal.role == "clinician" and device.clinic_id != principal.clinic_id):
        raise NotFound(f"no device {device_id}")
    db.delete(device)
    audit(db, principal, "delete", "device", device_id)
