"""Tests of the device profiles (hardware.profiles): axes, scales, units, UUIDs, cfg decoding and the registry."""

from __future__ import annotations

import dataclasses
import uuid

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gait.frames import GRAVITY_MPS2
from gait.recording import KNOWN_PLACEMENTS, Recording
from hardware.errors import HardwareError, ProfileError
from hardware.profiles import (
    MBIENTLAB_METAMOTION,
    MOVESENSE_MD,
    PROFILES,
    REFERENCE_IMU,
    DeviceProfile,
    GattCharacteristic,
    RangeScale,
    acc_to_mps2,
    get_profile,
    gyr_to_dps,
    to_sensor_frame,
)

ALL = tuple(PROFILES.values())
IDS = tuple(PROFILES)


def rotated_profile(axes: tuple[tuple[int, int, int], ...]) -> DeviceProfile:
    """The reference profile with another axis mapping (to exercise the rotation with a non-identity matrix)."""
    return dataclasses.replace(REFERENCE_IMU, name="rotated", axes=axes)  # type: ignore[arg-type]


# A proper rotation that is not the identity: sensor x = device y, sensor y = -device x, sensor z = device z.
ROT_Z90 = ((0, 1, 0), (-1, 0, 0), (0, 0, 1))


# ------------------------------------------------------------------------------------------------ registry and UUIDs
def test_registry_has_reference_and_two_vendor_profiles() -> None:
    assert set(PROFILES) == {"fusiongait-reference", "mbientlab-metamotion", "movesense-md"}
    assert get_profile("fusiongait-reference") is REFERENCE_IMU
    assert get_profile(" MbientLab-MetaMotion ") is MBIENTLAB_METAMOTION
    assert get_profile("movesense-md") is MOVESENSE_MD


def test_unknown_profile_error_names_the_known_ones() -> None:
    with pytest.raises(ProfileError) as info:
        get_profile("xsens-dot")
    message = str(info.value)
    assert "'xsens-dot'" in message
    for name in PROFILES:
        assert name in message
    assert isinstance(info.value, HardwareError)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("profile", ALL, ids=IDS)
def test_gatt_uuids_are_valid_canonical_128_bit(profile: DeviceProfile) -> None:
    assert profile.gatt, "every profile names at least one GATT service"
    for service in profile.gatt:
        assert str(uuid.UUID(service.uuid)) == service.uuid
        roles = {c.role for c in service.characteristics}
        assert {"data_notify", "command_write"} <= roles
        for char in service.characteristics:
            assert str(uuid.UUID(char.uuid)) == char.uuid
            assert char.uuid != service.uuid
        assert service.characteristic("data_notify").uuid != service.characteristic("command_write").uuid


def test_published_vendor_uuids() -> None:
    mw = MBIENTLAB_METAMOTION.gatt[0]
    assert mw.uuid == "326a9000-85cb-9195-d9dd-464cfbbae75a"
    assert mw.characteristic("data_notify").uuid == "326a9006-85cb-9195-d9dd-464cfbbae75a"
    assert mw.characteristic("command_write").uuid == "326a9001-85cb-9195-d9dd-464cfbbae75a"
    ms = MOVESENSE_MD.gatt[0]
    assert ms.uuid == "34802252-7185-4d5d-b431-630e7050e8f0"
    assert ms.characteristic("command_write").uuid == "34800001-7185-4d5d-b431-630e7050e8f0"
    assert ms.characteristic("data_notify").uuid == "34800002-7185-4d5d-b431-630e7050e8f0"


def test_reference_uuids_share_one_base() -> None:
    uuids = [REFERENCE_IMU.gatt[0].uuid] + [c.uuid for c in REFERENCE_IMU.gatt[0].characteristics]
    assert len(set(uuids)) == len(uuids)
    assert len({u[8:] for u in uuids}) == 1, "one 128-bit base, so the stack stores a single vendor UUID"


