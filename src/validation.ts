/** One Ajv instance for the engine's own validation (options, job inputs, provider configs). */
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { SwitchyardError, type ErrorCode } from './errors.js';

// ajv-formats is CommonJS; under NodeNext its default export arrives as the module object.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

export const ajv = new Ajv({ allErrors: false, strict: false, useDefaults: false });
addFormats(ajv);

/** Compile `schema` into a function that throws a coded error naming the first problem. */
export function compileValidator<T>(schema: object, code: ErrorCode = 'SWY_VALIDATION', what = 'input'): (data: unknown) => T {
  const validate: ValidateFunction = ajv.compile(schema);
  return (data: unknown): T => {
    if (!validate(data)) {
      const e = validate.errors?.[0];
      const where = e?.instancePath ? `${what}${e.instancePath.replaceAll('/', '.')}` : what;
      throw new SwitchyardError(code, `${where} ${e?.message ?? 'is invalid'}`);
    }
    return data as T;
  };
}
