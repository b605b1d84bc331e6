/**
 * Input of the built-in `chat` job type: a whole Chat Completions request, by OpenAI's names, plus
 * two shorthands (`maxTokens`, `responseSchema`). `model` is optional here (the provider's default)
 * and required on `/v1/chat/completions`. Unknown fields are refused, naming them.
 */

const str = (maxLength: number) => ({ type: 'string', maxLength }) as const;
const nullable = (schema: Record<string, unknown>) => ({ anyOf: [schema, { type: 'null' }] });

const textPart = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'text'],
  properties: { type: { const: 'text' }, text: { type: 'string' } },
} as const;

const userPart = {
  type: 'object',
  required: ['type'],
  discriminator: { propertyName: 'type' },
  oneOf: [
    textPart,
    {
      type: 'object',
      additionalProperties: false,
      required: ['type', 'image_url'],
      properties: {
        type: { const: 'image_url' },
        image_url: {
          type: 'object',
          additionalProperties: false,
          required: ['url'],
          properties: { url: { type: 'string', minLength: 1 }, detail: { enum: ['auto', 'low', 'high'] } },
        },
      },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['type', 'input_audio'],
      properties: {
        type: { const: 'input_audio' },
        input_audio: {
          type: 'object',
          additionalProperties: false,
          required: ['data', 'format'],
          properties: { data: { type: 'string' }, format: { enum: ['wav', 'mp3'] } },
        },
      },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['type', 'file'],
      properties: {
        type: { const: 'file' },
        file: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: { file_data: { type: 'string' }, file_id: str(256), filename: str(1024) },
        },
      },
    },
  ],
} as const;

const toolCall = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'type', 'function'],
  properties: {
    id: { type: 'string', minLength: 1, maxLength: 256 },
    type: { const: 'function' },
    function: {
      type: 'object',
      additionalProperties: false,
      required: ['name', 'arguments'],
      properties: { name: { type: 'string', minLength: 1, maxLength: 256 }, arguments: { type: 'string' } },
    },
  },
} as const;

const textContent = { anyOf: [{ type: 'string' }, { type: 'array', items: textPart }] } as const;
const name = str(256);

const message = {
  type: 'object',
  required: ['role'],
  discriminator: { propertyName: 'role' },
  oneOf: [
    {
      type: 'object',
      additionalProperties: false,
      required: ['role', 'content'],
      properties: { role: { const: 'system' }, content: textContent, name },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['role', 'content'],
      properties: { role: { const: 'developer' }, content: textContent, name },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['role', 'content'],
      properties: { role: { const: 'user' }, content: { anyOf: [{ type: 'string' }, { type: 'array', items: userPart }] }, name },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['role'],
      properties: {
        role: { const: 'assistant' },
        content: {
          anyOf: [
            { type: 'string' },
            { type: 'null' },
            {
              type: 'array',
              items: {
                type: 'object',
                required: ['type'],
                discriminator: { propertyName: 'type' },
                oneOf: [
                  textPart,
                  {
                    type: 'object',
                    additionalProperties: false,
                    required: ['type', 'refusal'],
                    properties: { type: { const: 'refusal' }, refusal: { type: 'string' } },
                  },
                ],
              },
            },
          ],
        },
        refusal: nullable({ type: 'string' }),
        tool_calls: { type: 'array', maxItems: 128, items: toolCall },
        name,
        audio: nullable({ type: 'object', additionalProperties: false, required: ['id'], properties: { id: str(256) } }),
      },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['role', 'content', 'tool_call_id'],
      properties: { role: { const: 'tool' }, content: textContent, tool_call_id: { type: 'string', minLength: 1, maxLength: 256 } },
    },
  ],
} as const;

const tool = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'function'],
  properties: {
    type: { const: 'function' },
    function: {
      type: 'object',
      additionalProperties: false,
      required: ['name'],
      properties: {
        name: { type: 'string', pattern: '^[a-zA-Z0-9_-]{1,64}$' },
        description: str(100_000),
        parameters: { type: 'object' },
        strict: nullable({ type: 'boolean' }),
      },
    },
  },
} as const;

