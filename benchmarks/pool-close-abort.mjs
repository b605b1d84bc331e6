// Why the pool's worker module has no default export (src/pool/worker.ts): on Node 20, a Piscina
// thread terminated while it require()s an ES module with a default export (Node builds a facade
// module for it) aborts the whole process. Each child process below opens a pool of 2 threads and
// closes it at a random moment of their start-up, 400 times; the table counts the children that
// died, for a worker with its function as the default export and as a named one.
//   node benchmarks/pool-close-abort.mjs [children=6]
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Piscina } from 'piscina';
import { freshDir, machine } from './lib.mjs';

if (process.argv[2] === 'child') {
  const [, , , filename, name] = process.argv;
  for (let i = 0; i < 400; i++) {
    const pool = new Piscina({ filename, name, minThreads: 2, maxThreads: 2 });
    pool.on('error', () => {});
    await new Promise((r) => setTimeout(r, Math.random() * 40));
    await pool.destroy();
  }
  process.exit(0);
}

const children = Number(process.argv[2] ?? 6);
const dir = freshDir();
// Evaluating the module takes a moment (a loop), as loading a real worker's imports does.
const body = 'let x = 0; for (let i = 0; i < 2e6; i++) x += i;\n';
const workers = {
  default: ['default', `${body}export default function run() { return x; }\n`],
  named: ['run', `${body}export function run() { return x; }\n`],
};
const rows = [];
for (const [kind, [name, source]] of Object.entries(workers)) {
  const file = join(dir, `${kind}.mjs`);
  writeFileSync(file, source);
  let died = 0;
  const signals = new Set();
  for (let i = 0; i < children; i++) {
    const r = spawnSync(process.execPath, [new URL(import.meta.url).pathname, 'child', file, name], { encoding: 'utf8' });
    if (r.status !== 0) {
      died++;
      signals.add(r.signal ?? `exit ${r.status}`);
    }
  }
  rows.push({ export: kind, children, 'pool closes each': 400, died, how: [...signals].join(', ') || '—' });
}
const m = machine();
console.log(`${m.cpu}, ${m.cores} cores, Node ${m.node}`);
console.table(rows);
