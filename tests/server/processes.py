"""``fusiongait serve`` as a real subprocess on a loopback port, for the tests, benchmarks and validation scripts
that need a service over real HTTP (started, killed with SIGKILL and restarted on the same data)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

__all__ = ["FUSIONGAIT", "ROOT", "Server", "free_port"]

ROOT = Path(__file__).resolve().parents[2]
FUSIONGAIT = [sys.executable, "-m", "server.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """``fusiongait serve`` as a subprocess on a loopback port (started, killed and restarted by the test)."""

    data_dir: Path
    database_url: str | None
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    #: Extra ``FUSIONGAIT_*`` settings for the service (e.g. ``FUSIONGAIT_HOME_MIN_WEAR_H``).
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FUSIONGAIT_")}
        env.update(FUSIONGAIT_DATA_DIR=str(self.data_dir), FUSIONGAIT_ANALYSIS_WORKERS="0", PYTHONPATH=str(ROOT))
        env.update(self.settings)
        return env

    def db_options(self) -> list[str]:
        return ["--database-url", self.database_url] if self.database_url else []

    def admin(self, *args: str) -> str:
        done = subprocess.run(
            [*FUSIONGAIT, "admin", *args, *self.db_options()],
            env=self.env(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip().splitlines()[-1]

    def start(self, timeout_s: float = 30.0) -> None:
        """Start the service and wait until its health route answers."""
        self.starts += 1
        log = (self.data_dir.parent / f"server-{self.starts}.log").open("wb")
        self.process = subprocess.Popen(
            [
                *FUSIONGAIT,
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                "0",
                *self.db_options(),
            ],
            env=self.env(),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the server exited: {self.log_tail()}"
            try:
                if httpx.get(f"{self.base_url}/api/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"the server did not answer in {timeout_s:g} s: {self.log_tail()}")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def log_tail(self) -> str:
        path = self.data_dir.parent / f"server-{self.starts}.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""
