"""The relay's durable queue, batcher and uploader (firmware_bridge/relay.py), without a network.

The queue is checked across a real SIGKILL of the process writing it; the uploader against an httpx mock
transport with an injected sleep (the backoff sequence, definitive refusals, a refused token); the whole relay with
replayed sensors against a mock server that stores packets the way the service does.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from firmware_bridge.relay import (
    RELAY_BACKOFF,
    Batcher,
    QueuedBatch,
    Relay,
    RelayError,
    RelayQueue,
    Uploader,
    batch_key,
    classify,
)
from hardware.capture import CaptureSensor, Source, encode_record, parse_capture
from hardware.protocol import Command, ImuPacket, SensorConfig, encode, encode_command

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
SENSORS = (CaptureSensor(0, "pelvis"), CaptureSensor(1, "left_thigh"), CaptureSensor(2, "right_thigh"))
SESSION = "sess-1"


def packet(sensor_id: int, k: int) -> bytes:
    """The k-th IMU packet of a sensor (5 samples at 100 Hz)."""
    counts = np.full((5, 6), k % 1000, dtype=np.int16)
    return encode(ImuPacket(sensor_id, k % 65536, 5 * k, 50_000 * k, SensorConfig(rate_hz=100.0), counts))


def run(coro: Awaitable[Any], timeout_s: float = 30.0) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout_s))  # type: ignore[arg-type]


class FakeClock:
    def __init__(self) -> None:
        self.ns = 1_000_000_000

    def __call__(self) -> int:
        return self.ns


def fill(queue: RelayQueue, batches: int, per_batch: int = 6) -> list[QueuedBatch]:
    """Queue ``batches`` sealed batches of ``per_batch`` records each."""
    clock = FakeClock()
    batcher = Batcher(queue, SENSORS, batch_s=1.0, clock_ns=clock)
    sealed = []
    for b in range(batches):
        for k in range(per_batch):
            batcher.add(clock.ns, Source.SERIAL, k % 3, packet(k % 3, b * per_batch + k))
            clock.ns += 10_000_000
        batch = batcher.cut()
        assert batch is not None
        sealed.append(batch)
    return sealed


# --------------------------------------------------------------------------------------------------- batcher
def test_batches_are_cut_every_batch_s_with_packets_as_relay_records(tmp_path: Path) -> None:
    clock = FakeClock()
    sealed: list[QueuedBatch] = []
    with RelayQueue(tmp_path / "q", session_id=SESSION) as queue:
        batcher = Batcher(queue, SENSORS, batch_s=1.0, clock_ns=clock, on_seal=sealed.append)
        sent: list[tuple[int, int, bytes]] = []
        for step in range(50):  # 5 s, a record every 100 ms, but nothing from 2.0 to 3.5 s
            sealed_now = batcher.tick()  # the relay's timer: due one batch_s after the batch's first record
            assert (sealed_now is not None) == (step in (10, 20, 45)), step
            t = clock.ns
            if not 20 <= step < 35:
                sid = step % 3
                batcher.add(t, Source.BLE, sid, packet(sid, step))
                sent.append((t, sid, packet(sid, step)))
                if step % 5 == 0:
                    batcher.add(t, Source.HOST_COMMAND, sid, encode_command(Command.SYNC, step))
            clock.ns += 100_000_000
        assert batcher.cut() is not None  # the stop flushes the open batch
        assert batcher.cut() is None  # and an empty one makes no file
        assert [b.seq for b in sealed] == [1, 2, 3, 4]
        assert [b.seq for b in queue.pending()] == [1, 2, 3, 4]
        assert batcher.received == {0: 12, 1: 12, 2: 11}
    got: list[tuple[int, int, bytes]] = []
    for batch in sealed:
        cap = parse_capture(batch.path.read_bytes())
        assert cap.header.session_id == SESSION and cap.header.sensors == SENSORS
        assert cap.header.extra["recorded_by"] == "fusiongait relay" and cap.header.extra["batch_seq"] == batch.seq
        is_command = cap.source == Source.HOST_COMMAND
        assert set(cap.source[~is_command].tolist()) == {int(Source.RELAY)}
        assert is_command.sum() >= 1
        got += [(int(cap.t_host_ns[i]), int(cap.sensor_id[i]), cap.packet(i)) for i in np.flatnonzero(~is_command)]
    assert got == sent  # every record once, in arrival order


def test_a_batch_is_sealed_early_when_it_outgrows_the_size_limit(tmp_path: Path) -> None:
    with RelayQueue(tmp_path / "q", session_id=SESSION) as queue:
        batcher = Batcher(queue, SENSORS, batch_s=3600.0, max_batch_bytes=2000, clock_ns=FakeClock())
        for k in range(100):
            batcher.add(k, Source.SERIAL, 0, packet(0, k))
        batcher.cut()
        sizes = [b.path.stat().st_size for b in queue.pending()]
        assert len(sizes) >= 4 and max(sizes) < 2000 + 100
        assert sum(len(parse_capture(b.path.read_bytes())) for b in queue.pending()) == 100


# ------------------------------------------------------------------------------------------------ durability
_WRITER = textwrap.dedent(
    """
    import sys, time
    from firmware_bridge.relay import Batcher, RelayQueue
    from hardware.capture import CaptureSensor, Source
    from tests.firmware_bridge.test_relay import SENSORS, SESSION, packet

    queue = RelayQueue(sys.argv[1], session_id=SESSION)
    batcher = Batcher(queue, SENSORS, batch_s=3600.0)
    k = 0
    for b in range(3):
        for _ in range(20):
            batcher.add(1000 + k, Source.SERIAL, k % 3, packet(k % 3, k)); k += 1
        batcher.cut()
    for _ in range(7):  # received but not yet sealed when the process dies
        batcher.add(1000 + k, Source.SERIAL, k % 3, packet(k % 3, k)); k += 1
    print("ready", flush=True)
    time.sleep(60)
    """
)


def _records(batch: QueuedBatch) -> list[bytes]:
    cap = parse_capture(batch.path.read_bytes())
    return [cap.packet(i) for i in range(len(cap))]


def test_a_killed_relay_resends_everything_unacknowledged_with_the_same_keys(tmp_path: Path) -> None:
    folder = tmp_path / "queue"
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(folder)], cwd=ROOT, stdout=subprocess.PIPE, env={**os.environ}
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"ready"
    os.kill(proc.pid, signal.SIGKILL)  # no clean-up: the lock, the open batch, the state as they were
    proc.wait(10)
    keys_before = {p.name: batch_key(p.read_bytes()) for p in folder.glob("*.imucap")}
    assert len(keys_before) == 3
    with (folder / "open.imucap.part").open("ab") as fh:  # a record torn by the kill
        fh.write(encode_record(9999, Source.RELAY, 0, packet(0, 999))[:20])

    with RelayQueue(folder, session_id=SESSION) as queue:
        assert queue.recovered_records == 7
        pending = queue.pending()
        assert [b.seq for b in pending] == [1, 2, 3, 4]
        assert {b.path.name: batch_key(b.read()) for b in pending[:3]} == keys_before  # the same keys again
        assert [r for b in pending for r in _records(b)] == [packet(k % 3, k) for k in range(67)]
        assert not (folder / "open.imucap.part").exists()
        queue.ack(pending[0], {"stored": 20, "duplicates": 0, "replayed": False})
        queue.reject(pending[1], "HTTP 422: relay batch: truncated")
        clock = FakeClock()
        batcher = Batcher(queue, SENSORS, clock_ns=clock)
        batcher.add(5, Source.SERIAL, 0, packet(0, 500))  # open again, then "killed" (closed unsealed)

    (folder / "state.json").unlink()  # even without its state the folder is read again correctly
    with RelayQueue(folder, session_id=SESSION) as queue:
        assert [b.seq for b in queue.pending()] == [3, 4, 5] and queue.next_seq == 6
        assert _records(queue.pending()[-1]) == [packet(0, 500)]
        rejected = queue.rejected()
        assert [p.name for p in rejected] == ["000000000002.imucap"]
        assert rejected[0].with_suffix(".txt").read_text() == "HTTP 422: relay batch: truncated\n"


def test_a_queue_folder_is_locked_and_bound_to_its_session(tmp_path: Path) -> None:
    folder = tmp_path / "q"
    with RelayQueue(folder, session_id="A") as queue:
        fill(queue, 1)
        with pytest.raises(RelayError, match="another relay"):
            RelayQueue(folder, session_id="A")
    with pytest.raises(RelayError, match="belongs to session 'A'"):
        RelayQueue(folder, session_id="B")
    with RelayQueue(folder, session_id="A") as queue:
        assert queue.depth == 1


# -------------------------------------------------------------------------------------------------- uploader
class FakeServer:
    """An httpx handler answering from a script (a status, an exception, or a callable), recording requests."""

    def __init__(self, script: Callable[[httpx.Request, int], httpx.Response]) -> None:
        self.script = script
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.script(request, len(self.requests) - 1)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self))


def answer(status: int, **body: Any) -> httpx.Response:
    if 200 <= status < 300:
        return httpx.Response(status, json={"received": 6, "stored": 6, "duplicates": 0, "replayed": False, **body})
    return httpx.Response(status, json={"error": {"code": "x", "message": body.get("message", f"status {status}")}})


class FakeSleep:
    """Records the delays asked for and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)


