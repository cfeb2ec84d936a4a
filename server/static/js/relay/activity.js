// "Walking today" for the patient's status screen: a rough on-phone estimate, NOT the clinic's analysis (the service
// computes the real daily outcomes, gait.daily, from the uploaded data; a relay token cannot read them back).
//
// Per sensor, the samples are cut into 1 s epochs by their sample index (so bursts of late packets count the same
// as live ones); an epoch is "moving" when the standard deviation of the acceleration magnitude is at least
// 0.06 g (standing or sitting still: about 0.002 g; walking at the lower back: 0.1-0.25 g in the simulator).
// Runs of at least 3 moving epochs count as walking. The day's figure is the lower-back sensor's when it sent data
// that day, else the lowest sensor id's. A gap in the samples (a lost packet, a reconnect) ends the epoch and the run.

import { TYPE, decodeCfg, imuSamples } from "./protocol.js";

export const MOVING_STD_G = 0.06;
export const MIN_RUN_EPOCHS = 3;

/** The local calendar date of a wall-clock time in ms, "YYYY-MM-DD". */
export function localDate(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

export class WalkingEstimate {
  /** state: what toJSON() returned before (the same day's figure survives a reload). */
  constructor(state = null) {
    this.date = state?.date ?? null;
    this.walkingS = { ...(state?.walking_s ?? {}) }; // sensor id → seconds today
    this.sensors = new Map(); // sensor id → {next, rateHz, n, sum, sumSq, run}
  }

  toJSON() {
    return { date: this.date, walking_s: { ...this.walkingS } };
  }

  /** Seconds of walking on `date` (the lower-back sensor's when there is one). */
  secondsOn(date) {
    if (date !== this.date) return 0;
    const ids = Object.keys(this.walkingS).map(Number).sort((a, b) => a - b);
    return ids.length ? this.walkingS[ids[0]] : 0;
  }

  /** A valid packet (bytes and its parsePacket info) that arrived at wall time `wallMs`. */
  add(bytes, info, wallMs) {
    if (info.type !== TYPE.IMU6) return;
    const date = localDate(wallMs);
    if (date !== this.date) {
      this.date = date;
      this.walkingS = {};
    }
    const cfg = decodeCfg(info.cfg);
    let s = this.sensors.get(info.sensorId);
    if (!s || s.next !== info.sampleIdx || s.rateHz !== cfg.rateHz) {
      if (s && info.sampleIdx < s.next && s.rateHz === cfg.rateHz && info.sampleIdx + info.n <= s.next) return; // a duplicate
      s = { next: info.sampleIdx, rateHz: cfg.rateHz, n: 0, sum: 0, sumSq: 0, run: 0 };
      this.sensors.set(info.sensorId, s);
    }
    const { accG } = imuSamples(bytes, info);
    const perEpoch = Math.round(cfg.rateHz);
    for (let i = 0; i < info.n; i++) {
      const m = Math.hypot(accG[3 * i], accG[3 * i + 1], accG[3 * i + 2]);
      s.n += 1;
      s.sum += m;
      s.sumSq += m * m;
      if (s.n === perEpoch) {
        const mean = s.sum / s.n;
        const std = Math.sqrt(Math.max(0, s.sumSq / s.n - mean * mean));
        if (std >= MOVING_STD_G) {
          s.run += 1;
          const add = s.run === MIN_RUN_EPOCHS ? MIN_RUN_EPOCHS : s.run > MIN_RUN_EPOCHS ? 1 : 0;
          if (add) this.walkingS[info.sensorId] = (this.walkingS[info.sensorId] || 0) + add;
        } else {
          s.run = 0;
        }
        s.n = 0;
        s.sum = 0;
        s.sumSq = 0;
      }
    }
    s.next = info.sampleIdx + info.n;
  }
}
