"""Validate the compensation flags F1-F9 on simulated subjects: sensitivity and specificity per flag.

Run by hand (figures go into docs/validation.md)::

    .venv/bin/python scripts/validate_flags.py [--subjects 150] [--patients 20] [--per-level 2]
                                               [--out docs/validation_flags.json]

Single sessions (the norm arm): healthy subjects and subjects with one simulated pattern each, analysed as a
user's recording would be (random sensor mountings, noise, bias, drift, foot-contact transients; 3 s standing,
two 25 s walks with a turn). Healthy subjects are drawn from the normative distributions of CLINICAL.md §2 that
the rules file holds, truncated at ±1.5 SD; the patterns use severities that meet the criteria of CLINICAL.md §4:

* reduced hip extension (F1): one hip's peak extension −4…0° (never past neutral);
* reduced hip extension with anterior tilt (F2): mean tilt +5…+9° vs standing, both hips lose that much extension;
* pelvic drop (F4): extra contralateral drop of 4…7° while standing on one leg;
* antalgic (F5): shorter stance on one side (stance 0.57-0.59 vs 0.63-0.64) and a shorter opposite step;
* slow short steps (F6): 0.50-0.75 m/s with the preset's smaller ranges;
* hip-spine (F9): reduced hip extension and the antalgic stance on the same side.

A severity sweep then walks each pattern from below its criterion to above it (2 subjects per level, 20 s walks) to
show where detection starts.

Sensitivity of a flag: the fraction of subjects of its pattern for whom it is flagged (any level). Specificity: the
fraction of the other subjects (healthy and unrelated patterns; the anterior-tilt group is related to F1) for whom
it is not flagged. "Insufficient data" counts as not flagged.

Longitudinal (the baseline arm): patients with three plateau sessions and two follow-ups; in half of them one
pattern appears at the first follow-up (hip extension −8°, a 4° drop, an antalgic stance, or −0.15 m/s), the
others only vary from session to session (new mounting, noise, speed ±0.03 m/s). The baseline arm must not fire
at the first follow-up (persistence), must fire at the second, and must stay quiet on noise.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gait.flags import FLAG_IDS, Baseline, FlagEvaluator, SessionMetrics  # noqa: E402
from gait.norms import REFERENCE_BANDS  # noqa: E402
from gait.pipeline import GaitPipeline  # noqa: E402
from gait.report import build_report  # noqa: E402
from hardware.simulator import Segment, WalkerParams, simulate_session, slow_short_steps  # noqa: E402

SCHEDULE = (
    Segment(kind="stand", duration_s=3.0),
    Segment(kind="walk", duration_s=25.0),
    Segment(kind="turn", duration_s=3.0, turn_deg=180.0),
    Segment(kind="walk", duration_s=25.0),
    Segment(kind="stand", duration_s=2.0),
)
FOLLOW_UP = (
    Segment(kind="stand", duration_s=3.0),
    Segment(kind="walk", duration_s=25.0),
    Segment(kind="stand", duration_s=1.0),
)
GROUPS = (
    "healthy",
    "reduced_hip_extension",
    "anterior_tilt",
    "pelvic_drop",
    "antalgic",
    "slow_short_steps",
    "hip_spine",
)
#: The flag each pattern should raise, and patterns that legitimately raise another flag too.
EXPECTED = {
    "reduced_hip_extension": "F1",
    "anterior_tilt": "F2",
    "pelvic_drop": "F4",
    "antalgic": "F5",
    "slow_short_steps": "F6",
    "hip_spine": "F9",
}
RELATED = {"F1": {"anterior_tilt", "hip_spine"}, "F3": {"pelvic_drop", "slow_short_steps"}, "F5": {"hip_spine"}}


def _trunc(rng: np.random.Generator, mean: float, sd: float, k: float = 1.5) -> float:
    return float(np.clip(rng.normal(mean, sd), mean - k * sd, mean + k * sd))


def healthy_params(rng: np.random.Generator) -> dict[str, Any]:
    """A healthy subject drawn from the CLINICAL.md §2 norms (±1.5 SD; band-only norms uniform inside the band)."""
    speed = float(rng.uniform(1.0, 1.5))
    ext_ref = REFERENCE_BANDS["hip_peak_extension_deg"]
    assert ext_ref.mean is not None and ext_ref.sd is not None
    # Hip ROM: 35° is ref − 2 SD with ref 42.5° (CLINICAL.md §4 F1), so SD 3.75°.
    rom = [_trunc(rng, 42.5, 3.75) for _ in range(2)]
    ext_common = _trunc(rng, ext_ref.mean, ext_ref.sd)
    ext = [float(np.clip(ext_common + rng.normal(0, 1.0), 0.5, 25)) for _ in range(2)]
    obl = REFERENCE_BANDS["obliquity_rom_deg"].at_speed(speed)
    assert obl.mean is not None and obl.sd is not None
    stance = 0.61 + rng.normal(0, 0.004)
    return {
        "height_m": float(rng.uniform(1.55, 1.95)),
        "speed_mps": speed,
        "hip_peak_extension_left_deg": ext[0],
        "hip_peak_extension_right_deg": ext[1],
        "hip_peak_flexion_left_deg": rom[0] - ext[0],
        "hip_peak_flexion_right_deg": rom[1] - ext[1],
        "obliquity_amplitude_deg": _trunc(rng, obl.mean, obl.sd) / 2,
        "tilt_amplitude_deg": float(rng.uniform(2.5, 5.5)) / 2,
        "rotation_amplitude_deg": float(rng.uniform(8.5, 11.5)) / 2,
        "mean_tilt_deg": _trunc(rng, 0.0, 1.5),
        "stance_fraction_left": float(stance + rng.normal(0, 0.003)),
        "stance_fraction_right": float(stance + rng.normal(0, 0.003)),
        "step_time_cv": float(rng.uniform(0.015, 0.03)),
        "gyr_bias_dps": float(rng.uniform(0.2, 1.0)),
        "acc_noise_mps2": float(rng.uniform(0.01, 0.04)),
        "gyr_noise_dps": float(rng.uniform(0.1, 0.3)),
    }


def apply_pattern(
    p: dict[str, Any],
    group: str,
    rng: np.random.Generator,
    *,
    side: str | None = None,
    severity: float | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The subject with ``group``'s pattern (random severity unless given); returns the parameters and the change."""
    p = dict(p)
    side = side or str(rng.choice(["left", "right"]))
    other = "right" if side == "left" else "left"
    info: dict[str, Any] = {}
    if group == "reduced_hip_extension":
        ext = float(rng.uniform(-4.0, 0.0)) if severity is None else severity
        p[f"hip_peak_extension_{side}_deg"] = ext
        info = {"side": side, "peak_extension_deg": round(ext, 2)}
    elif group == "anterior_tilt":
        tilt = float(rng.uniform(5.0, 9.0)) if severity is None else severity
        p["mean_tilt_deg"] = tilt
        for s in ("left", "right"):
            p[f"hip_peak_extension_{s}_deg"] = max(-2.0, p[f"hip_peak_extension_{s}_deg"] - tilt)
        info = {"mean_tilt_deg": round(tilt, 2)}
    elif group == "pelvic_drop":
        drop = float(rng.uniform(4.0, 7.0)) if severity is None else severity
        p[f"pelvic_drop_{side}_deg"] = drop
        info = {"side": side, "drop_deg": round(drop, 2)}
    elif group == "hip_spine":  # reduced hip extension and antalgic stance on the same side
        p, info = apply_pattern(p, "antalgic", np.random.default_rng(int(rng.integers(1 << 30))), side=side)
        ext = float(rng.uniform(-4.0, 0.0))
        rom = float(rng.uniform(28.0, 33.0))  # F9 also needs the hip ROM below the norm (CLINICAL.md §4)
        p[f"hip_peak_extension_{side}_deg"], p[f"hip_peak_flexion_{side}_deg"] = ext, rom - ext
        info.update(peak_extension_deg=round(ext, 2), hip_rom_deg=round(rom, 2))
    elif group == "antalgic":
        s = float(rng.uniform(0.6, 1.0)) if severity is None else severity
        p[f"stance_fraction_{side}"] = 0.61 - 0.04 * s
        p[f"stance_fraction_{other}"] = 0.61 + 0.03 * s
        ratio = 1.0 - 0.1 * s  # the opposite step (swung over the painful stance) is shorter
        p["step_time_ratio"] = ratio if side == "right" else 1.0 / ratio
        info = {"side": side, "severity": round(s, 2)}
    elif group == "slow_short_steps":
        preset = dataclasses.asdict(slow_short_steps())
        p.update({k: preset[k] for k in preset if k.startswith(("hip_peak", "obliquity", "rotation"))})
        p["speed_mps"] = float(rng.uniform(0.5, 0.75)) if severity is None else severity
        info = {"speed_mps": round(p["speed_mps"], 2)}
    return p, info


