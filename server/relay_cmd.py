"""``fusiongait relay``: a home gateway or laptop between the sensors and the service (hardware/PROTOCOL.md §6).

::

    fusiongait relay --server https://gait.example.org --session SESSION_ID --token-file relay.token \\
                     --sensor pelvis=ble://FG-pelvis --sensor left_thigh=ble://FG-left \\
                     --sensor right_thigh=ble://FG-right [--queue-dir DIR] [--batch-s 10] [--capture FILE.imucap]

Packets go into a durable on-disk queue as they arrive and are uploaded in batches with idempotency keys
(:mod:`firmware_bridge.relay`); a relay killed at any moment re-sends, at its next start, everything the server has
not acknowledged. Ctrl-C (or SIGTERM) sends STOP to the sensors, queues the batch being filled and uploads what it
can for up to ``--drain-s``; the rest waits in the queue folder for the next start.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from pathlib import Path
from typing import Any

import platformdirs

from firmware_bridge.errors import BridgeError
from firmware_bridge.supervisor import Backoff
from server.argtypes import positive_number, sensor_url
from server.record_cmd import status_line

__all__ = ["add_relay_parser", "relay_status_line"]

#: The longest wait between upload retries by default (``firmware_bridge.relay.RELAY_BACKOFF.max_s``; the relay
#: module, and httpx with it, is imported only when the command runs).
_RETRY_MAX_S = 60.0


def add_relay_parser(commands: Any) -> None:
    """Add the ``relay`` sub-command to the ``fusiongait`` parser."""
    rel = commands.add_parser(
        "relay",
        help="relay sensors to the service through a durable on-disk queue (home gateway, laptop)",
        description=(
            "Connect to each sensor (ble://, serial://, socket://, replay:// as for `record`), queue every packet on "
            "disk as it arrives, and upload batches to a session of the service with a relay token (issued by "
            "POST /api/v1/sessions/{id}/relay-token). Survives network cuts and restarts without losing or "
            "duplicating data; Ctrl-C stops cleanly."
        ),
    )
    rel.add_argument("--server", required=True, metavar="URL", help="the service's base URL, e.g. https://host:8000")
    rel.add_argument("--session", required=True, metavar="SESSION_ID", help="the session to upload to")
    rel.add_argument(
        "--token-file", type=Path, required=True, metavar="FILE", help="a file holding the relay token (re-read)"
    )
    rel.add_argument(
        "--sensor", action="append", type=sensor_url, required=True, metavar="PLACEMENT=URL", help="a sensor link"
    )
    rel.add_argument(
        "--queue-dir",
        type=Path,
        metavar="DIR",
        help="the queue folder (default: the user's data folder, fusiongait/relay/SESSION_ID)",
    )
    rel.add_argument("--batch-s", type=positive_number, default=10.0, help="seconds per batch (default 10)")
    rel.add_argument("--capture", type=Path, metavar="FILE.imucap", help="also write everything received here")
    rel.add_argument("--duration-s", type=positive_number, help="stop after this many seconds")
    rel.add_argument("--subject", default="", help="subject id for the batch headers")
    rel.add_argument("--sync-period-s", type=float, default=1.0, help="mean time between sync pings (default 1)")
    rel.add_argument(
        "--retry-max-s",
        type=positive_number,
        default=_RETRY_MAX_S,
        help=f"longest wait between upload retries (default {_RETRY_MAX_S:g})",
    )
    rel.add_argument(
        "--drain-s", type=float, default=10.0, help="on stop, how long to go on uploading the queue (default 10)"
    )
    rel.add_argument("--quiet", action="store_true", help="no status line")
    rel.set_defaults(handler=_relay)


class _TokenFile:
    """The relay token, read from its file at every upload (a replaced file takes effect; a failed read keeps the
    last token)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.value = ""
        self.value = self()
        if not self.value:
            raise BridgeError(f"--token-file {path}: the file is empty; expected the relay token")

    def __call__(self) -> str:
        try:
            text = self.path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            if not self.value:
                raise BridgeError(f"--token-file {self.path}: cannot read it ({exc})") from None
            return self.value
        if text:
            self.value = text
        return self.value


