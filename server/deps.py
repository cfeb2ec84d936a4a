"""Request dependencies: the service's state, a database transaction per request, the caller's principal, and
bodies read with a size limit."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from server.auth import Principal, authenticate
from server.blobs import BlobStore
from server.config import Settings
from server.db import Database
from server.errors import PayloadTooLarge
from server.jobs import AnalysisRunner
from server.live import LiveHub

__all__ = ["Auth", "Db", "ServiceState", "bearer", "get_db", "get_principal", "read_body", "state_of"]

#: Declares the bearer scheme in the OpenAPI schema ("Authorize" in /docs); the check itself is ours.
bearer = HTTPBearer(auto_error=False, description="a token from `fusiongait admin create-token` or the API")


@dataclass(eq=False)
class ServiceState:
    """What the running service holds: its settings, database, file store, analysis workers and live sessions."""

    settings: Settings
    database: Database
    blobs: BlobStore
    runner: AnalysisRunner
    hub: LiveHub


def state_of(request: Request) -> ServiceState:
    """The service state of the app serving ``request``."""
    state: ServiceState = request.app.state.service
    return state


def get_db(request: Request) -> Iterator[Session]:
    """A database session in one transaction, committed when the request's handler returns without error.

    Used with ``scope="function"`` (:data:`Db`): the commit happens before the response is sent, so a 2xx means
    the change is stored and the next request sees it (the default scope would commit after the response).
    """
    with state_of(request).database.session() as db:
        yield db


def get_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    """The caller, from the bearer token (401 when missing, unknown, expired or revoked)."""
    header = request.headers.get("authorization")
    with state_of(request).database.session(read_only=True) as db:
        return authenticate(db, header if credentials is None else f"Bearer {credentials.credentials}")


Db = Annotated[Session, Depends(get_db, scope="function")]
Auth = Annotated[Principal, Depends(get_principal)]


async def read_body(request: Request, limit_bytes: int, what: str) -> bytes:
    """The request body, refused with 413 as soon as it grows past ``limit_bytes`` (never read whole first)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit_bytes:
        raise PayloadTooLarge(f"{what}: {int(declared)} bytes is more than the {limit_bytes}-byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit_bytes:
            raise PayloadTooLarge(f"{what}: more than the {limit_bytes}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)
