"""Publish/subscribe between service processes, for the live feed (docs/deployment.md): one small protocol,
three backends chosen by URL (``FUSIONGAIT_FANOUT_URL``).

- empty (the default): :class:`InProcessFanout`, messages reach subscribers of this process only. The live hub
  then does not use the fan-out at all (one process: its viewers read the feed directly, as before);
- ``redis://host:6379/0`` (or ``rediss://``, ``unix://``): :class:`RedisFanout`, Redis pub/sub (redis-py asyncio);
- ``postgresql://user@host/db`` (``postgresql+psycopg://`` is accepted, so the database URL can be reused):
  :class:`PostgresFanout`, PostgreSQL ``LISTEN/NOTIFY`` through psycopg. A notification carries at most 8000 bytes,
  so a larger message is split into parts sent by ``pg_notify`` in one transaction: PostgreSQL delivers the
  notifications of one transaction together and in the order they were sent, so the parts arrive whole, in order,
  and never interleaved with another message's (no table, nothing to clean up).

The protocol (:class:`Fanout`)::

    sub = await fanout.subscribe("channel")   # registered when this returns: later publishes reach it
    await fanout.publish("channel", b"...")   # every subscriber in every process, in the order published
    async for data in sub: ...                # bytes, until sub.close() or fanout.close()
    await sub.close(); await fanout.close()

Delivery is at most once and in order per publisher: a subscriber that was disconnected (Redis or PostgreSQL
restarted, a network cut) misses what was published meanwhile; the live feed numbers its messages and asks for a
snapshot when it sees a gap (server.live_fanout). A subscriber that does not read keeps its messages in memory up to
``queue_size``, after which the oldest are dropped (a gap, found the same way).
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import hashlib
import logging
import re
import secrets
from collections.abc import AsyncIterator
from typing import Any, Protocol

__all__ = [
    "PG_PAYLOAD_MAX_BYTES",
    "Fanout",
    "FanoutError",
    "InProcessFanout",
    "PostgresFanout",
    "RedisFanout",
    "Subscription",
    "open_fanout",
    "redact_url",
]

log = logging.getLogger("fusiongait.fanout")

#: PostgreSQL refuses a NOTIFY payload of 8000 bytes or more; parts are kept below this (header included).
PG_PAYLOAD_MAX_BYTES = 7900


class FanoutError(RuntimeError):
    """The fan-out backend cannot be reached or refused a command."""


class Subscription:
    """Messages of one channel for one subscriber, as an async iterator of bytes (ends when closed)."""

    def __init__(self, channel: str, owner: _Channels, queue_size: int) -> None:
        self.channel = channel
        self._owner = owner
        self._queue: collections.deque[bytes] = collections.deque(maxlen=queue_size)
        self._ready = asyncio.Event()
        self.closed = False
        self.dropped = 0  # messages dropped because the subscriber did not keep up

    def _put(self, data: bytes) -> None:
        if len(self._queue) == self._queue.maxlen:
            self.dropped += 1
        self._queue.append(data)
        self._ready.set()

    def _end(self) -> None:
        self.closed = True
        self._ready.set()

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        while not self._queue:
            if self.closed:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        return self._queue.popleft()

    async def close(self) -> None:
        """Stop receiving (the backend unsubscribes the channel when its last subscriber in this process leaves)."""
        if not self.closed:
            self._end()
            await self._owner._remove(self)


class Fanout(Protocol):
    """Publish/subscribe by channel name (see the module docstring)."""

    #: Whether other processes receive what this one publishes (False: the in-process backend).
    shared: bool
    url: str

    async def publish(self, channel: str, data: bytes) -> None: ...

    async def subscribe(self, channel: str) -> Subscription: ...

    async def close(self) -> None: ...


class _Channels:
    """This process's subscriptions by channel, for the backends that multiplex one connection."""

    def __init__(self, queue_size: int) -> None:
        self.queue_size = queue_size
        self.subs: dict[str, set[Subscription]] = {}

    def _deliver(self, channel: str, data: bytes) -> None:
        for sub in list(self.subs.get(channel, ())):
            sub._put(data)

    async def subscribe(self, channel: str) -> Subscription:
        sub = Subscription(channel, self, self.queue_size)
        first = channel not in self.subs
        self.subs.setdefault(channel, set()).add(sub)
        if first:
            try:
                await self._listen(channel)
            except Exception:
                self.subs.pop(channel, None)
                raise
        return sub

    async def _remove(self, sub: Subscription) -> None:
        subs = self.subs.get(sub.channel)
        if subs is None:
            return
        subs.discard(sub)
        if not subs:
            del self.subs[sub.channel]
            with contextlib.suppress(Exception):
                await self._unlisten(sub.channel)

    def _end_all(self) -> None:
        for subs in self.subs.values():
            for sub in subs:
                sub._end()
        self.subs.clear()

    async def _listen(self, channel: str) -> None:
        """Start receiving ``channel`` (the backend's subscribe); messages published after this returns arrive."""

    async def _unlisten(self, channel: str) -> None:
        """Stop receiving ``channel``."""