@pytest.mark.parametrize("bad", ["326A9000-85CB-9195-D9DD-464CFBBAE75A", "not-a-uuid", "326a9000"])
def test_malformed_or_non_canonical_uuid_is_rejected(bad: str) -> None:
    with pytest.raises(ProfileError, match="UUID"):
        GattCharacteristic(uuid=bad, role="data_notify", description="")


def test_missing_role_is_reported() -> None:
    with pytest.raises(ProfileError, match="response_notify"):
        REFERENCE_IMU.gatt[0].characteristic("response_notify")


# ------------------------------------------------------------------------------------------------ axes
@pytest.mark.parametrize("profile", ALL, ids=IDS)
def test_axis_matrix_is_a_proper_rotation(profile: DeviceProfile) -> None:
    r = profile.axis_matrix
    assert r.shape == (3, 3)
    np.testing.assert_allclose(r.T @ r, np.eye(3), atol=1e-12)
    assert np.linalg.det(r) == pytest.approx(1.0)
    assert not r.flags.writeable


@pytest.mark.parametrize(
    "axes",
    [
        ((1, 0, 0), (0, 1, 0), (0, 0, -1)),  # a reflection: left-handed
        ((1, 0, 0), (1, 0, 0), (0, 0, 1)),  # not a permutation
        ((2, 0, 0), (0, 1, 0), (0, 0, 1)),  # not signed unit entries
    ],
)
def test_improper_axis_mapping_is_rejected(axes: tuple[tuple[int, int, int], ...]) -> None:
    with pytest.raises(ProfileError, match="axes"):
        rotated_profile(axes)


@pytest.mark.parametrize("profile", ALL, ids=IDS)
def test_profile_placements_are_the_recording_placements(profile: DeviceProfile) -> None:
    assert set(profile.placements) == set(KNOWN_PLACEMENTS)


def test_non_identity_rotation_maps_device_axes_to_sensor_axes() -> None:
    profile = rotated_profile(ROT_Z90)
    device = np.eye(3)[None]  # samples: device x, y, z unit vectors, in g
    sensor = acc_to_mps2(profile, device * 1.0, unit="counts", range_g=16.0) * (2048.0 / GRAVITY_MPS2)
    np.testing.assert_allclose(sensor[0], [[0, -1, 0], [1, 0, 0], [0, 0, 1]], atol=1e-12)


# ------------------------------------------------------------------------------------------------ scales
def test_reference_full_scale_counts() -> None:
    counts = np.array([[[-32768, 0, 16384]]])
    acc = acc_to_mps2(REFERENCE_IMU, counts, unit="counts", range_g=16.0)
    np.testing.assert_allclose(acc[0, 0], [-16 * GRAVITY_MPS2, 0.0, 8 * GRAVITY_MPS2])
    gyr = gyr_to_dps(REFERENCE_IMU, counts, unit="counts", range_dps=2000.0)
    np.testing.assert_allclose(gyr[0, 0], [-2000.0, 0.0, 1000.0])
    # LSB sizes of PROTOCOL.md: 0.488 mg and 0.061 dps.
    one = np.array([[1, 1, 1]])
    assert acc_to_mps2(REFERENCE_IMU, one, unit="counts", range_g=16.0)[0, 0] / GRAVITY_MPS2 == pytest.approx(
        0.488e-3, rel=1e-3
    )
    assert gyr_to_dps(REFERENCE_IMU, one, unit="counts", range_dps=2000.0)[0, 0] == pytest.approx(0.061, rel=1e-3)


