"""Validate initial-contact detection on the Voisard lower-back set (issue 2 acceptance; figures in docs/validation.md).

Protocol: trials with ≤ 5 % packet loss; each whole trial analysed as a user would (lost packets stay gaps, body
height from the metadata); detected ICs matched one-to-one to the reference heel strikes (greedy nearest, ±0.25 s)
on the two straight walks (U-turn excluded, 0.25 s margin at the trial ends); cadence per walk from the steps whose
both ICs lie in the walk, against the reference steps of that walk. Repeated with each recording rotated by a
random rotation.

Run:  .venv/bin/python scripts/validate_events.py [--datasets ../shared/datasets] [--out docs/validation_events.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gait.pipeline import GaitPipeline  # noqa: E402
from gait.recording import Recording  # noqa: E402
from tests.voisard import load_trial, match_events, trial_codes  # noqa: E402

TOL_IDX = 25  # ±0.25 s at 100 Hz


def _cadence(ic: np.ndarray, lo: int, hi: int, fs: float) -> float:
    ic = np.sort(ic[(ic >= lo) & (ic <= hi)])
    steps = np.diff(ic)
    steps = steps[steps < 2.0 * fs]
    return float(60.0 * fs / np.mean(steps)) if steps.size else float("nan")


def evaluate(root: Path, *, rotate: bool, seed: int = 0) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    tp = n_ref = n_det = 0
    errors, cad_err, side_ok = [], [], []
    per_trial = []
    t_analysis = 0.0
    for code in trial_codes(root):
        trial = load_trial(root, code)
        rec = trial.recording
        if rotate:
            m = Rotation.random(random_state=rng).as_matrix()
            rec = Recording(
                acc_mps2=rec.acc_mps2 @ m.T,
                gyr_dps=rec.gyr_dps @ m.T,
                sampling_rate_hz=rec.sampling_rate_hz,
                placements=rec.placements,
                valid=rec.valid,
            )
        t0 = time.perf_counter()
        result = GaitPipeline(height_m=trial.height_m).run(rec)
        t_analysis += time.perf_counter() - t0
        ref = np.concatenate([trial.ic_left_idx, trial.ic_right_idx])
        ref_side = np.concatenate([np.zeros(trial.ic_left_idx.size), np.ones(trial.ic_right_idx.size)])
        fs = rec.sampling_rate_hz
        for w, (lo, hi) in enumerate(trial.walks()):
            in_r = (ref >= lo) & (ref <= hi)
            in_d = (result.ic_idx >= lo) & (result.ic_idx <= hi)
            err = match_events(result.ic_idx[in_d], ref[in_r], TOL_IDX)
            tp, n_ref, n_det = tp + err.size, n_ref + int(in_r.sum()), n_det + int(in_d.sum())
            errors.append(err)
            c_ref, c_det = _cadence(ref[in_r], lo, hi, fs), _cadence(result.ic_idx[in_d], lo, hi, fs)
            cad_err.append(c_det - c_ref)
            per_trial.append(
                {
                    "trial": code,
                    "walk": w + 1,
                    "n_ref": int(in_r.sum()),
                    "n_det": int(in_d.sum()),
                    "n_matched": int(err.size),
                    "cadence_ref_spm": round(c_ref, 2),
                    "cadence_spm": round(c_det, 2),
                }
            )
            for j in np.flatnonzero(in_d):
                d = np.abs(ref - result.ic_idx[j])
                k = int(np.argmin(d))
                if d[k] <= 10 and result.side[j] >= 0:
                    side_ok.append(bool(result.side[j] == ref_side[k]))
    e_ms = 1000.0 / 100.0 * np.concatenate(errors)
    precision, recall = tp / n_det, tp / n_ref
    cad = np.abs(np.asarray(cad_err))
    return {
        "rotated": rotate,
        "trials": len(trial_codes(root)),
        "walks": len(cad_err),
        "reference_ics": n_ref,
        "detected_ics": n_det,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(2 * precision * recall / (precision + recall), 4),
        "timing_mae_ms": round(float(np.mean(np.abs(e_ms))), 1),
        "timing_bias_ms": round(float(np.mean(e_ms)), 1),
        "timing_p90_abs_ms": round(float(np.percentile(np.abs(e_ms), 90)), 1),
        "cadence_abs_error_spm_median": round(float(np.median(cad)), 2),
        "cadence_abs_error_spm_mean": round(float(np.mean(cad)), 2),
        "cadence_abs_error_spm_max": round(float(np.max(cad)), 2),
        "walks_with_cadence_error_le_1_spm": f"{int(np.sum(cad <= 1.0))}/{cad.size}",
        "side_accuracy": round(float(np.mean(side_ok)), 4),
        "analysis_time_s_all_trials": round(t_analysis, 2),
        "per_walk": per_trial,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "validation_events.json")
    args = ap.parse_args()
    root = args.datasets / "voisard_ipol_healthy_lowerback"
    if not root.is_dir():
        print(f"dataset not found: {root}", file=sys.stderr)
        return 2
    results = [
        evaluate(root, rotate=False),
        evaluate(root, rotate=True, seed=0),
        evaluate(root, rotate=True, seed=1),
    ]
    for r in results:
        print({k: v for k, v in r.items() if k != "per_walk"})
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
