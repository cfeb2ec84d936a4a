// Virtual time for the tests: setTimeout/setInterval run only when the test advances the clock, so a test of hours
// of backoff takes milliseconds and an abandoned ("killed") app runs nothing more once its timers are dropped.

export class FakeTimers {
  constructor(startMs = 1_767_225_600_000) {
    this.now = startMs; // 2026-01-01T00:00:00Z
    this.nextId = 1;
    this.tasks = new Map(); // id → {at, fn, every}
    this.killed = new Set();
  }

  /** The timer functions for one app instance (`owner`); kill(owner) drops its timers. */
  api(owner = "app") {
    return {
      setTimeout: (fn, ms) => this.add(owner, fn, ms, null),
      clearTimeout: (id) => this.tasks.delete(id),
      setInterval: (fn, ms) => this.add(owner, fn, ms, ms),
      clearInterval: (id) => this.tasks.delete(id),
    };
  }

  add(owner, fn, ms, every) {
    if (this.killed.has(owner)) return 0;
    const id = this.nextId++;
    this.tasks.set(id, { at: this.now + Math.max(0, ms || 0), fn, every, owner });
    return id;
  }

  kill(owner) {
    this.killed.add(owner);
    for (const [id, t] of this.tasks) if (t.owner === owner) this.tasks.delete(id);
  }

  sleep(owner = "app") {
    return (ms) => new Promise((resolve) => this.add(owner, resolve, ms, null));
  }

  /** Run every timer due within `ms`, in time order, letting promises settle between them. */
  async advance(ms) {
    const end = this.now + ms;
    for (;;) {
      await settle();
      let nextId = null;
      let next = null;
      for (const [id, t] of this.tasks) if (t.at <= end && (!next || t.at < next.at || (t.at === next.at && id < nextId))) [nextId, next] = [id, t];
      if (!next) break;
      this.now = Math.max(this.now, next.at);
      if (next.every) next.at += next.every;
      else this.tasks.delete(nextId);
      next.fn();
    }
    this.now = end;
    await settle();
  }
}

/** Let pending promise callbacks run (a few macrotask turns). */
export async function settle(turns = 5) {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
}