@pytest.mark.parametrize("profile", [REFERENCE_IMU, MBIENTLAB_METAMOTION], ids=["reference", "metamotion"])
def test_every_counted_range_reaches_its_full_scale(profile: DeviceProfile) -> None:
    for r in profile.acc_ranges:
        out = acc_to_mps2(profile, [[0.0, 0.0, -32768.0]], unit="counts", range_g=r.full_scale)
        assert out[0, 2] == pytest.approx(-r.full_scale * GRAVITY_MPS2, rel=2e-3)
    for r in profile.gyr_ranges:
        out = gyr_to_dps(profile, [[-32768.0, 0.0, 0.0]], unit="counts", range_dps=r.full_scale)
        assert out[0, 0] == pytest.approx(-r.full_scale, rel=2e-3)  # MetaWear's 16.4 LSB/dps is 0.1 % off


def test_metamotion_sdk_scales() -> None:
    assert MBIENTLAB_METAMOTION.acc_scale(16.0).counts_per_unit == 2048.0
    assert MBIENTLAB_METAMOTION.gyr_scale(2000.0).counts_per_unit == 16.4
    gyr = gyr_to_dps(MBIENTLAB_METAMOTION, [[164.0, 0.0, 0.0]], unit="counts", range_dps=2000.0)
    assert gyr[0, 0] == pytest.approx(10.0)


def test_vendor_export_units() -> None:
    acc = acc_to_mps2(MBIENTLAB_METAMOTION, [[0.0, 0.5, 1.0]], unit="g")
    np.testing.assert_allclose(acc, [[0.0, 0.5 * GRAVITY_MPS2, GRAVITY_MPS2]])
    gyr = gyr_to_dps(MBIENTLAB_METAMOTION, [[90.0, 0.0, -45.0]], unit="dps")
    np.testing.assert_allclose(gyr, [[90.0, 0.0, -45.0]])
    acc = acc_to_mps2(MOVESENSE_MD, [[0.1, -9.8, 0.0]], unit="mps2")
    np.testing.assert_allclose(acc, [[0.1, -9.8, 0.0]])
    gyr = gyr_to_dps(MOVESENSE_MD, [[np.pi, 0.0, 0.0]], unit="dps")
    np.testing.assert_allclose(gyr, [[np.pi, 0.0, 0.0]])


def test_rads_to_dps() -> None:
    profile = dataclasses.replace(MOVESENSE_MD, name="rads-export", export_gyr_unit="rads")
    np.testing.assert_allclose(gyr_to_dps(profile, [[np.pi, 0.0, -np.pi / 2]], unit="rads"), [[180.0, 0.0, -90.0]])


def test_unit_the_device_does_not_provide_is_an_error() -> None:
    with pytest.raises(ProfileError, match=r"movesense-md.*'counts'"):
        acc_to_mps2(MOVESENSE_MD, [[0.0, 0.0, 1.0]], unit="counts", range_g=8.0)
    with pytest.raises(ProfileError, match="unit must be one of"):
        gyr_to_dps(MOVESENSE_MD, [[0.0, 0.0, 1.0]], unit="deg/s")  # type: ignore[arg-type]


def test_counts_need_a_known_range() -> None:
    with pytest.raises(ProfileError, match="range_g"):
        acc_to_mps2(REFERENCE_IMU, [[0, 0, 2048]], unit="counts")
    with pytest.raises(ProfileError, match=r"offers \[125.0, 250.0"):
        gyr_to_dps(REFERENCE_IMU, [[0, 0, 1]], unit="counts", range_dps=245.0)


def test_counts_without_a_scale_are_an_error() -> None:
    profile = dataclasses.replace(MOVESENSE_MD, name="counted", wire_acc_unit="counts", acc_ranges=(RangeScale(8.0),))
    with pytest.raises(ProfileError, match="no count scale"):
        acc_to_mps2(profile, [[0, 0, 1]], unit="counts", range_g=8.0)


@pytest.mark.parametrize("shape", [(3,), (5, 2), (2, 5, 4)])
def test_bad_shapes_are_rejected(shape: tuple[int, ...]) -> None:
    with pytest.raises(ProfileError, match=r"\(\.\.\., n_samples, 3\)"):
        acc_to_mps2(REFERENCE_IMU, np.zeros(shape), unit="counts", range_g=2.0)


