/** A submitted job → a validated, defaulted row for the store. */
import { createHash, randomFillSync } from 'node:crypto';
import { stringify } from 'safe-stable-stringify';
import { v7 as uuidv7 } from 'uuid';
import type { EngineConfig } from '../config.js';
import { SwitchyardError } from '../errors.js';
import { compileValidator } from '../validation.js';
import type { JobTypes } from './registry.js';
import type { NewJob, SubmitJob } from '../domain/jobs.js';

/**
 * Random bytes for job ids, drawn 256 ids at a time: the uuid library draws 16 bytes from the
 * system per id, which cost as much as the rest of a bulk submit's job. The library still lays the
 * id out (UUIDv7); the sequence within a millisecond is kept here as it keeps it, so ids stay in
 * order.
 */
const pool = new Uint8Array(16 * 256);
let used = pool.length;
let lastMs = -Infinity;
let seq = 0;

/** A new time-ordered job id (UUIDv7). */
export function newJobId(now = Date.now()): string {
  if (used === pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  const random = pool.subarray(used, used + 16);
  used += 16;
  if (now > lastMs) {
    lastMs = now;
    seq = (((random[6] as number) & 0x7f) << 24) | ((random[7] as number) << 16) | ((random[8] as number) << 8) | (random[9] as number);
  } else {
    seq = (seq + 1) | 0;
    if (seq === 0) lastMs++;
  }
  return uuidv7({ random, msecs: lastMs, seq });
}

/** The last millisecond of year 9999: the latest `runAt` a job may have. */
export const MAX_TIME_MS = 253_402_300_799_999;

/** The shape every submit must have, whatever its type (the HTTP layer uses the same schema). */
export const submitJobSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['input'],
  properties: {
    type: { type: 'string', minLength: 1, maxLength: 64 },
    input: {},
    priority: { type: 'integer', minimum: -1_000_000, maximum: 1_000_000 },
    runAt: {
      anyOf: [
        { type: 'string', format: 'date-time' },
        { type: 'integer', minimum: 0, maximum: MAX_TIME_MS },
      ],
    },
    delayMs: { type: 'integer', minimum: 0, maximum: 31_536_000_000 },
    maxAttempts: { type: 'integer', minimum: 1, maximum: 1000 },
    timeoutMs: { type: 'integer', minimum: 1, maximum: 86_400_000 },
    idempotencyKey: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[^\\u0000]+$' },
    metadata: { type: 'object', maxProperties: 64 },
  },
} as const;

const checkShape = compileValidator<SubmitJob>(submitJobSchema, 'SWY_VALIDATION', 'job');

export function validateSubmit(
  job: SubmitJob,
  index: number,
  count: number,
  now: number,
  types: JobTypes,
  config: EngineConfig,
  tenant: string,
): NewJob {
  try {
    checkShape(job);
    const type = types.get(job.type ?? 'chat');
    type.validate(job.input);
    if (job.runAt !== undefined && job.delayMs !== undefined) {
      throw new SwitchyardError('SWY_VALIDATION', 'job has both runAt and delayMs: give one');
    }
    const runAt = job.runAt !== undefined ? new Date(job.runAt).getTime() : now + (job.delayMs ?? 0);
    // A date-time the format accepts may still name no instant (a leap second, 2026-12-31T23:59:60Z).
    if (!Number.isInteger(runAt) || runAt < 0 || runAt > MAX_TIME_MS) {
      throw new SwitchyardError('SWY_VALIDATION', 'job.runAt is not a time between 1970 and 9999 that has a millisecond value');
    }
    return {
      // Time-ordered (UUIDv7): new ids land at the right edge of the id indexes (jobs, attempts,
      // usage) instead of on a random page, so each commit rewrites a few pages, not one per job.
      id: newJobId(now),
      tenant,
      type: type.name,
      input: job.input,
      priority: job.priority ?? 0,
      runAt,
      maxAttempts: job.maxAttempts ?? type.maxAttempts ?? config.maxAttempts,
      timeoutMs: job.timeoutMs ?? type.timeoutMs ?? config.timeoutMs,
      idempotencyKey: job.idempotencyKey ?? null,
      requestHash: job.idempotencyKey === undefined ? null : requestHash(job),
      metadata: job.metadata ?? null,
      createdAt: now,
    };
  } catch (err) {
    if (count > 1 && err instanceof SwitchyardError) {
      throw new SwitchyardError(err.code, `jobs[${index}]: ${err.message}`);
    }
    throw err;
  }
}

/** The request as submitted, keys sorted: the same request always hashes the same. */
function requestHash(job: SubmitJob): string {
  return createHash('sha256')
    .update(stringify({ ...job, type: job.type ?? 'chat' }) ?? '')
    .digest('base64url');
}

/**
 * The checks of each job's type that run off the main thread (a chat job's JSON Schema is
 * compiled); in a batch, an error names its job.
 */
export async function checkInputs(rows: NewJob[], types: JobTypes): Promise<void> {
  const pending: Promise<unknown>[] = [];
  rows.forEach((row, i) => {
    const check = types.get(row.type).check?.(row.input);
    if (check === undefined) return;
    pending.push(
      rows.length === 1
        ? check
        : check.catch((err: unknown) => {
            if (err instanceof SwitchyardError) throw new SwitchyardError(err.code, `jobs[${i}]: ${err.message}`);
            throw err;
          }),
    );
  });
  if (pending.length > 0) await Promise.all(pending);
}
