"""Who may do what: every route of the service × every kind of caller, with the answer each one gets.

The route list is the app's own route table: a route added without a row in :data:`MATRIX` fails
:func:`test_the_matrix_covers_every_route`. One service on SQLite serves the whole module (a few seconds).

Columns (who calls, on which resources):

============  ==========================================================================================
none          no ``Authorization`` header
garbage       a made-up bearer token
expired       a clinician token of clinic A whose ``expires_at`` is in the past
revoked       a clinician token of clinic A, revoked through the API
admin         an admin token
own           a clinician of clinic A, on clinic A's patient, session, recording, analysis, device
other         a clinician of clinic B, on the same (clinic A's) ids: must answer like an id that does not exist
relay         the relay token of clinic A's session S1, on S1 and its patient
relay-other   the same relay token on another session S2 (another patient of clinic A)
============  ==========================================================================================

Starting a home-day analysis answers 409 to staff: S1 is a clinic session (the caller got through).
``-`` marks a cell that means nothing (a route with no patient or session for "relay-other").

Session S1 is live (a replayed capture) for the whole module. Starting, stopping and following a live session work
on a fresh clinic session of the same patient per case, so no case depends on another. The WebSocket authenticates
with its first message, not a header; its row reads 200 for a feed (``hello`` … ``ended``) and 401/403/404 for the
close codes 4401/4403/4404.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.websockets import WebSocketDisconnect

from hardware.capture import encode_header, encode_records, parse_capture
from server.app import API_PREFIX, create_app
from server.config import Settings
from server.db import Token, utcnow
from tests.server.conftest import FIXTURES, Api, make_api

CAPTURE = FIXTURES / "compensated_walk.imucap"
MISSING = "0" * 24  # an id no resource has (ids are 24 hex digits)
LIVE_BODY = {"sensors": {"pelvis": f"replay://{CAPTURE.resolve()}?placement=pelvis&speed=1"}}

MATRIX = """
route                                          none garbage expired revoked admin own  other relay relay-other
GET    /health                                 200  200     200     200     200   200  200   200   -
GET    /clinics                                401  401     401     401     200   403  403   403   -
POST   /clinics                                401  401     401     401     201   403  403   403   -
POST   /tokens                                 401  401     401     401     201   403  403   403   -
DELETE /tokens/{token_id}                      401  401     401     401     204   403  403   403   -
GET    /patients                               401  401     401     401     200   200  200   403   -
POST   /patients                               401  401     401     401     201   201  404   403   -
GET    /patients/{patient_id}                  401  401     401     401     200   200  404   403   403
PATCH  /patients/{patient_id}                  401  401     401     401     200   200  404   403   403
GET    /patients/{patient_id}/audit            401  401     401     401     200   200  404   403   403
POST   /patients/{patient_id}/sessions         401  401     401     401     201   201  404   403   403
GET    /patients/{patient_id}/sessions         401  401     401     401     200   200  404   403   403
GET    /sessions/{session_id}                  401  401     401     401     200   200  404   403   403
POST   /sessions/{session_id}/relay-token      401  401     401     401     201   201  404   403   403
POST   /sessions/{session_id}/relay-enrolment  401  401     401     401     201   201  404   403   403
POST   /sessions/{session_id}/recordings       401  401     401     401     201   201  404   403   403
GET    /sessions/{session_id}/recordings       401  401     401     401     200   200  404   403   403
GET    /recordings/{recording_id}              401  401     401     401     200   200  404   403   403
GET    /recordings/{recording_id}/content      401  401     401     401     200   200  404   403   403
POST   /sessions/{session_id}/relay-batches    401  401     401     401     200   200  404   200   404
GET    /sessions/{session_id}/relay-packets    401  401     401     401     200   200  404   403   403
POST   /sessions/{session_id}/analyses         401  401     401     401     202   202  404   403   403
GET    /sessions/{session_id}/analyses         401  401     401     401     200   200  404   403   403
GET    /analyses/{analysis_id}                 401  401     401     401     200   200  404   403   403
GET    /analyses/{analysis_id}/report          401  401     401     401     200   200  404   403   403
GET    /analyses/{analysis_id}/report.html     401  401     401     401     200   200  404   403   403
POST   /sessions/{session_id}/home-days/analyse 401 401  401     401     409   409  404   403   403
GET    /sessions/{session_id}/home-days        401  401     401     401     200   200  404   403   403
GET    /patients/{patient_id}/home-trends      401  401     401     401     200   200  404   403   403
GET    /patients/{patient_id}/home-report.html 401  401     401     401     200   200  404   403   403
GET    /devices                                401  401     401     401     200   200  200   403   -
POST   /devices                                401  401     401     401     201   201  404   403   -
DELETE /devices/{device_id}                    401  401     401     401     204   204  404   403   -
GET    /live                                   401  401     401     401     200   200  200   403   -
POST   /sessions/{session_id}/live             401  401     401     401     201   201  404   403   403
GET    /sessions/{session_id}/live             401  401     401     401     200   200  404   403   403
POST   /sessions/{session_id}/live/stop        401  401     401     401     200   200  404   403   403
WS     /sessions/{session_id}/live/ws          401  401     401     401     200   200  404   403   403
"""

COLUMN_NAMES = {
    "none": "no-token",
    "garbage": "garbage-token",
    "expired": "expired-token",
    "revoked": "revoked-token",
    "admin": "admin",
    "own": "clinician-own",
    "other": "clinician-other",
    "relay": "relay-own",
    "relay-other": "relay-other",
}
#: column → (caller, whose resources the ids name)
COLUMNS = {
    "none": ("none", "first"),
    "garbage": ("garbage", "first"),
    "expired": ("expired", "first"),
    "revoked": ("revoked", "first"),
    "admin": ("admin", "first"),
    "own": ("clinician_a", "first"),
    "other": ("clinician_b", "first"),
    "relay": ("relay", "first"),
    "relay-other": ("relay", "second"),
}


def parse_matrix(text: str) -> dict[str, dict[str, int | None]]:
    lines = [line.split() for line in text.strip().splitlines()]
    header, rows = lines[0][1:], lines[1:]
    assert header == list(COLUMNS), header
    table: dict[str, dict[str, int | None]] = {}
    for row in rows:
        route, cells = f"{row[0]} {row[1]}", row[2:]
        assert len(cells) == len(header), f"{route}: {len(cells)} cells for {len(header)} columns"
        assert route not in table, f"{route} twice"
        table[route] = {col: None if cell == "-" else int(cell) for col, cell in zip(header, cells, strict=True)}
    return table


TABLE = parse_matrix(MATRIX)
CASES = [
    pytest.param(route, col, status, id=f"{route} {COLUMN_NAMES[col]} -> {status}")
    for route, cells in TABLE.items()
    for col, status in cells.items()
    if status is not None
]


# ------------------------------------------------------------------------------------------------ the service
@dataclass
class World:
    """The ids a request names: one patient's data in clinic A, or ids that exist nowhere."""

    clinic: str
    patient: str
    session: str
    recording: str
    analysis: str
    device: str

    def ids(self) -> set[str]:
        return {self.clinic, self.patient, self.session, self.recording, self.analysis, self.device}


