"""What a sensor is: device profiles, the wire-protocol codec, the firmware reference and the simulator.

This layer sits between the pure analysis core (:mod:`gait`) and the I/O layer (:mod:`firmware_bridge`): it may
import :mod:`gait` but never the layers above it (DESIGN.md §1). Its :mod:`hardware.simulator` package holds the
walking-body model that produces the project's ground-truth IMU signals for the pelvis and both thighs.
"""

from __future__ import annotations

__all__: list[str] = []
