"""`make demo`: analyse a simulated three-sensor walk end to end, exactly as a user would analyse their own files.

A walker with known truth (``hardware.simulator``) is written as one generic CSV per sensor. Then
``fusiongait analyze`` reads the files back and prints the summary and the simulated truth side by side. It writes
the JSON report and the self-contained HTML report (``out/demo/report.html``). The live clinic session replaces
this once the dashboard exists (issue 8).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from firmware_bridge.readers.csv_format import write_recording_csv
from hardware.simulator import Segment, WalkerParams, simulate_session
from server import cli

__all__ = ["main"]

DEMO_SCHEDULE = (
    Segment(kind="stand", duration_s=4.0),
    Segment(kind="walk", duration_s=25.0),
    Segment(kind="turn", duration_s=3.0, turn_deg=180.0),
    Segment(kind="walk", duration_s=25.0),
    Segment(kind="stand", duration_s=3.0),
)


def main(argv: Sequence[str] | None = None) -> int:
    """Simulate, write CSV files, analyse them; return the CLI's exit status."""
    ap = argparse.ArgumentParser(prog="fusiongait-demo", description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("out/demo"), help="directory for the CSV files and report")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    params = WalkerParams(height_m=1.72, speed_mps=1.2)
    session = simulate_session(params, schedule=DEMO_SCHEDULE, random_mounting=True, seed=args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    files = write_recording_csv(session.recording, args.out, "demo")
    report = args.out / "report.json"
    html = args.out / "report.html"
    cli_args = ["analyze"]
    for placement, path in files.items():
        cli_args += ["--sensor", f"{placement}={path}"]
    cli_args += ["--height-m", f"{params.height_m}", "--json", str(report), "--html", str(html)]
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


if __name__ == "__main__":
    raise SystemExit(main())
