"""Vendor files built exactly as their makers document them (docs/interop.md names each source), from a Recording.

No vendor file can be downloaded here; these builders write what the documentation (or the vendor's own logger code)
describes, byte for byte where it is specified, so the readers are tested on that layout.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from gait.recording import Recording

T0_S = 1_772_409_600.0  # 2026-03-02 00:00 UTC: vendor clocks are POSIX times


def times_s(rec: Recording) -> np.ndarray:
    return T0_S + rec.time_s


def write_apdm(
    path: Path,
    rec: Recording,
    labels: dict[str, str],
    *,
    gyr_factor: float = math.pi / 180.0,
    acc_factor: float = 1.0,
    units_attrs: bool = True,
    extra: dict[str, np.ndarray] | None = None,
) -> Path:
    """APDM Opal HDF5, format version 5: /Sensors/<serial>/{Accelerometer,Gyroscope,Time,Configuration}."""
    import h5py

    t_us = np.round(times_s(rec) * 1e6).astype(np.uint64)
    with h5py.File(path, "w") as h5:
        h5.attrs["FileFormatVersion"] = np.int32(5)
        sensors = h5.create_group("Sensors")
        for k, placement in enumerate(rec.placements):
            group = sensors.create_group(str(1200 + k))
            group.create_dataset("Time", data=t_us)
            acc = group.create_dataset("Accelerometer", data=(rec.acc_mps2[k] * acc_factor).astype(np.float32))
            gyr = group.create_dataset("Gyroscope", data=(rec.gyr_dps[k] * gyr_factor).astype(np.float32))
            if units_attrs:
                acc.attrs["Units"] = np.bytes_("m/s^2")
                gyr.attrs["Units"] = np.bytes_("rad/s")
            group.create_dataset("Magnetometer", data=np.zeros((rec.n_samples, 3), np.float32))
            config = group.create_group("Configuration")
            config.attrs["Label 0"] = np.bytes_(labels[placement])
            config.attrs["Sample Rate"] = np.uint16(round(rec.sampling_rate_hz))
        for label, acc in (extra or {}).items():  # e.g. a foot sensor the analysis does not use
            group = sensors.create_group("9999")
            group.create_dataset("Time", data=t_us)
            group.create_dataset("Accelerometer", data=acc)
            group.create_dataset("Gyroscope", data=np.zeros_like(acc))
            group.create_group("Configuration").attrs["Label 0"] = np.bytes_(label)
    return path


def write_ximu3_device(folder: Path, rec: Recording, k: int, name: str, *, serial: str = "673B204B") -> Path:
    """One x-IMU3 device folder of a data-logger session: Inertial.csv (us, deg/s, g) and Command.json."""
    device = folder / f"x-IMU3 {serial} (UDP)"
    device.mkdir(parents=True, exist_ok=True)
    (device / "Command.json").write_text(
        json.dumps([{"ping": {"interface": "UDP", "name": name, "sn": serial}}, {"time": "2026-03-02 00:00:00"}])
    )
    t_us = np.round((rec.time_s + 19.150794) * 1e6).astype(np.int64)  # device clock since power-on
    lines = [
        "Timestamp (us),Gyroscope X (deg/s),Gyroscope Y (deg/s),Gyroscope Z (deg/s),"
        "Accelerometer X (g),Accelerometer Y (g),Accelerometer Z (g)"
    ]
    acc_g = rec.acc_mps2[k] / 9.80665
    for i in range(rec.n_samples):
        g, a = rec.gyr_dps[k, i], acc_g[i]
        lines.append(f"{t_us[i]},{g[0]:.6f},{g[1]:.6f},{g[2]:.6f},{a[0]:.6f},{a[1]:.6f},{a[2]:.6f}")
    (device / "Inertial.csv").write_text("\n".join(lines) + "\n")
    (device / "Quaternion.csv").write_text("Timestamp (us),W,X,Y,Z\n19150794,1,0,0,0\n")
    return device


def movella_text(rec: Recording, k: int, tag: str, *, t0_us: int = 0, rate_hz: int = 100) -> str:
    """A Movella DOT export as XsensDotLogger writes it (custom mode 5: quaternion, Acc m/s², Gyr deg/s)."""
    pad = ",,,,,,,,,,,,,,,,,"
    head = [
        "sep=,",
        f"DeviceTag:,{tag}{pad}",
        f"FirmwareVersion:,2.6.0{pad}",
        f"AppVersion:,2023.6.0{pad}",
        f"SyncStatus:,Synced{pad}",
        f"OutputRate:,{rate_hz}Hz{pad}",
        f"FilterProfile:,General{pad}",
        f"Measurement Mode:,Custom Mode 5{pad}",
        f"StartTime:,2026-03-02 00:00:00.000 +0000{pad}",
        f"Movella Technologies B. V. 2005-2026,,{pad}",
        "",
        "PacketCounter,SampleTimeFine,Quat_W,Quat_X,Quat_Y,Quat_Z,Acc_X,Acc_Y,Acc_Z,Gyr_X,Gyr_Y,Gyr_Z",
    ]
    t_us = (t0_us + np.round(rec.time_s * 1e6).astype(np.int64)) % 2**32
    rows = []
    for i in range(rec.n_samples):
        a, g = rec.acc_mps2[k, i], rec.gyr_dps[k, i]
        rows.append(
            f"{i},{t_us[i]},1.000000,0.000000,0.000000,0.000000,{a[0]:.6f},{a[1]:.6f},{a[2]:.6f},"
            f"{g[0]:.6f},{g[1]:.6f},{g[2]:.6f}"
        )
    return "\n".join(head + rows) + "\n"


def write_metawear(folder: Path, rec: Recording, k: int, device: str, *, gyr_step: int = 1) -> tuple[Path, Path]:
    """A MetaWear as MetaBase exports it: <device>_<date>_<MAC>_Accelerometer/Gyroscope_<rate>Hz_<ver>.csv."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{device}_2026-03-02T00.00.00.000_C8F1A2B3C4D{k}"
    epoch_ms = np.round(times_s(rec) * 1e3).astype(np.int64)
    acc_g = rec.acc_mps2[k] / 9.80665
    paths = []
    for signal, data, unit, step in (
        ("Accelerometer", acc_g, "g", 1),
        ("Gyroscope", rec.gyr_dps[k], "deg/s", gyr_step),
    ):
        rate = rec.sampling_rate_hz / step
        lines = [f"epoch (ms),time (00:00),elapsed (s),x-axis ({unit}),y-axis ({unit}),z-axis ({unit})"]
        for i in range(0, rec.n_samples, step):
            v = data[i]
            lines.append(
                f"{epoch_ms[i]},2026-03-02T00.00.00.000,{(epoch_ms[i] - epoch_ms[0]) / 1e3:.3f},"
                f"{v[0]:.3f},{v[1]:.3f},{v[2]:.3f}"
            )
        path = folder / f"{stem}_{signal}_{rate:.3f}Hz_1.7.3.csv"
        path.write_text("\n".join(lines) + "\n")
        paths.append(path)
    return paths[0], paths[1]
