"""``fusiongait serve`` (the HTTP service under uvicorn) and ``fusiongait admin`` (clinics and tokens).

::

    fusiongait serve [--host 127.0.0.1] [--port 8000] [--data-dir DIR] [--database-url URL] [--workers N]
    fusiongait admin create-clinic NAME
    fusiongait admin create-token --role admin|clinician [--clinic NAME] [--label TEXT] [--ttl-days D]
    fusiongait admin revoke-token TOKEN_ID

Settings not given as options come from the environment (``FUSIONGAIT_*``, see :mod:`server.config`). The admin
commands work on the database directly (migrating it first), so the first admin token can be made before the
service runs. A token is printed once and stored only hashed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import select

from server.auth import issue_token
from server.config import Settings
from server.db import Clinic, Database, Token, utcnow

__all__ = ["add_admin_parser", "add_serve_parser", "settings_from_args"]


def _settings_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, help="data folder (default: $FUSIONGAIT_DATA_DIR or the user's)")
    parser.add_argument("--database-url", help="SQLAlchemy URL (default: SQLite in the data folder)")


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Settings from the environment, overridden by the command's options."""
    overrides: dict[str, Any] = {}
    if getattr(args, "data_dir", None) is not None:
        overrides["data_dir"] = args.data_dir
    if getattr(args, "database_url", None):
        overrides["database_url"] = args.database_url
    if getattr(args, "workers", None) is not None:
        overrides["analysis_workers"] = args.workers
    return Settings(**overrides)


def add_serve_parser(commands: Any) -> None:
    """Add ``serve`` to the ``fusiongait`` parser."""
    serve = commands.add_parser(
        "serve",
        help="run the HTTP service (API at /api/v1, OpenAPI at /docs)",
        description="Run the FusionGait service with uvicorn. Stop it with Ctrl-C.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--workers", type=int, help="analysis worker processes (default 1)")
    _settings_options(serve)
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn  # noqa: PLC0415 - only for this command

    from server.app import create_app  # noqa: PLC0415

    settings = settings_from_args(args)
    print(f"fusiongait: data in {settings.data_dir}, database {settings.effective_database_url.split('://')[0]}")
    # The standard asyncio loop: the serial transports (pyserial-asyncio-fast) stall under uvloop. No per-message
    # deflate on WebSockets: the live feed serialises a message once for every viewer, but deflate would compress
    # it again for each one, on the event loop (a 50 kB summary to 10 viewers), for a feed that stays on the LAN.
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_level="info",
        loop="asyncio",
        ws_per_message_deflate=False,
    )
    return 0


def add_admin_parser(commands: Any) -> None:
    """Add ``admin`` (create-clinic, create-token, revoke-token) to the ``fusiongait`` parser."""
    admin = commands.add_parser("admin", help="create clinics and tokens", description=__doc__.splitlines()[0])
    actions = admin.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=type(admin))
    clinic = actions.add_parser("create-clinic", help="create a clinic (prints its id)")
    clinic.add_argument("name")
    _settings_options(clinic)
    clinic.set_defaults(handler=_create_clinic)
    token = actions.add_parser("create-token", help="issue a token (printed once)")
    token.add_argument("--role", choices=("admin", "clinician"), required=True)
    token.add_argument("--clinic", metavar="NAME", help="the clinician's clinic (created when missing)")
    token.add_argument("--label", default="", help="who or what the token is for")
    token.add_argument("--ttl-days", type=float, help="expire after this many days (default: never)")
    _settings_options(token)
    token.set_defaults(handler=_create_token)
    revoke = actions.add_parser("revoke-token", help="revoke a token by its id")
    revoke.add_argument("token_id")
    _settings_options(revoke)
    revoke.set_defaults(handler=_revoke_token)


def _fail(message: str) -> int:
    print(f"fusiongait: error: {message}", file=sys.stderr)
    return 2


def _database(args: argparse.Namespace) -> Database:
    settings = settings_from_args(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(settings.effective_database_url)
    database.migrate()
    return database


def _clinic_named(db: Any, name: str, *, create: bool) -> Clinic:
    clinic = db.scalar(select(Clinic).where(Clinic.name == name))
    if clinic is None and create:
        clinic = Clinic(name=name)
        db.add(clinic)
        db.flush()
    if clinic is None:
        raise ValueError(f"no clinic named {name!r}")
    return clinic  # type: ignore[no-any-return]


def _create_clinic(args: argparse.Namespace) -> int:
    database = _database(args)
    try:
        with database.session() as db:
            if db.scalar(select(Clinic).where(Clinic.name == args.name)) is not None:
                return _fail(f"a clinic named {args.name!r} exists")
            clinic = _clinic_named(db, args.name, create=True)
            print(clinic.id)
    finally:
        database.dispose()
    return 0


def _create_token(args: argparse.Namespace) -> int:
    if args.role == "clinician" and not args.clinic:
        return _fail("argument --clinic: a clinician token needs a clinic")
    if args.role == "admin" and args.clinic:
        return _fail("argument --clinic: an admin token is not bound to a clinic")
    if args.ttl_days is not None and not args.ttl_days > 0:
        print(
            f"fusiongait: error: argument --ttl-days: expected a positive number, got {args.ttl_days}", file=sys.stderr
        )
        return 2
    database = _database(args)
    try:
        with database.session() as db:
            clinic_id = _clinic_named(db, args.clinic, create=True).id if args.clinic else None
            ttl = dt.timedelta(days=args.ttl_days) if args.ttl_days is not None else None
            secret, _row = issue_token(db, role=args.role, label=args.label, clinic_id=clinic_id, ttl=ttl)
        print(secret)
    finally:
        database.dispose()
    return 0


def _revoke_token(args: argparse.Namespace) -> int:
    database = _database(args)
    try:
        with database.session() as db:
            row = db.get(Token, args.token_id)
            if row is None:
                return _fail(f"no token {args.token_id}")
            row.revoked_at = row.revoked_at or utcnow()
    finally:
        database.dispose()
    return 0