def analyse(params: dict[str, Any], seed: int, schedule: tuple[Segment, ...] = SCHEDULE) -> dict[str, Any]:
    walker = WalkerParams(**params)
    session = simulate_session(walker, schedule=schedule, random_mounting=True, seed=seed)
    return build_report(GaitPipeline(height_m=walker.height_m).run(session.recording))


def single_sessions(n: int) -> list[dict[str, Any]]:
    rows = []
    for k in range(n):
        rng = np.random.default_rng(5000 + k)
        group = GROUPS[0] if k % 3 == 0 else GROUPS[1 + (k // 3 * 2 + k % 3 - 1) % (len(GROUPS) - 1)]
        params, info = apply_pattern(healthy_params(rng), group, rng)
        report = analyse(params, seed=k)
        flags = {f["id"]: {"status": f["status"], "level": f["level"], "side": f["side"]} for f in report["flags"]}
        rows.append({"subject": k, "group": group, "pattern": info, "flags": flags})
    return rows


#: Severity sweep: pattern, its flag, the severities from mild to severe (CLINICAL.md §4 criterion in brackets).
SWEEP = (
    ("reduced_hip_extension", "F1", "peak extension (deg; criterion ≤ 0)", (6.0, 4.0, 2.0, 1.0, 0.0, -2.0)),
    ("anterior_tilt", "F2", "mean tilt vs standing (deg; criterion ≥ 4)", (1.0, 2.0, 3.0, 4.0, 5.0, 6.0)),
    ("pelvic_drop", "F4", "extra drop (deg; criterion side difference ≥ 3)", (1.0, 2.0, 3.0, 4.0, 5.0)),
    ("antalgic", "F5", "severity (1 = stance 0.57/0.64; criterion stance SR > 1.05)", (0.2, 0.4, 0.6, 0.8, 1.0)),
    ("slow_short_steps", "F6", "speed (m/s; criterion ≤ 0.80)", (1.0, 0.9, 0.8, 0.7, 0.6)),
)


def severity_sweep(per_level: int) -> list[dict[str, Any]]:
    out = []
    for g, (group, fid, what, levels) in enumerate(SWEEP):
        for level in levels:
            fired = []
            for j in range(per_level):
                rng = np.random.default_rng(7000 + 100 * g + j)
                params, _ = apply_pattern(healthy_params(rng), group, rng, severity=level)
                report = analyse(params, seed=7000 + 100 * g + j, schedule=FOLLOW_UP)
                fired.append(next(f["status"] for f in report["flags"] if f["id"] == fid) == "flagged")
            out.append(
                {"pattern": group, "flag": fid, "severity": what, "level": level, "fired": sum(fired), "n": per_level}
            )
    return out


def wilson(k: int, n: int, z: float = 1.96) -> list[float] | None:
    """95 % Wilson score interval of a proportion k/n."""
    if n == 0:
        return None
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [round(float(centre - half), 3), round(float(min(1.0, centre + half)), 3)]


def rates(rows: list[dict[str, Any]]) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for fid in FLAG_IDS:
        positives = [g for g, f in EXPECTED.items() if f == fid]
        related = RELATED.get(fid, set())
        pos = [r for r in rows if r["group"] in positives]
        neg = [r for r in rows if r["group"] not in positives and r["group"] not in related]
        tp = sum(r["flags"][fid]["status"] == "flagged" for r in pos)
        tn = sum(r["flags"][fid]["status"] != "flagged" for r in neg)
        side_ok = sum(
            r["flags"][fid]["status"] == "flagged"
            and ("side" not in r["pattern"] or r["flags"][fid]["side"] == r["pattern"]["side"])
            for r in pos
        )
        table[fid] = {
            "positives": len(pos),
            "sensitivity": round(tp / len(pos), 3) if pos else None,
            "sensitivity_ci95": wilson(tp, len(pos)),
            "side_correct": round(side_ok / tp, 3) if tp else None,
            "negatives": len(neg),
            "specificity": round(tn / len(neg), 3) if neg else None,
            "specificity_ci95": wilson(tn, len(neg)),
            "fired_by_group": {
                g: sum(r["flags"][fid]["status"] == "flagged" for r in rows if r["group"] == g) for g in GROUPS
            },
        }
    healthy = [r for r in rows if r["group"] == "healthy"]
    table["healthy_no_flag_above_low"] = round(
        float(
            np.mean(
                [all(f["level"] in ("none", "low", "insufficient data") for f in r["flags"].values()) for r in healthy]
            )
        ),
        3,
    )
    table["group_sizes"] = {g: sum(r["group"] == g for r in rows) for g in GROUPS}
    return table


CHANGES = ("hip_extension", "pelvic_drop", "antalgic", "speed", "drop_and_antalgic")
CHANGE_FLAG = {"hip_extension": "F1", "pelvic_drop": "F4", "antalgic": "F5", "speed": "F6", "drop_and_antalgic": "F4"}


def longitudinal(n_patients: int) -> dict[str, Any]:
    evaluator = FlagEvaluator()
    out: list[dict[str, Any]] = []
    for k in range(n_patients):
        rng = np.random.default_rng(9000 + k)
        base = healthy_params(rng)
        ext = float(rng.uniform(12.0, 16.0))  # room for an 8° loss that stays above the norm's cut-off
        for side in ("left", "right"):
            rom = base[f"hip_peak_flexion_{side}_deg"] + base[f"hip_peak_extension_{side}_deg"]
            base[f"hip_peak_extension_{side}_deg"], base[f"hip_peak_flexion_{side}_deg"] = ext, rom - ext
        change = CHANGES[k // 2 % len(CHANGES)] if k % 2 == 0 else None
        sessions = []
        for j in range(5):
            p = dict(base, speed_mps=float(base["speed_mps"] + rng.uniform(-0.03, 0.03)))
            if change is not None and j >= 3:
                if change == "hip_extension":
                    p["hip_peak_extension_right_deg"] -= 8.0
                if change in ("pelvic_drop", "drop_and_antalgic"):
                    p["pelvic_drop_left_deg"] = 4.0
                if change in ("antalgic", "drop_and_antalgic"):
                    p.update(stance_fraction_right=0.575, stance_fraction_left=0.64, step_time_ratio=0.9)
                if change == "speed":
                    p["speed_mps"] -= 0.15
            sessions.append(SessionMetrics.from_report(analyse(p, seed=100 * k + j, schedule=FOLLOW_UP)))
        results = []
        for j in (3, 4):
            flags = evaluator.evaluate(sessions[j], Baseline.of(sessions[:j], plateau_sessions=3))
            results.append(
                {
                    f.id: {
                        "status": f.status,
                        "baseline_arm": "baseline" in f.arms,
                        "pending": any(e.pending for e in f.evidence),
                    }
                    for f in flags
                }
            )
        out.append({"patient": k, "change": change, "follow_up_1": results[0], "follow_up_2": results[1]})
    changed = [r for r in out if r["change"]]
    quiet = [r for r in out if not r["change"]]
    summary = {
        "patients_with_change": len(changed),
        "baseline_arm_fires_at_second_follow_up": round(
            float(np.mean([r["follow_up_2"][CHANGE_FLAG[r["change"]]]["baseline_arm"] for r in changed])), 3
        )
        if changed
        else None,
        "baseline_arm_fires_at_first_follow_up": round(
            float(np.mean([r["follow_up_1"][CHANGE_FLAG[r["change"]]]["baseline_arm"] for r in changed])), 3
        )
        if changed
        else None,
        "pending_at_first_follow_up": round(
            float(np.mean([r["follow_up_1"][CHANGE_FLAG[r["change"]]]["pending"] for r in changed])), 3
        )
        if changed
        else None,
        "sij_screen_F8_with_two_new_patterns": [
            r["follow_up_2"]["F8"]["status"] for r in changed if r["change"] == "drop_and_antalgic"
        ],
        "F8_on_other_patients": int(
            sum(
                r[x]["F8"]["status"] == "flagged"
                for r in out
                if r["change"] != "drop_and_antalgic"
                for x in ("follow_up_1", "follow_up_2")
            )
        ),
        "patients_without_change": len(quiet),
        "baseline_arm_false_alarms": int(
            sum(
                r[f]["baseline_arm"]
                for r in (x for p in quiet for x in (p["follow_up_1"], p["follow_up_2"]))
                for f in r
            )
        ),
        "flags_evaluated_on_noise": 2 * len(quiet) * len(FLAG_IDS),
    }
    return {"summary": summary, "patients": out}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=150)
    ap.add_argument("--patients", type=int, default=20)
    ap.add_argument("--per-level", type=int, default=2, help="subjects per severity level of the sweep")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "validation_flags.json")
    args = ap.parse_args(argv)
    rows = single_sessions(args.subjects)
    table = rates(rows)
    longi = longitudinal(args.patients)
    sweep = severity_sweep(args.per_level)
    result = {
        "command": f"scripts/validate_flags.py --subjects {args.subjects} --patients {args.patients} "
        f"--per-level {args.per_level}",
        "single_session": {"rates": table, "subjects": rows},
        "severity_sweep": sweep,
        "longitudinal": longi,
    }
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"Single sessions: {table['group_sizes']}")
    print("| flag | sensitivity (95 % CI) | side correct | specificity (95 % CI) | positives / negatives |")
    print("|---|---|---|---|---|")
    for fid in FLAG_IDS:
        t = table[fid]
        counts = f"{t['positives']} / {t['negatives']}"
        sens = f"{t['sensitivity']} {t['sensitivity_ci95']}" if t["sensitivity"] is not None else "—"
        spec = f"{t['specificity']} {t['specificity_ci95']}"
        print(f"| {fid} | {sens} | {t['side_correct']} | {spec} | {counts} |")
    print(f"healthy subjects with no flag above low: {table['healthy_no_flag_above_low']}")
    print("Longitudinal:", json.dumps(longi["summary"], indent=1))
    print("Severity sweep (fired / n):")
    for row in sweep:
        print(f"  {row['flag']} {row['pattern']:<22} {row['severity']}: {row['level']:g} -> {row['fired']}/{row['n']}")
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
