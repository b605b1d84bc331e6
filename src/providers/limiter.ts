/**
 * Requests-per-minute and tokens-per-minute limits of one provider, over a sliding 60 s window.
 * Tokens are reserved from an estimate before the call and corrected to the reported usage after,
 * so concurrent calls cannot burst past the limit. (Written here rather than taken from a rate
 * limiter library: those count requests, not a reservation that is corrected afterwards.)
 */

const WINDOW_MS = 60_000;

interface Entry {
  at: number;
  tokens: number;
}

export class Limiter {
  private readonly entries: Entry[] = [];
  private tokens = 0;

  constructor(
    private readonly rpm: number | null,
    private readonly tpm: number | null,
  ) {}

  private expire(now: number): void {
    while (this.entries.length > 0 && (this.entries[0] as Entry).at <= now - WINDOW_MS) {
      this.tokens -= (this.entries.shift() as Entry).tokens;
    }
  }

  /** Whether a call estimated at `tokens` fits now. */
  allows(tokens: number, now = Date.now()): boolean {
    this.expire(now);
    if (this.rpm !== null && this.entries.length >= this.rpm) return false;
    if (this.tpm !== null && this.tokens + tokens > this.tpm && this.entries.length > 0) return false;
    return true;
  }

  /** When a call could fit again (epoch ms), if it does not now. */
  freeAt(tokens: number, now = Date.now()): number | undefined {
    if (this.allows(tokens, now)) return undefined;
    let need = this.rpm !== null ? this.entries.length - this.rpm + 1 : 0;
    let free = this.tpm !== null ? this.tokens + tokens - this.tpm : 0;
    for (const e of this.entries) {
      need--;
      free -= e.tokens;
      if (need <= 0 && free <= 0) return e.at + WINDOW_MS;
    }
    return now + WINDOW_MS;
  }

  /** Calls started and tokens counted in the last 60 s (none are counted without an rpm or tpm limit). */
  used(now = Date.now()): { requests: number; tokens: number } {
    this.expire(now);
    return { requests: this.entries.length, tokens: this.tokens };
  }

  /** Count a call starting now with `tokens` reserved; returns the entry to correct later. */
  take(tokens: number, now = Date.now()): Entry {
    const e = { at: now, tokens };
    // Without limits nothing is counted: keeping each call for a minute would only give the
    // garbage collector a large heap to trace at high call rates.
    if (this.rpm === null && this.tpm === null) return e;
    this.entries.push(e);
    this.tokens += tokens;
    return e;
  }

  /** Replace a reservation with the tokens the provider reported. */
  settle(entry: Entry, actual: number): void {
    if (this.rpm === null && this.tpm === null) return;
    this.tokens += actual - entry.tokens;
    entry.tokens = actual;
  }
}
