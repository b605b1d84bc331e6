/**
 * The one Ajv factory: every validator in Switchyard (options, job inputs, provider configs, route
 * schemas, and the JSON Schemas tenants send) is compiled by an instance made here.
 */
import { createRequire } from 'node:module';
import { Ajv, type ErrorObject, type Options, type ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import AjvDraft04Module from 'ajv-draft-04';
import addFormatsModule from 'ajv-formats';
import { RE2JS } from 're2js';
import { SwitchyardError, type ErrorCode } from './errors.js';

// CommonJS packages: under NodeNext their default export arrives as the module object.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;
const AjvDraft04 = AjvDraft04Module as unknown as typeof AjvDraft04Module.default;

/** The JSON Schema drafts Ajv supports. */
export type Draft = 'draft-04' | 'draft-06' | 'draft-07' | '2019-09' | '2020-12';

const DRAFTS: [RegExp, Draft][] = [
  [/^https?:\/\/json-schema\.org\/draft-04\/schema#?$/, 'draft-04'],
  [/^https?:\/\/json-schema\.org\/draft-06\/schema#?$/, 'draft-06'],
  [/^https?:\/\/json-schema\.org\/draft-07\/schema#?$/, 'draft-07'],
  [/^https?:\/\/json-schema\.org\/draft\/2019-09\/schema#?$/, '2019-09'],
  [/^https?:\/\/json-schema\.org\/draft\/2020-12\/schema#?$/, '2020-12'],
];

/** The draft a schema declares with `$schema` (draft-07 when it declares none), or undefined if Ajv has no such draft. */
export function draftOf(schema: unknown): Draft | undefined {
  const declared = (schema as { $schema?: unknown } | null)?.$schema;
  if (declared === undefined) return 'draft-07';
  if (typeof declared !== 'string') return undefined;
  return DRAFTS.find(([re]) => re.test(declared))?.[1];
}

/**
 * `pattern` and `patternProperties` of tenants' schemas run on RE2 (linear time, no backtracking):
 * a pattern like `^(a+)+$` cannot freeze a thread. Lookarounds and backreferences, which RE2 lacks,
 * make the schema fail to compile with a message that says so.
 */
const linearRegExp = Object.assign((pattern: string) => RE2JS.compile(pattern), { code: 'RE2JS.compile' });

export interface AjvOptions {
  /** @default "draft-07" */
  draft?: Draft;
  /** Coerce text to the schema's types (query strings, environment variables). @default false */
  coerceTypes?: boolean;
  /** Fill in `default`s. @default false */
  useDefaults?: boolean;
  /** Collect every error, not only the first. @default false */
  allErrors?: boolean;
  /**
   * A tenant's schema: patterns on RE2, formats in Ajv's "fast" mode, no logging, and every error
   * collected: Ajv nests the code of each property inside the last one's when it stops at the first
   * error, and a schema of a few thousand properties then takes seconds to compile (or overflows
   * the stack); collecting all errors keeps the code flat. @default false
   */
  untrusted?: boolean;
}

/** A new Ajv instance of the given draft, with the formats of ajv-formats. */
export function createAjv(opts: AjvOptions = {}): Ajv {
  const options: Options = {
    strict: false,
    allErrors: opts.allErrors ?? opts.untrusted ?? false,
    coerceTypes: opts.coerceTypes ?? false,
    useDefaults: opts.useDefaults ?? false,
    removeAdditional: false,
    discriminator: true,
    ...(opts.untrusted && { code: { regExp: linearRegExp }, logger: false, unicodeRegExp: true }),
  };
  let ajv: Ajv;
  switch (opts.draft ?? 'draft-07') {
    case 'draft-04':
      ajv = new AjvDraft04(options);
      break;
    case '2019-09':
      ajv = new Ajv2019(options);
      break;
    case '2020-12':
      ajv = new Ajv2020(options);
      break;
    case 'draft-06':
      ajv = new Ajv(options);
      ajv.addMetaSchema(createRequire(import.meta.url)('ajv/dist/refs/json-schema-draft-06.json') as object);
      break;
    case 'draft-07':
      ajv = new Ajv(options);
      break;
  }
  addFormats(ajv, { mode: opts.untrusted ? 'fast' : 'full' });
  return ajv;
}

/** The engine's own instance (options, job inputs, provider configs). */
export const ajv = createAjv();

/** A JSON Pointer under `root` in the one path style of every message: `body.messages[0].role`. */
export function pathOf(root: string, pointer: string): string {
  let path = root;
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    path += /^\d+$/.test(part) ? `[${part}]` : /^[A-Za-z_$][\w$]*$/.test(part) ? `.${part}` : `[${JSON.stringify(part)}]`;
  }
  return path;
}

/**
 * An Ajv error as a sentence that names the field, and the unknown property, the missing one or
 * the allowed values where there are some.
 */
export function describeError(e: ErrorObject | undefined, root: string): string {
  if (!e) return `${root} is invalid`;
  const path = pathOf(root, e.instancePath);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return `${path} has an unknown property ${JSON.stringify(p.additionalProperty)}`;
    case 'required':
      return `${path} needs the property ${JSON.stringify(p.missingProperty)}`;
    case 'enum':
      return `${path} must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'const':
      return `${path} must be ${JSON.stringify(p.allowedValue)}`;
    case 'discriminator':
      return p.error === 'tag'
        ? `${path} needs the property ${JSON.stringify(p.tag)}`
        : `${path}.${String(p.tag)} ${JSON.stringify(p.tagValue)} is not one of the known values`;
    case 'type':
      return `${path} must be of type ${String(p.type)}`;
    default:
      return `${path} ${e.message ?? 'is invalid'}`;
  }
}

/** Compile `schema` into a function that throws a coded error naming the first problem. */
export function compileValidator<T>(schema: object, code: ErrorCode = 'SWY_VALIDATION', what = 'input'): (data: unknown) => T {
  const validate: ValidateFunction = ajv.compile(schema);
  return (data: unknown): T => {
    if (!validate(data)) throw new SwitchyardError(code, describeError(validate.errors?.[0], what));
    return data as T;
  };
}