class InProcessFanout(_Channels):
    """Subscribers of this process only: what one process needs, and a fake of the others in tests."""

    shared = False

    def __init__(self, *, queue_size: int = 10_000) -> None:
        super().__init__(queue_size)
        self.url = ""

    async def publish(self, channel: str, data: bytes) -> None:
        self._deliver(channel, bytes(data))

    async def close(self) -> None:
        self._end_all()


class RedisFanout(_Channels):
    """Redis pub/sub: one connection publishes, one (a redis-py ``PubSub``) receives every channel of this process.

    redis-py reconnects and subscribes again by itself after a lost connection (what was published meanwhile is
    lost: see the module docstring).
    """

    shared = True

    def __init__(self, url: str, *, queue_size: int = 10_000) -> None:
        super().__init__(queue_size)
        import redis.asyncio as aioredis  # noqa: PLC0415 - only when configured

        self.url = url
        self._client = aioredis.Redis.from_url(url, socket_connect_timeout=5, health_check_interval=30)
        self._pubsub = self._client.pubsub()
        self._confirmed: dict[str, asyncio.Event] = {}
        self._reader: asyncio.Task[None] | None = None

    async def open(self) -> RedisFanout:
        """Check that the server answers (raises :class:`FanoutError` otherwise) and start the reader."""
        try:
            await self._client.ping()
        except Exception as exc:
            await self._client.aclose()
            raise FanoutError(f"FUSIONGAIT_FANOUT_URL: Redis at {redact_url(self.url)} does not answer: {exc}") from exc
        self._reader = asyncio.create_task(self._read(), name="fanout redis reader")
        return self

    async def publish(self, channel: str, data: bytes) -> None:
        try:
            await self._client.publish(channel, data)
        except Exception as exc:
            raise FanoutError(f"Redis publish on {channel}: {exc}") from exc

    async def _listen(self, channel: str) -> None:
        confirmed = self._confirmed[channel] = asyncio.Event()
        try:
            await self._pubsub.subscribe(channel)
            await asyncio.wait_for(confirmed.wait(), 10.0)  # the server has it: later publishes reach us
        except Exception as exc:
            raise FanoutError(f"Redis subscribe to {channel}: {exc}") from exc
        finally:
            self._confirmed.pop(channel, None)

    async def _unlisten(self, channel: str) -> None:
        await self._pubsub.unsubscribe(channel)

    async def _read(self) -> None:
        while True:
            try:
                if not self._pubsub.subscribed:
                    await asyncio.sleep(0.05)
                    continue
                message = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the connection dropped: redis-py reconnects and subscribes again
                log.warning("fan-out: Redis connection lost (%s); reconnecting", exc)
                await asyncio.sleep(0.5)
                continue
            if message is None:
                continue
            channel = _text(message.get("channel"))
            kind = message.get("type")
            if kind == "message":
                data = message.get("data")
                self._deliver(channel, data if isinstance(data, bytes) else str(data).encode())
            elif kind == "subscribe" and channel in self._confirmed:
                self._confirmed[channel].set()

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        self._end_all()
        with contextlib.suppress(Exception):
            await self._pubsub.aclose()
        with contextlib.suppress(Exception):
            await self._client.aclose()


