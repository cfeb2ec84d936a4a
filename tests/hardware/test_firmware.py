"""The C firmware core agrees byte-for-byte with the Python codec (PROTOCOL.md §1-2, issue 5).

The core in ``hardware/firmware/core`` is compiled once per module with the host's gcc (``make -C hardware/firmware``:
``-std=c11 -Wall -Wextra -Werror -pedantic -O2`` and a second build with ``-fsanitize=address,undefined``). The
shared vectors in ``hardware/test_vectors`` (generated from the Python codec by ``scripts/make_test_vectors.py``) are
run through the stdin/stdout harness of both builds; a hypothesis test drives the packetizer through ctypes and
decodes its output with :func:`hardware.protocol.decode_packets`.
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware.framing import MAX_FRAME_BYTES
from hardware.protocol import (
    CRC_SIZE,
    HEADER_SIZE,
    MAX_IMU_SAMPLES,
    Command,
    SensorConfig,
    SyncReply,
    decode,
    decode_packets,
    encode_command,
)

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "hardware" / "firmware"
VECTORS = ROOT / "hardware" / "test_vectors"
U32 = 1 << 32
# fg_err_t codes (core/fg_common.h).
ERR = {"arg": -1, "zero": -3, "short": -4, "too_long": -5, "empty": -1, "unknown": -6, "length": -7}


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_test_vectors", ROOT / "scripts" / "make_test_vectors.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


SCRIPT = _load_script()


def _vectors(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / name).read_text())
    return data


def _h(hex_bytes: str) -> str:
    return hex_bytes or "-"


# ---------------------------------------------------------------------------------------------------------- build
@dataclass(frozen=True)
class Build:
    library: Path
    harness: Path
    sanitized: Path | None
    sanitize_error: str


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed: the C firmware core cannot be compiled here")
    if shutil.which("make") is None:
        pytest.skip("make is not installed: hardware/firmware/Makefile cannot run")
    out = tmp_path_factory.mktemp("fgcore")
    make = ["make", "-s", "-C", str(FIRMWARE), f"BUILD={out}"]
    done = subprocess.run([*make, "all"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"the C core does not build warning-free:\n{done.stdout}\n{done.stderr}"
    san = subprocess.run([*make, "sanitize"], capture_output=True, text=True, check=False)
    sanitized = out / "fg_harness_san" if san.returncode == 0 else None
    return Build(out / "libfgcore.so", out / "fg_harness", sanitized, san.stderr.strip()[-300:])


@pytest.fixture(scope="module", params=["plain", "sanitized"])
def harness(request: pytest.FixtureRequest, build: Build) -> Path:
    if request.param == "plain":
        return build.harness
    if build.sanitized is None:
        pytest.skip(f"gcc cannot build with -fsanitize=address,undefined here: {build.sanitize_error}")
    return build.sanitized


def run(harness: Path, lines: list[str]) -> list[str]:
    """Feed requests to the harness; return its output lines (sanitizer reports fail the test)."""
    env = {**os.environ, "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=0", "UBSAN_OPTIONS": "print_stacktrace=1"}
    done = subprocess.run(
        [str(harness)], input="\n".join(lines) + "\n", capture_output=True, text=True, check=False, env=env
    )
    assert done.returncode == 0 and not done.stderr, f"harness failed ({done.returncode}): {done.stderr[-2000:]}"
    return done.stdout.splitlines()


def _result(line: str) -> tuple[str, str]:
    kind, _, value = line.partition(" ")
    return kind, value


# --------------------------------------------------------------------------------------------------- the vectors
def test_committed_vectors_equal_what_the_script_generates() -> None:
    rendered = SCRIPT.render()
    assert sorted(rendered) == sorted(p.name for p in VECTORS.glob("*.json"))
    for name, text in rendered.items():
        assert (VECTORS / name).read_text() == text, f"{name} is stale: run scripts/make_test_vectors.py"


def test_vectors_hold_the_published_check_values() -> None:
    crc = {c["name"]: c["crc"] for c in _vectors("crc16.json")["cases"]}
    assert crc["check_123456789"] == "29b1" and crc["empty"] == "ffff"
    cobs = {c["name"]: c for c in _vectors("cobs.json")["encode"]}
    assert cobs["empty"]["encoded"] == "01" and cobs["single_zero"]["encoded"] == "0101"
    assert len(bytes.fromhex(cobs["nonzero_254"]["encoded"])) == 255
    assert len(bytes.fromhex(cobs["nonzero_509_max_frame"]["encoded"])) == MAX_FRAME_BYTES


def test_header_constants_match_the_python_codec() -> None:
    text = (FIRMWARE / "core" / "fg_protocol.h").read_text() + (FIRMWARE / "core" / "fg_cobs.h").read_text()
    defines = {m[1]: int(m[2]) for m in re.finditer(r"#define (FG_\w+) (\d+)u\b", text)}
    assert defines["FG_HEADER_SIZE"] == HEADER_SIZE
    assert defines["FG_CRC_SIZE"] == CRC_SIZE
    assert defines["FG_MAX_IMU_SAMPLES"] == MAX_IMU_SAMPLES
    assert defines["FG_MAX_FRAME_BYTES"] == MAX_FRAME_BYTES
    packetizer = (FIRMWARE / "core" / "fg_packetizer.h").read_text()
    assert f"#define FG_CMD_FRAME_MAX {SCRIPT.CMD_FRAME_MAX}u" in packetizer
    version = [re.search(rf"#define FG_FW_VERSION_{p} (\d+)u", packetizer) for p in ("MAJOR", "MINOR", "PATCH")]
    assert tuple(int(m[1]) for m in version if m) == SCRIPT.FIRMWARE_VERSION


def test_core_has_no_heap_and_no_stdio() -> None:
    for path in sorted((FIRMWARE / "core").glob("*.[ch]")):
        code = re.sub(r"/\*.*?\*/|//[^\n]*", "", path.read_text(), flags=re.S)
        includes = set(re.findall(r"#include <([^>]+)>", code))
        assert includes <= {"stdint.h", "stddef.h", "stdbool.h", "string.h"}, f"{path.name}: {includes}"
        assert not re.search(r"\b(malloc|calloc|realloc|free|printf|sprintf|snprintf)\s*\(", code), path.name


BOARD = FIRMWARE / "boards" / "nrf52840_lsm6ds3"


def test_board_layer_uses_only_the_core_api() -> None:
    public = {p.name for p in (FIRMWARE / "core").glob("*.h")}
    for path in sorted((BOARD / "src").glob("*.[ch]")):
        code = path.read_text()
        local = set(re.findall(r'#include "([^"]+)"', code)) - {p.name for p in (BOARD / "src").glob("*.h")}
        assert local <= public, f"{path.name} includes {sorted(local - public)}"
        assert not re.search(r"g_(ble|usb)_dev\s*(\.|->)", code), f"{path.name} reaches into fg_device_t"
        assert "fg_test_" not in code, f"{path.name} uses a host-only test hook"


def test_board_gatt_uuids_match_the_reference_profile() -> None:
    try:
        profiles = importlib.import_module("hardware.profiles")
    except ImportError:
        pytest.skip("hardware/profiles.py is not on this branch yet: nothing to compare the firmware UUIDs with")
    header = (BOARD / "src" / "fg_gatt_uuids.h").read_text()
    strings = dict(re.findall(r'#define FG_UUID_(\w+)_STR "([0-9a-f-]+)"', header))
    service = profiles.REFERENCE_IMU.gatt[0]
    roles = {c.role: c.uuid for c in service.characteristics}
    assert strings == {"SERVICE": service.uuid, "DATA": roles["data_notify"], "COMMAND": roles["command_write"]}
    for name, text in strings.items():  # the BT_UUID_128_ENCODE form says the same
        parts = text.split("-")
        enc = re.search(rf"#define FG_UUID_{name}_VAL BT_UUID_128_ENCODE\(([^)]*)\)", header)
        assert enc is not None
        assert [int(v, 16) for v in enc[1].split(",")] == [int(p, 16) for p in parts]


def test_crc(harness: Path) -> None:
    cases = _vectors("crc16.json")["cases"]
    out = run(harness, [f"crc {_h(c['data'])}" for c in cases])
    assert out == [f"crc {c['crc']}" for c in cases]


def test_cobs_encode(harness: Path) -> None:
    cases = _vectors("cobs.json")["encode"]
    out = run(harness, [f"cobs_enc {_h(c['data'])}" for c in cases])
    assert out == [f"ok {_h(c['encoded'])}" for c in cases]


def test_cobs_decode_including_invalid_input(harness: Path) -> None:
    cases = _vectors("cobs.json")["decode"]
    out = run(harness, [f"cobs_dec {_h(c['encoded'])}" for c in cases])
    want = [f"err {ERR[c['error']]}" if c["error"] else f"ok {_h(c['data'])}" for c in cases]
    assert out == want
    assert {c["error"] for c in cases} == {None, "zero", "short"}


def test_serial_frames_and_the_frame_cap(harness: Path) -> None:
    cases = _vectors("cobs.json")["frames"]
    out = run(harness, [f"frame {_h(c['packet'])}" for c in cases])
    want = [f"err {ERR[c['error']]}" if c["error"] else f"ok {c['frame']}" for c in cases]
    assert out == want
    assert {c["error"] for c in cases} == {None, "empty", "too_long"}


def _packet_request(p: dict[str, Any]) -> str:
    head = f"{p['sensor_id']} {p['seq']} {p['sample_idx']} {p['t_us']} {p['cfg']}"
    if p["type"] == "imu6":
        return f"imu6 {head} " + " ".join(str(v) for row in p["counts"] for v in row)
    if p["type"] == "sync_reply":
        return f"sync {head} {p['token']} {p['t_rx_us']} {p['t_tx_us']}"
    if p["type"] == "status":
        fw = " ".join(str(v) for v in p["firmware"])
        return (
            f"status {head} {p['battery_pct']} {p['flags']} {p['battery_mv']} {fw} "
            f"{p['overflow_samples']} {p['temperature_cdeg']}"
        )
    return f"marker {head} {p['kind']} {p['value']}"


def test_every_packet_type(harness: Path) -> None:
    packets = _vectors("packets.json")["packets"]
    assert {p["type"] for p in packets} == {"imu6", "sync_reply", "status", "marker"}
    assert {len(p["counts"]) for p in packets if p["type"] == "imu6"} >= {1, 5, 10, 41}
    out = run(harness, [_packet_request(p) for p in packets] + [f"frame {p['packet']}" for p in packets])
    assert out == [f"ok {p['packet']}" for p in packets] + [f"ok {p['frame']}" for p in packets]


def test_packet_writers_reject_what_the_codec_rejects(harness: Path) -> None:
    out = run(
        harness,
        [
            "imu6 0 0 0 0 0",  # n = 0
            "imu6 0 0 0 0 6 1 2 3 4 5 6",  # rate code 6 is reserved
            "imu6 0 0 0 0 160 1 2 3 4 5 6",  # gyro code 5 is reserved
            "imu6 0 0 0 0 0 " + " ".join(["7"] * 6 * (MAX_IMU_SAMPLES + 1)),  # n = 42
            "status 0 0 0 0 0 101 0 0 1 0 0 0 0",  # battery above 100 %
            "marker 0 0 0 0 0 4 0",  # unknown marker kind
            "marker 0 0 0 0 0 0 0",
        ],
    )
    assert out == [f"err {ERR['arg']}"] * 7


def test_commands(harness: Path) -> None:
    vec = _vectors("packets.json")
    good, bad = vec["commands"], vec["bad_commands"]
    out = run(harness, [f"parse {c['bytes']}" for c in good] + [f"parse {_h(c['bytes'])}" for c in bad])
    assert out == [f"ok {c['command']} {c['token']}" for c in good] + [f"err {ERR[c['error']]}" for c in bad]


def test_batch_size(harness: Path) -> None:
    cases = _vectors("packets.json")["batch_size"]
    out = run(harness, [f"batch {c['rate_code']} {c['att_mtu']}" for c in cases])
    assert out == [f"n {c['n']}" for c in cases]
    by_key = {(c["rate_code"], c["att_mtu"]): c["n"] for c in cases}
    assert by_key[3, 0] == 10 and by_key[2, 0] == 5 and by_key[3, 139] == 10 and by_key[5, 0] == 40
    assert by_key[3, 23] == 0 and by_key[6, 0] == 0


def _event_request(e: dict[str, Any]) -> str:
    op = e["op"]
    if op == "dev_init":
        return f"dev_init {e['sensor_id']} {e['cfg']} {e['samples_per_packet']}"
    if op == "battery":
        return f"battery {e['battery_pct']} {e['battery_mv']} {e['flags']} {e['temperature_cdeg']}"
    if op == "clock":
        return f"clock {e['t_us']}"
    if op == "sample":
        return f"sample {e['t_us']} " + " ".join(str(v) for v in e["counts"])
    if op in ("cmd", "serial_rx"):
        return f"{op} {_h(e['bytes'])} {e['t_rx_us']}"
    if op == "status":
        return "dev_status"
    if op == "marker":
        return f"dev_marker {e['kind']} {e['value']}"
    if op == "sink":
        return f"sink {int(e['ok'])}"
    if op == "configure":
        return f"dev_configure {e['cfg']} {e['samples_per_packet']}"
    if op == "link_lost":
        return "link_lost"
    if op == "set_counters":
        return f"set_counters {e['seq']} {e['sample_idx']}"
    raise AssertionError(f"unknown event {op}")


def test_packetizer_scenario(harness: Path) -> None:
    vec = _vectors("packetizer.json")
    out = run(harness, [_event_request(e) for e in vec["events"]] + ["stats"])
    pkts = [line.split() for line in out if line.startswith("pkt ")]
    assert [p[1] for p in pkts] == vec["packets"]
    assert "".join(p[2] for p in pkts) == vec["serial_stream"]
    # What the scenario covers, read back with the Python decoder.
    decoded = [decode(bytes.fromhex(p)) for p in vec["packets"]]
    seqs = [p.seq for p in decoded]
    assert 0xFFFF in seqs and seqs[seqs.index(0xFFFF) + 1] == 0
    kinds = {type(p).__name__ for p in decoded}
    assert kinds == {"ImuPacket", "SyncReply", "Status", "Marker"}
    imu = decode_packets([bytes.fromhex(p) for p in vec["packets"]]).imu
    assert imu.sample_idx.max() > 0xFFFF_FF00 and imu.sample_idx.min() < 0x100  # sample index wraps
    assert set(imu.n.tolist()) >= {2, 3, 5, 10}  # full and partial batches
    sent, failures, commands, bad = (int(v) for v in out[-1].split()[1:])
    assert (sent, failures) == (len(vec["packets"]), 1)
    assert bad >= 6 and commands >= 8


# ------------------------------------------------------------------------------------------------ ctypes packetizer
class FgSample(ctypes.Structure):
    _fields_ = [("acc", ctypes.c_int16 * 3), ("gyr", ctypes.c_int16 * 3)]


NowFn = ctypes.CFUNCTYPE(ctypes.c_uint32, ctypes.c_void_p)
SendFn = ctypes.CFUNCTYPE(ctypes.c_bool, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint8), ctypes.c_size_t)


class FgPort(ctypes.Structure):
    _fields_ = [("now_us", NowFn), ("send", SendFn), ("read_status", ctypes.c_void_p), ("user", ctypes.c_void_p)]


class CoreDevice:
    """One fg_device_t in a ctypes buffer, with a Python clock and a sink that collects packets."""

    def __init__(self, lib: ctypes.CDLL, sensor_id: int, cfg: int, per_packet: int) -> None:
        self.lib = lib
        self.clock_us = 0
        self.sent: list[bytes] = []
        self._now = NowFn(lambda _user: self.clock_us % U32)
        self._send = SendFn(self._collect)
        self.port = FgPort(self._now, self._send, None, None)
        size = int(lib.fg_device_sizeof())
        self.state = (ctypes.c_uint64 * (size // 8 + 1))()
        assert lib.fg_device_init(self.state, ctypes.byref(self.port), sensor_id, cfg, per_packet) == 0

    def _collect(self, _user: int | None, data: Any, length: int) -> bool:
        self.sent.append(ctypes.string_at(data, length))
        return True

    def push(self, counts: np.ndarray, t0_us: int, period_us: int) -> None:
        rows = (FgSample * len(counts)).from_buffer_copy(np.ascontiguousarray(counts, dtype="<i2").tobytes())
        for i in range(len(counts)):
            assert self.lib.fg_device_push_sample(self.state, ctypes.byref(rows[i]), (t0_us + i * period_us) % U32) in (
                0,
            )

    def command(self, data: bytes, t_rx_us: int) -> int:
        buf = (ctypes.c_uint8 * max(1, len(data))).from_buffer_copy(data or b"\x00")
        return int(self.lib.fg_device_handle_command(self.state, buf, len(data), t_rx_us % U32))


@pytest.fixture(scope="module")
def lib(build: Build) -> Iterator[ctypes.CDLL]:
    core = ctypes.CDLL(str(build.library))
    core.fg_device_sizeof.restype = ctypes.c_size_t
    core.fg_device_init.argtypes = [
        ctypes.c_void_p,
        ctypes.POINTER(FgPort),
        ctypes.c_uint8,
        ctypes.c_uint8,
        ctypes.c_uint8,
    ]
    core.fg_device_push_sample.argtypes = [ctypes.c_void_p, ctypes.POINTER(FgSample), ctypes.c_uint32]
    core.fg_device_handle_command.argtypes = [
        ctypes.c_void_p,
        ctypes.POINTER(ctypes.c_uint8),
        ctypes.c_size_t,
        ctypes.c_uint32,
    ]
    core.fg_test_set_counters.argtypes = [ctypes.c_void_p, ctypes.c_uint16, ctypes.c_uint32]
    core.fg_test_set_counters.restype = None
    yield core


def test_sync_reply_carries_token_times_and_next_sample_index(lib: ctypes.CDLL) -> None:
    dev = CoreDevice(lib, 2, SensorConfig(200.0).cfg, 10)
    dev.push(np.zeros((7, 6), dtype=np.int16), 0, 5000)  # stopped: indices 0..6 are used, nothing is sent
    dev.clock_us = 1_234_567
    assert dev.command(encode_command(Command.SYNC, 0xA5A5_0001), 1_234_000) == 0
    (reply,) = (decode(p) for p in dev.sent)
    assert reply == SyncReply(2, 0, 7, 1_234_567, SensorConfig(200.0), 0xA5A5_0001, 1_234_000, 1_234_567)


def test_seq_wraps_over_all_packet_types(lib: ctypes.CDLL) -> None:
    dev = CoreDevice(lib, 0, SensorConfig(100.0).cfg, 5)
    lib.fg_test_set_counters(dev.state, 0xFFFE, 0xFFFF_FFFE)
    dev.command(encode_command(Command.START), 0)  # status, seq 0xFFFE
    dev.push(np.ones((5, 6), dtype=np.int16), U32 - 10_000, 10_000)  # IMU6, seq 0xFFFF, index and clock wrap
    dev.command(encode_command(Command.SYNC, 9), 0)  # sync reply, seq 0
    got = [decode(p) for p in dev.sent]
    assert [p.seq for p in got] == [0xFFFE, 0xFFFF, 0]
    assert [p.sample_idx for p in got] == [0xFFFF_FFFE, 0xFFFF_FFFE, 3]
    assert got[1].t_us == U32 - 10_000


ops = st.one_of(
    st.tuples(st.just("samples"), st.integers(0, 90)),
    st.tuples(st.just("start"), st.just(0)),
    st.tuples(st.just("stop"), st.just(0)),
    st.tuples(st.just("sync"), st.integers(0, U32 - 1)),
)


@given(
    per_packet=st.integers(1, MAX_IMU_SAMPLES),
    seq0=st.integers(0, 0xFFFF),
    idx0=st.integers(0, U32 - 1),
    t0_us=st.integers(0, U32 - 1),
    script=st.lists(ops, max_size=12),
    seed=st.integers(0, 2**31),
)
@settings(max_examples=100, deadline=None)
def test_random_batches_through_the_c_packetizer(
    lib: ctypes.CDLL, per_packet: int, seq0: int, idx0: int, t0_us: int, script: list[tuple[str, int]], seed: int
) -> None:
    cfg = SensorConfig(200.0).cfg
    dev = CoreDevice(lib, 1, cfg, per_packet)
    lib.fg_test_set_counters(dev.state, seq0, idx0)
    model = SCRIPT.DeviceModel(1, cfg, per_packet, seq=seq0, next_idx=idx0)
    rng = np.random.default_rng(seed)
    period_us = 5000
    t_us, pushed, streaming = t0_us, 0, False
    streamed: list[np.ndarray] = []  # samples pushed while streaming
    streamed_idx: list[int] = []  # their sample indices
    streamed_t: list[int] = []  # and times
    for op, arg in script:
        if op == "samples":
            counts = rng.integers(-32768, 32768, size=(arg, 6)).astype(np.int16)
            dev.push(counts, t_us, period_us)
            for i, row in enumerate(counts):
                model.apply({"op": "sample", "t_us": (t_us + i * period_us) % U32, "counts": row.tolist()})
            if streaming:
                streamed.append(counts)
                streamed_idx += [(idx0 + pushed + i) % U32 for i in range(arg)]
                streamed_t += [(t_us + i * period_us) % U32 for i in range(arg)]
            t_us, pushed = t_us + arg * period_us, pushed + arg
        else:
            data = encode_command(Command.SYNC, arg) if op == "sync" else encode_command(Command[op.upper()])
            dev.clock_us = model.clock_us = t_us % U32
            dev.command(data, t_us)
            model.command(data, t_us % U32)
            streaming = {"start": True, "stop": False}.get(op, streaming)
    # The C core emits exactly what the Python device model emits...
    assert dev.sent == model.sent
    # ...and the decoder reads back the samples, with consecutive seq and the right sample indices.
    got = decode_packets(dev.sent)
    assert not got.rejected
    order = sorted(
        [(int(p), "imu", i) for i, p in enumerate(got.imu.position)] + [(p, "other", 0) for p, _ in got.others]
    )
    assert [o[0] for o in order] == list(range(len(dev.sent)))
    seqs = [int(decode(p).seq) for p in dev.sent]
    assert seqs == [(seq0 + k) % 65536 for k in range(len(dev.sent))]
    imu = got.imu
    n_sent = int(imu.n.sum())
    assert 0 <= len(streamed_idx) - n_sent < per_packet  # only the batch still pending at the end is missing
    want = np.concatenate(streamed) if streamed else np.zeros((0, 6), np.int16)
    np.testing.assert_array_equal(imu.counts, want[:n_sent])
    assert imu.sample_idx.tolist() == [streamed_idx[int(f)] for f in imu.first]
    assert imu.t_us.tolist() == [streamed_t[int(f)] for f in imu.first]
    assert (imu.n <= per_packet).all()
