"""A live clinic session through the service: three virtual sensors over TCP (one drops out for a while), the
WebSocket feed with resume, and the live strides against the offline analysis of the stored capture."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from starlette.websockets import WebSocketDisconnect

from firmware_bridge.readers.capture_format import assemble_capture
from gait.live import stride_records
from gait.pipeline import GaitPipeline
from hardware.capture import parse_capture
from hardware.protocol import SensorConfig
from hardware.simulator import PRESETS, Segment, simulate_session
from hardware.simulator.device import FaultPlan, virtual_sensors
from tests.server.conftest import Api, make_api
from tests.server.sensors import ServedSensors

SCHEDULE = (
    Segment(kind="stand", duration_s=4.0),
    Segment(kind="walk", duration_s=14.0),
    Segment(kind="turn", duration_s=2.5, turn_deg=180.0),
    Segment(kind="walk", duration_s=14.0),
)
DROP_START_S, DROP_S = 12.0, 5.0  # the left thigh's link is down from 12 s to 17 s of host time
RUN_S = 26.0


def compensated_walker() -> ServedSensors:
    """The walker with a compensation pattern; the left thigh's link goes down for ``DROP_S`` at ``DROP_START_S``."""
    session = simulate_session(
        PRESETS["anterior_tilt_compensation"](), schedule=SCHEDULE, sampling_rate_hz=100.0, seed=5
    )
    faults = {"left_thigh": FaultPlan(disconnects=((DROP_START_S, DROP_S),))}
    return ServedSensors(virtual_sensors(session, config=SensorConfig(rate_hz=100.0), faults=faults, seed=5))


@dataclass
class LiveRun:
    api: Api
    headers: dict[str, str]
    token: str
    session_id: str
    messages: list[dict[str, Any]]
    statuses: list[tuple[float, dict[str, Any]]]  # (seconds since start, status message)
    resumed: list[dict[str, Any]]
    after: int
    analysis_id: str
    offline: dict[str, Any]
    after_stop: list[dict[str, Any]] = field(default_factory=list)


def _receive_until(ws: Any, deadline: float, sink: list[dict[str, Any]], stamps: list[float]) -> None:
    while time.monotonic() < deadline:
        message = ws.receive_json()
        sink.append(message)
        stamps.append(time.monotonic())


