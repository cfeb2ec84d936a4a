"""Live sessions across service processes (issue 10): a viewer on any process follows a session run by another.

Used only when a shared fan-out backend is configured (``FUSIONGAIT_FANOUT_URL``, :mod:`server.fanout`); with the
default (one process) the live hub does not touch this module.

Each process has one :class:`LiveLink`, which

- as the **owner** of a live session (the process that started it and reads its sensors) publishes every message
  of its :class:`~server.live.LiveFeed` on the session's channel, already serialised and numbered (a one-line
  header with ``seq``, type and stride id, then the same JSON text its own viewers get), and answers requests on
  the control channel: ``sync`` (publish a snapshot on the session's channel: every stride as last sent, the latest
  status, summary and end, and the newest messages, up to ``sync_tail`` of them or ``sync_tail_bytes``) and
  ``stop`` (stop the session as ``POST .../live/stop`` would, and reply with its final state);
- announces its live sessions (their ``LiveOut`` fields) on the control channel every ``announce_s`` and at once
  when one starts or ends, so every process can list them and answer ``GET /sessions/{id}/live``;
- for every session another process announces, keeps a :class:`RemoteLive`: the announced fields and a
  :class:`MirrorFeed`, a replay buffer fed from the session's channel. It subscribes, asks the owner for a
  snapshot, and from then on appends the owner's messages with the owner's numbers, so the viewers of this process
  get the same messages, in the same order and with the same ``seq``, and a viewer that reconnects (to this or any
  process) resumes from its last ``seq``. A gap in the numbers (messages lost while the backend was unreachable)
  drops this process's viewers of that session (they reconnect and resume) and asks for a snapshot again.

A session whose owner is not heard from for ``expire_s`` is forgotten (the owner died: as with one process, its
viewers are disconnected and it is no longer found). A stop request for it is answered with 503 naming the owner.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import secrets
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from server.errors import Conflict, ServiceUnavailable
from server.fanout import Fanout, FanoutError, Subscription, redact_url
from server.live import LiveFeed, LiveSession

if TYPE_CHECKING:
    from server.live import LiveHub

__all__ = ["LiveLink", "MirrorFeed", "RemoteLive"]

log = logging.getLogger("fusiongait.live")


class MirrorFeed(LiveFeed):
    """A live feed fed from another process's: the owner's messages with the owner's numbers (see the module
    docstring). Viewers subscribe as to a :class:`~server.live.LiveFeed`, once :attr:`ready` is set."""

    def __init__(self, *, retain: int = 20_000, queue_size: int = 2_000) -> None:
        super().__init__(retain=retain, queue_size=queue_size)
        self.ready = asyncio.Event()  # set once a snapshot is loaded and while the numbers have no gap

    def load(self, seq: int, items: Iterable[list[Any]], tail: Iterable[list[Any]]) -> None:
        """Start again from the owner's snapshot: ``items`` ``[seq, type, stride id, text]`` (strides and latest),
        ``tail`` ``[seq, text]`` (the newest messages, consecutive, up to ``seq``)."""
        self.seq = seq
        self.log.clear()
        self.log.extend((int(s), str(t)) for s, t in tail)
        self.strides.clear()
        self.latest.clear()
        for s, kind, stride_id, text in items:
            if kind == "stride":
                self.strides[int(stride_id)] = (int(s), str(text))
            else:
                self.latest[str(kind)] = (int(s), str(text))
        self.ready.set()

    def ingest(self, seq: int, kind: str, stride_id: int | None, text: str) -> bool:
        """Keep one of the owner's messages and hand it to this process's viewers. False when it does not follow the
        last one (a gap: :meth:`lost` then); messages before the first snapshot and repeats are ignored."""
        if not self.ready.is_set() or seq <= self.seq:
            return True
        if seq != self.seq + 1:
            return False
        self.seq = seq
        self._keep(seq, kind, stride_id, text)
        return True

    def lost(self) -> None:
        """Messages went missing: disconnect this process's viewers (they resume after the next snapshot)."""
        self.ready.clear()
        self.close()


