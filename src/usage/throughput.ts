/**
 * Finished jobs per second over the last 1, 5 and 15 minutes: one counter per second in a ring of
 * 900, fed by the engine's events. Kept in memory (it is a rate, not a record): a restarted process
 * starts counting again, and divides by its own uptime until a window has passed.
 */
const SLOTS = 900;

export class Throughput {
  private readonly counts = new Uint32Array(SLOTS);
  private readonly seconds = new Float64Array(SLOTS).fill(-1);
  private readonly since = Math.floor(Date.now() / 1000);

  add(now = Date.now()): void {
    const sec = Math.floor(now / 1000);
    const i = sec % SLOTS;
    if (this.seconds[i] !== sec) {
      this.seconds[i] = sec;
      this.counts[i] = 0;
    }
    this.counts[i] = (this.counts[i] as number) + 1;
  }

  /** Per-second rates over the last 60, 300 and 900 s. */
  rates(now = Date.now()): { last1m: number; last5m: number; last15m: number } {
    const sec = Math.floor(now / 1000);
    const rate = (window: number) => {
      let n = 0;
      for (let k = 0; k < window; k++) {
        const s = sec - k;
        const i = ((s % SLOTS) + SLOTS) % SLOTS;
        if (this.seconds[i] === s) n += this.counts[i] as number;
      }
      const span = Math.max(1, Math.min(window, sec - this.since + 1));
      return Math.round((n / span) * 100) / 100;
    };
    return { last1m: rate(60), last5m: rate(300), last15m: rate(900) };
  }
}
