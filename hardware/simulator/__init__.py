"""Simulated sensors: a walking-body model that produces realistic pelvis and thigh IMU signals with ground truth.

:func:`simulate_day` strings the model's sessions into a day at home (sitting, standing, short and long walks).

See :mod:`hardware.simulator.walker` for the model and ``docs/simulator.md`` for its assumptions and validation.
"""

from __future__ import annotations

from hardware.simulator.day import DayPlan, DayTruth, SimulatedDay, home_day_schedule, simulate_day
from hardware.simulator.walker import (
    DEFAULT_SCHEDULE,
    PLACEMENTS,
    PRESETS,
    Segment,
    SensorErrorModel,
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
    "DayPlan",
    "DayTruth",
    "Segment",
    "SensorErrorModel",
    "SimulatedDay",
    "SimulatedSession",
    "SimulatorError",
    "WalkerParams",
    "WalkerTruth",
    "antalgic",
    "anterior_tilt_compensation",
    "body_angular_velocity_dps",
    "default_mounting",
    "healthy",
    "home_day_schedule",
    "pelvic_drop",
    "pendulum_excursion_m",
    "reduced_hip_extension",
    "sample_linear",
    "simulate_day",
    "simulate_session",
    "slow_short_steps",
]