class PostgresFanout(_Channels):
    """PostgreSQL ``LISTEN/NOTIFY``: one connection notifies, one listens to every channel of this process.

    Channel names are mapped to PostgreSQL identifiers (letters, digits and ``_``, with a hash of the name so that
    two names never share one). Payloads are text: a message that is UTF-8 without NUL goes as it is, any other
    base64-encoded. A message of more than :data:`PG_PAYLOAD_MAX_BYTES` is split (module docstring). The listening
    connection is opened again after a failure, and listens to the same channels.
    """

    shared = True

    def __init__(self, url: str, *, queue_size: int = 10_000, poll_s: float = 0.2) -> None:
        super().__init__(queue_size)
        self.url = url
        self._conninfo = re.sub(r"^postgres(ql)?(\+psycopg)?://", "postgresql://", url)
        self._listener: Any = None
        self._sender: Any = None
        self._send_lock = asyncio.Lock()
        self._reader: asyncio.Task[None] | None = None
        self._poll_s = poll_s
        self._parts: dict[str, list[str]] = {}  # message id → parts received so far
        self._prefix = secrets.token_hex(4)
        self._counter = 0

    async def open(self) -> PostgresFanout:
        """Connect (raises :class:`FanoutError` when the server does not answer) and start the listener."""
        try:
            self._listener = await self._connect()
            self._sender = await self._connect()
        except Exception as exc:
            await self.close()
            raise FanoutError(f"FUSIONGAIT_FANOUT_URL: PostgreSQL at {redact_url(self.url)}: {exc}") from exc
        self._reader = asyncio.create_task(self._read(), name="fanout postgres listener")
        return self

    async def _connect(self) -> Any:
        import psycopg  # noqa: PLC0415 - only when configured

        return await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True, connect_timeout=5)

    @staticmethod
    def pg_channel(channel: str) -> str:
        """The PostgreSQL channel (an identifier of at most 63 bytes) for ``channel``."""
        readable = re.sub(r"[^a-z0-9_]", "_", channel.lower())[:40]
        return f"{readable}_{hashlib.sha1(channel.encode()).hexdigest()[:16]}"

    def _payloads(self, data: bytes) -> list[str]:
        try:
            text = data.decode("utf-8")
            encoding = "t" if "\x00" not in text else "b"
        except UnicodeDecodeError:
            encoding = "b"
        if encoding == "b":
            text = base64.b64encode(data).decode("ascii")
        if len(text.encode("utf-8")) + 2 <= PG_PAYLOAD_MAX_BYTES:
            return [f"{encoding}|{text}"]
        self._counter += 1
        msg_id = f"{self._prefix}{self._counter:x}"
        pieces = _split_utf8(text, PG_PAYLOAD_MAX_BYTES - 64)
        return [f"p{encoding}|{msg_id}|{i}|{len(pieces)}|{piece}" for i, piece in enumerate(pieces)]

    async def publish(self, channel: str, data: bytes) -> None:
        payloads = self._payloads(data)
        name = self.pg_channel(channel)
        async with self._send_lock:
            try:
                if self._sender is None or self._sender.closed:
                    self._sender = await self._connect()
                if len(payloads) == 1:
                    await self._sender.execute("SELECT pg_notify(%s, %s)", (name, payloads[0]))
                else:
                    async with self._sender.transaction(), self._sender.cursor() as cur:
                        await cur.executemany("SELECT pg_notify(%s, %s)", [(name, p) for p in payloads])
            except Exception as exc:
                raise FanoutError(f"PostgreSQL notify on {channel}: {exc}") from exc

    async def _listen(self, channel: str) -> None:
        from psycopg import sql  # noqa: PLC0415

        if self._listener is None or self._listener.closed:
            return  # the reader listens to every channel when it connects again
        try:  # waits for the reader's current poll (it holds the connection): at most poll_s
            await self._listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.pg_channel(channel))))
        except Exception as exc:
            raise FanoutError(f"PostgreSQL listen on {channel}: {exc}") from exc

    async def _unlisten(self, channel: str) -> None:
        from psycopg import sql  # noqa: PLC0415

        if self._listener is not None and not self._listener.closed:
            await self._listener.execute(sql.SQL("UNLISTEN {}").format(sql.Identifier(self.pg_channel(channel))))

    async def _read(self) -> None:
        from psycopg import sql  # noqa: PLC0415

        while True:
            try:
                if self._listener is None or self._listener.closed:
                    self._listener = await self._connect()
                    self._parts.clear()
                    for name in list(self.subs):
                        await self._listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.pg_channel(name))))
                by_pg = {self.pg_channel(c): c for c in self.subs}
                async for note in self._listener.notifies(timeout=self._poll_s):
                    channel = by_pg.get(note.channel)
                    if channel is None:
                        by_pg = {self.pg_channel(c): c for c in self.subs}
                        channel = by_pg.get(note.channel)
                    data = self._received(note.payload)
                    if channel is not None and data is not None:
                        self._deliver(channel, data)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("fan-out: PostgreSQL listener failed (%s); connecting again", exc)
                with contextlib.suppress(Exception):
                    await self._listener.close()
                self._listener = None
                await asyncio.sleep(0.5)

    def _received(self, payload: str) -> bytes | None:
        kind, _, rest = payload.partition("|")
        if kind in ("t", "b"):
            return _decode(kind, rest)
        if kind in ("pt", "pb"):
            msg_id, i, n, piece = rest.split("|", 3)
            parts = self._parts.setdefault(msg_id, [])
            if int(i) != len(parts):  # a part went missing (a reconnect): drop the message
                self._parts.pop(msg_id, None)
                return None
            parts.append(piece)
            if len(parts) < int(n):
                return None
            del self._parts[msg_id]
            return _decode(kind[1], "".join(parts))
        log.warning("fan-out: ignored a notification in an unknown format")
        return None

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        self._end_all()
        for conn in (self._listener, self._sender):
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close()


