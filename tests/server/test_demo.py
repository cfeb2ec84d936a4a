"""`make demo` (the README's main job): the service with a live session on simulated sensors, end to end."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_live_demo_starts_a_session_and_stores_its_report(tmp_path: Path) -> None:
    port = free_port()
    run = subprocess.run(
        [sys.executable, "-m", "server.demo", "--port", str(port), "--data-dir", str(tmp_path), "--duration-s", "15"],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, run.stderr
    assert re.search(rf"Open\s+http://127\.0\.0\.1:{port}/#/live/[0-9a-f]+", run.stdout), run.stdout
    assert re.search(r"Token\s+fg_\S+", run.stdout)
    assert re.search(r"report done: http://\S+/#/reports/[0-9a-f]+", run.stdout), run.stdout + run.stderr
    assert list((tmp_path / "blobs").rglob("*.blob")), "the session's capture is stored"


def test_demo_refuses_a_busy_port(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        run = subprocess.run(
            [sys.executable, "-m", "server.demo", "--port", str(port), "--data-dir", str(tmp_path)],
            cwd=ROOT,
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert run.returncode == 2 and f"port {port}" in run.stderr


def test_offline_demo_writes_the_reports(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "server.demo", "--offline", "--out", str(tmp_path)],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "report.json").is_file() and (tmp_path / "report.html").is_file()
    assert "Simulated truth" in run.stdout
