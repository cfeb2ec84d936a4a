"""Issue 10's acceptance for the live feed: two real ``fusiongait serve`` processes on one PostgreSQL database with a
shared fan-out backend (Redis, then PostgreSQL LISTEN/NOTIFY). A live session started through process B (three
virtual sensors served over TCP from this test) is followed by viewers on A and on B; A lists it and answers its
state, a viewer on A that disconnects and comes back resumes without a gap, and a stop sent to A reaches B.

Every viewer asks for the whole feed (``after: 0``), so the viewers of A and of B must receive exactly the same
messages, with the same numbers, from the first to ``ended``.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from hardware.protocol import SensorConfig
from hardware.simulator import PRESETS, Segment, simulate_session
from hardware.simulator.device import virtual_sensors
from tests.server.processes import Server
from tests.server.sensors import ServedSensors
from tests.server.test_fanout import redis_reachable
from tests.server.test_multiprocess import server_pair

pytestmark = pytest.mark.postgres

SCHEDULE = (Segment(kind="stand", duration_s=3.0), Segment(kind="walk", duration_s=30.0))
RUN_S = 16.0  # the session runs this long, then A is asked to stop it
AWAY_AT_S, AWAY_S = 7.0, 2.0  # the reconnecting viewer on A leaves at 7 s and comes back 2 s later


@pytest.fixture(
    params=[
        pytest.param("redis", marks=pytest.mark.redis),
        "postgresql",
    ]
)
def fanout_url(request: pytest.FixtureRequest) -> str:
    if request.param == "redis":
        if not redis_reachable():
            pytest.skip("no Redis server at 127.0.0.1:6379")
        return "redis://127.0.0.1:6379/0"
    if not request.getfixturevalue("postgres_available"):
        pytest.skip("no PostgreSQL server at 127.0.0.1:5432")
    return "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
def servers(tmp_path: Path, pg_url: str, fanout_url: str) -> Iterator[tuple[Server, Server]]:
    settings = {
        "FUSIONGAIT_FANOUT_URL": fanout_url,
        "FUSIONGAIT_FANOUT_NAMESPACE": f"test{secrets.token_hex(4)}",  # not the channels of other tests running
    }
    with server_pair(tmp_path / "data", pg_url, "live multiprocess test", settings) as pair:
        yield pair


async def _view(url: str, token: str, after: int | None, *, leave_at: float | None = None) -> list[dict[str, Any]]:
    """A viewer: every message until the server closes the feed (or until the monotonic time ``leave_at``)."""
    out: list[dict[str, Any]] = []
    async with websockets.connect(url, compression=None, max_size=None) as ws:
        await ws.send(json.dumps({"type": "auth", "token": token, "after": after}))
        while True:
            timeout = None if leave_at is None else max(0.0, leave_at - time.monotonic())
            try:
                raw = await asyncio.wait_for(ws.recv(), timeout)
            except TimeoutError:
                return out
            except websockets.ConnectionClosedOK:
                return out
            out.append(json.loads(raw))


def _ws_url(server: Server, session_id: str) -> str:
    return f"ws://127.0.0.1:{server.port}/api/v1/sessions/{session_id}/live/ws"


def test_a_viewer_on_one_process_follows_a_live_session_run_by_another(servers: tuple[Server, Server]) -> None:
    a, b = servers
    token = a.admin("create-token", "--role", "clinician", "--clinic", "C-live")
    headers = {"Authorization": f"Bearer {token}"}
    api_a = httpx.Client(base_url=f"{a.base_url}/api/v1", headers=headers, timeout=90)
    api_b = httpx.Client(base_url=f"{b.base_url}/api/v1", headers=headers, timeout=90)

    def ok(response: httpx.Response, status: int = 200) -> Any:
        assert response.status_code == status, f"{response.status_code}: {response.text}"
        return response.json()

    patient = ok(api_a.post("/patients", json={"code": "P-LIVE-MP", "height_m": 1.75}), 201)["id"]
    session_id = ok(api_a.post(f"/patients/{patient}/sessions", json={"kind": "clinic", "date": "2026-12-05"}), 201)[
        "id"
    ]
    walk = simulate_session(PRESETS["anterior_tilt_compensation"](), schedule=SCHEDULE, sampling_rate_hz=100.0, seed=7)
    with ServedSensors(virtual_sensors(walk, config=SensorConfig(rate_hz=100.0), seed=7)) as sim:
        started = ok(api_b.post(f"/sessions/{session_id}/live", json={"sensors": sim.urls}), 201)
        t0 = time.monotonic()
        assert started["state"] == "running"

        # A learns of the session from B's announcement (at once when it starts): its state and the list.
        deadline = time.monotonic() + 10
        while (seen := api_a.get(f"/sessions/{session_id}/live")).status_code == 404 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ok(seen) == started, "A answers the state of B's session as B does"
        assert [x["session_id"] for x in ok(api_a.get("/live"))] == [session_id]
        conflict = api_a.post(f"/sessions/{session_id}/live", json={"sensors": sim.urls})
        assert conflict.status_code == 409 and "already live" in conflict.json()["error"]["message"]

        async def follow() -> tuple[list[dict[str, Any]], ...]:
            on_a = asyncio.create_task(_view(_ws_url(a, session_id), token, 0))
            on_b = asyncio.create_task(_view(_ws_url(b, session_id), token, 0))
            first = await _view(_ws_url(a, session_id), token, 0, leave_at=t0 + AWAY_AT_S)
            await asyncio.sleep(AWAY_S)
            last_seq = max(m.get("seq", 0) for m in first)
            second = asyncio.create_task(_view(_ws_url(a, session_id), token, last_seq))
            await asyncio.sleep(max(0.0, t0 + RUN_S - time.monotonic()))
            stopped = await asyncio.to_thread(lambda: ok(api_a.post(f"/sessions/{session_id}/live/stop")))
            done = await asyncio.wait_for(asyncio.gather(on_a, on_b, second), 60)
            return ([stopped], first, *done)

        (stopped,), first, on_a, on_b, second = asyncio.run(follow())

    # The stop sent to A was carried out by B: the session ended, its capture stored and its analysis queued.
    assert stopped["state"] == "stopped" and stopped["analysis_id"], stopped
    assert ok(api_b.get(f"/sessions/{session_id}/live"))["analysis_id"] == stopped["analysis_id"]
    assert ok(api_a.get(f"/sessions/{session_id}/live"))["state"] == "stopped"
    assert [r["format"] for r in ok(api_a.get(f"/sessions/{session_id}/recordings"))] == ["capture"]
    assert ok(api_a.get(f"/analyses/{stopped['analysis_id']}"))["id"] == stopped["analysis_id"]
    assert "stop asked by" not in b.log_tail(), b.log_tail()

    # The viewers of A and of B got the same messages, with the same numbers, from the first to the end.
    for viewer in (on_a, on_b, first, second):
        assert viewer[0]["type"] == "hello" and viewer[0]["session_id"] == session_id
        assert viewer[0]["reset"] is False
    body_a, body_b = on_a[1:], on_b[1:]
    assert [m["seq"] for m in body_b] == list(range(1, len(body_b) + 1)), "B's feed from its first message on"
    kinds = [m["type"] for m in body_b]
    assert kinds.count("stride") >= 10 and "summary" in kinds and "trace" in kinds and "status" in kinds, kinds
    assert kinds[-1] == "ended" and body_b[-1]["analysis_id"] == stopped["analysis_id"]
    assert body_a == body_b, f"A: {len(body_a)} messages, B: {len(body_b)}\nA: {a.log_tail()}\nB: {b.log_tail()}"

    # The viewer of A that went away resumed where it left: nothing missed, nothing repeated.
    resumed = first[1:] + second[1:]
    assert len(first) > 10 and len(second) > 10
    assert resumed == body_b
    print(
        f"{len(body_b)} messages ({ {k: kinds.count(k) for k in sorted(set(kinds))} }) to the viewers of A and B; "
        f"the viewer of A away after seq {first[-1]['seq']} resumed at {second[1]['seq']}"
    )
