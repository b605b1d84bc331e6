/**
 * `switchyard submit`: one job (a .json file), many (a JSONL file, or JSONL on stdin), sent in
 * batches; with --wait, every result written as JSONL in input order. Lines are streamed: a file
 * of a million jobs is never read whole.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import PQueue from 'p-queue';
import type { Job } from '../domain/jobs.js';
import { ApiClient, CliError, connection } from './client.js';

const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

interface Submitted {
  line: number;
  id: string;
}

async function* jsonLines(input: Readable): AsyncGenerator<[number, unknown]> {
  let n = 0;
  for await (const text of createInterface({ input, crlfDelay: Infinity })) {
    n++;
    if (text.trim() === '') continue;
    try {
      yield [n, JSON.parse(text)];
    } catch {
      throw new CliError(`line ${n} is not valid JSON`);
    }
  }
}

async function* oneJsonFile(path: string): AsyncGenerator<[number, unknown]> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new CliError(`${path}: ${(err as Error).message}`);
  }
  const jobs = Array.isArray(value) ? value : [value];
  for (const [i, job] of jobs.entries()) yield [i + 1, job];
}

async function countLines(path: string): Promise<number> {
  let n = 0;
  for await (const text of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) if (text.trim() !== '') n++;
  return n;
}

/** Writes to stdout or a file, waiting when it is slower than the producer. */
function output(path: string | undefined): { write(line: string): Promise<void>; close(): Promise<void> } {
  const out: Writable = path ? createWriteStream(path) : process.stdout;
  return {
    write: async (line) => {
      if (!out.write(`${line}\n`)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
    },
    close: () =>
      path ? new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve()))) : Promise.resolve(),
  };
}

export async function submitCommand(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      key: { type: 'string' },
      type: { type: 'string' },
      wait: { type: 'boolean', default: false },
      out: { type: 'string', short: 'o' },
      'batch-size': { type: 'string', default: '500' },
      concurrency: { type: 'string', default: '16' },
      quiet: { type: 'boolean', short: 'q', default: false },
    },
  });
  const client = new ApiClient(connection(values));
  const batchSize = Number(values['batch-size']);
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new CliError('--batch-size must be a positive integer', 2);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new CliError('--concurrency must be a positive integer', 2);
  const source = positionals[0] ?? '-';
  if (source === '-' && process.stdin.isTTY) throw new CliError('give a .json or .jsonl file, or pipe JSONL jobs on stdin', 2);
  const lines =
    source === '-' ? jsonLines(process.stdin) : source.endsWith('.json') ? oneJsonFile(source) : jsonLines(createReadStream(source));

  const showBar = process.stderr.isTTY && !values.quiet;
  const total = showBar && source !== '-' && !source.endsWith('.json') ? await countLines(source) : 0;
  const bars = showBar
    ? new cliProgress.MultiBar(
        { stream: process.stderr, clearOnComplete: false, hideCursor: true, format: ' {stage} [{bar}] {value}/{total} {unit}' },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  const sent = bars?.create(total, 0, { stage: 'submitted', unit: 'jobs' });
  const started = Date.now();
  const submitted: Submitted[] = [];
  const out = output(values.out);

  let chunk: [number, unknown][] = [];
  const flush = async () => {
    if (chunk.length === 0) return;
    const jobs = chunk.map(([, j]) =>
      values.type !== undefined && j !== null && typeof j === 'object' && !('type' in j) ? { type: values.type, ...j } : j,
    );
    let res: { jobs: Job[] };
    try {
      res = await client.request<{ jobs: Job[] }>('POST', '/v1/jobs/batch', { jobs });
    } catch (err) {
      // The server names the bad job by its index in the batch: name its line in the file.
      const message = (err as Error).message.replace(/jobs\[(\d+)\]/, (_, i: string) => `line ${chunk[Number(i)]?.[0] ?? '?'}`);
      throw new CliError(`${message} (${submitted.length} jobs submitted before it)`);
    }
    for (const [i, job] of res.jobs.entries()) {
      const line = (chunk[i] as [number, unknown])[0];
      submitted.push({ line, id: job.id });
      if (!values.wait) await out.write(JSON.stringify({ line, id: job.id, status: job.status }));
    }
    if (total === 0) sent?.setTotal(submitted.length);
    sent?.update(submitted.length);
    chunk = [];
  };
  try {
    for await (const entry of lines) {
      chunk.push(entry);
      if (chunk.length === batchSize) await flush();
    }
    await flush();
  } catch (err) {
    bars?.stop();
    await out.close();
    throw err;
  }
  const submitMs = Date.now() - started;

  const counts: Record<string, number> = {};
  if (values.wait) {
    const done = bars?.create(submitted.length, 0, { stage: 'finished ', unit: 'jobs' });
    const results = new Map<number, Job>();
    let next = 0;
    let finished = 0;
    const queue = new PQueue({ concurrency });
    for (const [i, s] of submitted.entries()) {
      void queue.add(async () => {
        let job = await client.request<Job>('GET', `/v1/jobs/${s.id}?waitMs=30000`);
        while (!TERMINAL.has(job.status)) job = await client.request<Job>('GET', `/v1/jobs/${s.id}?waitMs=30000`);
        results.set(i, job);
        counts[job.status] = (counts[job.status] ?? 0) + 1;
        done?.update(++finished);
        // Written in input order as soon as every earlier one is known.
        while (results.has(next)) {
          const j = results.get(next) as Job;
          results.delete(next);
          const { line } = submitted[next] as Submitted;
          next++;
          await out.write(
            JSON.stringify({
              line,
              id: j.id,
              status: j.status,
              output: j.output,
              error: j.error,
              provider: j.provider,
              model: j.model,
              usage: j.usage,
              durationMs: j.durationMs,
            }),
          );
        }
      });
    }
    await queue.onIdle();
  }
  bars?.stop();
  await out.close();
  const seconds = (Date.now() - started) / 1000;
  const rate = submitMs > 0 ? Math.round((submitted.length / submitMs) * 1000) : submitted.length;
  const parts = [`submitted ${submitted.length} jobs in ${(submitMs / 1000).toFixed(1)} s (${rate}/s)`];
  if (values.wait)
    parts.push(
      `finished in ${seconds.toFixed(1)} s: ${['completed', 'failed', 'cancelled'].map((s) => `${counts[s] ?? 0} ${s}`).join(', ')}`,
    );
  if (!values.quiet) process.stderr.write(`${parts.join('; ')}\n`);
  return values.wait && (counts.completed ?? 0) !== submitted.length ? 1 : 0;
}
