// What one failing call costs opossum's breaker after busy traffic, with and without its rolling
// latency percentiles: every failure (and every snapshot) computes the window's stats, and with
// percentiles on that concatenates and sorts every latency in the window. The providers' breakers
// run with them off (src/providers/provider.ts).   node benchmarks/breaker-stats.mjs [calls=100000]
import { readFileSync } from 'node:fs';
import CircuitBreaker from 'opossum';
import { machine, median } from './lib.mjs';

const CALLS = Number(process.argv[2] ?? 100_000);
const rows = [];
for (const percentiles of [true, false]) {
  const breaker = new CircuitBreaker(
    async (fail) => {
      if (fail) throw new Error('upstream 500');
      return 'ok';
    },
    {
      timeout: false,
      rollingCountTimeout: 10_000,
      rollingCountBuckets: 10,
      volumeThreshold: Number.MAX_SAFE_INTEGER,
      rollingPercentilesEnabled: percentiles,
      enableSnapshots: false,
    },
  );
  for (let i = 0; i < CALLS; i++) await breaker.fire(false);
  const ms = [];
  for (let i = 0; i < 50; i++) {
    const t0 = performance.now();
    await breaker.fire(true).catch(() => {});
    ms.push(performance.now() - t0);
  }
  breaker.shutdown();
  rows.push({ rollingPercentilesEnabled: percentiles, callsInWindow: CALLS, msPerFailure: Number(median(ms).toFixed(3)) });
}
const m = machine();
const opossum = JSON.parse(readFileSync(new URL('../node_modules/opossum/package.json', import.meta.url), 'utf8')).version;
console.log(`${m.cpu}, ${m.cores} cores, Node ${m.node}, opossum ${opossum}`);
console.table(rows);
