/**
 * The lines of a byte stream, numbered from 1, never holding more than one line of at most
 * `maxBytes`: a longer line is skipped to its end and reported with its number, so that it becomes
 * a per-line error of the batch instead of a string in memory. (Written here: readline and split2
 * either hold the whole line or drop it without saying which line it was.)
 */

/** One line: its text, or, when it was longer than the limit, its length so far. */
export type Line = { n: number; text: string } | { n: number; tooLong: true };

const NEWLINE = 0x0a;

export async function* boundedLines(input: AsyncIterable<Buffer | string>, maxBytes: number): AsyncGenerator<Line> {
  let parts: Buffer[] = [];
  let size = 0;
  let skipping = false;
  let n = 0;
  const end = (): Line => {
    n++;
    if (skipping) {
      skipping = false;
      return { n, tooLong: true };
    }
    let text = Buffer.concat(parts, size).toString('utf8');
    if (text.endsWith('\r')) text = text.slice(0, -1);
    parts = [];
    size = 0;
    return { n, text };
  };
  for await (const raw of input) {
    const chunk = typeof raw === 'string' ? Buffer.from(raw) : raw;
    let from = 0;
    while (from < chunk.length) {
      const nl = chunk.indexOf(NEWLINE, from);
      const stop = nl === -1 ? chunk.length : nl;
      if (!skipping) {
        if (size + (stop - from) > maxBytes) {
          skipping = true;
          parts = [];
          size = 0;
        } else {
          parts.push(chunk.subarray(from, stop));
          size += stop - from;
        }
      }
      if (nl === -1) break;
      yield end();
      from = nl + 1;
    }
  }
  if (skipping || size > 0) yield end();
}
