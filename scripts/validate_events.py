"""Validate initial-contact detection on the Voisard lower-back set (issue 2 acceptance; figures in docs/validation.md).

Protocol: trials with ≤ 5 % packet loss; each whole trial analysed as a user would (lost packets stay gaps, body
height from the metadata); detected ICs matched one-to-one to the reference heel strikes (greedy nearest, ±0.25 s)
on the two straight walks (U-turn excluded, 0.25 s margin at the trial ends). Matching runs once over the whole
trial; a walk holds its reference heel strikes, the detections matched to them and the unmatched detections inside
it (tests/voisard.py, walk_events). Cadence per walk is one definition applied to both event lists: 60 / mean step
time over the consecutive ICs of the walk (the formula of gait/summary.py, all steps of the walk, initiation and
stopping included, as the Mobilise-D walking-bout cadence). Diagnostic only (not the acceptance figure): the same
cadence over the steady part of each walk, without the first and last 2 strides (4 reference heel strikes at each
end; CLINICAL.md §5). Repeated with each recording rotated by a random rotation, and once, as recorded, on the
trials with more than 5 % packet loss, held out: they were never used to design or tune the detector.

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
from tests.voisard import WalkEvents, load_trial, trial_codes, walk_events  # noqa: E402

TOL_IDX = 25  # ±0.25 s at 100 Hz
STEADY_TRIM = 4  # reference heel strikes dropped at each end of a walk for the steady-state diagnostic (2 strides)


def _cadence(ic: np.ndarray, fs: float) -> float:
    """60 / mean step time over consecutive ICs (steps of 2 s or more are pauses, not steps)."""
    steps = np.diff(np.sort(ic))
    steps = steps[steps < 2.0 * fs]
    return float(60.0 * fs / np.mean(steps)) if steps.size else float("nan")


def _steady(walk: WalkEvents) -> tuple[np.ndarray, np.ndarray]:
    """Reference and detected ICs of the walk's steady part: its reference heel strikes without the first and last
    STEADY_TRIM, the detections matched to them and the false detections between them."""
    k = STEADY_TRIM
    if walk.reference.size < 2 * k + 2:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    ref, matched = walk.reference[k:-k], walk.matched[k:-k]
    free = walk.unmatched[(walk.unmatched > ref[0]) & (walk.unmatched < ref[-1])]
    return ref, np.sort(np.concatenate([matched[matched >= 0], free]))


def evaluate(root: Path, *, rotate: bool, seed: int = 0, lossy: bool = False) -> dict[str, object]:
    """Scores on the trials with ≤ 5 % packet loss, or with ``lossy`` on the others (held out: never used to
    design or tune the detector)."""
    rng = np.random.default_rng(seed)
    clean = trial_codes(root)
    codes = [c for c in trial_codes(root, max_missing=1.0) if c not in clean] if lossy else clean
    tp = n_ref = n_det = 0
    errors, cad_err, steady_err, side_ok = [], [], [], []
    per_trial = []
    t_analysis = 0.0
    for code in codes:
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
        for w, walk in enumerate(walk_events(result.ic_idx, ref, trial.walks(), TOL_IDX)):
            det = walk.detected
            err = walk.errors
            tp, n_ref, n_det = tp + err.size, n_ref + walk.reference.size, n_det + det.size
            errors.append(err)
            c_ref, c_det = _cadence(walk.reference, fs), _cadence(det, fs)
            cad_err.append(c_det - c_ref)
            s_ref, s_det = _steady(walk)
            cs_ref, cs_det = _cadence(s_ref, fs), _cadence(s_det, fs)
            steady_err.append(cs_det - cs_ref)
            per_trial.append(
                {
                    "trial": code,
                    "walk": w + 1,
                    "n_ref": int(walk.reference.size),
                    "n_det": int(det.size),
                    "n_matched": int(err.size),
                    "cadence_ref_spm": round(c_ref, 2),
                    "cadence_spm": round(c_det, 2),
                    "steady_cadence_ref_spm": round(cs_ref, 2),
                    "steady_cadence_spm": round(cs_det, 2),
                }
            )
            for ic in det:
                j = np.flatnonzero(result.ic_idx == ic)[0]
                d = np.abs(ref - ic)
                k = int(np.argmin(d))
                if d[k] <= 10 and result.side[j] >= 0:
                    side_ok.append(bool(result.side[j] == ref_side[k]))
    e_ms = 1000.0 / 100.0 * np.concatenate(errors)
    precision, recall = tp / n_det, tp / n_ref
    cad = np.abs(np.asarray(cad_err))
    steady = np.abs(np.asarray(steady_err))
    return {
        "rotated": rotate,
        "trial_set": "> 5 % packet loss (held out)" if lossy else "≤ 5 % packet loss",
        "trials": len(codes),
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
        "steady_cadence_abs_error_spm_median": round(float(np.nanmedian(steady)), 2),
        "steady_cadence_abs_error_spm_max": round(float(np.nanmax(steady)), 2),
        "walks_with_steady_cadence_error_le_1_spm": f"{int(np.sum(steady <= 1.0))}/{int(np.isfinite(steady).sum())}",
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
        evaluate(root, rotate=False, lossy=True),
    ]
    for r in results:
        print({k: v for k, v in r.items() if k != "per_walk"})
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