@dataclass
class Ctx:
    api: Api
    callers: dict[str, dict[str, str]]
    worlds: dict[str, World]
    batch: bytes
    capture: bytes
    made: set[str] = field(default_factory=set)  # ids of the fresh tokens, devices and sessions made for cases

    def post(self, url: str, headers: dict[str, str], status: int = 201, **kwargs: Any) -> Any:
        return self.api.ok(self.api.client.post(f"{API_PREFIX}{url}", headers=headers, **kwargs), status)

    def fresh(self, kind: str, world: World) -> str:
        """A new token, device, clinic session or live session of clinic A (one per case), or the missing id."""
        if world.patient == MISSING:
            return MISSING
        admin = self.callers["admin"]
        if kind in ("clinic_session", "live_session", "stopped_session"):
            new = self.post(f"/patients/{world.patient}/sessions", admin, json={"kind": "clinic", "date": "2026-11-04"})
            if kind != "clinic_session":
                self.post(f"/sessions/{new['id']}/live", admin, json=LIVE_BODY)
            if kind == "stopped_session":
                self.post(f"/sessions/{new['id']}/live/stop", admin, 200)
            new = new["id"]
        elif kind == "token_id":
            new = self.post("/tokens", admin, json={"role": "clinician", "clinic_id": world.clinic})["id"]
        else:
            body = {
                "name": "belt",
                "profile": "movesense-md",
                "address": secrets.token_hex(6),
                "clinic_id": world.clinic,
            }
            new = self.post("/devices", admin, json=body)["id"]
        self.made.add(new)
        return str(new)


