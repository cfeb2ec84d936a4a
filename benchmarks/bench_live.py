"""Benchmark: a live clinic session's latency and the service's CPU, with 3 sensors at 200 Hz and 10 viewers.

Three processes on this machine: ``fusiongait simulate`` serves three virtual sensors at 200 Hz over TCP (a walker
with a compensation pattern); ``fusiongait serve`` runs the service, which records and analyses the session live;
this process creates the session through the API and keeps ``--viewers`` WebSocket viewers on its feed.

Latency of a stride (the host's monotonic clock is shared by the processes):

- ``end_to_message``: from the stride's end (its closing initial contact, on the server's clock) to a viewer
  receiving the stride's first message. It includes the packet batching (50 ms at 200 Hz), the samples the event
  detector needs after a contact before it can place it, and the wait for the next analysis pass;
- ``newest_packet_to_message``: from the arrival at the bridge of the newest packet the analysis pass that found
  the stride had read, to a viewer receiving the stride: the processing beyond the data itself (the pass, the
  messages, the fan-out to every viewer). A lower bound of the latency from the packet that completed the stride;
- ``previous_pass_packet_to_message``: from the newest packet of the pass before it (of either kind, with fewer
  samples), which did not find the stride: loose when that pass was long before;
- ``completing_sample_to_message``: the figure of the target. After the run, quick passes over ever longer prefixes
  of the stored capture (a packet at a time) find how much data after its end each stride needs (``lookahead``);
  this is the time from that last needed sample (stride end + look-ahead, on the host clock) to the viewer. The packet
  carrying that sample arrives up to one packet (50 ms) after it, so this over-states the packet → viewer time by
  the packet batching at most. It includes the processing and the wait for a pass once the stride can be found.

Each stride message carries both arrivals (``newest_packet_monotonic_s``, ``previous_packet_monotonic_s``); for a
server that does not send them, the newest packet of the trace before the stride is used (the older measure).

CPU: the user+system time of the service's process and its worker processes over wall time (``/proc/PID/stat``)
per minute of the session (a worker that ends within a minute is not counted; the service's workers do not).
Memory: the resident set (VmRSS) of the same processes at the start and after every minute; with the latency per
10 minutes of the session, it shows whether a long session (``--duration-s 3600``) drifts.

Run::

    .venv/bin/python benchmarks/bench_live.py [--duration-s 180] [--viewers 10]

Writes docs/performance_live.json. Targets (issue 8): p99 latency ≤ 150 ms beyond the stride itself; CPU of one
live session ≤ 15 % of one core.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import websockets

ROOT = Path(__file__).resolve().parents[1]
FUSIONGAIT = [sys.executable, "-m", "server.cli"]
CLK_TCK = os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_s(pid: int) -> float:
    """CPU time (user + system) of ``pid`` and of every process under it (the service's worker processes)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    total = (int(fields[11]) + int(fields[12])) / CLK_TCK
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        total += sum(_cpu_s(int(child)) for child in children)
    return total


def _rss_mib(pid: int) -> float:
    """Resident memory (VmRSS) of ``pid`` and of every process under it, MiB."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    kib = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    total = kib / 1024
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        total += sum(_rss_mib(int(child)) for child in children)
    return total


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def _viewer(url: str, token: str, stop: asyncio.Event, out: list[tuple[float, dict[str, Any]]]) -> None:
    async with websockets.connect(url, max_size=None) as ws:
        await ws.send(json.dumps({"type": "auth", "token": token, "after": None}))
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(), timeout=0.5)
            except TimeoutError:
                continue
            out.append((time.monotonic(), json.loads(raw)))


async def run(duration_s: float, n_viewers: int, data_dir: Path, raw: Path | None = None) -> dict[str, Any]:
    env = {**os.environ, "FUSIONGAIT_DATA_DIR": str(data_dir), "FUSIONGAIT_ANALYSIS_WORKERS": "0"}
    token = subprocess.run(
        [*FUSIONGAIT, "admin", "create-token", "--role", "clinician", "--clinic", "Bench"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    port = _free_port()
    server = subprocess.Popen(
        [*FUSIONGAIT, "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    sim = subprocess.Popen(
        [
            *FUSIONGAIT,
            "simulate",
            "--no-pty",
            "--rate-hz",
            "200",
            "--preset",
            "anterior_tilt_compensation",
            "--walk-s",
            "240",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        urls: dict[str, str] = {}
        assert sim.stdout is not None
        for line in sim.stdout:
            m = re.search(r"(pelvis|left_thigh|right_thigh)\s+sensor \d+\s+(\S+)", line)
            if m:
                urls[m.group(1)] = m.group(2)
            if "Ctrl-C" in line:
                break
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
            for _ in range(100):
                try:
                    if (await client.get("/api/v1/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            patient = (await client.post("/api/v1/patients", json={"code": "BENCH", "height_m": 1.75})).json()
            session = (
                await client.post(
                    f"/api/v1/patients/{patient['id']}/sessions",
                    json={"kind": "clinic", "date": dt.date.today().isoformat()},
                )
            ).json()
            load = [round(os.getloadavg()[0], 2)]
            cpu0, wall0 = _cpu_s(server.pid), time.monotonic()
            (await client.post(f"/api/v1/sessions/{session['id']}/live", json={"sensors": urls})).raise_for_status()
            stop = asyncio.Event()
            received: list[list[tuple[float, dict[str, Any]]]] = [[] for _ in range(n_viewers)]
            ws_url = f"ws://127.0.0.1:{port}/api/v1/sessions/{session['id']}/live/ws"
            viewers = [asyncio.create_task(_viewer(ws_url, token, stop, received[i])) for i in range(n_viewers)]
            cpu_minutes, rss_minutes = [], [round(_rss_mib(server.pid), 1)]
            last_cpu, last_wall = cpu0, wall0
            while time.monotonic() - wall0 < duration_s:
                await asyncio.sleep(min(60.0, duration_s - (time.monotonic() - wall0)))
                cpu, wall = _cpu_s(server.pid), time.monotonic()
                cpu_minutes.append(round(100 * (cpu - last_cpu) / (wall - last_wall), 2))
                rss_minutes.append(round(_rss_mib(server.pid), 1))
                last_cpu, last_wall = cpu, wall
            cpu_total = 100 * (_cpu_s(server.pid) - cpu0) / (time.monotonic() - wall0)
            load.append(round(os.getloadavg()[0], 2))
            stop.set()
            for outcome in await asyncio.gather(*viewers, return_exceptions=True):
                if isinstance(outcome, BaseException):
                    print(f"viewer failed: {outcome!r}", file=sys.stderr)
            (await client.post(f"/api/v1/sessions/{session['id']}/live/stop")).raise_for_status()
            stored = (await client.get(f"/api/v1/sessions/{session['id']}/recordings")).json()
            capture = (await client.get(f"/api/v1/recordings/{stored[0]['id']}/content")).content
    finally:
        for proc in (server, sim):
            proc.terminate()
            proc.wait(10)

    t0 = next((m["t0_monotonic_s"] for v in received for _, m in v if m.get("type") == "summary"), None)
    firsts = {m["id"]: m for _, m in received[0] if m.get("type") == "stride" and not m.get("revised")}
    lookahead = _lookahead_s(capture, [(m["side"], m["end_s"]) for m in firsts.values()])
    lookahead_of = dict(zip(firsts, lookahead, strict=True))
    end_ms: list[float] = []  # stride end → viewer
    completed_ms: list[float] = []  # the stride's last needed sample → viewer
    completed_by_block: dict[int, list[float]] = {}  # the same, per 10 minutes of the session (drift over time)
    beyond_ms: list[float] = []  # newest packet the pass used → viewer
    bound_ms: list[float] = []  # newest packet of the pass before (which did not find it) → viewer
    n_strides = 0
    for v in received:
        newest_packet = None  # of the pass whose messages are arriving (each pass starts with its trace)
        for t_recv, m in v:
            if m.get("type") == "trace":
                newest_packet = m.get("newest_packet_monotonic_s")
            elif m.get("type") == "stride" and not m.get("revised") and t0 is not None:
                end_ms.append(1000 * (t_recv - (t0 + m["end_s"])))
                if lookahead_of.get(m["id"]) is not None:
                    completed_ms.append(1000 * (t_recv - (t0 + m["end_s"] + lookahead_of[m["id"]])))
                    completed_by_block.setdefault(int(m["end_s"] // 600), []).append(completed_ms[-1])
                own = m.get("newest_packet_monotonic_s", newest_packet)
                if own is not None:
                    beyond_ms.append(1000 * (t_recv - own))
                if m.get("previous_packet_monotonic_s") is not None:
                    bound_ms.append(1000 * (t_recv - m["previous_packet_monotonic_s"]))
                n_strides += 1

    if raw is not None:
        with raw.open("w") as f:
            for t_recv, m in received[0]:
                if m.get("type") == "stride" and not m.get("revised") and t0 is not None:
                    keys = ("id", "side", "end_s", "newest_packet_monotonic_s", "previous_packet_monotonic_s")
                    row = {k: m.get(k) for k in keys}
                    f.write(json.dumps({**row, "t0": t0, "recv": t_recv, "lookahead_s": lookahead_of.get(m["id"])}))
                    f.write("\n")

    def stats(values: list[float]) -> dict[str, float | None]:
        if not values:
            return {"median": None, "p95": None, "p99": None, "max": None}
        return {
            "median": round(statistics.median(values), 1),
            "p95": round(_pct(values, 95), 1),
            "p99": round(_pct(values, 99), 1),
            "max": round(max(values), 1),
        }

    return {
        "date": dt.date.today().isoformat(),
        "duration_s": duration_s,
        "viewers": n_viewers,
        "sensors": "3 virtual sensors at 200 Hz over TCP (n = 10 samples per packet)",
        "strides_received_per_viewer": n_strides // max(1, n_viewers),
        "end_to_message_ms": stats(end_ms),
        "completing_sample_to_message_ms": stats(completed_ms),
        "newest_packet_to_message_ms": stats(beyond_ms),
        "previous_pass_packet_to_message_ms": stats(bound_ms),
        "lookahead_ms": stats([1000 * x for x in lookahead if x is not None]),
        "strides_without_lookahead": sum(x is None for x in lookahead),
        "quick_passes_per_s": round(sum(m.get("type") == "trace" for _, m in received[0]) / duration_s, 2),
        "load_average_1min_start_end": load,
        "server_cpu_pct_of_one_core": {"whole_session": round(cpu_total, 2), "per_minute": cpu_minutes},
        "server_rss_mib": {"at_start_then_per_minute": rss_minutes},
        "completing_sample_to_message_ms_per_10_min": {
            f"{10 * k}-{10 * (k + 1)} min": stats(v) for k, v in sorted(completed_by_block.items())
        },
    }


def _lookahead_s(
    capture: bytes, strides: list[tuple[str, float]], *, window_s: float | None = None
) -> list[float | None]:
    """For each live stride (side, end s), how much data after its end a quick pass needs to find it.

    On the stored capture (the offline time base): quick passes (the pipeline over the newest ``window_s``, by
    default the live session's own quick window) over ever longer prefixes, a packet (10 samples) at a time from
    0.1 s after the stride's end until one has the stride, then the sample; None when none does within 2 s or the
    stride has no offline twin.
    """
    sys.path.insert(0, str(ROOT))
    from firmware_bridge.readers.capture_format import assemble_capture  # after the run
    from gait.errors import AnalysisError
    from gait.pipeline import GaitPipeline
    from hardware.capture import parse_capture
    from server.live import LiveSession

    if window_s is None:
        window_s = LiveSession.window_s

    recording = assemble_capture(parse_capture(capture)).recording
    pipeline = GaitPipeline(height_m=1.75)
    fs = recording.sampling_rate_hz
    offline = pipeline.run(recording).strides
    sides = {"left": 0, "right": 1}
    tolerance = round(0.05 * fs)
    out: list[float | None] = []
    for side, end_s in strides:
        twins = np.flatnonzero(
            (offline.side == sides.get(side, -1)) & (np.abs(offline.stop_idx - end_s * fs) <= tolerance)
        )
        if not twins.size:
            out.append(None)
            continue
        stop = int(offline.stop_idx[twins[0]])

        def finds(n: int, side: str = side, stop: int = stop) -> bool:
            offset = max(0, n - round(window_s * fs))
            try:
                st = pipeline.run(recording.slice(offset, n)).strides
            except AnalysisError:
                return False
            return bool(np.any((st.side == sides.get(side, -1)) & (np.abs(st.stop_idx + offset - stop) <= tolerance)))

        found = None
        last = min(recording.n_samples, stop + round(2 * fs))
        for n in range(stop + round(0.1 * fs), last + 1, 10):  # a packet at a time, then sample by sample
            if finds(n):
                n_found = next((k for k in range(n - 9, n) if finds(k)), n)
                found = (n_found - stop) / fs
                break
        out.append(found)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration-s", type=float, default=180.0)
    ap.add_argument("--viewers", type=int, default=10)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "performance_live.json")
    ap.add_argument("--raw", type=Path, help="also write each stride's times here (JSON lines)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="fusiongait-bench-live-") as tmp:
        figures = asyncio.run(run(args.duration_s, args.viewers, Path(tmp), args.raw))
    print(json.dumps(figures, indent=2))
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