/** The parameters of a Chat Completions request, shared by the `chat` job's input and `/v1/chat/completions`. */
export const chatParamsProperties = {
  model: { type: 'string', minLength: 1, maxLength: 256 },
  messages: { type: 'array', minItems: 1, maxItems: 1_000_000, items: message },
  max_tokens: nullable({ type: 'integer', minimum: 1, maximum: 10_000_000 }),
  max_completion_tokens: nullable({ type: 'integer', minimum: 1, maximum: 10_000_000 }),
  maxTokens: { type: 'integer', minimum: 1, maximum: 10_000_000 },
  temperature: nullable({ type: 'number', minimum: 0, maximum: 2 }),
  top_p: nullable({ type: 'number', minimum: 0, maximum: 1 }),
  top_k: nullable({ type: 'integer', minimum: 1 }),
  stop: nullable({ anyOf: [{ type: 'string' }, { type: 'array', minItems: 1, maxItems: 4, items: { type: 'string' } }] }),
  seed: nullable({ type: 'integer' }),
  presence_penalty: nullable({ type: 'number', minimum: -2, maximum: 2 }),
  frequency_penalty: nullable({ type: 'number', minimum: -2, maximum: 2 }),
  logit_bias: nullable({ type: 'object', maxProperties: 300, additionalProperties: { type: 'number', minimum: -100, maximum: 100 } }),
  logprobs: nullable({ type: 'boolean' }),
  top_logprobs: nullable({ type: 'integer', minimum: 0, maximum: 20 }),
  reasoning_effort: nullable({ enum: ['none', 'minimal', 'low', 'medium', 'high'] }),
  user: str(256),
  metadata: nullable({ type: 'object', maxProperties: 16, additionalProperties: str(512) }),
  tools: { type: 'array', maxItems: 128, items: tool },
  tool_choice: {
    anyOf: [
      { enum: ['none', 'auto', 'required'] },
      {
        type: 'object',
        additionalProperties: false,
        required: ['type', 'function'],
        properties: {
          type: { const: 'function' },
          function: {
            type: 'object',
            additionalProperties: false,
            required: ['name'],
            properties: { name: { type: 'string', minLength: 1 } },
          },
        },
      },
    ],
  },
  parallel_tool_calls: { type: 'boolean' },
  response_format: {
    type: 'object',
    required: ['type'],
    discriminator: { propertyName: 'type' },
    oneOf: [
      { type: 'object', additionalProperties: false, properties: { type: { const: 'text' } } },
      { type: 'object', additionalProperties: false, properties: { type: { const: 'json_object' } } },
      {
        type: 'object',
        additionalProperties: false,
        required: ['json_schema'],
        properties: {
          type: { const: 'json_schema' },
          json_schema: {
            type: 'object',
            additionalProperties: false,
            required: ['name'],
            properties: {
              name: { type: 'string', minLength: 1, maxLength: 64 },
              description: str(100_000),
              schema: { type: 'object' },
              strict: nullable({ type: 'boolean' }),
            },
          },
        },
      },
    ],
  },
  responseSchema: { type: 'object' },
  n: nullable({ type: 'integer', minimum: 1, maximum: 128 }),
  stream: nullable({ type: 'boolean' }),
  stream_options: nullable({
    type: 'object',
    properties: { include_usage: { type: 'boolean' }, include_obfuscation: { type: 'boolean' } },
  }),
  audio: nullable({ type: 'object' }),
  modalities: nullable({ type: 'array', items: { enum: ['text', 'audio'] } }),
  prediction: nullable({ type: 'object' }),
  prompt_cache_key: str(1024),
  prompt_cache_retention: nullable(str(64)),
  safety_identifier: str(256),
  service_tier: nullable(str(64)),
  store: nullable({ type: 'boolean' }),
  verbosity: nullable({ enum: ['low', 'medium', 'high'] }),
  web_search_options: { type: 'object' },
} as const;

/** Input of the `chat` job type. */
export const chatInputSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['messages'],
  properties: chatParamsProperties,
} as const;