def wait_done(api: Api, headers: dict[str, str], analysis_id: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = api.ok(api.client.get(f"{API_PREFIX}/analyses/{analysis_id}", headers=headers))
        if job["status"] in ("done", "failed"):
            assert job["status"] == "done", job["error"]
            return
        time.sleep(0.02)
    raise AssertionError(f"analysis {analysis_id} did not finish")


def small_batch(data: bytes, n_records: int = 60) -> bytes:
    """A relay batch: the capture's header and its first records."""
    capture = parse_capture(data)
    records = (
        (int(capture.t_host_ns[i]), int(capture.source[i]), int(capture.sensor_id[i]), capture.packet(i))
        for i in range(n_records)
    )
    return encode_header(capture.header) + encode_records(records)


def build(api: Api) -> Ctx:
    data = CAPTURE.read_bytes()
    ctx = Ctx(api, {"none": {}, "admin": api.admin}, {}, small_batch(data), data)
    clinic_a, clinic_b = api.clinic("Clinic A"), api.clinic("Clinic B")
    ctx.callers["clinician_a"] = clinician = api.clinician(clinic_a)
    ctx.callers["clinician_b"] = api.clinician(clinic_b)
    ctx.callers["garbage"] = {"Authorization": f"Bearer fg_{secrets.token_urlsafe(32)}"}

    for name in ("first", "second"):
        patient = api.patient(clinician, height_m=1.75)
        session = api.session(clinician, patient)
        recording = ctx.post(f"/sessions/{session}/recordings", clinician, params={"format": "capture"}, content=data)
        analysis = ctx.post(f"/sessions/{session}/analyses", clinician, 202)["id"]
        wait_done(api, clinician, analysis)
        body = {"name": "belt", "profile": "movesense-md", "address": f"AA:{name}"}
        device = ctx.post("/devices", clinician, json=body)["id"]
        ctx.worlds[name] = World(clinic_a, patient, session, recording["id"], analysis, device)
    ctx.worlds["missing"] = World(MISSING, MISSING, MISSING, MISSING, MISSING, MISSING)
    ctx.callers["relay"] = api.relay(clinician, ctx.worlds["first"].session)
    ctx.post(f"/sessions/{ctx.worlds['first'].session}/live", clinician, json=LIVE_BODY)

    expired = ctx.post("/tokens", api.admin, json={"role": "clinician", "clinic_id": clinic_a})
    with api.client.app.state.service.database.session() as db:  # type: ignore[attr-defined]
        db.get(Token, expired["id"]).expires_at = utcnow() - dt.timedelta(minutes=1)
    ctx.callers["expired"] = {"Authorization": f"Bearer {expired['token']}"}
    revoked = ctx.post("/tokens", api.admin, json={"role": "clinician", "clinic_id": clinic_a})
    api.ok(api.client.delete(f"{API_PREFIX}/tokens/{revoked['id']}", headers=api.admin), 204)
    ctx.callers["revoked"] = {"Authorization": f"Bearer {revoked['token']}"}
    return ctx


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ctx]:
    for api in make_api(tmp_path_factory.mktemp("access"), None):
        yield build(api)


# ------------------------------------------------------------------------------------------------ requests
def _new_code() -> str:
    return f"P-{secrets.token_hex(4)}"


#: What each route sends besides the token: a valid body, so the only reason to refuse is who asks.
BODIES: dict[str, Callable[[Ctx, World], dict[str, Any]]] = {
    "POST /clinics": lambda c, w: {"json": {"name": f"Clinic {secrets.token_hex(4)}"}},
    "POST /tokens": lambda c, w: {"json": {"role": "clinician", "clinic_id": w.clinic}},
    "POST /patients": lambda c, w: {"json": {"code": _new_code(), "clinic_id": w.clinic}},
    "PATCH /patients/{patient_id}": lambda c, w: {"json": {"notes": "walks with a cane"}},
    "POST /patients/{patient_id}/sessions": lambda c, w: {"json": {"kind": "home", "date": "2026-11-03"}},
    "POST /sessions/{session_id}/relay-token": lambda c, w: {"json": {"label": "phone"}},
    "POST /sessions/{session_id}/relay-enrolment": lambda c, w: {"json": {"label": "phone"}},
    "POST /sessions/{session_id}/recordings": lambda c, w: {"params": {"format": "capture"}, "content": c.capture},
    "POST /sessions/{session_id}/relay-batches": lambda c, w: {
        "content": c.batch,
        "headers": {"Idempotency-Key": secrets.token_hex(8)},
    },
    "POST /sessions/{session_id}/live": lambda c, w: {"json": LIVE_BODY},
    "POST /devices": lambda c, w: {
        "json": {"name": "belt", "profile": "movesense-md", "address": secrets.token_hex(6), "clinic_id": w.clinic}
    },
}


