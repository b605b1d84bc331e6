/** Job types: a name, the handler module that runs it in the pool, and how its input is validated. */
import { SwitchyardError } from '../errors.js';
import { ajv, compileValidator } from '../validation.js';
import { chatInputSchema } from './chat-schema.js';
import chat, { type ChatInput } from './chat.js';
import type { Handler } from './context.js';

const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

export interface JobTypeOptions {
  /** JSON Schema for the input, checked on submit. */
  inputSchema?: object;
  /** Default per-attempt timeout for jobs of this type, ms. */
  timeoutMs?: number;
  /** Default attempt budget for jobs of this type. */
  maxAttempts?: number;
}

export interface JobType {
  name: string;
  handlerUrl: string;
  /**
   * Built-in types only: the handler, run on the main thread instead of the pool (see
   * scheduler/inline.ts). It must return a JSON value (what `JSON.parse` returns): the completed
   * job carries that very value instead of parsing it back from the stored text.
   */
  inline?: Handler;
  validate(input: unknown): void;
  timeoutMs: number | undefined;
  maxAttempts: number | undefined;
}

const validateChat = compileValidator<ChatInput>(chatInputSchema, 'SWY_VALIDATION', 'input');

function checkChat(input: unknown): void {
  const chat = validateChat(input);
  if (chat.responseSchema !== undefined) {
    // validateSchema checks against the meta-schema without compiling (and caching) user schemas.
    if (!ajv.validateSchema(chat.responseSchema)) {
      throw new SwitchyardError('SWY_VALIDATION', `input.responseSchema is not a valid JSON Schema: ${ajv.errorsText(ajv.errors)}`);
    }
  }
}

export class JobTypes {
  private readonly types = new Map<string, JobType>();

  constructor() {
    this.types.set('chat', {
      name: 'chat',
      handlerUrl: new URL(`./chat${EXT}`, import.meta.url).href,
      inline: chat as Handler,
      validate: checkChat,
      timeoutMs: undefined,
      maxAttempts: undefined,
    });
  }

  define(name: string, moduleUrl: string | URL, opts: JobTypeOptions = {}): void {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/.test(name)) {
      throw new SwitchyardError('SWY_INVALID_OPTIONS', `job type name ${JSON.stringify(name)} is not valid`);
    }
    const validate = opts.inputSchema ? compileValidator(opts.inputSchema) : () => undefined;
    this.types.set(name, {
      name,
      handlerUrl: String(moduleUrl),
      validate,
      timeoutMs: opts.timeoutMs,
      maxAttempts: opts.maxAttempts,
    });
  }

  get(name: string): JobType {
    const t = this.types.get(name);
    if (!t) throw new SwitchyardError('SWY_UNKNOWN_JOB_TYPE', `unknown job type ${JSON.stringify(name)}`);
    return t;
  }

  names(): string[] {
    return [...this.types.keys()];
  }
}