def _ago(wall_s: float | None) -> str:
    if wall_s is None:
        return "never"
    seconds = max(0.0, time.time() - wall_s)
    return f"{seconds:.0f}s ago" if seconds < 120 else f"{seconds / 60:.0f}min ago"


def relay_status_line(status: dict[str, Any]) -> str:
    """One line: queue depth, the uploader, the last upload, then each sensor as ``fusiongait record`` shows it."""
    upload = status["uploader"]
    if upload == "waiting" and status["retry_in_s"] is not None:
        upload = f"retrying in {status['retry_in_s']:.0f}s ({status['last_error'][:60]})"
    elif upload == "token_refused":
        upload = f"TOKEN REFUSED ({status['last_error'][:60]})"
    queue = f"queue {status['queue_batches']} ({status['queue_bytes'] / 1e3:.0f} kB)"
    sent = f"sent {status['uploaded']}, last {_ago(status['last_upload_wall_s'])}"
    return " | ".join([queue, f"upload {upload}", sent, status_line(status["sensors"])])


def _relay(args: argparse.Namespace) -> int:
    sensors: dict[str, str] = {}
    for placement, url in args.sensor:
        if placement in sensors:
            print(f"fusiongait: error: argument --sensor: {placement} given twice", file=sys.stderr)
            return 2
        sensors[placement] = url
    if not args.server.startswith(("http://", "https://")):
        print(f"fusiongait: error: --server {args.server}: expected an http:// or https:// URL", file=sys.stderr)
        return 2
    if args.capture is not None and args.capture.suffix.lower() != ".imucap":
        print(f"fusiongait: error: --capture {args.capture}: expected a .imucap file name", file=sys.stderr)
        return 2
    return asyncio.run(_run(args, sensors))


async def _run(args: argparse.Namespace, sensors: dict[str, str]) -> int:
    from firmware_bridge.relay import RELAY_BACKOFF, Relay, RelayQueue, Uploader  # noqa: PLC0415 - httpx on use

    token = _TokenFile(args.token_file)
    folder = args.queue_dir or Path(platformdirs.user_data_dir("fusiongait", appauthor=False)) / "relay" / args.session
    tty = sys.stderr.isatty()

    def log(line: str) -> None:
        print(("\r\x1b[2K" if tty else "") + f"fusiongait: warning: {line}", file=sys.stderr, flush=True)

    queue = RelayQueue(folder, session_id=args.session)
    try:
        if queue.depth:
            recovered = queue.recovered_records
            more = f" ({recovered} records recovered from an unfinished batch)" if recovered else ""
            print(f"queue {folder}: {queue.depth} batches to send from before{more}", file=sys.stderr)
        uploader = Uploader(
            queue,
            server_url=args.server,
            token=token,
            backoff=Backoff(initial_s=RELAY_BACKOFF.initial_s, max_s=args.retry_max_s, jitter=RELAY_BACKOFF.jitter),
            log=log,
        )
        relay = Relay(
            sensors,
            queue,
            uploader,
            batch_s=args.batch_s,
            capture=args.capture,
            subject_id=args.subject,
            sync_period_s=args.sync_period_s,
            drain_s=args.drain_s,
        )
    except BaseException:
        queue.close()
        raise
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, relay.stop)
    runner = asyncio.ensure_future(relay.run(args.duration_s))
    while not runner.done():
        await asyncio.wait({runner}, timeout=1.0)
        if not args.quiet and not runner.done():
            line = relay_status_line(relay.status())
            print(("\r\x1b[2K" if tty else "") + line, end="" if tty else "\n", file=sys.stderr, flush=True)
    runner.result()
    if not args.quiet and tty:
        print(file=sys.stderr)
    status = relay.status()
    received = sum(status["received"].values())
    left = status["queue_batches"]
    print(
        f"relayed {received} packets; {status['uploaded']} batches uploaded, {status['rejected']} refused, "
        f"{left} waiting in {folder}" + (" (sent at the next start)" if left else "")
    )
    if uploader.counters.token_refused:
        print(f"fusiongait: error: the server refused the relay token ({status['last_error']})", file=sys.stderr)
        return 1
    return 0
