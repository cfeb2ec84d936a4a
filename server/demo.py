"""`make demo`: the service with a live clinic session on three simulated sensors, ready to watch in a browser.

It starts, in one process:

1. three virtual sensors (pelvis, left and right thigh) driven by the walking-body model, for a walker with a
   compensation pattern (``anterior_tilt_compensation``: less hip extension, more anterior pelvic tilt), speaking
   the sensor protocol over TCP exactly as real ones do over USB serial;
2. the FusionGait service (``fusiongait serve`` on its defaults, data in ``out/demo/data``);
3. through the service's own API: a demo clinic, a clinician token (printed), a patient and a clinic session, and a
   live recording of that session from the three sensors.

Opening the printed address and signing in with the printed token shows the live session at once. Ctrl-C stops
the session (its capture is stored and the full report made) and the service. ``--duration-s`` does the same
after that many seconds (used by the tests); ``--offline`` runs the earlier demo instead: a simulated walk written
as CSV files and analysed with ``fusiongait analyze``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from firmware_bridge.readers.csv_format import write_recording_csv
from hardware.protocol import SensorConfig
from hardware.simulator import PRESETS, Segment, WalkerParams, simulate_session
from hardware.simulator.device import virtual_sensors
from hardware.simulator.serve import SimulatorServer
from server import cli
from server.app import create_app
from server.auth import issue_token
from server.config import Settings
from server.db import Clinic, Database

__all__ = ["DEMO_PRESET", "main", "run_live_demo"]

DEMO_PRESET = "anterior_tilt_compensation"
DEMO_CLINIC = "Demo gait lab"
DEMO_PATIENT = {"code": "DEMO-001", "height_m": 1.75, "surgery_date": "2026-06-15", "notes": "simulated patient"}
#: Stand still for calibration, then lengths of a gait-lab walkway with 180° turns (the walk loops).
LAB_SCHEDULE = (
    Segment(kind="stand", duration_s=4.0),
    *[
        seg
        for _ in range(8)
        for seg in (Segment(kind="walk", duration_s=12.5), Segment(kind="turn", duration_s=2.5, turn_deg=180.0))
    ],
)
OFFLINE_SCHEDULE = (
    Segment(kind="stand", duration_s=4.0),
    Segment(kind="walk", duration_s=25.0),
    Segment(kind="turn", duration_s=3.0, turn_deg=180.0),
    Segment(kind="walk", duration_s=25.0),
    Segment(kind="stand", duration_s=3.0),
)


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _demo_token(settings: Settings) -> str:
    """A new clinician token of the demo clinic (made directly in the database, like ``fusiongait admin``)."""
    database = Database(settings.effective_database_url)
    try:
        database.migrate()
        with database.session() as db:
            clinic = db.query(Clinic).filter_by(name=DEMO_CLINIC).one_or_none()
            if clinic is None:
                clinic = Clinic(name=DEMO_CLINIC)
                db.add(clinic)
                db.flush()
            secret, _ = issue_token(db, role="clinician", label="make demo", clinic_id=clinic.id)
        return secret
    finally:
        database.dispose()


async def _create_live_session(base: str, token: str, urls: dict[str, str]) -> str:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        patients = (await client.get("/api/v1/patients")).json()
        patient = next((p for p in patients if p["code"] == DEMO_PATIENT["code"]), None)
        if patient is None:
            response = await client.post("/api/v1/patients", json=DEMO_PATIENT)
            response.raise_for_status()
            patient = response.json()
        body = {"kind": "clinic", "date": dt.date.today().isoformat(), "label": "live demo (simulated sensors)"}
        response = await client.post(f"/api/v1/patients/{patient['id']}/sessions", json=body)
        response.raise_for_status()
        session_id: str = response.json()["id"]
        response = await client.post(f"/api/v1/sessions/{session_id}/live", json={"sensors": urls})
        response.raise_for_status()
        return session_id


async def _stop_live_session(base: str, token: str, session_id: str, wait_s: float = 120.0) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
        response = await client.post(f"/api/v1/sessions/{session_id}/live/stop")
        response.raise_for_status()
        analysis_id = response.json()["analysis_id"]
        job: dict[str, Any] = {"id": analysis_id, "status": "queued"}
        for _ in range(int(wait_s / 0.5)):
            job = (await client.get(f"/api/v1/analyses/{analysis_id}")).json()
            if job["status"] in ("done", "failed"):
                break
            await asyncio.sleep(0.5)
        return job


async def run_live_demo(
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    data_dir: Path = Path("out/demo/data"),
    duration_s: float | None = None,
) -> int:
    """Run the live demo (see the module docstring); returns an exit status."""
    if not _port_free(host, port):
        print(f"fusiongait demo: error: port {port} on {host} is in use; give --port", file=sys.stderr)
        return 2
    settings = Settings(data_dir=data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    token = _demo_token(settings)
    session = simulate_session(PRESETS[DEMO_PRESET](), schedule=LAB_SCHEDULE, sampling_rate_hz=100.0, seed=7)
    sensors = virtual_sensors(session, config=SensorConfig(rate_hz=100.0), seed=7)
    config = uvicorn.Config(
        create_app(settings), host=host, port=port, log_level="warning", ws_per_message_deflate=False
    )  # as `fusiongait serve` (see there)
    server = uvicorn.Server(config)
    base = f"http://{host}:{port}"
    async with SimulatorServer(sensors) as sim:
        urls = {e.placement: e.url for e in await sim.open_tcp()}
        serving = asyncio.create_task(server.serve())
        while not server.started:
            if serving.done():
                return 1
            await asyncio.sleep(0.05)
        session_id = await _create_live_session(base, token, urls)
        print(
            "FusionGait is running with a live demo session on three simulated sensors "
            f"({DEMO_PRESET.replace('_', ' ')}).\n"
            f"  Open      {base}/#/live/{session_id}\n"
            f"  Token     {token}\n"
            f"  API docs  {base}/docs\n"
            f"  Data      {settings.data_dir}\n"
            "Ctrl-C stops the session, stores its report and stops the service.",
            flush=True,
        )
        try:
            if duration_s is None:
                await serving
            else:
                await asyncio.wait({serving}, timeout=duration_s)
        except asyncio.CancelledError:
            pass
        finally:
            if not serving.done():
                job = await _stop_live_session(base, token, session_id)
                print(f"Session stopped; report {job['status']}: {base}/#/reports/{job['id']}", flush=True)
                server.should_exit = True
                with contextlib.suppress(asyncio.CancelledError):
                    await serving
    return 0


def _offline_demo(out: Path, seed: int) -> int:
    """Simulate, write CSV files, analyse them with ``fusiongait analyze``; return its exit status."""
    params = WalkerParams(height_m=1.72, speed_mps=1.2)
    session = simulate_session(params, schedule=OFFLINE_SCHEDULE, random_mounting=True, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    files = write_recording_csv(session.recording, out, "demo")
    cli_args = ["analyze"]
    for placement, path in files.items():
        cli_args += ["--sensor", f"{placement}={path}"]
    cli_args += [
        "--height-m",
        f"{params.height_m}",
        "--json",
        str(out / "report.json"),
        "--html",
        str(out / "report.html"),
    ]
    cli_args += ["--patient", "DEMO-001", "--session-label", "simulated healthy walker"]
    print(f"Simulated walker (sensors mounted in random orientations): {', '.join(str(p) for p in files.values())}")
    status = cli.main(cli_args)
    truth = session.truth
    print(
        f"Simulated truth: cadence {truth.cadence_spm:.1f} steps/min, step length {truth.step_length_m:.2f} m, "
        f"stride length {truth.stride_length_m:.2f} m, speed {params.speed_mps:.2f} m/s, "
        f"{truth.ic_left_idx.size + truth.ic_right_idx.size} initial contacts;\n"
        f"  pelvis ROM tilt {2 * params.tilt_amplitude_deg:.1f}°, obliquity {2 * params.obliquity_amplitude_deg:.1f}°, "
        f"rotation {2 * params.rotation_amplitude_deg:.1f}°, mean tilt {params.mean_tilt_deg:.1f}°; hip peak extension "
        f"left {params.hip_peak_extension_left_deg:.1f}° right {params.hip_peak_extension_right_deg:.1f}°, peak "
        f"flexion left {params.hip_peak_flexion_left_deg:.1f}° right {params.hip_peak_flexion_right_deg:.1f}°"
    )
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; returns the exit status."""
    ap = argparse.ArgumentParser(prog="fusiongait-demo", description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--data-dir", type=Path, default=Path("out/demo/data"), help="the demo service's data folder")
    ap.add_argument("--duration-s", type=float, help="stop after this many seconds (default: until Ctrl-C)")
    ap.add_argument("--offline", action="store_true", help="the offline demo: CSV files analysed by the CLI")
    ap.add_argument("--out", type=Path, default=Path("out/demo"), help="--offline: folder for the files and report")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    if args.offline:
        return _offline_demo(args.out, args.seed)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(
            run_live_demo(host=args.host, port=args.port, data_dir=args.data_dir, duration_s=args.duration_s)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
