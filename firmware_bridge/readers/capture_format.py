"""Read a capture file (``.imucap``, hardware/PROTOCOL.md §5) into a :class:`~gait.recording.Recording`.

The capture holds every packet as it arrived and every command the host sent. Reading it redoes offline exactly what
the live bridge does (the same :class:`~firmware_bridge.stream.SensorStream` per link): decode, reassemble with gaps
and reboots, pair the sync pings with their replies, fit each device clock onto the host clock, and resample all
sensors onto one time base. A capture still being written reads up to its last whole record.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from firmware_bridge.errors import InputFileError
from firmware_bridge.stream import SensorHealth, SensorStream
from firmware_bridge.timeline import to_recording
from gait.errors import RecordingError
from gait.recording import Recording
from hardware.capture import Capture, Source, parse_capture
from hardware.errors import HardwareError, PacketError
from hardware.protocol import Command, decode_command

__all__ = ["AssembledCapture", "assemble_capture", "read_capture"]

PathLike = str | os.PathLike[str]


@dataclass(frozen=True, eq=False, slots=True)
class AssembledCapture:
    """A capture turned into a Recording, with what happened on each link.

    Attributes
    ----------
    recording : Recording
    health : dict of placement to SensorHealth
    warnings : list of str
        One line each: losses, rejects, reboots, clock-sync quality, a torn tail, unknown links.
    streams : dict of placement to SensorStream
        The links as reassembled (samples on the host clock, clock fits), for callers that need more than the grid.
    """

    recording: Recording
    health: dict[str, SensorHealth]
    warnings: list[str]
    streams: dict[str, SensorStream]


def assemble_capture(capture: Capture, *, name: str = "capture") -> AssembledCapture:
    """Reassemble and synchronise a parsed capture (see the module docstring).

    Parameters
    ----------
    capture : Capture
    name : str
        How to call the capture in messages (its file name).

    Raises
    ------
    InputFileError
        When no sensor has enough samples for a Recording.
    """
    streams = {s.sensor_id: SensorStream(s.sensor_id, s.placement) for s in capture.header.sensors}
    warnings: list[str] = []
    decoded = capture.decode()
    t_host_us = capture.t_host_ns / 1e3
    link_of = capture.sensor_id

    imu = decoded.imu
    link = link_of[imu.position]
    unknown = sorted(set(np.unique(link_of[capture.source != Source.HOST_COMMAND]).tolist()) - set(streams))
    if unknown:
        warnings.append(f"{name}: records of sensor ids {unknown} that the header does not list were ignored")
    mislabeled = imu.sensor_id != link
    for sid, stream in streams.items():
        mine = link == sid
        stream.add_imu(imu.take(mine & ~mislabeled), t_host_us[imu.position[mine & ~mislabeled]])
        for claimed in imu.sensor_id[mine & mislabeled]:
            stream.add_rejected(f"packet says sensor {int(claimed)} on the link of sensor {sid}")
    for rejection in decoded.rejected:
        sid = int(link_of[rejection.position])
        if sid in streams:
            streams[sid].add_rejected(rejection.reason)

    # Pings and the other packet types, in file order (a reply pairs with the ping sent before it).
    events: list[tuple[int, int, object]] = [(pos, 1, packet) for pos, packet in decoded.others]
    for pos in np.flatnonzero(capture.source == Source.HOST_COMMAND).tolist():
        try:
            command = decode_command(capture.packet(pos))
        except PacketError:
            continue
        if command.command is Command.SYNC:
            events.append((pos, 0, command.token))
    events.sort(key=lambda e: e[0])
    for pos, kind, item in events:
        target = streams.get(int(link_of[pos]))
        if target is None:
            continue
        if kind == 0:
            assert isinstance(item, int)
            target.add_ping_sent(item, float(t_host_us[pos]))
        else:
            target.add_other(item, float(t_host_us[pos]), position=pos)  # type: ignore[arg-type]

    health = {stream.placement: stream.health() for stream in streams.values()}
    samples = [stream.samples() for stream in streams.values()]
    for h in health.values():
        warnings.extend(_health_warnings(name, h))
    if capture.torn_tail_bytes:
        warnings.append(
            f"{name}: the file ends in the middle of a record ({capture.torn_tail_bytes} bytes ignored): it was cut "
            "short or is still being written"
        )
    empty = [s.placement for s in samples if s.host_us.size < 2]
    if len(empty) == len(samples):
        raise InputFileError("no sensor has any IMU samples", path=name)
    for placement in empty:
        warnings.append(f"{name}: sensor {placement!r} has no IMU samples and is left out")
    pairs = capture.header.clock_pairs
    offset_ns = pairs[0][0] - pairs[0][1] if pairs else None
    try:
        recording = to_recording(samples, wall_clock_offset_ns=offset_ns, source=name)
    except RecordingError as exc:
        raise InputFileError(str(exc), path=name) from None
    return AssembledCapture(recording, health, warnings, {s.placement: s for s in streams.values()})


def _health_warnings(name: str, h: SensorHealth) -> list[str]:
    out = []
    where = f"{name}, sensor {h.placement!r}"
    if h.lost_samples:
        out.append(f"{where}: {h.lost_samples} samples lost in {h.gaps} gaps ({h.loss_pct:.2f} %), kept as gaps")
    if h.rejected_packets:
        reasons = "; ".join(f"{n}× {r}" for r, n in sorted(h.rejected_reasons.items(), key=lambda kv: -kv[1])[:3])
        out.append(f"{where}: {h.rejected_packets} packets rejected ({reasons})")
    if h.mismatched_duplicates:
        out.append(
            f"{where}: {h.mismatched_duplicates} duplicated packets differed from the first copy (kept the first)"
        )
    if h.reboots:
        out.append(f"{where}: the sensor restarted {h.reboots} time(s); each restart begins a new clock segment")
    if h.packets and h.sync_method == "envelope":
        out.append(
            f"{where}: no usable sync pings; timing rests on packet arrival times alone (off by the link's smallest "
            "latency, a few ms on USB, up to a BLE connection interval)"
        )
    return out


def read_capture(path: PathLike) -> tuple[Recording, list[str]]:
    """Read a capture file into a Recording.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    recording : Recording
        The sensors of the header, on one time base, in the sensor frame.
    warnings : list of str

    Raises
    ------
    InputFileError
        When the file cannot be read or is not a capture.
    """
    file_path = Path(path)
    try:
        data = file_path.read_bytes()
    except OSError as exc:
        raise InputFileError(f"cannot read the file: {exc.strerror or exc}", path=file_path) from None
    try:
        capture = parse_capture(data)
    except HardwareError as exc:
        raise InputFileError(str(exc), path=file_path) from None
    assembled = assemble_capture(capture, name=str(file_path))
    return assembled.recording, assembled.warnings
