"""Sensor-to-body alignment of the pelvis sensor, for a sensor mounted in any orientation.

The vertical comes from gravity; forward and left come from the walking motion itself:

* **vertical** (``si``): the mean specific force over the walking periods (the mean acceleration of a walker is
  zero, so the mean specific force is gravity as the sensor sees it while walking); the quiet-standing mean when
  there is no walking.
* **antero-posterior line**: the lower back repeats its AP motion every *step* and its ML motion every *stride*
  (the ML sway changes sign from one step to the next). With the horizontal acceleration of consecutive steps
  time-normalised, the sum of two consecutive steps keeps the AP part and the difference keeps the ML part; the AP
  line is the leading eigenvector of ``cov(sum) - cov(difference)``.
* **forward sign**: in an inverted-pendulum gait the forward acceleration peaks before the vertical acceleration
  peaks (it speeds up falling from mid-stance and brakes at heel strike), so at the step frequency the forward
  acceleration leads the vertical by about a quarter cycle. A lag instead of a lead means the axis points backwards.
  (Zijlstra & Hof 2003, CLINICAL.md ref. [41]: initial contact at the forward-acceleration peak.)
* **left** = ``si × ap`` (right-handed body frame of :mod:`gait.frames`).

Each part carries a confidence in [0, 1]; :class:`BodyAlignment` combines them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from gait.frames import GRAVITY_MPS2
from gait.preprocess import time_normalize

__all__ = ["BodyAlignment", "estimate_forward_axis", "estimate_vertical"]

FloatArray = NDArray[np.float64]
VerticalSource = Literal["walking", "standing", "whole recording"]


@dataclass(frozen=True, slots=True)
class BodyAlignment:
    """Rotation from the sensor frame to the body frame, with how sure we are of it.

    Attributes
    ----------
    rotation : ndarray, shape (3, 3)
        Rows are the body axes (ap, ml, si) in sensor coordinates: ``body = sensor @ rotation.T``.
    vertical_source : {"walking", "standing", "whole recording"}
        Which samples gave the vertical.
    vertical_confidence, heading_confidence, sign_confidence : float
        Confidence in [0, 1] of the vertical, of the AP line and of the forward sign.
    notes : tuple of str
        Human-readable remarks (why a confidence is low).
    """

    rotation: FloatArray
    vertical_source: VerticalSource
    vertical_confidence: float
    heading_confidence: float
    sign_confidence: float
    notes: tuple[str, ...] = field(default=())

    @property
    def confidence(self) -> float:
        """Overall confidence: the weakest of the three parts."""
        return float(min(self.vertical_confidence, self.heading_confidence, self.sign_confidence))

    def to_body(self, x_sensor: FloatArray) -> FloatArray:
        """Express vectors ``(..., 3)`` given in the sensor frame in the body frame (ap, ml, si)."""
        return np.asarray(x_sensor @ self.rotation.T, dtype=np.float64)


def _unit(v: FloatArray) -> FloatArray:
    return np.asarray(v / np.linalg.norm(v), dtype=np.float64)


def estimate_vertical(
    acc_mps2: FloatArray, *, walking: NDArray[np.bool_], standing: NDArray[np.bool_]
) -> tuple[FloatArray, VerticalSource, float]:
    """Estimate the upward unit vector in the sensor frame.

    Parameters
    ----------
    acc_mps2 : ndarray, shape (n_samples, 3)
        Specific force; NaN where unusable.
    walking, standing : ndarray of bool, shape (n_samples,)
        Samples classified as walking and as quiet standing.

    Returns
    -------
    up : ndarray, shape (3,)
        Unit vector pointing up, in sensor coordinates.
    source : str
        Which samples were used.
    confidence : float
        1 when the mean specific force has the magnitude of gravity; lower when the mean is much smaller
        (the sensor turned during the period, so its mean direction is not a direction).
    """
    finite = np.isfinite(acc_mps2).all(axis=-1)
    source: VerticalSource
    if np.count_nonzero(walking & finite) >= 200:
        sel, source = np.asarray(walking & finite, dtype=bool), "walking"
    elif np.count_nonzero(standing & finite) >= 50:
        sel, source = np.asarray(standing & finite, dtype=bool), "standing"
    else:
        sel, source = np.asarray(finite, dtype=bool), "whole recording"
    mean = acc_mps2[sel].mean(axis=-2)
    norm = float(np.linalg.norm(mean))
    confidence = float(np.clip(norm / GRAVITY_MPS2, 0.0, 1.0) ** 4) if norm > 0 else 0.0
    up = _unit(mean) if norm > 0 else np.array([0.0, 0.0, 1.0])
    return up, source, confidence


def estimate_forward_axis(
    acc_mps2: FloatArray,
    up: FloatArray,
    step_pairs: list[NDArray[np.int64]],
) -> tuple[FloatArray, float, float, tuple[str, ...]]:
    """Estimate the forward unit vector (horizontal, sensor frame) from walking steps.

    Parameters
    ----------
    acc_mps2 : ndarray, shape (n_samples, 3)
        Specific force with short gaps bridged.
    up : ndarray, shape (3,)
        Upward unit vector.
    step_pairs : list of int arrays
        For each walking bout, the sample indices of its consecutive steps (at least 3 each).

    Returns
    -------
    forward : ndarray, shape (3,)
    heading_confidence : float
        ``(λ_ap - λ_next) / (λ_ap + |λ_next|)`` of the even-minus-odd step covariance: 0 when the AP and ML
        lines cannot be told apart, 1 when the separation is clear.
    sign_confidence : float
        ``|sin|`` of the forward-vertical phase lead: 0 when the phase is 0 or 180° (no information).
    notes : tuple of str
    """
    notes: list[str] = []
    horizontal = acc_mps2 - (acc_mps2 @ up)[..., None] * up
    vertical = (acc_mps2 @ up)[..., None]
    bouts = [steps for steps in step_pairs if steps.size >= 3]
    if not bouts:
        notes.append("no walking steps to find the walking direction from")
        helper = np.array([1.0, 0.0, 0.0]) if abs(up[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
        return _unit(helper - (helper @ up) * up), 0.0, 0.0, tuple(notes)
    # All steps of all bouts in one call: columns (horizontal xyz, vertical), each step labelled by its bout.
    starts = np.concatenate([b[:-1] for b in bouts])
    stops = np.concatenate([b[1:] for b in bouts])
    label = np.concatenate([np.full(b.size - 1, k) for k, b in enumerate(bouts)])
    cycles = time_normalize(np.concatenate([horizontal, vertical], axis=-1), starts, stops, n_points=50)
    hcat = cycles[..., :3] - cycles[..., :3].mean(axis=-2, keepdims=True)
    vcat = cycles[..., 3]
    pair = label[1:] == label[:-1]  # consecutive steps of one bout
    s = (hcat[1:] + hcat[:-1])[pair]
    d = (hcat[1:] - hcat[:-1])[pair]
    c_even = np.einsum("mni,mnj->ij", s, s)
    c_odd = np.einsum("mni,mnj->ij", d, d)
    # Restrict to the horizontal plane so the vertical null direction does not compete.
    basis_a = _unit(np.cross(up, [1.0, 0.0, 0.0]) if abs(up[0]) < 0.9 else np.cross(up, [0.0, 1.0, 0.0]))
    basis_b = np.cross(up, basis_a)
    plane = np.stack([basis_a, basis_b])  # (2, 3)
    m = plane @ (c_even - c_odd) @ plane.T
    eigval, eigvec = np.linalg.eigh(m)
    forward = _unit(eigvec[:, -1] @ plane)
    heading_confidence = float(np.clip((eigval[-1] - eigval[0]) / (abs(eigval[-1]) + abs(eigval[0]) + 1e-12), 0.0, 1.0))
    if eigval[-1] <= 0:
        heading_confidence = 0.0
        notes.append("the step-to-step motion does not show a clear walking direction")
    # Forward sign: phase of the forward acceleration relative to the vertical at the step frequency.
    n_points = hcat.shape[-2]
    kernel = np.exp(-2j * np.pi * np.arange(n_points) / n_points)
    z_fwd = np.sum((hcat @ forward).mean(axis=0) * kernel)
    z_up = np.sum(vcat.mean(axis=0) * kernel)
    lead_rad = float(np.angle(z_fwd / z_up)) if abs(z_up) > 0 and abs(z_fwd) > 0 else 0.0
    if lead_rad < 0:
        forward = -forward
    sign_confidence = float(abs(np.sin(lead_rad)))
    if sign_confidence < 0.3:
        notes.append(
            f"forward/backward is uncertain (forward-vertical phase {np.degrees(lead_rad):.0f}°, expected ±90°)"
        )
    return forward, heading_confidence, sign_confidence, tuple(notes)