#: Routes whose session is a new one per case: starting needs a session that is not live, stopping one that is, and
#: the feed of a stopped session ends by itself (its viewer gets hello, what it missed, then the socket closes).
FRESH_SESSION = {
    "POST /sessions/{session_id}/live": "clinic_session",
    "POST /sessions/{session_id}/live/stop": "live_session",
    "WS /sessions/{session_id}/live/ws": "stopped_session",
}


@dataclass
class Answer:
    """What a route answered: an HTTP response, or what a WebSocket did (200 for ``hello``, else its close code)."""

    status_code: int
    body: dict[str, Any]
    headers: dict[str, str]
    text: str


def call(ctx: Ctx, route: str, caller: str, world: World) -> Answer:
    method, path = route.split(" ")
    ids = {
        "patient_id": world.patient,
        "session_id": ctx.fresh(FRESH_SESSION[route], world) if route in FRESH_SESSION else world.session,
        "recording_id": world.recording,
        "analysis_id": world.analysis,
    }
    for name in re.findall(r"{(\w+)}", path):
        value = ids[name] if name in ids else ctx.fresh(name, world)
        path = path.replace(f"{{{name}}}", value)
    if method == "WS":
        return websocket(ctx, f"{API_PREFIX}{path}", ctx.callers[caller])
    kwargs = BODIES.get(route, lambda c, w: {})(ctx, world)
    headers = {**ctx.callers[caller], **kwargs.pop("headers", {})}
    response = ctx.api.client.request(method, f"{API_PREFIX}{path}", headers=headers, **kwargs)
    if route == "POST /sessions/{session_id}/live" and response.status_code == 201:  # leave nothing running
        ctx.post(f"{path.removesuffix('/live')}/live/stop", ctx.callers["admin"], 200)
    body = response.json() if response.content and response.headers["content-type"] == "application/json" else {}
    return Answer(response.status_code, body, dict(response.headers), response.text)


def websocket(ctx: Ctx, url: str, headers: dict[str, str]) -> Answer:
    token = headers["Authorization"].removeprefix("Bearer ") if headers else None
    messages = []
    with ctx.api.client.websocket_connect(url) as ws:
        ws.send_json({"type": "auth", "token": token, "after": None})
        try:
            while True:
                messages.append(ws.receive_json())
        except WebSocketDisconnect as exc:
            closed = exc
    if messages:  # let in: hello first, the end of the feed last
        assert closed.code == 1000 and messages[0]["type"] == "hello" and messages[-1]["type"] == "ended", messages
        return Answer(200, messages[0], {}, json.dumps(messages))
    status = closed.code - 4000
    code = {401: "unauthorized", 403: "forbidden", 404: "not_found"}.get(status, str(closed.code))
    body = {"error": {"code": code, "message": closed.reason}}
    headers = {"www-authenticate": "Bearer"} if status == 401 else {}  # a socket has no headers to check
    return Answer(status, body, headers, json.dumps(body))


def masked(message: str, ids: set[str]) -> str:
    for value in ids:
        message = message.replace(value, "<id>")
    return message


# ------------------------------------------------------------------------------------------------ tests
def app_routes(app: Any) -> set[str]:
    """``"METHOD /path"`` of every route under ``/api/v1`` in the app's route table (``WS`` for a WebSocket)."""
    try:  # FastAPI >= 0.16x keeps included routers lazily; this walks them
        from fastapi.routing import iter_route_contexts

        table: list[Any] = list(iter_route_contexts(app.routes))
    except ImportError:
        table = list(app.routes)
    routes = set()
    for route in table:
        path = getattr(route, "path", None) or ""
        if not path.startswith(API_PREFIX):
            continue
        kind = type(getattr(route, "original_route", route))
        if issubclass(kind, APIWebSocketRoute):
            routes.add(f"WS {path.removeprefix(API_PREFIX)}")
        else:
            assert issubclass(kind, APIRoute), kind
            routes |= {f"{m} {path.removeprefix(API_PREFIX)}" for m in set(route.methods) - {"HEAD", "OPTIONS"}}
    return routes