async def drain(uploader: Uploader, until: Callable[[], bool]) -> None:
    task = asyncio.ensure_future(uploader.run())
    while not until():
        await asyncio.sleep(0.001)
        assert not task.done(), task.result()
    uploader.stop()
    await task


def test_retries_back_off_exponentially_with_jitter_up_to_the_cap_with_the_same_key(tmp_path: Path) -> None:
    failures = 12

    def script(_request: httpx.Request, i: int) -> httpx.Response:
        if i == 0:
            raise httpx.ConnectError("connection refused")
        if i == 3:
            return httpx.Response(503, headers={"Retry-After": "7"})
        if i == 4:
            raise httpx.ReadTimeout("timed out")
        return answer(500) if i < failures else answer(201)

    server, sleep = FakeServer(script), FakeSleep()
    with RelayQueue(tmp_path / "q", session_id=SESSION) as queue:
        (batch,) = fill(queue, 1)
        body = batch.read()
        uploader = Uploader(
            queue, server_url="http://relay.test/", token=lambda: "tok", client=server.client(), sleep=sleep, seed=4
        )
        run(drain(uploader, lambda: queue.depth == 0))
        assert not batch.path.exists() and queue.counters.acknowledged == 1
    rng = random.Random(4)
    expected = [RELAY_BACKOFF.delay_s(k, rng) for k in range(failures)]
    expected[3] = max(expected[3], 7.0)
    assert sleep.delays == pytest.approx(expected)
    for k, delay in enumerate(sleep.delays):
        cap = min(60.0, 2.0**k)
        assert delay <= cap and (delay >= cap / 2 or k == 3), (k, delay)
    assert max(sleep.delays) <= 60.0 and sleep.delays[-1] >= 30.0  # capped at a minute
    assert len(server.requests) == failures + 1
    for request in server.requests:
        assert request.url == f"http://relay.test/api/v1/sessions/{SESSION}/relay-batches"
        assert request.headers["Idempotency-Key"] == batch_key(body) and request.content == body
        assert request.headers["Authorization"] == "Bearer tok"
    assert uploader.counters.failures == failures and uploader.counters.uploaded == 1


