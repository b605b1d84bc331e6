/**
 * Input limits beyond the body size: JSON depth and string length checked on every parsed body
 * (before any schema sees it), and per-job limits (batch size, messages, metadata) on submits.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { SwitchyardError } from '../errors.js';
import type { InputLimits } from '../limits.js';

/** Walk a parsed body without recursion (a deep body must not overflow the stack). */
export function checkJsonLimits(value: unknown, limits: Pick<InputLimits, 'stringLength' | 'jsonDepth'>): void {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (typeof v === 'string') {
      if (v.length > limits.stringLength) {
        throw new SwitchyardError('SWY_LIMIT_EXCEEDED', `a string in the body is longer than ${limits.stringLength} characters`);
      }
    } else if (v !== null && typeof v === 'object') {
      if (depth > limits.jsonDepth) {
        throw new SwitchyardError('SWY_JSON_TOO_DEEP', `the body nests deeper than ${limits.jsonDepth} levels`);
      }
      if (Array.isArray(v)) {
        for (const item of v) stack.push([item, depth + 1]);
      } else {
        for (const [k, item] of Object.entries(v)) {
          stack.push([k, depth]);
          stack.push([item, depth + 1]);
        }
      }
    }
  }
}

/** Replace Fastify's JSON parser with one that also enforces depth and string length. */
export function limitedJsonParser(app: FastifyInstance, limits: InputLimits): void {
  // Fastify's own parser (secure-json-parse): `__proto__` and `constructor.prototype` keys are errors.
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    parse(req, body as string, (err, parsed) => {
      if (err) return done(err, undefined);
      try {
        checkJsonLimits(parsed, limits);
      } catch (limitErr) {
        return done(limitErr as Error, undefined);
      }
      done(null, parsed);
    });
  });
}

/** Throws SWY_LIMIT_EXCEEDED when `messages` is an array longer than the limit (`where` names it). */
export function checkMessages(messages: unknown, limits: InputLimits, where: string): void {
  if (Array.isArray(messages) && messages.length > limits.messages) {
    throw new SwitchyardError('SWY_LIMIT_EXCEEDED', `${where} has ${messages.length} messages; the limit is ${limits.messages}`);
  }
}

function checkJob(job: unknown, limits: InputLimits, where: string): void {
  if (job === null || typeof job !== 'object') return; // the schema reports it
  const { input, metadata } = job as { input?: unknown; metadata?: unknown };
  checkMessages((input as { messages?: unknown } | null | undefined)?.messages, limits, `${where}input.messages`);
  if (metadata !== undefined && Buffer.byteLength(JSON.stringify(metadata)) > limits.metadataBytes) {
    throw new SwitchyardError('SWY_LIMIT_EXCEEDED', `${where}metadata is larger than ${limits.metadataBytes} bytes`);
  }
}

/** A preValidation hook for `POST /v1/jobs`: the job's messages and metadata. */
export function jobLimits(limits: InputLimits): (req: FastifyRequest) => Promise<void> {
  return async (req) => checkJob(req.body, limits, '');
}

/** A preValidation hook for `POST /v1/jobs/batch`: the batch size, then each job's limits. */
export function batchLimits(limits: InputLimits): (req: FastifyRequest) => Promise<void> {
  return async (req) => {
    const jobs = (req.body as { jobs?: unknown } | undefined)?.jobs;
    if (!Array.isArray(jobs)) return;
    if (jobs.length > limits.batch) {
      throw new SwitchyardError('SWY_LIMIT_EXCEEDED', `a batch holds at most ${limits.batch} jobs; this one has ${jobs.length}`);
    }
    for (const [i, j] of jobs.entries()) checkJob(j, limits, `jobs[${i}].`);
  };
}
