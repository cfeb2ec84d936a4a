// The capture format (hardware/PROTOCOL.md §5), which is also the relay upload body (§6):
//
//   "IMUCAP1\n" | header_len u32 | header: UTF-8 JSON | record | record | ...
//   record = t_host_ns u64 | source u8 | sensor_id u8 | len u16 | bytes (len)
//
// all little-endian. Pure functions on Uint8Array. Host times are BigInt nanoseconds (they do not fit a double).

export const MAGIC = new TextEncoder().encode("IMUCAP1\n");
export const RECORD_HEAD = 12;
export const SOURCE = Object.freeze({ BLE: 0, SERIAL: 1, RELAY: 2, HOST_COMMAND: 3 });

/**
 * The header bytes (magic, length, JSON). `header` is a plain object; `clockPairs` ([[wallNs, monoNs], ...] as
 * BigInt) are written as exact JSON integers.
 */
export function encodeHeader(header, clockPairs = []) {
  const pairs = `[${clockPairs.map(([wall, mono]) => `[${BigInt(wall)},${BigInt(mono)}]`).join(",")}]`;
  const json = JSON.stringify({ ...header, clock_pairs: "\u0000pairs" }).replace('"\\u0000pairs"', pairs);
  const body = new TextEncoder().encode(json);
  const out = new Uint8Array(MAGIC.length + 4 + body.length);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(MAGIC.length, body.length, true);
  out.set(body, MAGIC.length + 4);
  return out;
}

/** One record: its 12-byte head and the bytes as received. */
export function encodeRecord(tHostNs, source, sensorId, bytes) {
  if (bytes.length > 0xffff) throw new RangeError(`record of ${bytes.length} bytes (at most 65535)`);
  const out = new Uint8Array(RECORD_HEAD + bytes.length);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(tHostNs), true);
  out[8] = source;
  out[9] = sensorId;
  view.setUint16(10, bytes.length, true);
  out.set(bytes, RECORD_HEAD);
  return out;
}

/** Concatenate byte arrays. */
export function concat(parts) {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Parse a capture: {header, records: [{tHostNs, source, sensorId, bytes}], tornTailBytes}. Throws on a bad magic
 * or header. Used by the tests' fake server and to count the records of a stored batch.
 */
export function parseCapture(data) {
  if (data.length < MAGIC.length + 4 || MAGIC.some((b, i) => data[i] !== b)) throw new Error("not a capture (magic)");
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const headerLen = view.getUint32(MAGIC.length, true);
  const start = MAGIC.length + 4 + headerLen;
  if (start > data.length) throw new Error("capture header cut short");
  const header = JSON.parse(new TextDecoder().decode(data.subarray(MAGIC.length + 4, start)));
  const records = [];
  let at = start;
  while (at + RECORD_HEAD <= data.length) {
    const len = view.getUint16(at + 10, true);
    if (at + RECORD_HEAD + len > data.length) break;
    records.push({
      tHostNs: view.getBigUint64(at, true),
      source: data[at + 8],
      sensorId: data[at + 9],
      bytes: data.slice(at + RECORD_HEAD, at + RECORD_HEAD + len),
    });
    at += RECORD_HEAD + len;
  }
  return { header, records, tornTailBytes: data.length - at };
}
