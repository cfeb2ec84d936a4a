"""``fusiongait simulate``: prints where to connect, streams after START, and records captures."""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

from hardware.capture import parse_capture
from hardware.framing import Deframer, frame
from hardware.protocol import Command, decode_packets, encode_command
from server.cli import main


def test_record_writes_a_capture(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "walk.imucap"
    assert main(["simulate", "--record", str(out), "--duration-s", "8", "--preset", "pelvic_drop"]) == 0
    assert "wrote" in capsys.readouterr().out
    cap = parse_capture(out.read_bytes())
    assert cap.header.extra["simulated"]["preset"] == "pelvic_drop"
    assert set(cap.decode().imu.sensor_id.tolist()) == {0, 1, 2}


def test_live_mode_prints_endpoints_and_streams() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "simulate", "--no-pty", "--duration-s", "60", "--speed", "4"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(5)]
        urls = [m.group(1) for line in lines if (m := re.search(r"socket://([\d.]+:\d+)", line))]
        assert len(urls) == 3, lines
        host, port = urls[0].split(":")
        with socket.create_connection((host, int(port)), timeout=5) as conn:
            conn.sendall(frame(encode_command(Command.START)))
            conn.settimeout(0.2)
            data = b""
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline:
                with contextlib.suppress(TimeoutError):
                    data += conn.recv(65536)
        got = decode_packets(Deframer().feed(data))
        assert len(got.imu) > 20 and set(got.imu.sensor_id.tolist()) == {0}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_nothing_to_serve_is_an_error(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["simulate", "--no-pty", "--no-tcp"]) == 2
    assert "leave nothing to serve" in capsys.readouterr().err
