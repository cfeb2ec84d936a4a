"""Generate the shared test vectors in ``hardware/test_vectors/`` from the Python codec, the protocol's reference.

Every byte in the vectors comes from :mod:`hardware.protocol` (``encode``, ``crc16``, ``encode_command``) and
:mod:`hardware.framing` (``frame``, i.e. the ``cobs`` package); the C core in ``hardware/firmware/`` is checked
against them by ``tests/hardware/test_firmware.py``, which also checks that the committed files still equal what this
script generates, so the vectors cannot drift from the code.

The packetizer scenario is produced by :class:`DeviceModel`, a small Python statement of the device rules documented
in ``hardware/firmware/core/fg_packetizer.h`` (batching, seq, sample index, START/STOP/SYNC, status, markers,
overflow accounting, the serial command path); it builds every packet with :func:`hardware.protocol.encode`.

Files (all byte strings are lower-case hex, ``""`` for no bytes):

* ``crc16.json``: CRC-16/CCITT-FALSE of chosen inputs.
* ``cobs.json``: COBS encodings, valid and invalid decodings, serial frames and frame errors.
* ``packets.json``: packets of every type with their fields and serial frames; host commands; batch sizes.
* ``packetizer.json``: a device scenario (samples, commands, serial bytes, faults) and the exact packets it emits.

Run:  .venv/bin/python scripts/make_test_vectors.py [--check]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from cobs import cobs
from numpy.typing import NDArray

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hardware.errors import PacketError  # noqa: E402
from hardware.framing import MAX_FRAME_BYTES, Deframer, frame  # noqa: E402
from hardware.protocol import (  # noqa: E402
    MAX_IMU_SAMPLES,
    OUTPUT_RATES_HZ,
    Command,
    ImuPacket,
    Marker,
    MarkerKind,
    Packet,
    SensorConfig,
    Status,
    StatusFlag,
    SyncReply,
    crc16,
    decode_command,
    encode,
    encode_command,
)

VECTOR_DIR = ROOT / "hardware" / "test_vectors"
#: Firmware version the C core reports (FG_FW_VERSION_* in fg_packetizer.h).
FIRMWARE_VERSION = (1, 0, 0)
#: Longest serial command frame the device buffers (FG_CMD_FRAME_MAX in fg_packetizer.h).
CMD_FRAME_MAX = 16
#: ATT bytes before a notification's payload, and the largest non-IMU packet (a status packet).
ATT_OVERHEAD = 3
MAX_CONTROL_PACKET = 30
U32 = 1 << 32


def _hex(data: bytes) -> str:
    return data.hex()


def _counts(n: int, seed: int) -> list[list[int]]:
    """Deterministic int16 counts (no RNG whose stream could change between library versions)."""
    rows = [
        [((seed * 1_000_003 + i * 7919 + j * 104_729) * 2_654_435_761) % 65536 - 32768 for j in range(6)]
        for i in range(n)
    ]
    rows[0] = [-32768, 32767, 0, -1, 1, 256]  # the extremes and both byte orders in every packet
    return rows


def _count_array(n: int, seed: int) -> NDArray[np.int16]:
    return np.array(_counts(n, seed), dtype=np.int16)


# ------------------------------------------------------------------------------------------------------------ CRC
def crc_vectors() -> dict[str, Any]:
    inputs: list[tuple[str, bytes]] = [
        ("check_123456789", b"123456789"),
        ("empty", b""),
        ("one_zero", b"\x00"),
        ("one_ff", b"\xff"),
        ("zeros_16", bytes(16)),
        ("zeros_508", bytes(508)),
        ("ff_16", b"\xff" * 16),
        ("ff_508", b"\xff" * 508),
        ("ramp_0_255", bytes(range(256))),
        ("ascii_odd_length", b"FusionGait"),
    ]
    return {
        "description": "CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor), from "
        "hardware.protocol.crc16 (binascii.crc_hqx).",
        "cases": [{"name": name, "data": _hex(data), "crc": f"{crc16(data):04x}"} for name, data in inputs],
    }


# ----------------------------------------------------------------------------------------------------------- COBS
def _nonzero(n: int, start: int = 1) -> bytes:
    return bytes((start + i) % 255 + 1 for i in range(n))


def cobs_vectors() -> dict[str, Any]:
    data_cases: list[tuple[str, bytes]] = [
        ("empty", b""),
        ("single_zero", b"\x00"),
        ("two_zeros", b"\x00\x00"),
        ("three_zeros", b"\x00\x00\x00"),
        ("single_nonzero", b"\x11"),
        ("nonzero_then_zero", b"\x11\x00"),
        ("zero_then_nonzero", b"\x00\x11"),
        ("zeros_every_third", bytes(0 if i % 3 == 2 else i + 1 for i in range(30))),
        ("nonzero_253", _nonzero(253)),
        ("nonzero_254", _nonzero(254)),
        ("nonzero_255", _nonzero(255)),
        ("nonzero_253_then_zero", _nonzero(253) + b"\x00"),
        ("nonzero_254_then_zero", _nonzero(254) + b"\x00"),
        ("nonzero_254_then_zero_then_byte", _nonzero(254) + b"\x00\x07"),
        ("zero_then_nonzero_254", b"\x00" + _nonzero(254)),
        ("nonzero_508", _nonzero(508)),
        ("nonzero_509_max_frame", _nonzero(509)),
        ("nonzero_510", _nonzero(510)),
        ("zeros_511_max_frame", bytes(511)),
        ("zeros_512", bytes(512)),
        ("ramp_0_255_twice", bytes(range(256)) * 2),
    ]
    encode_cases = [{"name": n, "data": _hex(d), "encoded": _hex(cobs.encode(d))} for n, d in data_cases]
    # Valid encodings the encoder never produces, and invalid ones; the expected result comes from cobs.decode.
    extra_decode: list[tuple[str, bytes]] = [
        ("empty_input", b""),
        ("code_ff_then_code_01", b"\xff" + _nonzero(254) + b"\x01"),
        ("zero_byte_alone", b"\x00"),
        ("zero_inside_block", b"\x03\x00\x61"),
        ("zero_as_second_code", b"\x01\x00"),
        ("block_runs_past_end", b"\x05\x61\x62"),
        ("code_ff_alone", b"\xff"),
        ("zero_inside_and_past_end", b"\x05\x00\x61"),
        ("trailing_zero_delimiter_left_in", b"\x02\x61\x00"),
    ]
    decode_cases: list[dict[str, Any]] = []
    for name, enc in [(c["name"], bytes.fromhex(c["encoded"])) for c in encode_cases] + extra_decode:
        try:
            decode_cases.append({"name": name, "encoded": _hex(enc), "data": _hex(cobs.decode(enc)), "error": None})
        except cobs.DecodeError as exc:
            kind = "zero" if "zero byte" in str(exc) else "short"
            decode_cases.append({"name": name, "encoded": _hex(enc), "data": None, "error": kind})
    frames: list[dict[str, Any]] = []
    for name, data in data_cases:
        if not data:
            frames.append({"name": name, "packet": "", "frame": None, "error": "empty"})
        elif len(cobs.encode(data)) > MAX_FRAME_BYTES:
            frames.append({"name": name, "packet": _hex(data), "frame": None, "error": "too_long"})
        else:
            frames.append({"name": name, "packet": _hex(data), "frame": _hex(frame(data)), "error": None})
    return {
        "description": "COBS from the Python cobs package (hardware.framing); frames are COBS(packet) || 00 with the "
        f"{MAX_FRAME_BYTES}-byte cap on the encoding. Decode errors: 'zero' = zero byte in the input, 'short' = a "
        "block runs past the end (checked before the zero bytes of that block, as the package's C extension does; its "
        "pure-Python fallback names the zero byte for zero_inside_and_past_end).",
        "max_frame_bytes": MAX_FRAME_BYTES,
        "encode": encode_cases,
        "decode": decode_cases,
        "frames": frames,
    }


# -------------------------------------------------------------------------------------------------------- packets
def packet_fields(p: Packet) -> dict[str, Any]:
    """The fields of a packet, as the C harness takes them."""
    out: dict[str, Any] = {
        "sensor_id": p.sensor_id,
        "seq": p.seq,
        "sample_idx": p.sample_idx,
        "t_us": p.t_us,
        "cfg": p.config.cfg,
    }
    if isinstance(p, ImuPacket):
        out |= {"type": "imu6", "counts": p.counts.tolist()}
    elif isinstance(p, SyncReply):
        out |= {"type": "sync_reply", "token": p.token, "t_rx_us": p.t_rx_us, "t_tx_us": p.t_tx_us}
    elif isinstance(p, Status):
        out |= {
            "type": "status",
            "battery_pct": p.battery_pct,
            "flags": p.flags,
            "battery_mv": p.battery_mv,
            "firmware": list(p.firmware),
            "overflow_samples": p.overflow_samples,
            "temperature_cdeg": p.temperature_cdeg,
        }
    else:
        out |= {"type": "marker", "kind": int(p.kind), "value": p.value}
    return out


def _cfg(rate_hz: float, acc_g: int = 16, gyr_dps: int = 2000) -> SensorConfig:
    return SensorConfig(rate_hz, acc_g, gyr_dps)


def batch_size(rate_code: int, att_mtu: int) -> int:
    """Samples per IMU6 packet: 20 packets/s from the rate, and what fits one notification (0: nothing fits).

    The rule of PROTOCOL.md §1 (n = 10 at 200 Hz, 5 at 100 Hz; MTU 139 → n ≤ 10), as ``fg_batch_size`` does it.
    """
    if not 0 <= rate_code < len(OUTPUT_RATES_HZ):
        return 0
    n = max(1, int(OUTPUT_RATES_HZ[rate_code]) // 20)
    if att_mtu:
        if att_mtu - ATT_OVERHEAD < MAX_CONTROL_PACKET:
            return 0
        n = min(n, (att_mtu - ATT_OVERHEAD - 16) // 12)
    return min(n, MAX_IMU_SAMPLES)


def packet_vectors() -> dict[str, Any]:
    imu = [
        ("imu6_n1", ImuPacket(0, 0, 0, 0, _cfg(100.0), _count_array(1, 1))),
        ("imu6_n5_100hz", ImuPacket(1, 17, 1000, 10_000_000, _cfg(100.0), _count_array(5, 2))),
        ("imu6_n10_200hz", ImuPacket(2, 0x1234, 0x00ABCDEF, 0x7FFFFFFF, _cfg(200.0, 8, 500), _count_array(10, 3))),
        ("imu6_n41_max", ImuPacket(2, 999, 123_456_789, 3_000_000_000, _cfg(800.0, 2, 125), _count_array(41, 4))),
        ("imu6_seq_wrap_last", ImuPacket(0, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, _cfg(25.0, 4, 250), _count_array(5, 5))),
        ("imu6_seq_wrap_first", ImuPacket(0, 0x0000, 4, 0x00001387, _cfg(25.0, 4, 250), _count_array(5, 6))),
        (
            "imu6_sensor_ff_cfg_1000dps",
            ImuPacket(0xFF, 0x8000, 0x80000000, 0x80000000, _cfg(50.0, 16, 1000), _count_array(2, 7)),
        ),
    ]
    others: list[tuple[str, Packet]] = [
        ("sync_reply", SyncReply(1, 42, 5000, 50_001_234, _cfg(100.0), 0xDEADBEEF, 50_001_000, 50_001_234)),
        ("sync_reply_wraps", SyncReply(2, 0xFFFF, 0xFFFFFFFF, 0x00000010, _cfg(200.0), 0xFFFFFFFF, 0xFFFFFFF0, 0x10)),
        ("sync_reply_zeros", SyncReply(0, 0, 0, 0, _cfg(25.0, 2, 125), 0, 0, 0)),
        ("status_start", Status(0, 0, 0, 1234, _cfg(100.0), 87, 0, 3950, FIRMWARE_VERSION, 0, 3125)),
        (
            "status_flags_overflow",
            Status(
                1,
                0xFFFF,
                0xFFFFFFFF,
                0xFFFFFFFF,
                _cfg(200.0),
                100,
                int(StatusFlag.CHARGING | StatusFlag.IMU_ERROR | StatusFlag.BUFFER_OVERFLOW),
                0xFFFF,
                (255, 254, 253),
                0xFFFFFFFF,
                -32768,
            ),
        ),
        ("status_cold", Status(2, 7, 10, 20, _cfg(50.0), 0, 0, 0, (0, 0, 0), 0, -1)),
        ("marker_button", Marker(0, 3, 2500, 25_000_000, _cfg(100.0), MarkerKind.BUTTON, 1)),
        ("marker_stomp", Marker(1, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, _cfg(200.0), MarkerKind.STOMP, 0xFF)),
        ("marker_host", Marker(2, 0, 0, 0, _cfg(25.0), MarkerKind.HOST, 0)),
    ]
    packets = [
        {"name": name, **packet_fields(p), "packet": _hex(encode(p)), "frame": _hex(frame(encode(p)))}
        for name, p in [*imu, *others]
    ]
    commands: list[dict[str, Any]] = []
    for name, command, token in [
        ("start", Command.START, 0),
        ("stop", Command.STOP, 0),
        ("sync_token_0", Command.SYNC, 0),
        ("sync_token_deadbeef", Command.SYNC, 0xDEADBEEF),
        ("sync_token_max", Command.SYNC, 0xFFFFFFFF),
    ]:
        data = encode_command(command, token)
        commands.append(
            {"name": name, "bytes": _hex(data), "frame": _hex(frame(data)), "command": int(command), "token": token}
        )
    bad_commands: list[dict[str, Any]] = []
    for name, data in [
        ("empty", b""),
        ("unknown_byte", b"\x7f"),
        ("unknown_zero", b"\x00"),
        ("start_too_long", b"\x01\x00"),
        ("stop_too_long", b"\x02\x02"),
        ("sync_too_short", b"\x21\x01\x02\x03"),
        ("sync_too_long", b"\x21\x01\x02\x03\x04\x05"),
        ("sync_alone", b"\x21"),
    ]:
        try:
            decode_command(data)
        except PacketError as exc:
            kind = "length" if str(exc).startswith(tuple(c.name for c in Command)) else "unknown"
            bad_commands.append({"name": name, "bytes": _hex(data), "error": kind})
        else:
            raise AssertionError(f"command {name} should be rejected")
    mtus = [0, 23, 27, 32, 33, 34, 43, 100, 139, 185, 247, 251, 512, 517, 65535]
    return {
        "description": "Packets of every type encoded by hardware.protocol.encode, with their serial frames "
        "(hardware.framing.frame); host commands (encode_command) and rejected writes (decode_command); samples per "
        "packet for each rate code and ATT MTU (0 = no MTU, the serial path).",
        "packets": packets,
        "commands": commands,
        "bad_commands": bad_commands,
        "batch_size": [{"rate_code": r, "att_mtu": m, "n": batch_size(r, m)} for r in range(8) for m in mtus],
    }


# ------------------------------------------------------------------------------------------------------ packetizer
@dataclass
class DeviceModel:
    """The device rules of ``fg_packetizer.h``, in Python, building every packet with :func:`encode`.

    Drive it with :meth:`apply` and the scenario events; :attr:`sent` collects what the sink accepted.
    """

    sensor_id: int
    cfg: int
    per_packet: int
    clock_us: int = 0
    sink_ok: bool = True
    battery: tuple[int, int, int, int] = (0, 0, 0, 0)  # pct, mV, flags, temperature
    streaming: bool = False
    seq: int = 0
    next_idx: int = 0
    pending: list[list[int]] = field(default_factory=list)
    pending_idx: int = 0
    pending_t_us: int = 0
    overflow_samples: int = 0
    overflow_since_status: bool = False
    rx: Deframer = field(default_factory=lambda: Deframer(max_frame_bytes=CMD_FRAME_MAX))
    sent: list[bytes] = field(default_factory=list)

    @property
    def config(self) -> SensorConfig:
        return SensorConfig.from_cfg(self.cfg)

    def _send(self, packet: Packet) -> bool:
        if not self.sink_ok:
            return False
        self.sent.append(encode(packet))
        self.seq = (self.seq + 1) % 65536
        return True

    def _flush(self) -> None:
        if not self.pending:
            return
        counts = np.array(self.pending, dtype=np.int16)
        n = len(self.pending)
        self.pending = []
        if not self._send(
            ImuPacket(self.sensor_id, self.seq, self.pending_idx, self.pending_t_us, self.config, counts)
        ):
            self.overflow_samples += n
            self.overflow_since_status = True

    def _status(self) -> None:
        pct, mv, flags, temp = self.battery
        flags &= ~int(StatusFlag.BUFFER_OVERFLOW)
        if self.overflow_since_status:
            flags |= int(StatusFlag.BUFFER_OVERFLOW)
        packet = Status(
            self.sensor_id,
            self.seq,
            self.next_idx,
            self.clock_us,
            self.config,
            min(pct, 100),
            flags,
            mv,
            FIRMWARE_VERSION,
            self.overflow_samples,
            temp,
        )
        if self._send(packet):
            self.overflow_since_status = False

    def command(self, data: bytes, t_rx_us: int) -> None:
        try:
            cmd = decode_command(data)
        except PacketError:
            return
        if cmd.command is Command.START:
            self.streaming = True
            self._status()
        elif cmd.command is Command.STOP:
            if self.streaming:
                self._flush()
            self.streaming = False
        else:
            t_tx = self.clock_us
            self._send(SyncReply(self.sensor_id, self.seq, self.next_idx, t_tx, self.config, cmd.token, t_rx_us, t_tx))

    def apply(self, event: dict[str, Any]) -> None:
        """Run one scenario event (see :func:`packetizer_vectors` for the kinds)."""
        op = event["op"]
        if op == "clock":
            self.clock_us = event["t_us"]
        elif op == "sink":
            self.sink_ok = event["ok"]
        elif op == "battery":
            self.battery = (event["battery_pct"], event["battery_mv"], event["flags"], event["temperature_cdeg"])
        elif op == "sample":
            idx = self.next_idx
            self.next_idx = (idx + 1) % U32
            if self.streaming:
                if not self.pending:
                    self.pending_idx, self.pending_t_us = idx, event["t_us"]
                self.pending.append(event["counts"])
                if len(self.pending) >= self.per_packet:
                    self._flush()
        elif op == "cmd":
            self.command(bytes.fromhex(event["bytes"]), event["t_rx_us"])
        elif op == "serial_rx":
            for data in self.rx.feed(bytes.fromhex(event["bytes"])):
                self.command(data, event["t_rx_us"])
        elif op == "status":
            if self.streaming:
                self._status()
        elif op == "marker":
            if self.streaming:
                kind = MarkerKind(event["kind"])
                self._send(
                    Marker(self.sensor_id, self.seq, self.next_idx, self.clock_us, self.config, kind, event["value"])
                )
        elif op == "configure":
            self._flush()
            self.cfg, self.per_packet = event["cfg"], event["samples_per_packet"]
        elif op == "link_lost":
            self.streaming = False
            self.pending = []
            self.rx = Deframer(max_frame_bytes=CMD_FRAME_MAX)
        elif op == "set_counters":
            self.seq, self.next_idx = event["seq"], event["sample_idx"]
        else:
            raise ValueError(f"event: unknown op {op!r}")


def _scenario() -> list[dict[str, Any]]:
    """Samples, commands, serial bytes and faults, in device time."""
    cfg100 = _cfg(100.0).cfg
    cfg200 = _cfg(200.0).cfg
    events: list[dict[str, Any]] = []
    t = {"us": 1_000_000, "k": 0}

    def samples(count: int, period_us: int = 10_000) -> None:
        for _ in range(count):
            row = _counts(2, 100 + t["k"])[1]
            row[t["k"] % 6] = [-32768, 32767, 0, -1][t["k"] % 4]
            events.append({"op": "sample", "t_us": t["us"] % U32, "counts": row})
            t["us"] += period_us
            t["k"] += 1

    def at(dt_us: int) -> int:
        now = (t["us"] + dt_us) % U32
        events.append({"op": "clock", "t_us": now})
        return now

    def cmd(data: bytes) -> None:
        """A BLE write arriving 150 us after the last sample, handled 150 us later."""
        t_rx = (t["us"] + 150) % U32
        at(300)
        events.append({"op": "cmd", "bytes": _hex(data), "t_rx_us": t_rx})

    events.append({"op": "dev_init", "sensor_id": 1, "cfg": cfg100, "samples_per_packet": 5})
    events.append({"op": "battery", "battery_pct": 87, "battery_mv": 3950, "flags": 0, "temperature_cdeg": 3125})
    samples(3)  # before START: not sent, but they take sample indices 0..2
    cmd(encode_command(Command.SYNC, 0xDEADBEEF))  # SYNC works while stopped
    cmd(encode_command(Command.START))  # status packet first
    samples(12)  # two packets of 5, two samples pending
    at(200)
    events.append({"op": "marker", "kind": int(MarkerKind.BUTTON), "value": 1})
    cmd(encode_command(Command.SYNC, 0x01020304))
    samples(5)  # a third packet, two samples pending
    cmd(encode_command(Command.STOP))  # the partial batch (n=2) is sent, then nothing
    samples(4)  # stopped: indices advance, nothing is sent
    events.append({"op": "marker", "kind": int(MarkerKind.STOMP), "value": 2})  # stopped: no marker
    for bad in (b"\x7f", b"\x21\x01\x02", b"\x01\x01", b""):
        cmd(bad)  # ignored
    # START over the serial path, after garbage, an oversize frame and a bad COBS frame.
    garbage = b"\x17\x42" + b"\x00" + b"\x33" * 40 + b"\x00" + b"\x05\x01\x00"
    events.append({"op": "serial_rx", "bytes": _hex(garbage + frame(encode_command(Command.START))), "t_rx_us": at(0)})
    samples(5)
    events.append({"op": "sink", "ok": False})  # the link is congested: the next packet is dropped
    samples(5)
    events.append({"op": "sink", "ok": True})
    at(500)
    events.append({"op": "status"})  # reports the 5 dropped samples, overflow flag set
    samples(3)
    # A serial SYNC split across two chunks.
    sync_frame = frame(encode_command(Command.SYNC, 0xCAFEF00D))
    events.append({"op": "serial_rx", "bytes": _hex(sync_frame[:3]), "t_rx_us": at(0)})
    events.append({"op": "serial_rx", "bytes": _hex(sync_frame[3:]), "t_rx_us": at(100)})
    at(200)
    events.append({"op": "status"})  # overflow flag now clear, count still 5
    events.append({"op": "configure", "cfg": cfg200, "samples_per_packet": 10})  # sends the 3 pending samples
    samples(10, 5000)
    # Wraps: seq 0xFFFE.., sample index and device clock near 2^32.
    events.append({"op": "set_counters", "seq": 0xFFFE, "sample_idx": 0xFFFFFFF6})
    t["us"] = U32 - 20_000
    samples(30, 5000)
    at(100)
    events.append({"op": "marker", "kind": int(MarkerKind.HOST), "value": 0xFF})
    samples(4, 5000)
    events.append({"op": "link_lost"})  # the 4 pending samples are dropped with the link
    samples(2, 5000)
    cmd(encode_command(Command.START))
    samples(7, 5000)
    cmd(encode_command(Command.START))  # a repeated START only sends a status
    samples(3, 5000)
    cmd(encode_command(Command.STOP))
    cmd(encode_command(Command.STOP))  # nothing pending, nothing sent
    return events


def run_scenario(events: list[dict[str, Any]]) -> list[bytes]:
    """Packets the device model sends for a scenario."""
    first = events[0]
    if first["op"] != "dev_init":
        raise ValueError("scenario: the first event must be dev_init")
    model = DeviceModel(first["sensor_id"], first["cfg"], first["samples_per_packet"])
    for event in events[1:]:
        model.apply(event)
    return model.sent


def packetizer_vectors() -> dict[str, Any]:
    events = _scenario()
    packets = run_scenario(events)
    return {
        "description": "A device scenario and the exact packets it emits, from DeviceModel in "
        "scripts/make_test_vectors.py (the rules of hardware/firmware/core/fg_packetizer.h) built with "
        "hardware.protocol.encode. Events: dev_init, battery (what the board's read_status returns), clock (what "
        "now_us returns), sample, cmd (a BLE write at t_rx_us), serial_rx (bytes on the serial path), status, "
        "marker, sink (whether the sink accepts packets), configure, link_lost, set_counters (test hook).",
        "events": events,
        "packets": [_hex(p) for p in packets],
        "serial_stream": _hex(b"".join(frame(p) for p in packets)),
    }


# ------------------------------------------------------------------------------------------------------------ files
BUILDERS: dict[str, Callable[[], dict[str, Any]]] = {
    "crc16.json": crc_vectors,
    "cobs.json": cobs_vectors,
    "packets.json": packet_vectors,
    "packetizer.json": packetizer_vectors,
}


def _scalar_list(value: Any) -> bool:
    return isinstance(value, list) and not any(isinstance(v, dict | list) for v in value)


def _dump(value: Any, indent: int = 0) -> str:
    """JSON with containers indented and lists of plain values on one line (readable, stable diffs)."""
    pad = " " * indent
    flat = json.dumps(value)
    flat_dict = isinstance(value, dict) and all(
        not isinstance(v, dict | list) or _scalar_list(v) for v in value.values()
    )
    if flat_dict and len(flat) + indent < 110:
        return flat
    if isinstance(value, dict) and value:
        items = [f"{pad} {json.dumps(k)}: {_dump(v, indent + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list) and value and not _scalar_list(value):
        items = [f"{pad} {_dump(v, indent + 1)}" for v in value]
        return "[\n" + ",\n".join(items) + f"\n{pad}]"
    return flat


def render() -> dict[str, str]:
    """File name → file text of every vector file."""
    return {name: _dump(build()) + "\n" for name, build in BUILDERS.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail if the committed files differ; write nothing")
    parser.add_argument("--out", type=Path, default=VECTOR_DIR)
    args = parser.parse_args(argv)
    stale = []
    for name, text in render().items():
        path = args.out / name
        if args.check:
            if not path.is_file() or path.read_text() != text:
                stale.append(name)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    if stale:
        print(f"stale test vectors: {', '.join(stale)}; run scripts/make_test_vectors.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
