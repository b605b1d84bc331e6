/** Job types: a name, the handler module that runs it in the pool, and how its input is validated. */
import { SwitchyardError } from '../errors.js';
import type { SchemaChecker } from '../schema/checker.js';
import { compileValidator } from '../validation.js';
import { schemaOf } from '../providers/request.js';
import type { LlmRequest } from '../domain/providers.js';
import { chatInputSchema } from './chat-schema.js';
import { chatHandler, type ChatInput } from './chat.js';
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
  /**
   * Checks that need more than the input's shape (a tenant's JSON Schema is compiled off the main
   * thread); undefined when there is nothing more to check.
   */
  check?(input: unknown): Promise<unknown> | undefined;
  timeoutMs: number | undefined;
  maxAttempts: number | undefined;
}

const validateChat = compileValidator<ChatInput>(chatInputSchema, 'SWY_VALIDATION', 'input');

export class JobTypes {
  private readonly types = new Map<string, JobType>();

  /**
   * `schemas` compiles and checks the JSON Schemas that chat jobs carry; `unsupported` names a
   * parameter of a request that no provider serving its model can carry (Router.unsupported).
   */
  constructor(schemas: SchemaChecker, unsupported: (req: LlmRequest) => string | undefined = () => undefined) {
    this.types.set('chat', {
      name: 'chat',
      handlerUrl: new URL(`./chat${EXT}`, import.meta.url).href,
      inline: chatHandler(schemas) as Handler,
      validate: validateChat,
      check: (input) => {
        const chat = input as ChatInput;
        const param = unsupported(chat as LlmRequest);
        if (param !== undefined) {
          throw new SwitchyardError(
            'SWY_UNSUPPORTED_PARAMETER',
            `no provider serving model ${chat.model ?? '(default)'} can carry the parameter ${param}`,
          );
        }
        const schema = schemaOf(chat);
        return schema === undefined ? undefined : schemas.prepare(schema, 'input.responseSchema');
      },
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
}