def test_input_is_not_modified_and_output_is_new() -> None:
    raw = np.array([[[100.0, -200.0, 300.0]]])
    before = raw.copy()
    out = acc_to_mps2(REFERENCE_IMU, raw, unit="counts", range_g=4.0)
    np.testing.assert_array_equal(raw, before)
    assert not np.shares_memory(out, raw)
    out_mps2 = acc_to_mps2(MOVESENSE_MD, raw, unit="mps2")
    assert not np.shares_memory(out_mps2, raw)


# ------------------------------------------------------------------------------------------------ vectorization
@settings(max_examples=40, deadline=None)
@given(
    raw=hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 20), st.just(3)),
        elements=st.integers(-32768, 32767).map(float),
    ),
    axes=st.sampled_from([ROT_Z90, ((0, 0, 1), (1, 0, 0), (0, 1, 0)), ((-1, 0, 0), (0, -1, 0), (0, 0, 1))]),
)
def test_vectorized_conversion_equals_a_per_slice_loop(raw: np.ndarray, axes: tuple[tuple[int, ...], ...]) -> None:
    profile = rotated_profile(axes)  # type: ignore[arg-type]
    acc = acc_to_mps2(profile, raw, unit="counts", range_g=8.0)
    gyr = gyr_to_dps(profile, raw, unit="counts", range_dps=500.0)
    r = profile.axis_matrix
    for idx in np.ndindex(raw.shape[:-1]):
        np.testing.assert_allclose(acc[idx], r @ raw[idx] * (GRAVITY_MPS2 * 8.0 / 32768.0), rtol=1e-12)
        np.testing.assert_allclose(gyr[idx], r @ raw[idx] * (500.0 / 32768.0), rtol=1e-12)
    # Slicing a batch first and converting gives the same as converting the batch.
    np.testing.assert_allclose(acc_to_mps2(profile, raw[0], unit="counts", range_g=8.0), acc[0])


def test_to_sensor_frame_feeds_a_recording() -> None:
    counts = np.zeros((3, 50, 3))
    counts[..., 2] = 2048.0  # 1 g up at ±16 g
    acc, gyr = to_sensor_frame(
        REFERENCE_IMU, counts, counts * 0, acc_unit="counts", gyr_unit="counts", range_g=16.0, range_dps=2000.0
    )
    rec = Recording(acc_mps2=acc, gyr_dps=gyr, sampling_rate_hz=100.0, placements=REFERENCE_IMU.placements)
    np.testing.assert_allclose(rec.acc_mps2[:, :, 2], GRAVITY_MPS2)


# ------------------------------------------------------------------------------------------------ gravity at rest
def gravity_sample(profile: DeviceProfile) -> tuple[np.ndarray, dict[str, float]]:
    """+1 g along the profile's documented rest 'up' axis, in the device's own first unit (wire, else export)."""
    unit = profile.wire_acc_unit
    if unit == "counts":
        range_g = max(r.full_scale for r in profile.acc_ranges)
        one_g = profile.acc_scale(range_g).counts_per_unit
        assert one_g is not None
        kwargs = {"range_g": range_g}
    else:
        one_g, kwargs = (1.0 if unit == "g" else GRAVITY_MPS2), {}
    raw = np.zeros((1, 4, 3))
    raw[..., profile.rest_up_axis] = one_g
    return raw, kwargs


@pytest.mark.parametrize("profile", ALL, ids=IDS)
def test_gravity_at_rest_reads_plus_g_on_the_expected_sensor_axis(profile: DeviceProfile) -> None:
    raw, kwargs = gravity_sample(profile)
    acc = acc_to_mps2(profile, raw, unit=profile.wire_acc_unit, **kwargs)
    expected_axis = int(np.flatnonzero(profile.axis_matrix[:, profile.rest_up_axis])[0])
    sign = profile.axis_matrix[expected_axis, profile.rest_up_axis]
    assert sign == 1.0, "documented rest pose should read +g on a positive sensor axis"
    expected = np.zeros(3)
    expected[expected_axis] = GRAVITY_MPS2
    np.testing.assert_allclose(acc[0], np.tile(expected, (4, 1)), atol=1e-9)


