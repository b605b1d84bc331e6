/**
 * The providers file (`SWITCHYARD_CONFIG=./switchyard.yaml` or `.json`): the providers a server
 * manages, read and validated on every start. `${NAME}` in a string is replaced by the environment
 * variable NAME, so that keys stay out of the file.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { SwitchyardError } from '../errors.js';
import { providerCreateSchema } from '../providers/schema.js';
import { compileValidator } from '../validation.js';

/** What the file may hold. */
const fileSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['providers'],
  properties: { providers: { type: 'array', maxItems: 1000, items: { type: 'object' } } },
} as const;

/** Largest providers file, bytes: it is configuration, not data. */
const MAX_BYTES = 1_048_576;

function invalid(file: string, message: string): never {
  throw new SwitchyardError('SWY_INVALID_OPTIONS', `${file}: ${message}`);
}

/** Replace `${NAME}` in every string of `value` by the variable's value; a variable that is not set is an error. */
function interpolate(value: unknown, env: NodeJS.ProcessEnv, file: string, path: string): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const v = env[name];
      if (v === undefined || v === '') invalid(file, `${path} names the environment variable ${name}, which is not set`);
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, env, file, `${path}[${i}]`));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env, file, `${path}.${k}`)]));
  }
  return value;
}

/** Read, validate and interpolate a providers file; throws SWY_INVALID_OPTIONS naming the file and the entry. */
export function readProvidersFile(file: string, env: NodeJS.ProcessEnv = process.env): Record<string, unknown>[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    invalid(file, `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (Buffer.byteLength(text) > MAX_BYTES) invalid(file, `is larger than ${MAX_BYTES} bytes`);
  const ext = extname(file).toLowerCase();
  let doc: unknown;
  try {
    if (ext === '.json') doc = JSON.parse(text);
    else if (ext === '.yaml' || ext === '.yml') doc = parseYaml(text, { maxAliasCount: 100 });
    else invalid(file, 'must end in .yaml, .yml or .json');
  } catch (err) {
    if (err instanceof SwitchyardError) throw err;
    invalid(file, `is not valid ${ext === '.json' ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}`);
  }
  compileValidator(fileSchema, 'SWY_INVALID_OPTIONS', file)(doc);
  const providers = (doc as { providers: unknown[] }).providers;
  const names = new Set<string>();
  return providers.map((raw, i) => {
    const path = `providers[${i}]`;
    const p = interpolate(raw, env, file, path) as Record<string, unknown>;
    compileValidator(providerCreateSchema, 'SWY_INVALID_OPTIONS', `${file}: ${path}`)(p);
    const name = p.name as string;
    if (names.has(name)) invalid(file, `${path}: the name ${JSON.stringify(name)} is used twice`);
    names.add(name);
    return p;
  });
}
