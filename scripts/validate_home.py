"""Validate home monitoring end to end (issue 9): a simulated patient through the Python relay into the service.

Run by hand (figures go into docs/validation_home.json and docs/validation.md)::

    .venv/bin/python scripts/validate_home.py [--days 28] [--wear-h 1.5] [--database-url postgresql+psycopg://...]

A walker (healthy, 1.20 m/s) lives ``--days`` simulated days at home (``hardware.simulator.simulate_day``: sitting,
standing, short walks, walks between rooms with turns, long walks outdoors); from day ``--change-day`` on it walks
with a compensation (anterior pelvic tilt +6°, peak hip extension 10° → 4° on both sides, and slower: 1.00 m/s).
Each day is recorded as the relay would capture it (three virtual sensors over BLE, wall-clock stamped) and fed,
day after day, through the accelerated relay (:mod:`firmware_bridge.relay_replay`: the reference relay's own
Batcher, RelayQueue and Uploader, simulated clock injected) to a real ``fusiongait serve`` process, while

- a proxy cuts the network at random for minutes to hours of simulated time (and once for a whole day and night:
  a day's tail and the next day arrive late, after the day was first analysed),
- the relay process is SIGKILLed at random points of some days and restarted on the same queue folder (it re-feeds
  from its last saved position, so some packets reach the server twice under new keys),
- a batch already acknowledged is put back into the queue after a kill (the relay died between the 2xx and the
  delete), and the proxy loses some of the server's answers (the same batch re-sent with its key).

After each day: ``POST /sessions/{id}/home-days/analyse`` (new days, and days that got late packets), wait, and
``GET /patients/{id}/home-trends``: the trend flag's status as the clinician would have seen it that day.

Days are compressed: ``--wear-h`` hours of wear a day (default 1.5 h) instead of 12-14, with the service's
``FUSIONGAIT_HOME_MIN_WEAR_H`` set to 2/3 of it (a shorter daily wear protocol), so the run takes minutes per week.

Checks: every packet of every day's capture is in ``relay_packets`` exactly once, byte for byte; every day is
analysed; per day, steps within 3 % and walking time within 5 % of the simulator's truth (the truth of
scripts/validate_daily.py: the simulator's contacts grouped by the Mobilise-D walking-bout rules); the home trend
flag F6 (walking speed) fires on the day the change rule (gait.trends, CLINICAL.md §5) gives for the simulator's true
daily speeds, and not before. With the baseline on days 1-7 and the change on day 8, the 7-day median crosses the
threshold on about day 11 and the 14-day persistence ends on about day 24: 14 days of data cannot fire the flag, so
the default run is 28 days.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import json
import platform
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from firmware_bridge.atomic import write_atomic  # noqa: E402
from firmware_bridge.relay_replay import ReplayPlan  # noqa: E402
from gait.daily import DailyRules  # noqa: E402
from gait.trends import TrendAnalyzer  # noqa: E402
from hardware.capture import Source, parse_capture  # noqa: E402
from hardware.simulator import DayPlan, WalkerParams, anterior_tilt_compensation, simulate_day  # noqa: E402
from hardware.simulator.record import record_recording  # noqa: E402

UTC_OFFSET_MIN = 60
FIRST_DAY = dt.date(2026, 3, 2)
NS = 1_000_000_000


# ------------------------------------------------------------------------------------------------ configuration
@dataclasses.dataclass(frozen=True)
class HomeRun:
    """One end-to-end run (the script's full run and the test's short one)."""

    days: int = 28
    change_day: int = 8  #: 1-based: the first day with the compensation
    wear_h: float = 1.5
    min_wear_h: float = 1.0
    sit_min: tuple[float, float] = (2.0, 15.0)
    long_walk_s: tuple[float, float] = (60.0, 300.0)
    long_walk_probability: float = 0.3
    height_m: float = 1.75
    speed_before_mps: float = 1.20
    speed_after_mps: float = 1.00
    seed: int = 2026
    cuts_per_day: float = 2.0  #: random cuts per day (Poisson), each log-uniform in cut_s
    cut_s: tuple[float, float] = (120.0, 6 * 3600.0)
    long_cut_day: int | None = 5  #: a cut from mid-wear of this day (1-based) to mid-wear of the next
    kill_days: tuple[int, ...] = (2, 5, 9, 13, 17, 22, 26)  #: days (1-based) the relay is SIGKILLed in
    lose_answer_p: float = 0.01
    batch_s: float = 60.0
    database_url: str | None = None
    sim_workers: int = 1
    evaluate_each_day: bool = True

    def walker(self, day: int) -> WalkerParams:
        """The walker of a 1-based day."""
        if day < self.change_day:
            return WalkerParams(height_m=self.height_m, speed_mps=self.speed_before_mps)
        return dataclasses.replace(anterior_tilt_compensation(), height_m=self.height_m, speed_mps=self.speed_after_mps)

    def plan(self) -> DayPlan:
        return DayPlan(
            wear_h=self.wear_h,
            sit_min=self.sit_min,
            long_walk_probability=self.long_walk_probability,
            long_walk_s=self.long_walk_s,
        )


def day_start_s(i: int) -> float:
    """08:00 local time (UTC+1) of day ``i`` (0-based), in UTC seconds."""
    local = dt.datetime.combine(FIRST_DAY + dt.timedelta(days=i), dt.time(8, 0), tzinfo=dt.UTC)
    return local.timestamp() - UTC_OFFSET_MIN * 60


# ------------------------------------------------------------------------------------------------ simulated days
def truth_figures(day: Any) -> dict[str, Any]:
    """scripts/validate_daily.py's truth (the simulator's contacts in Mobilise-D walking bouts)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("validate_daily", ROOT / "scripts" / "validate_daily.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.truth_figures(day, DailyRules.from_rules()))


def make_day(run: HomeRun, i: int, folder: str) -> dict[str, Any]:
    """Simulate day ``i`` (0-based), record it as the relay would, write the capture; returns its truth."""
    out = Path(folder)
    cap_path, truth_path = out / f"day{i + 1:02d}.imucap", out / f"day{i + 1:02d}.truth.json"
    if cap_path.exists() and truth_path.exists():
        return dict(json.loads(truth_path.read_text()))
    seed = run.seed * 100 + i
    day = simulate_day(run.walker(i + 1), plan=run.plan(), seed=seed, start_time_s=day_start_s(i))
    capture = record_recording(day.recording(), seed=seed)
    truth = truth_figures(day)
    truth["date"] = (FIRST_DAY + dt.timedelta(days=i)).isoformat()
    truth["walker_speed_mps"] = run.walker(i + 1).speed_mps
    write_atomic(cap_path, capture)
    write_atomic(truth_path, json.dumps(truth).encode())  # the cache holds whole days only
    return truth


def packet_keys(capture_bytes: bytes) -> dict[tuple[int, int, int, int], bytes]:
    """A capture's packets by the server's dedup key (sensor, type, sample_idx, device time)."""
    cap = parse_capture(capture_bytes)
    out = {}
    for i in np.flatnonzero(cap.source != Source.HOST_COMMAND).tolist():
        p = cap.packet(i)
        out[(int(cap.sensor_id[i]), p[0], int.from_bytes(p[4:8], "little"), int.from_bytes(p[8:12], "little"))] = p
    return out


def draw_cuts(run: HomeRun, rng: random.Random) -> list[list[int]]:
    """Network cuts on the simulated wall clock: random ones around each day's wear, and the long one."""
    cuts: list[tuple[float, float]] = []
    wear_s = run.wear_h * 3600.0
    for i in range(run.days):
        t0 = day_start_s(i)
        n = np.random.default_rng(rng.randrange(1 << 30)).poisson(run.cuts_per_day)
        for _ in range(int(n)):
            start = t0 + rng.uniform(-0.5 * wear_s, wear_s)
            length = float(np.exp(rng.uniform(np.log(run.cut_s[0]), np.log(run.cut_s[1]))))
            cuts.append((start, start + length))
    if run.long_cut_day is not None and run.long_cut_day < run.days:
        mid = day_start_s(run.long_cut_day - 1) + 0.5 * wear_s
        cuts.append((mid, mid + 86_400.0))
    cuts.sort()
    merged: list[list[float]] = []
    for a, b in cuts:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [[round(a * NS), round(b * NS)] for a, b in merged]


# ------------------------------------------------------------------------------------------------------ the run
def run_home_validation(
    run: HomeRun, work: Path, *, days_dir: Path | None = None, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Simulate, relay, analyse and check; returns the figures (see the module docstring).

    ``days_dir`` holds the simulated days (captures and truths, reused when present; default ``work/days``).
    """
    from tests.server.processes import Server

    t_start = time.monotonic()
    rng = random.Random(run.seed)
    # The simulated days depend on these only; a folder per combination, so a changed run never reuses stale days.
    key = {k: getattr(run, k) for k in ("days", "change_day", "wear_h", "sit_min", "long_walk_s",
                                         "long_walk_probability", "height_m", "speed_before_mps", "speed_after_mps",
                                         "seed")}  # fmt: skip
    days_dir = (days_dir or work / "days") / hashlib.sha256(json.dumps(key).encode()).hexdigest()[:12]
    days_dir.mkdir(parents=True, exist_ok=True)
    for name in ("data", "queue", "stash"):
        shutil.rmtree(work / name, ignore_errors=True)
    (work / "driver.log").unlink(missing_ok=True)
    (work / "stash").mkdir(parents=True)
    pool = ProcessPoolExecutor(max_workers=run.sim_workers)
    futures: list[Future[dict[str, Any]]] = [pool.submit(make_day, run, i, str(days_dir)) for i in range(run.days)]
    server = Server(
        work / "data",
        run.database_url,
        settings={"FUSIONGAIT_HOME_MIN_WEAR_H": str(run.min_wear_h), "FUSIONGAIT_HOME_ANALYSIS_INTERVAL_S": "0"},
    )
    timeline: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    kills: list[dict[str, Any]] = []
    requeued: list[str] = []
    try:
        server.admin("create-token", "--role", "admin", "--label", "validate_home")
        clinician = {"Authorization": f"Bearer {server.admin('create-token', '--role', 'clinician', '--clinic', 'C')}"}
        server.start()
        api = httpx.Client(base_url=f"{server.base_url}/api/v1", headers=clinician, timeout=60)

        def ok(response: httpx.Response, status: int = 200) -> Any:
            assert response.status_code == status, f"{response.status_code}: {response.text}"
            return response.json()

        patient = ok(
            api.post("/patients", json={"code": "P-HOME", "height_m": run.height_m, "utc_offset_min": UTC_OFFSET_MIN}),
            201,
        )["id"]
        session = ok(
            api.post(f"/patients/{patient}/sessions", json={"kind": "home", "date": FIRST_DAY.isoformat()}), 201
        )["id"]
        token_file = work / "relay.token"
        token_file.write_text(ok(api.post(f"/sessions/{session}/relay-token", json={"label": "replay"}), 201)["token"])
        cuts = draw_cuts(run, rng)
        queue_dir, state_file = work / "queue", work / "feed.json"
        state_file.unlink(missing_ok=True)
        captures = [str(days_dir / f"day{i + 1:02d}.imucap") for i in range(run.days)]
        stash: list[Path] = []

        def start_driver(until: int) -> subprocess.Popen[bytes]:
            plan = ReplayPlan(
                server_url=server.base_url,
                session_id=session,
                token_file=str(token_file),
                queue_dir=str(queue_dir),
                state_file=str(state_file),
                captures=captures,
                until=until,
                cuts_ns=cuts,
                lose_answer_p=run.lose_answer_p,
                batch_s=run.batch_s,
                seed=rng.randrange(1 << 30),
            )
            plan_path = work / "plan.json"
            plan_path.write_text(plan.to_json())
            # A batch acknowledged before an earlier kill goes back into the queue (died between 2xx and delete).
            for stashed in list(stash):
                if not (queue_dir / stashed.name).exists():
                    shutil.copy2(stashed, queue_dir / stashed.name)
                    requeued.append(stashed.name)
                    stash.remove(stashed)
            with (work / "driver.log").open("ab") as err:
                return subprocess.Popen(
                    [sys.executable, "-m", "firmware_bridge.relay_replay", str(plan_path)],
                    cwd=ROOT,
                    env=server.env(),
                    stdout=subprocess.PIPE,
                    stderr=err,
                )

        def finish(proc: subprocess.Popen[bytes], day: int) -> None:
            stdout, _ = proc.communicate(timeout=1800)
            tail = (work / "driver.log").read_text(errors="replace")[-3000:]
            assert proc.returncode == 0, f"the relay driver exited with {proc.returncode}: {tail}"
            runs.append({"day": day, **json.loads(stdout.decode().strip().splitlines()[-1])})

        def position() -> dict[str, int]:
            try:
                return dict(json.loads(state_file.read_text()))
            except (OSError, ValueError):
                return {"capture": 0, "record": 0}

        truths: list[dict[str, Any]] = []
        for k in range(1, run.days + 1):
            truths.append(futures[k - 1].result())
            if k < run.days:  # the driver reads the next day's capture too, for the night up to its start
                futures[k].result()
            t_day = time.monotonic()
            proc = start_driver(k)
            if k in run.kill_days:
                n_records = len(parse_capture(Path(captures[k - 1]).read_bytes()))
                target = int(n_records * rng.uniform(0.2, 0.8))
                deadline = time.monotonic() + 600
                while proc.poll() is None and time.monotonic() < deadline:
                    pos = position()
                    if pos["capture"] > k - 1 or (pos["capture"] == k - 1 and pos["record"] >= target):
                        break
                    time.sleep(0.01)
                if proc.poll() is None:
                    time.sleep(rng.uniform(0.05, 0.5))
                    proc.send_signal(signal.SIGKILL)
                    proc.wait(10)
                    pending = sorted(queue_dir.glob("*.imucap"))
                    kills.append({"day": k, "position": position(), "queue_batches": len(pending)})
                    if pending:  # put back into the queue at a later start, once the server acknowledged it
                        stash.append(work / "stash" / pending[0].name)
                        shutil.copy2(pending[0], stash[-1])
                    proc = start_driver(k)
            finish(proc, k)
            relay_s = time.monotonic() - t_day
            entry: dict[str, Any] = {"day": k, "relay_s": round(relay_s, 1), "queue_left": runs[-1]["queue_left"]}
            if run.evaluate_each_day or k == run.days:
                queued = ok(api.post(f"/sessions/{session}/home-days/analyse"), 202)
                entry["analysed"] = [q["date"] for q in queued]
                wait_days(api, session, ok)
                trends = ok(api.get(f"/patients/{patient}/home-trends"))
                f6 = next(f for f in trends["flags"] if f["id"] == "F6")
                speed = next(m for m in trends["metrics"] if m["metric"] == "walking_speed_median_mps")
                entry.update(
                    f6_status=f6["status"],
                    f6_first_fired=f6.get("first_fired"),
                    speed_weekly_change_mps=speed.get("change_latest"),
                    speed_threshold_mps=speed.get("threshold"),
                    days_known=len(trends["days"]),
                )
            entry["analyse_s"] = round(time.monotonic() - t_day - relay_s, 1)
            timeline.append(entry)
            log(json.dumps(entry))

        # The end: everything uploaded, every day analysed once more with all its packets
        assert runs[-1]["queue_left"] == 0, runs[-1]
        assert not list(queue_dir.glob("*.imucap")) and not (queue_dir / "open.imucap.part").exists()
        assert ok(api.post(f"/sessions/{session}/home-days/analyse"), 202) == []  # nothing stale
        days = wait_days(api, session, ok)
        trends = ok(api.get(f"/patients/{patient}/home-trends"))
        queue_state = json.loads((queue_dir / "state.json").read_text())
        counts_api = ok(api.get(f"/sessions/{session}/relay-packets"))
        api.close()
        exactly_once = check_packets(server, session, captures, counts_api)
    finally:
        server.stop()
        pool.shutdown(cancel_futures=True)
    return summarise(run, truths, days, trends, timeline, runs, kills, requeued, queue_state, exactly_once, cuts,
                     time.monotonic() - t_start)  # fmt: skip


def wait_days(api: httpx.Client, session: str, ok: Callable[..., Any], timeout_s: float = 1800.0) -> list[Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        days = ok(api.get(f"/sessions/{session}/home-days"))
        if all(d["status"] in ("done", "failed") for d in days):
            return list(days)
        time.sleep(0.25)
    raise AssertionError("the home days were not analysed in time")


def check_packets(server: Any, session: str, captures: list[str], counts_api: dict[str, int]) -> dict[str, Any]:
    """Every packet of every capture in relay_packets exactly once, byte for byte (day by day, by wall time)."""
    from sqlalchemy import func, select

    from server.db import Database, RelayPacket
    from server.home import day_window_ns
    from server.ingest import COMMAND_TYPE_BASE

    url = server.database_url or f"sqlite:///{server.data_dir / 'fusiongait.db'}"
    database = Database(url)
    expected_total = stored_total = 0
    bad_days = []
    try:
        with database.session(read_only=True) as db:
            stored_total = int(
                db.scalar(
                    select(func.count()).where(
                        RelayPacket.session_id == session, RelayPacket.ver_type < COMMAND_TYPE_BASE
                    )
                )
                or 0
            )
            for i, path in enumerate(captures):
                expected = packet_keys(Path(path).read_bytes())
                expected_total += len(expected)
                start, end = day_window_ns(FIRST_DAY + dt.timedelta(days=i), UTC_OFFSET_MIN)
                rows = db.execute(
                    select(
                        RelayPacket.sensor_id,
                        RelayPacket.ver_type,
                        RelayPacket.sample_idx,
                        RelayPacket.t_us,
                        RelayPacket.packet,
                    ).where(
                        RelayPacket.session_id == session,
                        RelayPacket.ver_type < COMMAND_TYPE_BASE,
                        RelayPacket.t_wall_ns >= start,
                        RelayPacket.t_wall_ns < end,
                    )
                ).all()
                kept = {(int(s), int(v), int(x), int(t)): bytes(p) for s, v, x, t, p in rows}
                if len(kept) != len(rows) or kept != expected:
                    bad_days.append({"day": i + 1, "rows": len(rows), "unique": len(kept), "expected": len(expected)})
    finally:
        database.dispose()
    return {
        "expected_packets": expected_total,
        "stored_packets": stored_total,
        "api_counts": counts_api,
        "days_not_exact": bad_days,
        "exactly_once": stored_total == expected_total and not bad_days,
    }


def expected_fire_day(run: HomeRun, truths: list[dict[str, Any]]) -> int | None:
    """The change rule (gait.trends.TrendAnalyzer, as the service uses it) on the simulator's true daily speeds
    (median walker speed of the WBs > 10 s), baseline the first 7 days: the 1-based day the F6 trend must fire."""
    values = [t["steady_speed_median_mps_wb_over_10s"] for t in truths]
    n = len(values)
    days = np.arange(n)
    res = TrendAnalyzer().run("walking_speed_mps", days, np.asarray(values, dtype=float), np.ones(n, bool), days < 7)
    fired = res.persistent & (res.beyond < 0)
    return int(np.argmax(fired)) + 1 if fired.any() else None


def summarise(
    run: HomeRun,
    truths: list[dict[str, Any]],
    days: list[dict[str, Any]],
    trends: dict[str, Any],
    timeline: list[dict[str, Any]],
    runs: list[dict[str, Any]],
    kills: list[dict[str, Any]],
    requeued: list[str],
    queue_state: dict[str, Any],
    exactly_once: dict[str, Any],
    cuts: list[list[int]],
    elapsed_s: float,
) -> dict[str, Any]:
    per_day = []
    by_date = {d["date"]: d for d in days}
    for i, t in enumerate(truths):
        d = by_date.get(t["date"])
        out = (d or {}).get("day") or {}
        steps, walking = out.get("steps"), out.get("walking_s")
        se = None if steps is None else 100.0 * (steps - t["steps"]) / t["steps"]
        we = None if walking is None else 100.0 * (walking - t["walking_s"]) / t["walking_s"]
        per_day.append(
            {
                "day": i + 1,
                "date": t["date"],
                "status": None if d is None else d["status"],
                "sufficient": out.get("sufficient"),
                "steps": steps,
                "steps_truth": t["steps"],
                "steps_error_pct": None if se is None else round(se, 2),
                "walking_s": None if walking is None else round(walking, 1),
                "walking_s_truth": round(t["walking_s"], 1),
                "walking_time_error_pct": None if we is None else round(we, 2),
                "speed_median_mps": out.get("walking_speed_median_mps"),
                "speed_truth_mps": t["steady_speed_median_mps_wb_over_10s"],
            }
        )
    f6 = next(f for f in trends["flags"] if f["id"] == "F6")
    first_flagged = next((e["day"] for e in timeline if e.get("f6_status") == "flagged"), None)
    fired_date = f6.get("first_fired")
    fired_day = None if fired_date is None else (dt.date.fromisoformat(fired_date) - FIRST_DAY).days + 1
    expected = expected_fire_day(run, truths)
    steps_ok = [abs(p["steps_error_pct"]) <= 3.0 for p in per_day if p["steps_error_pct"] is not None]
    time_ok = [abs(p["walking_time_error_pct"]) <= 5.0 for p in per_day if p["walking_time_error_pct"] is not None]
    kin = {f["id"]: {"status": f["status"], "first_fired": f.get("first_fired")} for f in trends["flags"]}
    return {
        "what": "a simulated home patient through the accelerated Python relay (network cuts, relay kills, "
        "duplicates) into fusiongait serve; daily outcomes against the simulator's truth; the home trend flag",
        "config": {k: v for k, v in dataclasses.asdict(run).items() if k not in ("database_url",)},
        "database": "postgresql" if run.database_url else "sqlite",
        "summary": {
            "days": len(truths),
            "exactly_once": exactly_once["exactly_once"],
            "expected_packets": exactly_once["expected_packets"],
            "stored_packets": exactly_once["stored_packets"],
            "days_analysed_done": sum(p["status"] == "done" for p in per_day),
            "days_sufficient": sum(bool(p["sufficient"]) for p in per_day),
            "days_steps_within_3pct": sum(steps_ok),
            "days_walking_time_within_5pct": sum(time_ok),
            "steps_error_abs_pct_max": max(
                (abs(p["steps_error_pct"]) for p in per_day if p["steps_error_pct"] is not None), default=None
            ),
            "walking_time_error_abs_pct_max": max(
                (abs(p["walking_time_error_pct"]) for p in per_day if p["walking_time_error_pct"] is not None),
                default=None,
            ),
            "network_cuts": len(cuts),
            "network_cut_h": {
                "min": round(min((b - a) / NS / 3600 for a, b in cuts), 3) if cuts else None,
                "max": round(max((b - a) / NS / 3600 for a, b in cuts), 2) if cuts else None,
                "total": round(sum((b - a) / NS / 3600 for a, b in cuts), 1),
            },
            "relay_kills": len(kills),
            "batches_requeued_after_ack": len(requeued),
            "lost_answers": sum(r["proxy"]["lost_answers"] for r in runs),
            "upload_failures": sum(r["failures"] for r in runs),
            "records_recovered_from_open_batches": sum(r["recovered_records"] for r in runs),
            "batches_acknowledged": queue_state["counters"]["acknowledged"],
            "batches_replayed": queue_state["counters"]["replayed"],
            "duplicate_packets_dropped_by_server": queue_state["counters"]["duplicate_records"],
            "max_queue_left_at_day_end": max(e["queue_left"] for e in timeline),
            "trend_flag": "F6 (walking speed median, home arm)",
            "f6_expected_fire_day": expected,
            "f6_fired_day": fired_day,
            "f6_first_flagged_day_as_seen": first_flagged,
            "f6_status_day14": next((e.get("f6_status") for e in timeline if e["day"] == 14), None),
            "flags_at_end": kin,
            "elapsed_s": round(elapsed_s, 1),
        },
        "per_day": per_day,
        "timeline": timeline,
        "kills": kills,
        "driver_runs": runs,
        "machine": f"{platform.machine()}, {platform.python_version()}, numpy {np.__version__}",
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=28)
    ap.add_argument("--wear-h", type=float, default=1.5)
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--sim-workers", type=int, default=1)
    ap.add_argument("--work", type=Path, default=ROOT / "out" / "validate_home", help="working folder (rebuilt)")
    ap.add_argument("--days-dir", type=Path, default=None, help="simulated days, reused (default WORK/days)")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "validation_home.json")
    args = ap.parse_args()
    run = HomeRun(
        days=args.days,
        wear_h=args.wear_h,
        min_wear_h=round(args.wear_h * 2 / 3, 3),
        database_url=args.database_url,
        sim_workers=args.sim_workers,
    )
    figures = run_home_validation(run, args.work, days_dir=args.days_dir)
    print(json.dumps(figures["summary"], indent=1))
    args.out.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