@pytest.mark.parametrize("profile", [MBIENTLAB_METAMOTION], ids=["metamotion"])
def test_gravity_at_rest_in_the_export_unit(profile: DeviceProfile) -> None:
    raw = np.zeros((2, 3))
    raw[:, profile.rest_up_axis] = 1.0  # MetaBase writes g
    acc = acc_to_mps2(profile, raw, unit="g")
    np.testing.assert_allclose(np.linalg.norm(acc, axis=-1), GRAVITY_MPS2)
    assert acc[0, 2] == pytest.approx(GRAVITY_MPS2)


def test_gravity_through_a_rotated_mounting() -> None:
    # A device whose 'up' at rest is its x axis, mapped so that device x becomes sensor -y with ROT_Z90.
    profile = dataclasses.replace(rotated_profile(ROT_Z90), rest_up_axis=0)
    raw, kwargs = gravity_sample(profile)
    acc = acc_to_mps2(profile, raw, unit="counts", **kwargs)
    np.testing.assert_allclose(acc[0, 0], [0.0, -GRAVITY_MPS2, 0.0], atol=1e-9)


# ------------------------------------------------------------------------------------------------ cfg decoding
def cfg_byte(rate_code: int, acc_code: int, gyr_code: int) -> int:
    return rate_code | (acc_code << 3) | (gyr_code << 5)


def test_reference_cfg_tables() -> None:
    assert REFERENCE_IMU.rates_hz == (25.0, 50.0, 100.0, 200.0, 400.0, 800.0)
    assert [r.full_scale for r in REFERENCE_IMU.acc_ranges] == [2.0, 4.0, 8.0, 16.0]
    assert [r.full_scale for r in REFERENCE_IMU.gyr_ranges] == [125.0, 250.0, 500.0, 1000.0, 2000.0]
    s = REFERENCE_IMU.settings_from_cfg(cfg_byte(3, 3, 4))
    assert (s.rate_hz, s.acc.full_scale, s.gyr.full_scale) == (200.0, 16.0, 2000.0)
    s = REFERENCE_IMU.settings_from_cfg(cfg_byte(2, 0, 0))
    assert (s.rate_hz, s.acc.full_scale, s.gyr.full_scale) == (100.0, 2.0, 125.0)


@pytest.mark.parametrize("cfg", [cfg_byte(6, 0, 0), cfg_byte(7, 0, 0), cfg_byte(0, 0, 5), cfg_byte(0, 0, 7)])
def test_reserved_cfg_codes_are_rejected(cfg: int) -> None:
    with pytest.raises(ProfileError, match=f"cfg 0x{cfg:02x}"):
        REFERENCE_IMU.settings_from_cfg(cfg)


@pytest.mark.parametrize("cfg", [-1, 256, True, 3.0])
def test_cfg_must_be_a_byte(cfg: object) -> None:
    with pytest.raises(ProfileError, match=r"0\.\.255"):
        REFERENCE_IMU.settings_from_cfg(cfg)  # type: ignore[arg-type]


def test_vendor_profiles_have_no_cfg_codes() -> None:
    with pytest.raises(ProfileError, match="mbientlab-metamotion"):
        MBIENTLAB_METAMOTION.settings_from_cfg(cfg_byte(3, 3, 4))


@pytest.mark.parametrize("profile", ALL, ids=IDS)
def test_every_profile_cites_sources_and_says_what_is_unverified(profile: DeviceProfile) -> None:
    assert profile.sources and all(s.strip() for s in profile.sources)
    assert "not" in profile.verified.lower()
