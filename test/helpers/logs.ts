/** A pino logger whose lines a test can read, parsed. */
import { Writable } from 'node:stream';
import { type Level, pino } from 'pino';

export function captureLogs(level: Level = 'debug') {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { lines, logger: pino({ level }, stream) };
}