@pytest.mark.parametrize("status", [409, 413, 422])
def test_a_batch_refused_for_good_moves_to_rejected_and_the_queue_goes_on(tmp_path: Path, status: int) -> None:
    def script(request: httpx.Request, i: int) -> httpx.Response:
        return answer(status, message="Idempotency-Key was used for another batch") if i == 1 else answer(201)

    server, sleep, lines = FakeServer(script), FakeSleep(), []
    with RelayQueue(tmp_path / "q", session_id=SESSION) as queue:
        batches = fill(queue, 3)
        keys = [batch_key(b.read()) for b in batches]
        uploader = Uploader(
            queue,
            server_url="http://relay.test",
            token=lambda: "t",
            client=server.client(),
            sleep=sleep,
            log=lines.append,
        )
        run(drain(uploader, lambda: queue.depth == 0))
        assert [r.headers["Idempotency-Key"] for r in server.requests] == keys
        assert len(server.requests) == 3 and sleep.delays == []  # each batch once, oldest first, no retry
        rejected = queue.rejected()
        assert [p.name for p in rejected] == [batches[1].path.name]
        reason = rejected[0].with_suffix(".txt").read_text()
        assert reason.startswith(f"HTTP {status}: ") and "another batch" in reason
        assert queue.counters.rejected == 1 and queue.counters.acknowledged == 2
        assert len(lines) == 1 and "refused for good" in lines[0]


