"""The scoring of detected ICs per walk used by scripts/validate_events.py (tests/voisard.py, no dataset needed)."""

from __future__ import annotations

import numpy as np

from tests.voisard import walk_events


def test_a_pair_split_by_the_walk_edge_is_one_hit() -> None:
    # Reference heel strike at 102 is inside walk (102, 200); its detection at 99 lies just outside.
    ref = np.array([50, 102, 150, 200])
    det = np.array([48, 99, 151, 199])
    before, walk = walk_events(det, ref, [(0, 60), (102, 200)], tolerance=25)
    assert np.array_equal(walk.reference, [102, 150, 200])
    assert np.array_equal(walk.detected, [99, 151, 199])
    assert np.array_equal(walk.errors, [-3, 1, -1])
    assert walk.unmatched.size == 0
    assert np.array_equal(before.detected, [48])


def test_misses_and_false_detections_stay_in_their_walk() -> None:
    ref = np.array([100, 150, 200, 250])
    det = np.array([60, 101, 198, 252])  # 60 is a false detection, 150 is missed
    (walk,) = walk_events(det, ref, [(50, 260)], tolerance=25)
    assert np.array_equal(walk.matched, [101, -1, 198, 252])
    assert np.array_equal(walk.unmatched, [60])
    assert np.array_equal(walk.detected, [60, 101, 198, 252])
    # A detection matched to a heel strike outside every walk (in the U-turn) is in no walk.
    (none,) = walk_events(np.array([300]), np.array([305]), [(310, 400)], tolerance=25)
    assert none.reference.size == 0 and none.detected.size == 0
