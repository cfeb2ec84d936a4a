"""Simulated sensors: a walking-body model that produces realistic pelvis and thigh IMU signals with ground truth.

See :mod:`hardware.simulator.walker` for the model and ``docs/simulator.md`` for its assumptions and validation.
"""

from __future__ import annotations

from hardware.simulator.walker import (
    DEFAULT_SCHEDULE,
    PLACEMENTS,
    PRESETS,
    Segment,
    SimulatedSession,
    SimulatorError,
    WalkerParams,
    WalkerTruth,
    antalgic,
    anterior_tilt_compensation,
    body_angular_velocity_dps,
    default_mounting,
    healthy,
    pelvic_drop,
    pendulum_excursion_m,
    reduced_hip_extension,
    sample_linear,
    simulate_session,
    slow_short_steps,
)

__all__ = [
    "DEFAULT_SCHEDULE",
    "PLACEMENTS",
    "PRESETS",
    "Segment",
    "SimulatedSession",
    "SimulatorError",
    "WalkerParams",
    "WalkerTruth",
    "antalgic",
    "anterior_tilt_compensation",
    "body_angular_velocity_dps",
    "default_mounting",
    "healthy",
    "pelvic_drop",
    "pendulum_excursion_m",
    "reduced_hip_extension",
    "sample_linear",
    "simulate_session",
    "slow_short_steps",
]