@dataclass(eq=False)
class RemoteLive:
    """A live session run by another process, as this process knows it (the fields of ``LiveOut``, the feed)."""

    session_id: str
    patient_id: str
    patient_code: str
    state: str
    started_at: dt.datetime
    sensors: dict[str, str]
    analysis_id: str | None
    owner: str
    heard_s: float = field(default_factory=time.monotonic)
    feed: MirrorFeed = field(default_factory=MirrorFeed)
    follower: asyncio.Task[None] | None = None
    sync_asked_s: float = 0.0

    def update(self, info: dict[str, Any]) -> None:
        if self.state == "stopped" and info.get("state") != "stopped":
            return  # an older announcement than the end this process already saw
        self.state = str(info["state"])
        self.analysis_id = info.get("analysis_id")
        self.heard_s = time.monotonic()


def _info(live: LiveSession | RemoteLive, owner: str) -> dict[str, Any]:
    return {
        "session_id": live.session_id,
        "patient_id": live.patient_id,
        "patient_code": live.patient_code,
        "state": live.state,
        "started_at": live.started_at.isoformat(),
        "sensors": dict(live.sensors),
        "analysis_id": live.analysis_id,
        "owner": owner,
    }


class LiveLink:
    """This process's part in the live fan-out (module docstring).

    Parameters
    ----------
    hub : LiveHub
    fanout : Fanout
        A shared backend (Redis or PostgreSQL).
    announce_s, expire_s : float
        How often this process announces its live sessions; how long another's may go unannounced before they are
        forgotten.
    stop_timeout_s : float
        How long a stop request forwarded to the owner may take (its last pass, storing the capture).
    sync_timeout_s : float
        How long a viewer waits for this process's copy of a remote session to be ready (a snapshot).
    sync_tail, sync_tail_bytes : int
        The newest messages a snapshot carries, for viewers that resume (at most that many, of at most that size).
    keep_stopped_s : float
        Stopped sessions are still announced this long after their end.
    namespace : str
        Prefix of the channels: the processes of one deployment share it; another deployment on the same Redis or
        PostgreSQL needs its own (``FUSIONGAIT_FANOUT_NAMESPACE``).
    """

    def __init__(
        self,
        hub: LiveHub,
        fanout: Fanout,
        *,
        announce_s: float = 1.0,
        expire_s: float = 5.0,
        stop_timeout_s: float = 60.0,
        sync_timeout_s: float = 5.0,
        sync_tail: int = 1000,
        sync_tail_bytes: int = 1 << 20,
        keep_stopped_s: float = 600.0,
        queue_size: int = 10_000,
        namespace: str = "fusiongait",
    ) -> None:
        self.hub = hub
        self.namespace = namespace
        self.control_channel = f"{namespace}.live.control"
        self.fanout = fanout
        self.process_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(2)}"
        self.announce_s = announce_s
        self.expire_s = expire_s
        self.stop_timeout_s = stop_timeout_s
        self.sync_timeout_s = sync_timeout_s
        self.sync_tail = sync_tail
        self.sync_tail_bytes = sync_tail_bytes
        self.keep_stopped_s = keep_stopped_s
        self.remote: dict[str, RemoteLive] = {}
        self._outbox: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(queue_size)
        self._ended_at: dict[str, float] = {}
        self._stops: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._control: Subscription | None = None
        self._announce_now = asyncio.Event()
        self._dropped = 0
        self._stopping: set[asyncio.Task[None]] = set()

    def session_channel(self, session_id: str) -> str:
        """The channel of one live session's messages."""
        return f"{self.namespace}.live.s.{session_id}"

    # ------------------------------------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Subscribe to the control channel, ask the others to announce their sessions, start announcing ours."""
        self._control = await self.fanout.subscribe(self.control_channel)
        self._tasks = [
            asyncio.create_task(self._send_loop(), name="live link sender"),
            asyncio.create_task(self._control_loop(self._control), name="live link control"),
            asyncio.create_task(self._announce_loop(), name="live link announcer"),
        ]
        self._post(self.control_channel, {"op": "who"})

    async def close(self, flush_timeout_s: float = 5.0) -> None:
        """Send what is queued (the end of this process's sessions), then stop."""
        self._post(self.control_channel, self._announcement())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._outbox.join(), flush_timeout_s)
        tasks = self._tasks + [r.follower for r in self.remote.values() if r.follower is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for remote in self.remote.values():
            remote.feed.close()
        await self.fanout.close()

    # ------------------------------------------------------------------------------------------------ owner
    def attach(self, live: LiveSession) -> None:
        """Publish ``live``'s messages on its channel from now on (before it starts) and announce it."""
        stale = self.remote.pop(live.session_id, None)  # a session that ended elsewhere, now started here
        if stale is not None:
            self._forget(stale)
        channel = self.session_channel(live.session_id)

        def relay(seq: int, kind: str, stride_id: int | None, text: str) -> None:
            header = f"M{seq} {kind} {'' if stride_id is None else stride_id}\n"
            self._put(channel, (header + text).encode())
            if kind == "ended":
                self._ended_at[live.session_id] = time.monotonic()
                self._announce_now.set()

        live.feed.relay = relay
        self._announce_now.set()

    def check_not_live_elsewhere(self, session_id: str) -> None:
        """Raise :class:`~server.errors.Conflict` when another process runs ``session_id`` live."""
        remote = self.remote.get(session_id)
        if remote is not None and remote.state != "stopped":
            raise Conflict(f"session {session_id} is already live (on process {remote.owner})")

    def _put(self, channel: str, data: bytes) -> None:
        try:
            self._outbox.put_nowait((channel, data))
        except asyncio.QueueFull:  # the backend is unreachable or slow: the others see a gap and ask again
            self._dropped += 1
            if self._dropped in (1, 100) or self._dropped % 10_000 == 0:
                log.warning("live fan-out: %d messages dropped (the backend does not keep up)", self._dropped)

    def _post(self, channel: str, message: dict[str, Any]) -> None:
        self._put(channel, json.dumps({"from": self.process_id, **message}, separators=(",", ":")).encode())

    async def _send_loop(self) -> None:
        failing = False
        while True:
            channel, data = await self._outbox.get()
            try:
                await self.fanout.publish(channel, data)
                if failing:
                    log.warning("live fan-out: %s answers again", redact_url(self.fanout.url))
                failing = False
            except FanoutError as exc:
                if not failing:
                    log.error("live fan-out: publishing failed, messages are dropped until it works: %s", exc)
                failing = True
            finally:
                self._outbox.task_done()

    def _announcement(self) -> dict[str, Any]:
        now = time.monotonic()
        sessions = [
            _info(live, self.process_id)
            for live in list(self.hub.sessions.values())
            if live.state != "stopped" or now - self._ended_at.get(live.session_id, now) < self.keep_stopped_s
        ]
        return {"op": "announce", "owner": self.process_id, "sessions": sessions}

    async def _announce_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._announce_now.wait(), self.announce_s)
            self._announce_now.clear()
            self._post(self.control_channel, self._announcement())
            now = time.monotonic()
            for remote in list(self.remote.values()):
                if remote.state != "stopped" and now - remote.heard_s > self.expire_s:
                    log.warning(
                        "live session %s: its process %s is gone (silent %.0f s); forgotten",
                        remote.session_id,
                        remote.owner,
                        now - remote.heard_s,
                    )
                    self.remote.pop(remote.session_id, None)
                    self._forget(remote)
                elif not remote.feed.ready.is_set() and now - remote.sync_asked_s > 2.0 and remote.follower:
                    self._ask_sync(remote)  # the snapshot did not come (lost, or the owner was busy): ask again
            stopped = [r for r in self.remote.values() if r.state == "stopped"]
            for old in stopped[: max(0, len(stopped) - self.hub.keep_stopped)]:
                self._forget(self.remote.pop(old.session_id))

    def _snapshot(self, live: LiveSession) -> bytes:
        feed = live.feed
        items: list[list[Any]] = [[s, "stride", i, t] for i, (s, t) in feed.strides.items()]
        items += [[s, kind, None, t] for kind, (s, t) in feed.latest.items()]
        tail: list[tuple[int, str]] = []
        size = 0
        for seq, text in reversed(feed.log):
            size += len(text)
            if len(tail) >= self.sync_tail or size > self.sync_tail_bytes:
                break
            tail.append((seq, text))
        tail.reverse()
        return b"S" + json.dumps({"seq": feed.seq, "items": items, "tail": tail}, separators=(",", ":")).encode()

    async def _stop_for(self, session_id: str, requester: str) -> None:
        try:
            live = await self.hub.stop(session_id)
        except Exception as exc:
            log.exception("live session %s: stop asked by %s failed", session_id, requester)
            reply = {"op": "stopped", "session": session_id, "ok": False, "message": str(exc)}
        else:
            assert isinstance(live, LiveSession)
            reply = {"op": "stopped", "session": session_id, "ok": True, "live": _info(live, self.process_id)}
        self._post(self.control_channel, {**reply, "to": requester})

    # ------------------------------------------------------------------------------------------------ control
    async def _control_loop(self, sub: Subscription) -> None:
        async for data in sub:
            try:
                message = json.loads(data)
                if message.get("from") != self.process_id:
                    self._on_control(message)
            except Exception:
                log.exception("live fan-out: a control message could not be handled")

    def _on_control(self, message: dict[str, Any]) -> None:
        op = message.get("op")
        session_id = str(message.get("session", ""))
        local = self.hub.sessions.get(session_id)
        if op == "announce":
            self._announced(str(message["owner"]), message.get("sessions", []))
        elif op == "who":
            self._announce_now.set()
        elif op == "sync" and local is not None:
            self._put(self.session_channel(session_id), self._snapshot(local))
        elif op == "stop" and local is not None:
            task = asyncio.create_task(self._stop_for(session_id, str(message.get("from"))), name=f"stop {session_id}")
            self._stopping.add(task)  # a reference, so that it is not collected while it runs
            task.add_done_callback(self._stopping.discard)
        elif op == "stopped" and message.get("to") == self.process_id:
            future = self._stops.get(session_id)
            if future is not None and not future.done():
                future.set_result(message)

    def _announced(self, owner: str, sessions: list[dict[str, Any]]) -> None:
        for info in sessions:
            session_id = str(info["session_id"])
            if session_id in self.hub.sessions:
                continue  # this process runs it (an announcement from before it started here)
            remote = self.remote.get(session_id)
            if remote is not None and remote.owner != owner:
                if info["state"] == "stopped":
                    continue  # an old run elsewhere; the one followed is newer
                self._forget(self.remote.pop(session_id))
                remote = None
            if remote is None:
                remote = RemoteLive(
                    session_id=session_id,
                    patient_id=str(info["patient_id"]),
                    patient_code=str(info["patient_code"]),
                    state=str(info["state"]),
                    started_at=dt.datetime.fromisoformat(info["started_at"]),
                    sensors=dict(info["sensors"]),
                    analysis_id=info.get("analysis_id"),
                    owner=owner,
                )
                self.remote[session_id] = remote
                remote.follower = asyncio.create_task(self._follow(remote), name=f"follow {session_id}")
            else:
                remote.update(info)

    # ------------------------------------------------------------------------------------------------ follower
    def _ask_sync(self, remote: RemoteLive) -> None:
        remote.sync_asked_s = time.monotonic()
        self._post(self.control_channel, {"op": "sync", "session": remote.session_id})

    async def _follow(self, remote: RemoteLive) -> None:
        """Keep ``remote``'s mirror feed (module docstring) until the session ends or is forgotten."""
        sub = await self.fanout.subscribe(self.session_channel(remote.session_id))
        try:
            self._ask_sync(remote)
            async for frame in sub:
                if self._on_frame(remote, frame):
                    break
        finally:
            await sub.close()

    def _on_frame(self, remote: RemoteLive, frame: bytes) -> bool:
        """Handle one message of the session's channel; True once the session ended (nothing more will come)."""
        feed = remote.feed
        if frame[:1] == b"M":
            head, _, body = frame.partition(b"\n")
            seq_s, kind, stride_s = head[1:].decode().split(" ")
            text = body.decode()
            if not feed.ingest(int(seq_s), kind, int(stride_s) if stride_s else None, text):
                log.warning("live session %s: messages lost before %s; resynchronising", remote.session_id, seq_s)
                feed.lost()
                remote.feed = MirrorFeed()
                self._ask_sync(remote)
                return False
            if kind == "ended" and feed.ready.is_set():
                self._ended(remote, json.loads(text).get("analysis_id"))
                return True
        elif frame[:1] == b"S":
            snapshot = json.loads(frame[1:])
            if feed.ready.is_set() and int(snapshot["seq"]) <= feed.seq:
                return False  # another process asked; this copy is up to date
            feed.load(int(snapshot["seq"]), snapshot["items"], snapshot["tail"])
            ended = feed.latest.get("ended")
            if ended is not None:
                self._ended(remote, json.loads(ended[1]).get("analysis_id"))
                return True
        return False

    def _ended(self, remote: RemoteLive, analysis_id: str | None) -> None:
        remote.state, remote.analysis_id = "stopped", analysis_id
        remote.feed.close()
        future = self._stops.get(remote.session_id)
        if future is not None and not future.done():
            future.set_result({"ok": True})

    def _forget(self, remote: RemoteLive) -> None:
        remote.feed.close()
        remote.feed.ready.clear()
        if remote.follower is not None:
            remote.follower.cancel()

    # ------------------------------------------------------------------------------------------------ viewers
    async def wait_ready(self, remote: RemoteLive) -> MirrorFeed:
        """``remote``'s feed once it holds the owner's snapshot; :class:`ServiceUnavailable` after
        ``sync_timeout_s``."""
        try:
            await asyncio.wait_for(remote.feed.ready.wait(), self.sync_timeout_s)
        except TimeoutError:
            raise ServiceUnavailable(
                f"live session {remote.session_id} runs on process {remote.owner}, whose feed did not reach this "
                f"process within {self.sync_timeout_s:g} s"
            ) from None
        return remote.feed

    async def stop_remote(self, remote: RemoteLive) -> RemoteLive:
        """Ask the owner to stop ``remote`` and wait for it (its last pass, storing the capture)."""
        if remote.state == "stopped":
            return remote
        silent_s = time.monotonic() - remote.heard_s
        if silent_s > self.expire_s:
            raise ServiceUnavailable(
                f"live session {remote.session_id} runs on process {remote.owner}, not heard from for {silent_s:.0f} s"
            )
        future = self._stops.get(remote.session_id)
        if future is None or future.done():
            future = self._stops[remote.session_id] = asyncio.get_running_loop().create_future()
        self._post(self.control_channel, {"op": "stop", "session": remote.session_id})
        try:
            reply = await asyncio.wait_for(asyncio.shield(future), self.stop_timeout_s)
        except TimeoutError:
            raise ServiceUnavailable(
                f"live session {remote.session_id} runs on process {remote.owner}, which did not confirm the stop "
                f"within {self.stop_timeout_s:g} s"
            ) from None
        if not reply.get("ok"):
            raise ServiceUnavailable(
                f"live session {remote.session_id}: its process {remote.owner} could not stop it: "
                f"{reply.get('message')}"
            )
        if "live" in reply:
            remote.state, remote.analysis_id = "stopped", reply["live"].get("analysis_id")
        return remote