def test_the_matrix_covers_every_route(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path))  # the route table; nothing is started
    routes = app_routes(app)
    documented = {f"{m.upper()} {p.removeprefix(API_PREFIX)}" for p, ops in app.openapi()["paths"].items() for m in ops}
    assert documented <= routes and len(routes) >= len(TABLE) > 20
    assert sorted(routes - set(TABLE)) == [], "routes without a row in MATRIX: add one"
    assert sorted(set(TABLE) - routes) == [], "rows in MATRIX for routes the app does not have"


@pytest.mark.parametrize(("route", "column", "expected"), CASES)
def test_access(ctx: Ctx, route: str, column: str, expected: int) -> None:
    caller, world_name = COLUMNS[column]
    world = ctx.worlds[world_name]
    response = call(ctx, route, caller, world)
    assert response.status_code == expected, response.text
    if expected >= 400:
        code = {401: "unauthorized", 403: "forbidden", 404: "not_found", 409: "conflict"}[expected]
        assert response.body["error"]["code"] == code, response.text
    if expected == 401:
        assert response.headers.get("www-authenticate") == "Bearer"
    if column == "other" and expected < 300:  # a list of the caller's own clinic: nothing of clinic A in it
        assert not any(value in response.text for value in world.ids() if value != world.clinic), response.text
    if column in ("other", "relay", "relay-other") and expected in (403, 404):
        # Refused exactly as when the ids exist nowhere: the answer tells nothing about clinic A's data.
        missing = call(ctx, route, caller, ctx.worlds["missing"])
        assert missing.status_code == response.status_code, missing.text
        hidden, absent = response.body["error"], missing.body["error"]
        assert hidden["code"] == absent["code"]
        ids = world.ids() | ctx.made | {MISSING}
        assert masked(hidden["message"], ids) == masked(absent["message"], ids)


def test_reads_of_patient_data_are_audited(ctx: Ctx) -> None:
    api, world, admin = ctx.api, ctx.worlds["first"], ctx.callers["admin"]
    tokens = {  # tokens of their own, so their entries are told apart from the matrix's
        who: ctx.post("/tokens", admin, json={"role": "clinician", "clinic_id": clinic})
        for who, clinic in (("reader", world.clinic), ("outsider", api.clinic()))
    }
    reader, outsider = ({"Authorization": f"Bearer {tokens[w]['token']}"} for w in ("reader", "outsider"))
    reads = {
        f"/patients/{world.patient}": "patient",
        f"/patients/{world.patient}/sessions": "sessions",
        f"/sessions/{world.session}": "session",
        f"/sessions/{world.session}/recordings": "recordings",
        f"/recordings/{world.recording}": "recording",
        f"/recordings/{world.recording}/content": "recording_content",
        f"/sessions/{world.session}/relay-packets": "relay_packets",
        f"/sessions/{world.session}/analyses": "analyses",
        f"/analyses/{world.analysis}": "analysis",
        f"/analyses/{world.analysis}/report": "report",
        f"/analyses/{world.analysis}/report.html": "report",
    }
    for url in reads:
        assert api.client.get(f"{API_PREFIX}{url}", headers=reader).status_code == 200, url
        assert api.client.get(f"{API_PREFIX}{url}", headers=outsider).status_code == 404, url
        assert api.client.get(f"{API_PREFIX}{url}", headers=ctx.callers["relay"]).status_code == 403, url

    url = f"{API_PREFIX}/patients/{world.patient}/audit"
    entries = api.ok(api.client.get(url, params={"limit": 5000}, headers=reader))
    assert entries and all(e["patient_id"] == world.patient for e in entries)
    mine = [e for e in entries if e["token_id"] == tokens["reader"]["id"]]
    assert sorted(e["resource"] for e in mine) == sorted(reads.values())  # one entry per read, newest first
    assert all(e["role"] == "clinician" and e["action"] == "read" for e in mine)
    assert mine[0]["resource"] == "report" and mine[-1]["resource"] == "patient"
    assert not [e for e in entries if e["token_id"] == tokens["outsider"]["id"]], "a refused read is not audited"
    assert not [e for e in entries if e["role"] == "relay" and e["action"] == "read"], "a relay reads nothing"

    again = api.ok(api.client.get(url, params={"limit": 5000}, headers=reader))
    assert again[0]["resource"] == "audit" and again[0]["token_id"] == tokens["reader"]["id"]  # audited too
