/**
 * Limits on the JSON Schemas requests carry (`responseSchema`, `response_format`): checked on the
 * main thread before a schema goes anywhere near a compiler. The walk is iterative and stops at the
 * first limit passed, so its cost is bounded by the limits themselves.
 */
import { SwitchyardError } from '../errors.js';

/** Most objects and arrays (subschemas, keyword values) in one schema. */
export const MAX_SCHEMA_NODES = 5000;
/** Deepest nesting of one schema. */
export const MAX_SCHEMA_DEPTH = 32;

/** Throws SWY_SCHEMA_TOO_COMPLEX when `schema` passes a limit; returns its JSON text. */
export function checkSchemaLimits(schema: unknown, maxBytes: number, where: string): string {
  const text = JSON.stringify(schema) ?? 'null';
  if (Buffer.byteLength(text) > maxBytes) {
    throw new SwitchyardError('SWY_SCHEMA_TOO_COMPLEX', `${where} is larger than ${maxBytes} bytes of JSON`);
  }
  let nodes = 0;
  const stack: [unknown, number][] = [[schema, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== 'object') continue;
    if (++nodes > MAX_SCHEMA_NODES) {
      throw new SwitchyardError('SWY_SCHEMA_TOO_COMPLEX', `${where} has more than ${MAX_SCHEMA_NODES} objects and arrays`);
    }
    if (depth > MAX_SCHEMA_DEPTH) {
      throw new SwitchyardError('SWY_SCHEMA_TOO_COMPLEX', `${where} nests deeper than ${MAX_SCHEMA_DEPTH} levels`);
    }
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return text;
}
