"""The body frame, defined once for the whole project (DESIGN.md §2).

Each segment (pelvis, thigh) has a right-handed anatomical frame with axes

* ``ap``: antero-posterior, positive forward (walking direction),
* ``ml``: medio-lateral, positive to the subject's left,
* ``si``: superior-inferior, positive up.

Arrays in the body frame keep the project layout ``(..., n_samples, 3)`` with the last axis ordered
``(ap, ml, si)``; use the index constants below rather than literal numbers.
"""

from __future__ import annotations

from typing import Final

import numpy as np

__all__ = ["AP", "BODY_AXES", "GRAVITY_MPS2", "ML", "SI", "check_right_handed"]

AP: Final = 0
ML: Final = 1
SI: Final = 2
BODY_AXES: Final = ("ap", "ml", "si")

#: Standard gravity, used to recognise units and to remove gravity from specific force.
GRAVITY_MPS2: Final = 9.80665


def check_right_handed(rotation: np.ndarray, *, atol: float = 1e-6) -> bool:
    """Return True when ``rotation`` (shape ``(..., 3, 3)``) is a proper rotation matrix (det +1, orthonormal)."""
    r = np.asarray(rotation, dtype=np.float64)
    eye = np.eye(3)
    orthonormal = np.allclose(np.swapaxes(r, -1, -2) @ r, eye, atol=atol)
    return bool(orthonormal and np.all(np.linalg.det(r) > 0))