@pytest.fixture(scope="module")
def live_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveRun]:
    tmp = tmp_path_factory.mktemp("live")
    for api in make_api(tmp, None):
        clinician_token = api.ok(
            api.client.post("/api/v1/tokens", json={"role": "clinician", "clinic_id": api.clinic()}, headers=api.admin),
            201,
        )["token"]
        headers = {"Authorization": f"Bearer {clinician_token}"}
        patient = api.patient(headers, height_m=1.75)
        session_id = api.session(headers, patient)
        with compensated_walker() as sim:
            t0 = time.monotonic()
            api.ok(
                api.client.post(f"/api/v1/sessions/{session_id}/live", json={"sensors": sim.urls}, headers=headers), 201
            )
            messages: list[dict[str, Any]] = []
            stamps: list[float] = []
            with api.client.websocket_connect(f"/api/v1/sessions/{session_id}/live/ws") as ws:
                ws.send_json({"type": "auth", "token": clinician_token, "after": None})
                _receive_until(ws, t0 + RUN_S * 0.6, messages, stamps)
                ws.close()
            after = max(m.get("seq", 0) for m in messages)
            time.sleep(2.0)  # the viewer is away for a while, then comes back
            resumed: list[dict[str, Any]] = []
            with api.client.websocket_connect(f"/api/v1/sessions/{session_id}/live/ws") as ws:
                ws.send_json({"type": "auth", "token": clinician_token, "after": after})
                _receive_until(ws, t0 + RUN_S, resumed, stamps)
                ws.close()
            stopped = api.ok(api.client.post(f"/api/v1/sessions/{session_id}/live/stop", headers=headers))
        after_stop: list[dict[str, Any]] = []  # what the last pass sent while stopping, then the end
        with api.client.websocket_connect(f"/api/v1/sessions/{session_id}/live/ws") as ws:
            ws.send_json({"type": "auth", "token": clinician_token, "after": max(m.get("seq", 0) for m in resumed)})
            with pytest.raises(WebSocketDisconnect):
                while True:
                    after_stop.append(ws.receive_json())
        analysis_id = stopped["analysis_id"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            job = api.ok(api.client.get(f"/api/v1/analyses/{analysis_id}", headers=headers))
            if job["status"] in ("done", "failed"):
                break
            time.sleep(0.2)
        assert job["status"] == "done", job["error"]
        offline = api.ok(api.client.get(f"/api/v1/analyses/{analysis_id}/report", headers=headers))
        statuses = [(s - t0, m) for s, m in zip(stamps, messages + resumed, strict=True) if m["type"] == "status"]
        yield LiveRun(
            api,
            headers,
            clinician_token,
            session_id,
            messages,
            statuses,
            resumed,
            after,
            analysis_id,
            offline,
            after_stop,
        )


def test_the_feed_carries_traces_strides_summaries_and_status(live_run: LiveRun) -> None:
    kinds = [m["type"] for m in live_run.messages]
    assert kinds[0] == "hello"
    for kind in ("status", "trace", "stride", "summary"):
        assert kind in kinds, kind
    seqs = [m["seq"] for m in live_run.messages[1:]]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    trace = next(m for m in live_run.messages if m["type"] == "trace" and m["channels"]["pelvis_tilt_deg"])
    assert set(trace["channels"]) == {
        "pelvis_tilt_deg",
        "pelvis_obliquity_deg",
        "pelvis_rotation_deg",
        "hip_flexion_left_deg",
        "hip_flexion_right_deg",
    }
    summary = [m for m in live_run.messages if m["type"] == "summary"][-1]
    assert {f["id"] for f in summary["report"]["flags"]} == {f"F{i}" for i in range(1, 10)}


def test_strides_keep_coming_once_the_session_is_longer_than_the_quick_window(live_run: LiveRun) -> None:
    during = [m for m in live_run.messages + live_run.resumed if m["type"] == "stride" and not m["revised"]]
    assert max(m["start_s"] for m in during) > 21.0  # quick passes cover the newest 20 s
    assert not [m for m in live_run.messages + live_run.resumed if m["type"] == "error"]
    full = [m for m in live_run.resumed if m["type"] == "summary"]
    assert full, "passes over everything (in the worker process) went on after the first 20 s"


def test_a_viewer_that_comes_back_resumes_where_it_left(live_run: LiveRun) -> None:
    hello, first = live_run.resumed[0], live_run.resumed[1]
    assert hello["type"] == "hello" and hello["reset"] is False
    assert first["seq"] == live_run.after + 1  # nothing missed, nothing repeated
    seqs = [m["seq"] for m in live_run.resumed[1:]]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


def test_a_sensor_that_drops_out_is_shown_lost_within_2_s_and_the_others_go_on(live_run: LiveRun) -> None:
    # The simulator's clock starts when it serves; the drop begins DROP_START_S later (host time).
    lost = [t for t, m in live_run.statuses if not m["sensors"]["left_thigh"]["connected"] and t > 5.0]
    assert lost, "the left thigh was never shown as lost"
    assert lost[0] <= DROP_START_S + 2.0 + 0.5  # 0.5 s: the simulator started a little before the session
    during = [m for t, m in live_run.statuses if lost[0] < t < lost[0] + DROP_S - 2.0]
    assert during and all(m["sensors"]["pelvis"]["connected"] for m in during)
    back = [t for t, m in live_run.statuses if t > lost[0] and m["sensors"]["left_thigh"]["connected"]]
    assert back, "the left thigh never came back"
    strides_after = [m for m in live_run.messages + live_run.resumed if m["type"] == "stride" and m["start_s"] > 14.0]
    assert strides_after, "no strides while one sensor was away"


def test_live_strides_match_the_offline_analysis_of_the_capture(live_run: LiveRun) -> None:
    api = live_run.api
    recordings = api.ok(api.client.get(f"/api/v1/sessions/{live_run.session_id}/recordings", headers=live_run.headers))
    assert [r["format"] for r in recordings] == ["capture"]
    data = api.client.get(f"/api/v1/recordings/{recordings[0]['id']}/content", headers=live_run.headers).content
    recording = assemble_capture(parse_capture(data)).recording
    result = GaitPipeline(height_m=1.75).run(recording)
    offline = stride_records(result, np.arange(result.strides.start_idx.size))
    final = {m["id"]: m for m in live_run.messages + live_run.resumed + live_run.after_stop if m["type"] == "stride"}
    live = list(final.values())  # each stride as last sent (a later pass may refine a stride: same id, revised)
    assert len(live) >= 15
    assert len(live) == len(offline), "the same strides, live and offline"
    diffs = []
    for m in live:
        same = [o for o in offline if o["side"] == m["side"] and abs(o["start_s"] - m["start_s"]) <= 0.03]
        assert len(same) == 1, f"live stride at {m['start_s']} s ({m['side']}) has no offline twin"
        o = same[0]
        for group, keys in (
            ("pelvis", ("tilt_rom_deg", "obliquity_rom_deg", "rotation_rom_deg")),
            ("hip", ("sagittal_rom_deg", "peak_extension_deg", "peak_flexion_deg")),
        ):
            for key in keys:
                mine, theirs = m[group][key], o[group][key]
                assert (mine is None) == (not np.isfinite(theirs)), (group, key, mine, theirs)
                if mine is not None:
                    diffs.append(abs(mine - theirs))
    print(f"angles, live vs offline: {len(diffs)} values, median {np.median(diffs):.4f} deg, max {np.max(diffs):.4f}")
    assert np.max(diffs) <= 0.1


def test_websocket_needs_a_valid_token_and_a_visible_session(live_run: LiveRun) -> None:
    api = live_run.api
    url = f"/api/v1/sessions/{live_run.session_id}/live/ws"
    with api.client.websocket_connect(url) as ws:
        ws.send_json({"type": "auth", "token": "fg_wrong", "after": None})
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 4401
    other = api.clinician(api.clinic())["Authorization"].removeprefix("Bearer ")
    with api.client.websocket_connect(url) as ws:
        ws.send_json({"type": "auth", "token": other, "after": None})
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 4404
    with api.client.websocket_connect(url) as ws:  # a stopped session still answers: it ended, here is the report
        ws.send_json({"type": "auth", "token": live_run.token, "after": None})
        messages = [ws.receive_json()]
        with pytest.raises(WebSocketDisconnect):
            while True:
                messages.append(ws.receive_json())
    assert messages[0]["type"] == "hello" and messages[0]["reset"] is True
    assert messages[-1] == {**messages[-1], "type": "ended", "analysis_id": live_run.analysis_id}


def test_starting_twice_is_a_conflict_and_home_sessions_are_refused(live_run: LiveRun) -> None:
    api = live_run.api
    patient = api.patient(live_run.headers)
    home = api.session(live_run.headers, patient, kind="home")
    response = api.client.post(
        f"/api/v1/sessions/{home}/live", json={"sensors": {"pelvis": "socket://127.0.0.1:9"}}, headers=live_run.headers
    )
    assert response.status_code == 422 and "home session" in response.json()["error"]["message"]
    bad = api.client.post(
        f"/api/v1/sessions/{home}/live", json={"sensors": {"left_thigh": "socket://x:1"}}, headers=live_run.headers
    )
    assert bad.status_code == 422 and "pelvis" in bad.json()["error"]["message"]


def test_quick_passes_are_tried_at_each_expected_stride_end() -> None:
    from server.live import next_try_idx

    def due(last: int, ends: list[list[int]]) -> int | None:
        return next_try_idx(np.array(ends), last, lookahead_idx=26, retry_idx=10, give_up_idx=120, tries=3)

    # the newest strides' duration: from 26 samples after it, every 10, until 120 after it
    assert due(0, [[1000, 1000, 2000]]) == 1026
    assert due(1026, [[1000, 1000, 2000]]) == 1036
    assert due(1119, [[1000, 1000, 2000]]) == 2026  # given up: the next stride at the steady cadence
    assert due(2046, [[1000, 1000, 2000]]) is None  # three tries each, then only the timer
    # a steady end before it (strides shorten after a turn): tried every 10 across the gap up to the newest's tries
    assert [due(last, [[1100, 1000, 2000]]) for last in (0, 1026, 1036, 1046, 1116)] == [1026, 1036, 1046, 1056, 1126]
    # ... and at least three times when the gap is shorter
    assert [due(last, [[1010, 1000, 2000]]) for last in (0, 1026, 1036, 1046)] == [1026, 1036, 1046, 1056]
    # the earliest of the sides, never sooner than one retry after the newest pass
    assert due(1020, [[1000, 1000, 2000], [900, 900, 1900]]) == 1030
