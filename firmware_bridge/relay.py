"""The reference relay (hardware/PROTOCOL.md §6): sensors in, a durable on-disk queue, batches uploaded exactly once.

::

    BridgeSession (links, supervisors) ──on_record──▶ Batcher ──▶ RelayQueue (a folder) ──▶ Uploader (httpx) ──▶ server

The relay reuses :class:`~firmware_bridge.session.BridgeSession` for the links (its ``on_record`` hook sees every
packet and command in arrival order). The :class:`Batcher` writes each record at once into the queue's open batch,
a capture file whose records reach the operating system as they arrive (a killed relay loses nothing it received;
a power cut at most the last second), and seals it every ``batch_s``. The :class:`Uploader` sends sealed batches
oldest first, one at a time, while new ones are queued, and deletes a batch only after a 2xx.

Queue folder (one per relay, bound to one session)::

    state.json            {"format", "session_id", "relay_id", "next_seq", counters}, replaced atomically
    lock                  held (flock) while a relay uses the folder
    open.imucap.part      the batch being filled (a capture; sealed, torn tail dropped, at the next start)
    000000000017.imucap   sealed batches waiting for a 2xx, written by fsync + rename
    rejected/             batches the server refused for good, each with a .txt saying why

The ``Idempotency-Key`` of a batch is derived from its bytes (:func:`batch_key`: ``sha256-`` and the SHA-256 of the
body), so a batch re-sent after any failure, a relay restart included, carries the same key with the same body and
the server answers what it answered the first time; nothing about keys needs to be stored.

What the uploader does with each answer (:func:`classify`): 2xx: delete the batch; 401, 403, 404: the token (or the
session) is refused, uploads stop until the token changes, batches stay queued; 408, 425, 429, 5xx, other statuses
and network errors: retry the same batch after ``min(max_s, initial_s · 2^k) × U(0.5, 1)`` (60 s at most by
default, a ``Retry-After`` is honoured up to that cap), forever; any other 4xx (409, 413, 422, ...): the batch can
never be stored as it is, so it moves to ``rejected/`` and the next batch goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import random
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx

from firmware_bridge.atomic import fsync_dir, fsync_file, write_atomic
from firmware_bridge.capture_writer import CaptureWriter
from firmware_bridge.errors import BridgeError
from firmware_bridge.session import BridgeSession
from firmware_bridge.supervisor import Backoff
from hardware.capture import CaptureHeader, CaptureSensor, Source, parse_capture
from hardware.errors import HardwareError

try:  # POSIX; elsewhere a folder is not locked against a second relay
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "RELAY_BACKOFF",
    "Attempt",
    "Batcher",
    "QueuedBatch",
    "Relay",
    "RelayError",
    "RelayQueue",
    "Uploader",
    "batch_key",
    "classify",
]

QUEUE_FORMAT = "fusiongait.relay-queue/1"
#: Retry delays of the uploader: 1, 2, 4, ... s up to 60 s, each × U(0.5, 1).
RELAY_BACKOFF = Backoff(initial_s=1.0, factor=2.0, max_s=60.0, jitter=0.5)
#: A batch is sealed early when it grows past this (the server's default limit is 8 MiB).
DEFAULT_MAX_BATCH_BYTES = 1 << 20

_STATE = "state.json"
_LOCK = "lock"
_OPEN = "open.imucap.part"
_SUFFIX = ".imucap"
_REJECTED = "rejected"
_BATCH_NAME = re.compile(r"^(\d+)\.imucap$")
#: Statuses that say "not now" rather than "never": retried like a server error.
_RETRY_4XX = frozenset({408, 425, 429})
#: Statuses that say the token (or the session it is bound to) is refused.
_TOKEN_4XX = frozenset({401, 403, 404})


class RelayError(BridgeError):
    """The relay's queue folder cannot be used, or a batch in it cannot be read."""


def batch_key(body: bytes) -> str:
    """The ``Idempotency-Key`` of a batch: ``sha256-`` followed by the SHA-256 of its bytes (71 characters)."""
    return "sha256-" + hashlib.sha256(body).hexdigest()


