/**
 * The schema thread: compiles tenants' JSON Schemas and checks answers against them, so that a slow
 * compile or a costly check (`uniqueItems` over a long array) never holds the main thread. The pool
 * terminates this thread when a task passes its time budget.
 */
import type { Ajv, ValidateFunction } from 'ajv';
import { createAjv, describeError, draftOf, type Draft } from '../validation.js';
import type { SchemaResult, SchemaTask } from './messages.js';

const instances = new Map<Draft, Ajv>();
/** Compiled validators by schema key (a hash of its text); bounded, oldest dropped first. */
const compiled = new Map<string, ValidateFunction>();
const MAX_COMPILED = 500;

function instance(draft: Draft): Ajv {
  let ajv = instances.get(draft);
  if (!ajv) {
    ajv = createAjv({ draft, untrusted: true });
    instances.set(draft, ajv);
  }
  return ajv;
}

function compile(key: string, text: string): ValidateFunction {
  const hit = compiled.get(key);
  if (hit) return hit;
  const schema = JSON.parse(text) as unknown;
  const draft = draftOf(schema);
  if (draft === undefined) {
    throw new Error(
      `its $schema ${JSON.stringify((schema as { $schema?: unknown }).$schema)} is not a draft Switchyard supports (draft-04, -06, -07, 2019-09, 2020-12)`,
    );
  }
  const ajv = instance(draft);
  if (!ajv.validateSchema(schema as object)) throw new Error(`it is not a valid JSON Schema: ${ajv.errorsText(ajv.errors)}`);
  let validate: ValidateFunction;
  try {
    validate = ajv.compile(schema as object);
  } finally {
    // Forget it in the instance (validators are kept here): one tenant's `$id` must not clash with another's.
    ajv.removeSchema();
  }
  if (compiled.size >= MAX_COMPILED) compiled.delete(compiled.keys().next().value as string);
  compiled.set(key, validate);
  return validate;
}

/** Piscina's task function (a named export: see runTask in ../pool/worker.ts). */
const DRAFTS: Draft[] = ['draft-04', 'draft-06', 'draft-07', '2019-09', '2020-12'];

export function runSchemaTask(task: SchemaTask): SchemaResult {
  if (task.kind === 'ping') {
    // Each draft's instance compiles its meta-schema when made, and the first compile in a thread
    // pays for loading and optimising Ajv's code generator: both done here, outside any task's budget.
    for (const d of DRAFTS) {
      const ajv = instance(d);
      ajv.compile({ type: 'object', properties: { warm: { type: 'array', items: { type: 'string', pattern: '^w' } } } })({ warm: ['w'] });
      ajv.removeSchema();
    }
    return { ok: true };
  }
  let validate: ValidateFunction;
  try {
    validate = compile(task.key, task.schema);
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
  if (task.kind === 'compile') return { ok: true };
  if (validate(task.value)) return { ok: true };
  return { ok: false, message: describeError(validate.errors?.[0] ?? undefined, 'answer') };
}
