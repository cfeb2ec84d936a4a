"""The live link's copy of another process's session (server.live_fanout) in the cases the two-process test does not
reach: messages lost on the way (a gap in ``seq``) and an owner that goes silent. Two links on one in-process
backend stand for two processes; the owner's feed is a real LiveFeed (no sensors: its messages are published by the
test)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from types import SimpleNamespace
from typing import Any

import pytest

from server.errors import ServiceUnavailable
from server.fanout import InProcessFanout
from server.live import LiveFeed
from server.live_fanout import LiveLink

SESSION = "0123456789abcdef01234567"


def _owner_session() -> SimpleNamespace:
    return SimpleNamespace(
        session_id=SESSION,
        patient_id="p1",
        patient_code="P-1",
        state="running",
        started_at=dt.datetime(2026, 12, 5, 10, 0, tzinfo=dt.UTC),
        sensors={"pelvis": "socket://127.0.0.1:1"},
        analysis_id=None,
        feed=LiveFeed(),
    )


async def _pair(**options: Any) -> tuple[LiveLink, LiveLink, SimpleNamespace]:
    fanout = InProcessFanout()
    live = _owner_session()
    owner = LiveLink(SimpleNamespace(sessions={SESSION: live}, keep_stopped=50), fanout, namespace="t", **options)
    follower = LiveLink(SimpleNamespace(sessions={}, keep_stopped=50), fanout, namespace="t", **options)
    await owner.start()
    await follower.start()
    owner.attach(live)
    for _ in range(200):
        if SESSION in follower.remote:
            break
        await asyncio.sleep(0.01)
    return owner, follower, live


async def _drain(queue: asyncio.Queue[str | None], n: int) -> list[str | None]:
    return [await asyncio.wait_for(queue.get(), 5) for _ in range(n)]


def test_a_gap_drops_the_viewers_and_the_copy_is_rebuilt_from_a_snapshot() -> None:
    async def run() -> None:
        owner, follower, live = await _pair()
        for i in range(5):
            live.feed.publish({"type": "stride", "id": i, "side": "left"})
        remote = follower.remote[SESSION]
        feed = await follower.wait_ready(remote)
        backlog, queue, reset = feed.subscribe(0)
        for i in range(5, 8):
            live.feed.publish({"type": "status", "t_s": i})
        seen = backlog + await _drain(queue, 8 - len(backlog))
        assert not reset and seen == [text for _, text in live.feed.log]  # the owner's texts, numbers and order

        relay, live.feed.relay = live.feed.relay, None
        live.feed.publish({"type": "stride", "id": 99, "side": "right"})  # seq 9 never leaves the owner
        live.feed.relay = relay
        live.feed.publish({"type": "status", "t_s": 10})  # seq 10: the copy sees the gap
        assert await _drain(queue, 1) == [None], "the viewer is disconnected (it reconnects and resumes)"

        feed = await follower.wait_ready(follower.remote[SESSION])  # a new snapshot, asked for by the copy
        backlog, queue, reset = feed.subscribe(8)  # the viewer resumes after the last seq it saw
        assert not reset and backlog == [text for seq, text in live.feed.log if seq > 8]
        assert json.loads(backlog[0])["id"] == 99  # the lost message is there
        live.feed.publish({"type": "ended", "analysis_id": "a1"})
        assert await _drain(queue, 2) == [live.feed.log[-1][1], None]
        assert follower.remote[SESSION].state == "stopped"
        assert follower.remote[SESSION].analysis_id == "a1"
        await owner.close()

    asyncio.run(run())


def test_a_silent_owner_is_named_when_a_stop_is_asked_and_its_session_is_forgotten() -> None:
    async def run() -> None:
        owner, follower, _ = await _pair(announce_s=0.1, expire_s=0.5)
        remote = follower.remote[SESSION]
        feed = await follower.wait_ready(remote)
        _, queue, _ = feed.subscribe(None)
        for task in owner._tasks:  # the owner dies: it no longer announces nor answers
            task.cancel()
        await asyncio.sleep(0.6)
        with pytest.raises(ServiceUnavailable, match=f"runs on process {owner.process_id}, not heard from"):
            await follower.stop_remote(remote)
        await asyncio.sleep(0.3)
        assert SESSION not in follower.remote  # forgotten, as a session of a process that died
        assert await _drain(queue, 1) == [None]  # and its viewers here are disconnected
        await follower.close()

    asyncio.run(run())