# --------------------------------------------------------------------------------------------------------- queue
@dataclass(frozen=True, slots=True)
class QueuedBatch:
    """A sealed batch in the queue folder: its sequence number and file."""

    seq: int
    path: Path

    def read(self) -> bytes:
        """The batch's bytes (the upload body)."""
        try:
            return self.path.read_bytes()
        except OSError as exc:
            raise RelayError(f"{self.path}: cannot read the queued batch ({exc.strerror or exc})") from None


@dataclass(slots=True)
class QueueCounters:
    """What happened to the folder's batches since it was created (kept in ``state.json``)."""

    sealed: int = 0
    acknowledged: int = 0
    replayed: int = 0  #: acknowledged batches the server had already stored (a re-send)
    rejected: int = 0
    stored_records: int = 0
    duplicate_records: int = 0
    last_ack_wall_s: float | None = None


class RelayQueue:
    """A durable queue of batches in one folder (see the module docstring for the layout).

    Opening the folder recovers what a crash left: the open batch is sealed with its whole records (a torn last
    record is cut off), and every sealed batch is queued again, oldest first.

    Parameters
    ----------
    folder : path
        Created if needed. A folder is bound to the session of its first use; another session is refused.
    session_id : str
        The server's session the batches are for.
    fsync_period_s : float
        Longest time between fsyncs of the open batch while records arrive.
    """

    def __init__(self, folder: str | os.PathLike[str], *, session_id: str, fsync_period_s: float = 1.0) -> None:
        if not session_id:
            raise RelayError("session_id: expected the server's session id, got an empty string")
        self.folder = Path(folder)
        self.session_id = session_id
        self.fsync_period_s = float(fsync_period_s)
        try:
            (self.folder / _REJECTED).mkdir(parents=True, exist_ok=True)
            self._lock_fd: int | None = os.open(self.folder / _LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise RelayError(f"{self.folder}: cannot use it as the relay's queue ({exc.strerror or exc})") from None
        if fcntl is not None:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(self._lock_fd)
                self._lock_fd = None
                raise RelayError(f"{self.folder}: another relay is using this queue folder") from None
        self.relay_id = uuid.uuid4().hex[:12]
        self.counters = QueueCounters()
        self.next_seq = 1
        self._writer: CaptureWriter | None = None
        self._pending: dict[int, QueuedBatch] = {}
        try:
            self._load_state()
            sealed = self._scan(self.folder)
            rejected = self._scan(self.folder / _REJECTED)
            self.next_seq = max([self.next_seq, *(s + 1 for s in sealed), *(s + 1 for s in rejected)])
            self._pending = {s: QueuedBatch(s, self._path(s)) for s in sorted(sealed)}
            self.recovered_records = self._recover_open()
            self._save_state()
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------------------------------- on disk
    def _path(self, seq: int) -> Path:
        return self.folder / f"{seq:012d}{_SUFFIX}"

    @staticmethod
    def _scan(folder: Path) -> list[int]:
        return [int(m.group(1)) for p in folder.iterdir() if (m := _BATCH_NAME.match(p.name))]

    def _load_state(self) -> None:
        path = self.folder / _STATE
        if not path.exists():
            return
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RelayError(f"{path}: not a relay queue state ({exc})") from None
        if not isinstance(state, dict) or state.get("format") != QUEUE_FORMAT:
            raise RelayError(f"{path}: expected format {QUEUE_FORMAT!r}")
        if state.get("session_id") != self.session_id:
            raise RelayError(
                f"{self.folder}: this queue belongs to session {state.get('session_id')!r}, not {self.session_id!r}; "
                "use another queue folder (its batches are uploaded only to their own session)"
            )
        self.relay_id = str(state.get("relay_id") or self.relay_id)
        self.next_seq = int(state.get("next_seq") or 1)
        counters = state.get("counters") or {}
        for name in QueueCounters.__slots__:
            if name in counters:
                setattr(self.counters, name, counters[name])

    def _save_state(self) -> None:
        state = {
            "format": QUEUE_FORMAT,
            "session_id": self.session_id,
            "relay_id": self.relay_id,
            "next_seq": self.next_seq,
            "counters": asdict(self.counters),
        }
        write_atomic(self.folder / _STATE, json.dumps(state, indent=1).encode())

    def _recover_open(self) -> int:
        """Seal the batch a crash left open (whole records only); returns how many records it kept."""
        path = self.folder / _OPEN
        if not path.exists():
            return 0
        data = path.read_bytes()
        try:
            capture = parse_capture(data)
            n_records, torn = len(capture), capture.torn_tail_bytes
        except HardwareError:  # cut inside the header: it never held a record
            n_records = torn = 0
        if n_records == 0:
            path.unlink()
            fsync_dir(self.folder)
            return 0
        if torn:
            os.truncate(path, len(data) - torn)
        fsync_file(path)
        self._seal_file()
        return n_records

    def _seal_file(self) -> QueuedBatch:
        seq = self.next_seq
        batch = QueuedBatch(seq, self._path(seq))
        os.replace(self.folder / _OPEN, batch.path)
        fsync_dir(self.folder)
        self._pending[seq] = batch
        self.next_seq += 1
        self.counters.sealed += 1
        self._save_state()
        return batch

    # ------------------------------------------------------------------------------------------- the open batch
    @property
    def is_open(self) -> bool:
        """Whether a batch is being filled."""
        return self._writer is not None

    @property
    def open_records(self) -> int:
        return 0 if self._writer is None else self._writer.records

    @property
    def open_bytes(self) -> int:
        return 0 if self._writer is None else self._writer.bytes

    def begin(self, header: CaptureHeader) -> None:
        """Open a new batch with ``header`` (its records follow with :meth:`append`)."""
        if self._writer is not None:
            raise RelayError("a batch is already open; seal it first")
        self._writer = CaptureWriter(self.folder / _OPEN, header, fsync_period_s=self.fsync_period_s, overwrite=True)

    def append(self, t_host_ns: int, source: Source, sensor_id: int, packet: bytes) -> None:
        """Append one record to the open batch (handed to the OS at once)."""
        if self._writer is None:
            raise RelayError("no batch is open; call begin() first")
        self._writer.write(t_host_ns, source, sensor_id, packet)

    def seal(self) -> QueuedBatch | None:
        """Close the open batch (fsync) and queue it under the next number; None if it held no record."""
        writer, self._writer = self._writer, None
        if writer is None:
            return None
        writer.close()
        if writer.records == 0:
            (self.folder / _OPEN).unlink()
            fsync_dir(self.folder)
            return None
        return self._seal_file()

    # ------------------------------------------------------------------------------------------- sealed batches
    def pending(self) -> list[QueuedBatch]:
        """The sealed batches waiting for a 2xx, oldest first."""
        return [self._pending[s] for s in sorted(self._pending)]

    def oldest(self) -> QueuedBatch | None:
        return self._pending[min(self._pending)] if self._pending else None

    @property
    def depth(self) -> int:
        """Sealed batches waiting."""
        return len(self._pending)

    def pending_bytes(self) -> int:
        total = 0
        for batch in self._pending.values():
            with contextlib.suppress(OSError):
                total += batch.path.stat().st_size
        return total

    def ack(self, batch: QueuedBatch, answer: Mapping[str, Any], *, wall_s: float | None = None) -> None:
        """The server stored ``batch`` (a 2xx with ``answer``): delete it."""
        batch.path.unlink(missing_ok=True)
        fsync_dir(self.folder)
        self._pending.pop(batch.seq, None)
        c = self.counters
        c.acknowledged += 1
        c.replayed += bool(answer.get("replayed"))
        if not answer.get("replayed"):
            c.stored_records += int(answer.get("stored") or 0)
            c.duplicate_records += int(answer.get("duplicates") or 0)
        c.last_ack_wall_s = time.time() if wall_s is None else wall_s
        self._save_state()

    def reject(self, batch: QueuedBatch, reason: str) -> Path:
        """The server refused ``batch`` for good: move it to ``rejected/`` with a ``.txt`` saying why."""
        target = self.folder / _REJECTED / batch.path.name
        write_atomic(target.with_suffix(".txt"), (reason.rstrip() + "\n").encode())
        os.replace(batch.path, target)
        fsync_dir(target.parent)
        fsync_dir(self.folder)
        self._pending.pop(batch.seq, None)
        self.counters.rejected += 1
        self._save_state()
        return target

    def rejected(self) -> list[Path]:
        """The batches in ``rejected/``, oldest first."""
        return sorted((self.folder / _REJECTED).glob(f"*{_SUFFIX}"))

    def close(self) -> None:
        """Sync the open batch (it is sealed at the next start, not now) and release the folder (idempotent)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None

    def __enter__(self) -> RelayQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ------------------------------------------------------------------------------------------------------- batcher
class Batcher:
    """Cut the stream of records into batches of about ``batch_s`` seconds.

    Each record goes into the queue's open batch at once, packets as :attr:`Source.RELAY`, commands the relay sent
    (START, sync pings, STOP) as :attr:`Source.HOST_COMMAND` (the server's clock sync pairs pings with replies).
    A batch is sealed when ``batch_s`` has passed since its first record (checked by :meth:`tick`), or when it
    grows past ``max_batch_bytes``. A time with no record makes no batch.

    Parameters
    ----------
    queue : RelayQueue
    sensors : tuple of CaptureSensor
        The header's sensors (ids and placements).
    subject_id : str
    batch_s : float
    max_batch_bytes : int
    clock_ns, wall_ns : callable
        Host monotonic and wall clocks (ns); every batch header carries one pair of them.
    on_seal : callable, optional
        Called with each sealed batch (the uploader's wake-up).
    """

    def __init__(
        self,
        queue: RelayQueue,
        sensors: tuple[CaptureSensor, ...],
        *,
        subject_id: str = "",
        batch_s: float = 10.0,
        max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
        clock_ns: Callable[[], int] = time.monotonic_ns,
        wall_ns: Callable[[], int] = time.time_ns,
        on_seal: Callable[[QueuedBatch], None] | None = None,
    ) -> None:
        if not batch_s > 0:
            raise RelayError(f"batch_s: expected a positive time, got {batch_s!r}")
        if not max_batch_bytes > 0:
            raise RelayError(f"max_batch_bytes: expected a positive size, got {max_batch_bytes!r}")
        self.queue = queue
        self.sensors = sensors
        self.subject_id = subject_id
        self.batch_ns = round(batch_s * 1e9)
        self.max_batch_bytes = int(max_batch_bytes)
        self.clock_ns = clock_ns
        self.wall_ns = wall_ns
        self.on_seal = on_seal
        self.received: dict[int, int] = {}  #: packets received per sensor id (commands not counted)
        self._opened_ns = 0

    def add(self, t_host_ns: int, source: Source, sensor_id: int, packet: bytes) -> None:
        """One record as it arrives (the signature of ``BridgeSession``'s ``on_record``)."""
        if not self.queue.is_open:
            self._opened_ns = self.clock_ns()
            self.queue.begin(
                CaptureHeader(
                    sensors=self.sensors,
                    subject_id=self.subject_id,
                    session_id=self.queue.session_id,
                    clock_pairs=((self.wall_ns(), self._opened_ns),),
                    extra={
                        "recorded_by": "fusiongait relay",
                        "relay_id": self.queue.relay_id,
                        "batch_seq": self.queue.next_seq,
                    },
                )
            )
        is_command = source == Source.HOST_COMMAND
        self.queue.append(t_host_ns, Source.HOST_COMMAND if is_command else Source.RELAY, sensor_id, packet)
        if not is_command:
            self.received[sensor_id] = self.received.get(sensor_id, 0) + 1
        if self.queue.open_bytes >= self.max_batch_bytes:
            self.cut()

    def due(self) -> bool:
        """Whether the open batch is ``batch_s`` old."""
        return self.queue.is_open and self.clock_ns() - self._opened_ns >= self.batch_ns

    def tick(self) -> QueuedBatch | None:
        """Seal the open batch if it is due."""
        return self.cut() if self.due() else None

    def cut(self) -> QueuedBatch | None:
        """Seal the open batch now (on stop: nothing received stays unqueued)."""
        batch = self.queue.seal()
        if batch is not None and self.on_seal is not None:
            self.on_seal(batch)
        return batch


# ------------------------------------------------------------------------------------------------------ uploader
Outcome = Literal["stored", "retry", "rejected", "token"]
UploaderState = Literal["idle", "uploading", "waiting", "token_refused", "stopped"]


def classify(status: int) -> Outcome:
    """What a relay does with an HTTP status (hardware/PROTOCOL.md §6; see the module docstring)."""
    if 200 <= status < 300:
        return "stored"
    if status in _TOKEN_4XX:
        return "token"
    if 400 <= status < 500 and status not in _RETRY_4XX:
        return "rejected"
    return "retry"


@dataclass(frozen=True, slots=True)
class Attempt:
    """One upload attempt: what to do next, the status (None for a network error), and why."""

    outcome: Outcome
    status: int | None
    detail: str
    answer: Mapping[str, Any] = field(default_factory=dict)
    retry_after_s: float | None = None


@dataclass(slots=True)
class UploadCounters:
    """What the uploader did since it started."""

    attempts: int = 0
    uploaded: int = 0
    replayed: int = 0
    rejected: int = 0
    failures: int = 0  #: attempts answered by a network error or a status to retry
    last_upload_wall_s: float | None = None
    last_error: str = ""
    retry_in_s: float | None = None  #: the current backoff delay, while waiting
    token_refused: bool = False  #: the last answer refused the token (until an upload succeeds)


def _error_detail(response: httpx.Response) -> str:
    try:
        body = response.json()
        message = body["error"]["message"] if isinstance(body.get("error"), dict) else body.get("detail", body)
    except (ValueError, KeyError, TypeError, AttributeError):
        message = response.text
    return " ".join(str(message).split())[:300]


def _retry_after_s(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class Uploader:
    """Send the queue's batches to the server, oldest first, one at a time, until :meth:`stop`.

    Parameters
    ----------
    queue : RelayQueue
    server_url : str
        The service's base URL (``https://host``); batches go to ``/api/v1/sessions/{id}/relay-batches``.
    token : callable
        Returns the relay token for each attempt (a token file may be replaced while the relay runs).
    client : httpx.AsyncClient, optional
        Default: a client of its own with ``timeout_s`` (tests pass one with a mock transport).
    backoff : Backoff
        Delay before retry ``k`` of the same batch.
    timeout_s : float
    token_poll_s : float
        How often a refused token is looked at again.
    sleep : callable
        ``await sleep(seconds)`` (injectable).
    wall_clock : callable
        Wall-clock seconds, for "last upload".
    seed : int, optional
        Seed of the backoff's jitter.
    log : callable, optional
        Called with one line for each rejected batch and token problem.
    """

    def __init__(
        self,
        queue: RelayQueue,
        *,
        server_url: str,
        token: Callable[[], str],
        client: httpx.AsyncClient | None = None,
        backoff: Backoff = RELAY_BACKOFF,
        timeout_s: float = 30.0,
        token_poll_s: float = 5.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        wall_clock: Callable[[], float] = time.time,
        seed: int | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.queue = queue
        self.url = f"{server_url.rstrip('/')}/api/v1/sessions/{queue.session_id}/relay-batches"
        self.token = token
        self.backoff = backoff
        self.timeout_s = float(timeout_s)
        self.token_poll_s = float(token_poll_s)
        self.sleep = sleep
        self.wall_clock = wall_clock
        self.log = log or (lambda _line: None)
        self.state: UploaderState = "idle"
        self.counters = UploadCounters()
        self._client = client
        self._rng = random.Random(seed)
        self._new_batch = asyncio.Event()
        self._stopping = asyncio.Event()
        self._drain_until = 0.0

    def notify(self, _batch: QueuedBatch | None = None) -> None:
        """A batch was queued (wakes an idle uploader)."""
        self._new_batch.set()

    def stop(self, drain_s: float = 0.0) -> None:
        """Finish: go on for up to ``drain_s`` (real time) while uploads succeed and batches remain, then return.

        A failing server or a refused token ends it at once; what is left stays queued for the next start.
        """
        self._drain_until = time.monotonic() + max(0.0, drain_s)
        self._stopping.set()

    async def attempt(self, client: httpx.AsyncClient, batch: QueuedBatch) -> Attempt:
        """Upload ``batch`` once and say what to do next."""
        body = batch.read()
        self.counters.attempts += 1
        headers = {
            "Authorization": f"Bearer {self.token()}",
            "Idempotency-Key": batch_key(body),
            "Content-Type": "application/octet-stream",
        }
        try:
            response = await client.post(self.url, content=body, headers=headers)
        except httpx.TransportError as exc:
            return Attempt("retry", None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        outcome = classify(response.status_code)
        if outcome == "stored":
            try:
                answer = response.json()
            except ValueError:
                answer = {}
            return Attempt("stored", response.status_code, "", answer if isinstance(answer, dict) else {})
        return Attempt(outcome, response.status_code, _error_detail(response), {}, _retry_after_s(response))

    async def _wait(self, seconds: float | None, *, on_new_batch: bool = False) -> None:
        """Sleep ``seconds`` (None: until woken), cut short by :meth:`stop` or, if asked, a new batch."""
        events = [self._stopping, *([self._new_batch] if on_new_batch else [])]
        waiters: set[asyncio.Future[Any]] = {asyncio.ensure_future(e.wait()) for e in events}
        if seconds is not None:
            waiters.add(asyncio.ensure_future(self.sleep(seconds)))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)

    async def run(self) -> None:
        """Upload until :meth:`stop` (and its drain) is over."""
        client = self._client or httpx.AsyncClient(timeout=self.timeout_s)
        failures_in_row = 0
        try:
            while True:
                draining = self._stopping.is_set()
                if draining and (self.queue.depth == 0 or time.monotonic() >= self._drain_until):
                    return
                batch = self.queue.oldest()
                if batch is None:
                    self.state = "idle"
                    self._new_batch.clear()
                    await self._wait(None, on_new_batch=True)
                    continue
                self.state = "uploading"
                task = asyncio.ensure_future(self.attempt(client, batch))
                stopper = asyncio.ensure_future(self._stopping.wait())
                await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
                stopper.cancel()
                if not task.done():  # stop asked mid-upload: let it finish within the drain time
                    await asyncio.wait({task}, timeout=max(0.0, self._drain_until - time.monotonic()))
                    if not task.done():
                        task.cancel()
                        await asyncio.gather(task, return_exceptions=True)
                        return
                result = task.result()
                self.counters.retry_in_s = None
                if result.outcome == "stored":
                    failures_in_row = 0
                    self.queue.ack(batch, result.answer, wall_s=self.wall_clock())
                    self.counters.uploaded += 1
                    self.counters.replayed += bool(result.answer.get("replayed"))
                    self.counters.last_upload_wall_s = self.wall_clock()
                    self.counters.last_error = ""
                    self.counters.token_refused = False
                elif result.outcome == "rejected":
                    failures_in_row = 0
                    reason = f"HTTP {result.status}: {result.detail}"
                    target = self.queue.reject(batch, reason)
                    self.counters.rejected += 1
                    self.counters.last_error = reason
                    self.log(f"batch {batch.path.name} refused for good ({reason}); moved to {target}")
                elif result.outcome == "token":
                    refused = self.token()
                    self.state = "token_refused"
                    self.counters.token_refused = True
                    self.counters.last_error = f"HTTP {result.status}: {result.detail}"
                    self.log(
                        f"the server refused the relay token (HTTP {result.status}: {result.detail}); uploads wait "
                        "for a new token, batches stay queued"
                    )
                    while not self._stopping.is_set() and self.token() == refused:
                        await self._wait(self.token_poll_s)
                    if self._stopping.is_set():
                        return
                else:
                    self.counters.failures += 1
                    status = "network error" if result.status is None else f"HTTP {result.status}"
                    self.counters.last_error = f"{status}: {result.detail}"
                    if draining:
                        return
                    delay = self.backoff.delay_s(failures_in_row, self._rng)
                    if result.retry_after_s is not None:
                        delay = max(delay, min(result.retry_after_s, self.backoff.max_s))
                    failures_in_row += 1
                    self.state = "waiting"
                    self.counters.retry_in_s = delay
                    await self._wait(delay)
                    if self._stopping.is_set():
                        return
        finally:
            self.state = "stopped"
            if self._client is None:
                await client.aclose()


# --------------------------------------------------------------------------------------------------------- relay
class Relay:
    """Sensors → queue → server: a :class:`BridgeSession` whose records feed a :class:`Batcher`, and an
    :class:`Uploader`, until :meth:`stop`.

    Parameters
    ----------
    sensors : mapping of placement to URL
        As for :class:`BridgeSession`.
    queue : RelayQueue
    uploader : Uploader
    batch_s : float
    max_batch_bytes : int
    capture : path, optional
        Also write everything received to this capture file (as ``fusiongait record`` does).
    subject_id : str
    sync_period_s : float
    drain_s : float
        On stop, how long the uploader may go on sending what is queued.
    session_options : mapping, optional
        More keyword arguments for :class:`BridgeSession` (``backoff``, ``transport_options``, ...).
    """

    def __init__(
        self,
        sensors: Mapping[str, str],
        queue: RelayQueue,
        uploader: Uploader,
        *,
        batch_s: float = 10.0,
        max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
        capture: str | os.PathLike[str] | None = None,
        subject_id: str = "",
        sync_period_s: float = 1.0,
        drain_s: float = 10.0,
        session_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.queue = queue
        self.uploader = uploader
        self.drain_s = float(drain_s)
        self.session = BridgeSession(
            sensors,
            out=None if capture is None else Path(capture),
            subject_id=subject_id,
            session_id=queue.session_id,
            ring_s=15.0,  # the rings only feed the status line
            sync_period_s=sync_period_s,
            on_record=self._on_record,
            recorded_by="fusiongait relay",
            **dict(session_options or {}),
        )
        self.batcher = Batcher(
            queue,
            self.session.header.sensors,
            subject_id=subject_id,
            batch_s=batch_s,
            max_batch_bytes=max_batch_bytes,
            clock_ns=self.session.clock_ns,
            on_seal=uploader.notify,
        )
        self._tick_s = min(0.2, batch_s / 4)

    def _on_record(self, t_host_ns: int, source: Source, sensor_id: int, packet: bytes) -> None:
        self.batcher.add(t_host_ns, source, sensor_id, packet)

    def stop(self) -> None:
        """Stop the sensors (STOP is sent); the open batch is sealed and the uploader drains, then :meth:`run`
        returns."""
        self.session.stop()

    async def run(self, duration_s: float | None = None) -> None:
        """Relay until :meth:`stop`, ``duration_s``, or the end of every (finite) sensor source."""
        if self.queue.depth:
            self.uploader.notify()
        recording = asyncio.ensure_future(self.session.run(duration_s))
        uploading = asyncio.ensure_future(self.uploader.run())
        try:
            while not recording.done():
                await asyncio.wait({recording, uploading}, timeout=self._tick_s, return_when=asyncio.FIRST_COMPLETED)
                self.batcher.tick()
                if uploading.done():
                    uploading.result()  # an uploader that failed ends the relay (what was received is queued)
                    raise RelayError("the uploader stopped unexpectedly")
            recording.result()
        finally:
            if not recording.done():
                self.session.stop()
                await asyncio.gather(recording, return_exceptions=True)
            self.batcher.cut()
            self.uploader.stop(self.drain_s)
            await asyncio.gather(uploading, return_exceptions=True)
            self.queue.close()

    def status(self) -> dict[str, Any]:
        """The queue, the uploader and the sensors, for a status line or an API."""
        up = self.uploader.counters
        return {
            "queue_batches": self.queue.depth,
            "queue_bytes": self.queue.pending_bytes(),
            "open_records": self.queue.open_records,
            "uploader": self.uploader.state,
            "uploaded": up.uploaded,
            "replayed": up.replayed,
            "rejected": up.rejected,
            "failures": up.failures,
            "retry_in_s": up.retry_in_s,
            "last_upload_wall_s": up.last_upload_wall_s or self.queue.counters.last_ack_wall_s,
            "last_error": up.last_error,
            "received": {s.placement: self.batcher.received.get(s.sensor_id, 0) for s in self.session.header.sensors},
            "sensors": self.session.health(),
        }
