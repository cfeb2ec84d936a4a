"""Validate pelvis and hip kinematics against known truth (simulated walkers) and Vicon (NeuRA sample).

Run by hand (figures go into docs/validation.md)::

    .venv/bin/python scripts/validate_kinematics.py [--subjects 24] [--out docs/validation_kinematics.json]

Simulated walkers: varied subjects (speed 0.6-1.6 m/s, random presets and angle amplitudes, left/right
differences), sensors mounted in uniformly random orientations, realistic noise, bias, bias drift, scale error and
foot-contact transients, half of them without a standing period. Every subject is analysed as a user's recording
would be (``GaitPipeline`` on the sensor-frame recording); its detected, used strides are compared with the truth
over the same samples. Per subject the median error over strides is taken; the table gives the median and the 90th
percentile of the absolute subject errors.

NeuRA sample (``../shared/datasets/neura_sparse_gaittoolbox_sample``): one 9.5 s trial with pelvis and thigh IMUs
and Vicon segment orientations; it has no quiet standing, so ranges and mean-free curves are compared.
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

from gait.pipeline import GaitPipeline  # noqa: E402
from gait.preprocess import spans_mask, time_normalize  # noqa: E402
from hardware.simulator.walker import DEFAULT_SCHEDULE, PRESETS, simulate_session  # noqa: E402


def simulated_subject(k: int) -> dict[str, Any]:
    rng = np.random.default_rng(1000 + k)
    preset = list(PRESETS)[k % len(PRESETS)]
    p = PRESETS[preset]()
    ext_l = float(np.clip(p.hip_peak_extension_left_deg + rng.normal(0, 3), 0, 20))
    ext_r = float(np.clip(p.hip_peak_extension_right_deg + rng.normal(0, 3), 0, 20))
    p = dataclasses.replace(
        p,
        height_m=float(rng.uniform(1.5, 1.95)),
        speed_mps=float(rng.uniform(0.6, 1.6)),
        mean_tilt_deg=float(p.mean_tilt_deg + rng.normal(0, 2)),
        tilt_amplitude_deg=float(rng.uniform(1.0, 2.5)),
        obliquity_amplitude_deg=float(rng.uniform(2.5, 5.5)),
        rotation_amplitude_deg=float(rng.uniform(3.0, 7.0)),
        hip_peak_extension_left_deg=ext_l,
        hip_peak_extension_right_deg=ext_r,
        hip_peak_flexion_left_deg=float(p.hip_peak_flexion_left_deg + rng.normal(0, 3)),
        hip_peak_flexion_right_deg=float(p.hip_peak_flexion_right_deg + rng.normal(0, 3)),
        gyr_bias_dps=float(rng.uniform(0.2, 1.0)),
        acc_noise_mps2=float(rng.uniform(0.01, 0.04)),
        gyr_noise_dps=float(rng.uniform(0.1, 0.3)),
    )
    standing = k % 2 == 0
    schedule = DEFAULT_SCHEDULE if standing else tuple(s for s in DEFAULT_SCHEDULE if s.kind != "stand")
    session = simulate_session(p, schedule=schedule, random_mounting=True, seed=k)
    result = GaitPipeline(height_m=p.height_m).run(session.recording)
    kin = result.kinematics
    truth = session.truth
    out: dict[str, Any] = {"subject": k, "preset": preset, "speed_mps": round(p.speed_mps, 2), "standing": standing}
    if kin is None:
        out["error"] = "no kinematics"
        return out
    st = kin.strides
    series = np.concatenate([truth.pelvis_angles_deg, truth.hip_flexion_deg.T, truth.thigh_inclination_deg.T], axis=-1)
    tc = time_normalize(series, st.start_idx, st.stop_idx, n_points=101, endpoint=True)
    yaw = tc[..., 2] - np.linspace(tc[:, :1, 2], tc[:, -1:, 2], 101, axis=1)[..., 0]
    true_rom = np.stack([np.ptp(tc[..., 0], axis=1), np.ptp(tc[..., 1], axis=1), np.ptp(yaw, axis=1)], axis=-1)
    used = st.pelvis_used
    est = np.stack([st.tilt_rom_deg, st.obliquity_rom_deg, st.rotation_rom_deg], axis=-1)
    err = np.median(est[used] - true_rom[used], axis=0)
    out.update(
        {
            "pelvis_strides": int(used.sum()),
            "tilt_rom_err_deg": float(err[0]),
            "obliquity_rom_err_deg": float(err[1]),
            "rotation_rom_err_deg": float(err[2]),
        }
    )
    if kin.mean_tilt_available:
        out["mean_tilt_err_deg"] = float(np.median(st.mean_tilt_deg[used] - tc[used][..., 0].mean(axis=1)))
    # Per-sample RMSE over used strides (mean-free without standing).
    mask = spans_mask(truth.walking.size, st.start_idx[used], st.stop_idx[used])
    e = kin.pelvis_deg[mask, :2] - truth.pelvis_angles_deg[mask, :2]
    if not kin.mean_tilt_available:
        e = e - e.mean(axis=0)
    out["tilt_rmse_deg"], out["obliquity_rmse_deg"] = (float(x) for x in np.sqrt(np.mean(e**2, axis=0)))
    for row, side in enumerate(("left", "right")):
        sel = st.hip_used & (st.side == row)
        if not kin.hip_available[row] or not sel.any():
            continue
        flex = tc[sel][..., 3 + row]
        out[f"hip_{side}_strides"] = int(sel.sum())
        out[f"hip_{side}_rom_err_deg"] = float(np.median(st.hip_sagittal_rom_deg[sel] - np.ptp(flex, axis=1)))
        if kin.hip_absolute_available[row]:
            true_ext = np.maximum(0.0, -flex.min(axis=1))
            out[f"hip_{side}_peak_ext_err_deg"] = float(np.median(st.hip_peak_extension_deg[sel] - true_ext))
            out[f"hip_{side}_peak_flex_err_deg"] = float(np.median(st.hip_peak_flexion_deg[sel] - flex.max(axis=1)))
        hmask = spans_mask(truth.walking.size, st.start_idx[sel], st.stop_idx[sel])
        eh = kin.hip_flexion_deg[row, hmask] - truth.hip_flexion_deg[row, hmask]
        if not kin.hip_absolute_available[row]:
            eh = eh - eh.mean()
        out[f"hip_{side}_rmse_deg"] = float(np.sqrt(np.mean(eh**2)))
    return out


def _summary(rows: list[dict[str, Any]], key_groups: dict[str, list[str]]) -> dict[str, dict[str, float | int]]:
    table: dict[str, dict[str, float | int]] = {}
    for name, keys in key_groups.items():
        values = np.array([abs(r[k]) for r in rows for k in keys if k in r])
        if values.size:
            table[name] = {
                "median_abs": round(float(np.median(values)), 2),
                "p90_abs": round(float(np.percentile(values, 90)), 2),
                "max_abs": round(float(values.max()), 2),
                "n": int(values.size),
            }
    return table


GROUPS = {
    "pelvic tilt ROM error (deg)": ["tilt_rom_err_deg"],
    "pelvic obliquity ROM error (deg)": ["obliquity_rom_err_deg"],
    "pelvic rotation ROM error (deg)": ["rotation_rom_err_deg"],
    "mean tilt change vs standing error (deg)": ["mean_tilt_err_deg"],
    "hip sagittal ROM error (deg)": ["hip_left_rom_err_deg", "hip_right_rom_err_deg"],
    "hip peak extension error (deg)": ["hip_left_peak_ext_err_deg", "hip_right_peak_ext_err_deg"],
    "hip peak flexion error (deg)": ["hip_left_peak_flex_err_deg", "hip_right_peak_flex_err_deg"],
    "pelvic tilt per-sample RMSE (deg)": ["tilt_rmse_deg"],
    "pelvic obliquity per-sample RMSE (deg)": ["obliquity_rmse_deg"],
    "hip flexion per-sample RMSE (deg)": ["hip_left_rmse_deg", "hip_right_rmse_deg"],
}


def neura() -> dict[str, Any] | None:
    """Per-stride ROMs and curve correlations against Vicon on the NeuRA sample (None when it is absent)."""
    from tests.neura import IMU_FILES, NEURA, load_recording, reference_angles, rigid_fit, rigid_hip_flexion_deg

    if not NEURA.is_dir():
        return None
    recording = load_recording()
    ref = reference_angles()
    result = GaitPipeline(height_m=1.75).run(recording)
    kin = result.kinematics
    if kin is None:
        return {"error": "no kinematics", "warnings": list(result.warnings)}
    st = kin.strides
    out: dict[str, Any] = {"warnings": list(result.warnings), "strides_detected": int(st.start_idx.size)}
    used = st.pelvis_used
    ref_series = np.concatenate([ref.pelvis_angles_deg, ref.hip_flexion_deg.T, rigid_hip_flexion_deg().T], axis=-1)
    rc = time_normalize(ref_series, st.start_idx, st.stop_idx, n_points=101, endpoint=True)
    out["rigid_fit_residual_deg"] = {
        name: [round(float(x), 1) for x in np.percentile(rigid_fit(name).residual_deg, [50, 90])] for name in IMU_FILES
    }
    ryaw = rc[..., 2] - np.linspace(rc[:, :1, 2], rc[:, -1:, 2], 101, axis=1)[..., 0]
    for k, (name, est) in enumerate(
        (("tilt", st.tilt_rom_deg), ("obliquity", st.obliquity_rom_deg), ("rotation", st.rotation_rom_deg))
    ):
        ref_rom = np.ptp(ryaw if k == 2 else rc[..., k], axis=1)
        out[f"pelvis_{name}_rom"] = {
            "imu_deg": [round(float(x), 2) for x in est[used]],
            "vicon_deg": [round(float(x), 2) for x in ref_rom[used]],
            "median_error_deg": round(float(np.median(est[used] - ref_rom[used])), 2) if used.any() else None,
        }
    mask = spans_mask(recording.n_samples, st.start_idx[used], st.stop_idx[used])
    for k, name in enumerate(("tilt", "obliquity")):
        if mask.any():
            r = np.corrcoef(kin.pelvis_deg[mask, k], ref.pelvis_angles_deg[mask, k])[0, 1]
            out[f"pelvis_{name}_r"] = round(float(r), 3)
    for row, side in enumerate(("left", "right")):
        sel = st.hip_used & (st.side == row)
        if not kin.hip_available[row] or not sel.any():
            out[f"hip_{side}"] = None
            continue
        ref_rom = np.ptp(rc[sel][..., 3 + row], axis=1)
        hmask = spans_mask(recording.n_samples, st.start_idx[sel], st.stop_idx[sel])
        r = np.corrcoef(kin.hip_flexion_deg[row, hmask], ref.hip_flexion_deg[row, hmask])[0, 1]
        out[f"hip_{side}"] = {
            "sagittal_rom_imu_deg": [round(float(x), 2) for x in st.hip_sagittal_rom_deg[sel]],
            "sagittal_rom_vicon_deg": [round(float(x), 2) for x in ref_rom],
            "median_rom_error_deg": round(float(np.median(st.hip_sagittal_rom_deg[sel] - ref_rom)), 2),
            # The ceiling of any method that takes the IMU's orientation for the thigh's (tests/neura.py rigid_fit).
            "sagittal_rom_rigid_ceiling_deg": [round(float(x), 2) for x in np.ptp(rc[sel][..., 5 + row], axis=1)],
            "rigid_ceiling_median_rom_error_deg": round(
                float(np.median(np.ptp(rc[sel][..., 5 + row], axis=1) - ref_rom)), 2
            ),
            "r": round(float(r), 3),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=24)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "validation_kinematics.json")
    args = ap.parse_args(argv)
    rows = [simulated_subject(k) for k in range(args.subjects)]
    with_standing = [r for r in rows if r["standing"]]
    without = [r for r in rows if not r["standing"]]
    result: dict[str, Any] = {
        "command": "scripts/validate_kinematics.py --subjects " + str(args.subjects),
        "simulated": {
            "all": _summary(rows, GROUPS),
            "with_standing": _summary(with_standing, GROUPS),
            "without_standing": _summary(without, GROUPS),
            "subjects": rows,
        },
        "neura": neura(),
    }
    args.out.write_text(json.dumps(result, indent=1))
    for label, table in (
        ("all", result["simulated"]["all"]),
        ("without standing", result["simulated"]["without_standing"]),
    ):
        print(f"\nSimulated walkers ({label}):")
        print("| quantity | median abs | p90 abs | max abs | n |\n|---|---|---|---|---|")
        for name, t in table.items():
            print(f"| {name} | {t['median_abs']} | {t['p90_abs']} | {t['max_abs']} | {t['n']} |")
    if result["neura"] is not None:
        print("\nNeuRA vs Vicon:", json.dumps(result["neura"], indent=1))
    print(f"\nwritten {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
