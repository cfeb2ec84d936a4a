"""The fan-out backends on their own (server.fanout): in-process, Redis (127.0.0.1:6379) and PostgreSQL
(127.0.0.1:5432) LISTEN/NOTIFY, each against the real server, skipped when it does not answer.

For the shared backends two separate backend objects stand for two service processes (separate connections)."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import Awaitable, Callable

import pytest

from server.fanout import (
    PG_PAYLOAD_MAX_BYTES,
    Fanout,
    FanoutError,
    InProcessFanout,
    PostgresFanout,
    open_fanout,
    redact_url,
)
from tests.server.processes import free_port

REDIS_URL = os.environ.get("FUSIONGAIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PG_FANOUT_URL = "postgresql://postgres@127.0.0.1:5432/test"

Opener = Callable[[], Awaitable[Fanout]]


def redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(
    params=[
        "memory",
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("postgresql", marks=pytest.mark.postgres),
    ]
)
def opener(request: pytest.FixtureRequest) -> Opener:
    """Opens "a process's" backend: the same in-process object each time, or a new connection to the server."""
    if request.param == "memory":
        shared = InProcessFanout()

        async def same() -> Fanout:
            return shared

        return same
    if request.param == "redis":
        if not redis_reachable():
            pytest.skip("no Redis server at 127.0.0.1:6379")
        return lambda: open_fanout(REDIS_URL)
    if not request.getfixturevalue("postgres_available"):
        pytest.skip("no PostgreSQL server at 127.0.0.1:5432")
    return lambda: open_fanout(PG_FANOUT_URL)


async def _take(sub: object, n: int, timeout_s: float = 10.0) -> list[bytes]:
    out: list[bytes] = []

    async def take() -> None:
        async for data in sub:  # type: ignore[attr-defined]
            out.append(data)
            if len(out) == n:
                return

    await asyncio.wait_for(take(), timeout_s)
    return out


def test_messages_reach_every_subscriber_in_order_whatever_their_size(opener: Opener) -> None:
    channel = f"test.{secrets.token_hex(4)}"
    big = bytes(range(256)) * 400  # 100 kB, not UTF-8: several parts on PostgreSQL
    text = ("é" * 5000 + "x" * 3).encode()  # 10 kB of two-byte characters: parts must not cut one
    messages = [f"m{i}".encode() for i in range(200)] + [big, text, b"", b"a\x00b", b"x" * (PG_PAYLOAD_MAX_BYTES - 2)]

    async def run() -> None:
        a, b = await opener(), await opener()
        try:
            sub_a1, sub_a2 = await a.subscribe(channel), await a.subscribe(channel)
            sub_b = await b.subscribe(channel)
            other = await a.subscribe(channel + ".other")
            for m in messages:  # published by "process" b, received by both
                await b.publish(channel, m)
            for sub in (sub_a1, sub_a2, sub_b):
                assert await _take(sub, len(messages)) == messages
            await b.publish(channel + ".other", b"elsewhere")
            assert await _take(other, 1) == [b"elsewhere"]
        finally:
            await a.close()
            await b.close()

    asyncio.run(run())


def test_a_closed_subscription_ends_and_receives_nothing_more(opener: Opener) -> None:
    channel = f"test.{secrets.token_hex(4)}"

    async def run() -> None:
        a, b = await opener(), await opener()
        try:
            gone, staying = await a.subscribe(channel), await a.subscribe(channel)
            await b.publish(channel, b"1")
            assert await _take(gone, 1) == [b"1"]
            await gone.close()
            await b.publish(channel, b"2")
            assert await _take(staying, 2) == [b"1", b"2"]
            assert [x async for x in gone] == []  # ended, and "2" never reached it
            await staying.close()
            await b.publish(channel, b"3")  # nobody here listens: the backend unsubscribed the channel
            again = await a.subscribe(channel)
            await b.publish(channel, b"4")
            assert await _take(again, 1) == [b"4"]
        finally:
            await a.close()
            await b.close()

    asyncio.run(run())


def test_close_ends_every_subscription(opener: Opener) -> None:
    async def run() -> None:
        a = await opener()
        sub = await a.subscribe(f"test.{secrets.token_hex(4)}")
        await a.close()
        assert await asyncio.wait_for(_take(sub, 1, 5.0), 6.0) == []

    asyncio.run(run())


def test_postgres_channel_names_fit_and_differ() -> None:
    names = ["fusiongait.live.0123456789abcdef01234567", "a.b", "a_b", "x" * 200]
    pg = [PostgresFanout.pg_channel(n) for n in names]
    assert len(set(pg)) == len(pg)
    assert all(len(p.encode()) <= 63 and p.replace("_", "").isalnum() for p in pg)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://u:secret@h:6379/0", "redis://u:***@h:6379/0"),
        ("redis://:secret@h/0", "redis://:***@h/0"),  # Redis's password-only form
        ("postgresql+psycopg://u:se@cret@h/db", "postgresql+psycopg://u:***@h/db"),
        ("unix://:secret@/run/redis.sock?db=0", "unix://:***@/run/redis.sock?db=0"),
        ("postgresql://u@h:5432/db", "postgresql://u@h:5432/db"),
        ("redis://h:6379/0?name=a@b", "redis://h:6379/0?name=a@b"),
    ],
)
def test_redact_url_hides_the_password_and_nothing_else(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_unknown_scheme_and_unreachable_servers_are_refused_with_the_setting_named() -> None:
    async def run() -> None:
        with pytest.raises(FanoutError, match=r"FUSIONGAIT_FANOUT_URL.*amqp://"):
            await open_fanout("amqp://127.0.0.1")
        port = free_port()  # nothing listens there
        with pytest.raises(FanoutError, match="FUSIONGAIT_FANOUT_URL: Redis"):
            await open_fanout(f"redis://127.0.0.1:{port}/0")
        with pytest.raises(FanoutError, match="FUSIONGAIT_FANOUT_URL: PostgreSQL"):
            await open_fanout(f"postgresql://u:secret@127.0.0.1:{port}/x")
        assert isinstance(await open_fanout(""), InProcessFanout)

    asyncio.run(run())
