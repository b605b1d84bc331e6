/** Schemas shared by the routes. */
import { JOB_STATUSES } from '../domain/jobs.js';

export const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 128 } },
} as const;

export const nameParams = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', minLength: 1, maxLength: 64 } },
} as const;

export const getJobQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    waitMs: { type: 'integer', minimum: 0, maximum: 300_000 },
    /** Input and output as pretty-printed previews of at most this many characters, instead of whole. */
    preview: { type: 'integer', minimum: 100, maximum: 1_000_000 },
  },
} as const;

/** Text without NUL, which PostgreSQL's text type cannot hold. */
const NO_NUL = '^[^\\u0000]+$';

export const listJobsQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    status: { type: 'string', enum: JOB_STATUSES },
    type: { type: 'string', minLength: 1, maxLength: 64, pattern: NO_NUL },
    limit: { type: 'integer', minimum: 1, maximum: 500 },
    cursor: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' },
    /** Admin keys only: one tenant's jobs (other keys always see their own). */
    tenant: { type: 'string', minLength: 1, maxLength: 64, pattern: NO_NUL },
    provider: { type: 'string', minLength: 1, maxLength: 64, pattern: NO_NUL },
    idempotencyKey: { type: 'string', minLength: 1, maxLength: 255, pattern: NO_NUL },
    /** Jobs created at or after this time. */
    from: { type: 'string', format: 'date-time' },
    /** Jobs created at or before this time. */
    to: { type: 'string', format: 'date-time' },
    /** `key=value`: jobs whose metadata has this top-level key with this string (or number) value. */
    metadata: { type: 'string', maxLength: 300, pattern: '^[A-Za-z0-9_.:-]{1,64}=[^\\x00]*$' },
  },
} as const;
