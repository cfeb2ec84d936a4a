"""Exceptions of the hardware layer.

Every error raised by ``hardware`` derives from :class:`HardwareError`, so the layers above can map the whole family in
one place (DESIGN.md §5 rule 6).
"""

from __future__ import annotations

__all__ = ["HardwareError", "ProfileError"]


class HardwareError(Exception):
    """Root of all errors raised by the hardware layer."""


class ProfileError(HardwareError, ValueError):
    """A device profile is unknown, malformed, or asked for something it does not provide.

    The message names the profile or argument, what was expected and what came.
    """
