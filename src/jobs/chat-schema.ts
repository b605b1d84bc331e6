/** Input of the built-in `chat` job type. */
export const chatInputSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['messages'],
  properties: {
    messages: {
      type: 'array',
      minItems: 1,
      maxItems: 1000,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['role', 'content'],
        properties: {
          role: { type: 'string', enum: ['system', 'user', 'assistant', 'tool'] },
          content: { type: 'string', maxLength: 1_000_000 },
        },
      },
    },
    model: { type: 'string', minLength: 1, maxLength: 256 },
    temperature: { type: 'number', minimum: 0, maximum: 2 },
    maxTokens: { type: 'integer', minimum: 1, maximum: 1_000_000 },
    responseSchema: { type: 'object' },
  },
} as const;