@pytest.mark.parametrize("status", [401, 403, 404])
def test_a_refused_token_stops_uploads_until_the_token_changes(tmp_path: Path, status: int) -> None:
    token = {"value": "old"}

    def script(request: httpx.Request, _i: int) -> httpx.Response:
        return answer(201) if request.headers["Authorization"] == "Bearer new" else answer(status)

    server, sleep, lines = FakeServer(script), FakeSleep(), []

    async def main(queue: RelayQueue) -> None:
        uploader = Uploader(
            queue,
            server_url="http://relay.test",
            token=lambda: token["value"],
            client=server.client(),
            sleep=sleep,
            token_poll_s=5.0,
            log=lines.append,
        )
        task = asyncio.ensure_future(uploader.run())
        while len(sleep.delays) < 20:
            await asyncio.sleep(0)
        assert uploader.state == "token_refused" and uploader.counters.token_refused
        assert len(server.requests) == 1 and queue.depth == 2  # asked once, nothing dropped
        assert set(sleep.delays) == {5.0}
        token["value"] = "new"
        while queue.depth:
            await asyncio.sleep(0.001)
        assert not uploader.counters.token_refused
        uploader.stop()
        await task

    with RelayQueue(tmp_path / "q", session_id=SESSION) as queue:
        fill(queue, 2)
        run(main(queue))
    assert len(server.requests) == 3 and len(lines) == 1 and f"HTTP {status}" in lines[0]


def test_classify() -> None:
    assert [classify(s) for s in (200, 201, 202)] == ["stored"] * 3
    assert [classify(s) for s in (401, 403, 404)] == ["token"] * 3
    assert [classify(s) for s in (400, 409, 410, 413, 422)] == ["rejected"] * 5
    assert [classify(s) for s in (408, 425, 429, 500, 502, 503, 504, 301)] == ["retry"] * 8


# ----------------------------------------------------------------------------------------------- the relay
class StoringServer:
    """Stores packets like the service: unique on (sensor, type, sample_idx, device time); replays by key."""

    def __init__(self) -> None:
        self.rows: dict[tuple[int, int, int, int], bytes] = {}
        self.answers: dict[str, dict[str, Any]] = {}
        self.keys: list[str] = []
        self.seqs: list[int] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        key = request.headers["Idempotency-Key"]
        assert key == batch_key(request.content)
        self.keys.append(key)
        if key in self.answers:
            return httpx.Response(200, json={**self.answers[key], "replayed": True})
        cap = parse_capture(request.content)
        self.seqs.append(int(cap.header.extra["batch_seq"]))
        stored = 0
        for i in np.flatnonzero(cap.source != Source.HOST_COMMAND).tolist():
            p = cap.packet(i)
            dedup = (int(cap.sensor_id[i]), p[0], int.from_bytes(p[4:8], "little"), int.from_bytes(p[8:12], "little"))
            stored += dedup not in self.rows
            self.rows.setdefault(dedup, p)
        self.answers[key] = {"received": len(cap), "stored": stored, "duplicates": len(cap) - stored}
        return httpx.Response(200, json={**self.answers[key], "replayed": False})


def test_the_relay_uploads_every_replayed_packet_once_oldest_first_while_recording(tmp_path: Path) -> None:
    fixture = FIXTURES / "healthy_walk.imucap"
    cap = parse_capture(fixture.read_bytes())
    urls = {s.placement: f"replay://{fixture}?placement={s.placement}&speed=25" for s in cap.header.sensors}
    server = StoringServer()
    seen_depths: list[int] = []

    async def main() -> Relay:
        with RelayQueue(tmp_path / "q", session_id=SESSION) as queue:
            uploader = Uploader(
                queue,
                server_url="http://relay.test",
                token=lambda: "t",
                client=httpx.AsyncClient(transport=httpx.MockTransport(server)),
            )
            relay = Relay(urls, queue, uploader, batch_s=0.2, capture=tmp_path / "relay.imucap", sync_period_s=0)
            task = asyncio.ensure_future(relay.run())
            while not task.done():
                seen_depths.append(relay.status()["uploaded"])
                await asyncio.sleep(0.05)
            await task
            return relay

    relay = run(main())
    status = relay.status()
    assert status["queue_batches"] == 0 and status["rejected"] == 0
    assert len(set(seen_depths)) > 3  # uploads went on while the sensors streamed
    assert server.seqs == sorted(server.seqs) and len(server.seqs) >= 5  # oldest first
    packets = cap.source != Source.HOST_COMMAND
    assert len(server.rows) == int(packets.sum())
    assert sorted(server.rows.values()) == sorted(cap.packet(i) for i in np.flatnonzero(packets).tolist())
    mine = parse_capture((tmp_path / "relay.imucap").read_bytes())
    assert int((mine.source != Source.HOST_COMMAND).sum()) == len(server.rows)
    assert status["received"] == {
        s.placement: int((cap.sensor_id[packets] == s.sensor_id).sum()) for s in cap.header.sensors
    }