def _decode(kind: str, text: str) -> bytes:
    return text.encode("utf-8") if kind == "t" else base64.b64decode(text)


def _split_utf8(text: str, max_bytes: int) -> list[str]:
    """``text`` in pieces of at most ``max_bytes`` UTF-8 bytes each, cut between characters."""
    data = text.encode("utf-8")
    pieces = []
    start = 0
    while start < len(data):
        end = min(start + max_bytes, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # never inside a character
            end -= 1
        pieces.append(data[start:end].decode("utf-8"))
        start = end
    return pieces


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***``, for messages and logs: ``redis://u:***@host/0``, and
    ``redis://:***@host/0`` for a password without a user name (Redis's usual form)."""
    return re.sub(r"://([^:/?#@]*):[^/?#]*@", r"://\1:***@", url)


async def open_fanout(url: str | None) -> Fanout:
    """The backend for ``url`` (see the module docstring), connected.

    Raises
    ------
    FanoutError
        When the server does not answer, or the URL's scheme is not one of the three.
    """
    if not url:
        return InProcessFanout()
    scheme = url.split("://", 1)[0].lower()
    if scheme in ("redis", "rediss", "unix"):
        return await RedisFanout(url).open()
    if scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        return await PostgresFanout(url).open()
    raise FanoutError(f"FUSIONGAIT_FANOUT_URL: expected redis://, rediss://, unix:// or postgresql://, got {scheme}://")
