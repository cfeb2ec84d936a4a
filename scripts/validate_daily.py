"""Validate the everyday-walking analysis (gait.daily) on simulated days at home with known truth.

Run by hand (figures go into docs/validation.md)::

    .venv/bin/python scripts/validate_daily.py [--days-per-walker 2] [--wear-h 14] [--out docs/validation_daily.json]

Each day is drawn by ``hardware.simulator.home_day_schedule`` (sitting periods of 3-40 min, episodes of short walks of
a few steps, walks between rooms with turns, now and then a walk of minutes outdoors, short pauses) for one of four
walkers (different presets, speeds and body heights), with every sensor mounted in a uniformly random orientation
and the default sensor errors (noise, bias, bias drift, scale error, foot-contact transients). The day is read in
10-minute chunks, as a home recording is, and analysed by ``DailyAnalyzer`` with the walker's body height.

Truth: the simulator's initial contacts, grouped by the same Mobilise-D rules (``gait.daily.walking_bouts``: runs are
the simulated walks, merged across pauses of at most 3 s, at least 4 strides); steps = contacts in walking bouts,
walking time = sum of first-to-last contact of each bout. The issue's targets are per day: steps within 3 % and
walking time within 5 % of the truth.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gait.daily import DailyAnalyzer, DailyRules, walking_bouts  # noqa: E402
from gait.pipeline import GaitPipeline  # noqa: E402
from hardware.simulator import (  # noqa: E402
    DayPlan,
    WalkerParams,
    antalgic,
    anterior_tilt_compensation,
    simulate_day,
    slow_short_steps,
)

#: 2026-03-02 07:30 UTC: the first simulated day starts here, one day apart.
START_S = 1_772_436_600.0


def walkers() -> list[tuple[str, WalkerParams]]:
    """Four walkers: healthy, slow with short steps, antalgic, reduced hip extension with anterior tilt."""
    import dataclasses

    return [
        ("healthy 1.75 m, 1.20 m/s", WalkerParams(height_m=1.75, speed_mps=1.2)),
        ("slow short steps 1.62 m, 0.70 m/s", dataclasses.replace(slow_short_steps(), height_m=1.62)),
        (
            "antalgic (right) 1.82 m, 1.00 m/s",
            dataclasses.replace(antalgic(side="right"), height_m=1.82, speed_mps=1.0),
        ),
        (
            "anterior tilt 1.68 m, 1.10 m/s",
            dataclasses.replace(anterior_tilt_compensation(), height_m=1.68, speed_mps=1.1),
        ),
    ]


def truth_figures(day: Any, rules: DailyRules) -> dict[str, Any]:
    t = day.truth
    fs = t.sampling_rate_hz
    wb = walking_bouts(t.ic_idx, t.ic_walk, fs, max_break_s=rules.max_break_s, min_strides=rules.min_strides)
    n = int(wb.max()) + 1 if wb.size else 0
    first = np.array([t.ic_idx[wb == w][0] for w in range(n)])
    last = np.array([t.ic_idx[wb == w][-1] for w in range(n)])
    dur = (last - first) / fs
    speed = np.array([t.walk_speed_mps[t.ic_walk[wb == w][0]] for w in range(n)])
    # Cadence of the truth: steps per minute of stepping inside each walk (pauses excluded), mean over bouts.
    cadence = []
    for w in range(n):
        ics, walk = t.ic_idx[wb == w], t.ic_walk[wb == w]
        same = walk[1:] == walk[:-1]
        cadence.append(60.0 * same.sum() / (np.diff(ics)[same].sum() / fs))
    return {
        "steps": int(np.count_nonzero(wb >= 0)),
        "walking_s": float(dur.sum()),
        "n_wb": n,
        "n_wb_longer": {f"{c:g}": int(np.count_nonzero(dur > c)) for c in rules.duration_classes_s},
        "steady_speed_median_mps_wb_over_10s": float(np.median(speed[dur > 10.0])) if np.any(dur > 10.0) else None,
        "cadence_spm": float(np.mean(cadence)) if cadence else None,
        "all_steps_scheduled": int(t.ic_idx.size),
        "on_foot_s": t.walking_s,
        "sitting_s": t.sitting_s,
        "standing_s": t.standing_s,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days-per-walker", type=int, default=2)
    ap.add_argument("--wear-h", type=float, default=14.0)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "validation_daily.json")
    args = ap.parse_args()
    rules = DailyRules.from_rules()
    records: list[dict[str, Any]] = []
    index = 0
    for w, (name, params) in enumerate(walkers()):
        for d in range(args.days_per_walker):
            seed = 1000 * (w + 1) + d
            t0 = time.perf_counter()
            day = simulate_day(
                params,
                plan=DayPlan(wear_h=args.wear_h),
                random_mounting=True,
                seed=seed,
                start_time_s=START_S + index * 86_400.0,
            )
            sim_s = time.perf_counter() - t0
            truth = truth_figures(day, rules)
            t0 = time.perf_counter()
            result = DailyAnalyzer(pipeline=GaitPipeline(height_m=params.height_m)).run(day.chunks(chunk_s=600.0))
            analysis_s = time.perf_counter() - t0
            (out,) = result.days
            modal = out.kinematics.bins[out.kinematics.modal_bin] if out.kinematics.bins else None
            kin: dict[str, Any] = {"n_bouts": out.kinematics.n_bouts, "sufficient": out.kinematics.sufficient}
            if modal is not None:
                kin.update(
                    modal_bin_mps=[round(modal.speed_low_mps, 2), round(modal.speed_high_mps, 2)],
                    n_strides=[modal.n_strides_left, modal.n_strides_right],
                    hip_peak_extension_deg=[
                        round(modal.metrics[f"hip_peak_extension_{s}_deg"].median, 2) for s in ("left", "right")
                    ],
                    hip_peak_extension_truth_deg=[
                        params.hip_peak_extension_left_deg,
                        params.hip_peak_extension_right_deg,
                    ],
                    tilt_rom_deg=round(modal.metrics["tilt_rom_deg"].median, 2),
                    tilt_rom_truth_deg=2.0 * params.tilt_amplitude_deg,
                    mean_tilt_deg=round(modal.metrics["mean_tilt_deg"].median, 2),
                    mean_tilt_truth_deg=params.mean_tilt_deg,
                    stance_symmetry_ratio=round(modal.derived["stance_symmetry_ratio"], 3),
                )
            steps_err = 100.0 * (out.steps - truth["steps"]) / truth["steps"]
            time_err = 100.0 * (out.walking_s - truth["walking_s"]) / truth["walking_s"]
            rec = {
                "walker": name,
                "seed": seed,
                "date": out.date,
                "truth": truth,
                "detected": {
                    "steps": out.steps,
                    "walking_s": round(out.walking_s, 2),
                    "n_wb": out.n_wb,
                    "n_wb_longer": {f"{c:g}": n for c, n in out.n_wb_longer.items()},
                    "walking_speed_median_mps": round(out.walking_speed_median_mps, 3),
                    "walking_speed_p90_mps": round(out.walking_speed_p90_mps, 3),
                    "cadence_spm": round(out.cadence_spm, 2),
                    "stride_time_cv_pct": round(out.stride_time_cv_pct, 2),
                    "stride_time_cv_in_bout_pct": round(out.stride_time_cv_in_bout_pct, 2),
                    "wear_s": out.wear_s,
                    "sufficient": out.sufficient,
                    "kinematics": kin,
                },
                "steps_error_pct": round(steps_err, 2),
                "walking_time_error_pct": round(time_err, 2),
                "steps_within_3pct": abs(steps_err) <= 3.0,
                "walking_time_within_5pct": abs(time_err) <= 5.0,
                "simulate_s": round(sim_s, 1),
                "analysis_s": round(analysis_s, 2),
            }
            records.append(rec)
            index += 1
            print(
                f"{name:38s} day {d}: steps {out.steps} / {truth['steps']} ({steps_err:+.2f} %), walking "
                f"{out.walking_s:.0f} / {truth['walking_s']:.0f} s ({time_err:+.2f} %), WBs {out.n_wb} / "
                f"{truth['n_wb']}, analysis {analysis_s:.1f} s",
                flush=True,
            )
    steps_abs = [abs(r["steps_error_pct"]) for r in records]
    time_abs = [abs(r["walking_time_error_pct"]) for r in records]
    summary = {
        "days": len(records),
        "walkers": len(walkers()),
        "steps_error_abs_pct": {"median": float(np.median(steps_abs)), "max": float(np.max(steps_abs))},
        "walking_time_error_abs_pct": {"median": float(np.median(time_abs)), "max": float(np.max(time_abs))},
        "days_steps_within_3pct": sum(r["steps_within_3pct"] for r in records),
        "days_walking_time_within_5pct": sum(r["walking_time_within_5pct"] for r in records),
        "analysis_s_median": float(np.median([r["analysis_s"] for r in records])),
    }
    figures = {
        "what": "DailyAnalyzer on simulated days at home against the simulator's truth (Mobilise-D walking bouts)",
        "wear_h_per_day": args.wear_h,
        "chunk_s": 600.0,
        "targets": {"steps_error_pct": 3.0, "walking_time_error_pct": 5.0},
        "summary": summary,
        "days": records,
        "machine": f"{platform.machine()}, {platform.python_version()}, numpy {np.__version__}",
    }
    print(json.dumps(summary, indent=1))
    args.out.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
