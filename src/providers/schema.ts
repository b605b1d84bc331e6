/** JSON Schemas of provider configs: the HTTP routes and the library's `providers.add/update` use the same ones. */
import { PROVIDER_KINDS } from '../domain/providers.js';

const breaker = {
  type: 'object',
  additionalProperties: false,
  properties: {
    errorThresholdPercentage: { type: 'number', minimum: 1, maximum: 100 },
    volumeThreshold: { type: 'integer', minimum: 1, maximum: 100_000 },
    resetTimeoutMs: { type: 'integer', minimum: 10, maximum: 3_600_000 },
    rollingWindowMs: { type: 'integer', minimum: 100, maximum: 3_600_000 },
  },
} as const;

const price = {
  type: 'object',
  additionalProperties: false,
  required: ['input', 'output'],
  properties: {
    input: { type: 'number', minimum: 0 },
    output: { type: 'number', minimum: 0 },
    cacheRead: { type: 'number', minimum: 0 },
    cacheWrite: { type: 'number', minimum: 0 },
  },
} as const;

const fields = {
  kind: { type: 'string', enum: PROVIDER_KINDS },
  baseUrl: { type: ['string', 'null'], maxLength: 2048, pattern: '^https?://[^\\s]+$' },
  apiKey: { type: ['string', 'null'], minLength: 1, maxLength: 4096 },
  models: { type: 'array', minItems: 1, maxItems: 1000, items: { type: 'string', minLength: 1, maxLength: 256 } },
  modelMap: { type: 'object', maxProperties: 1000, additionalProperties: { type: 'string', minLength: 1, maxLength: 256 } },
  priority: { type: 'integer', minimum: -1_000_000, maximum: 1_000_000 },
  weight: { type: 'number', minimum: 0, maximum: 1_000_000 },
  enabled: { type: 'boolean' },
  timeoutMs: { type: 'integer', minimum: 1, maximum: 3_600_000 },
  maxConcurrency: { type: 'integer', minimum: 1, maximum: 1_000_000 },
  rpm: { type: ['integer', 'null'], minimum: 1 },
  tpm: { type: ['integer', 'null'], minimum: 1 },
  breaker,
  prices: { type: 'object', maxProperties: 1000, additionalProperties: price },
  options: { type: 'object', maxProperties: 100 },
} as const;

export const providerName = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' } as const;

/** Body of `POST /v1/providers` and `engine.providers.add()`. */
export const providerCreateSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'kind'],
  properties: { name: providerName, ...fields },
} as const;

/** Body of `PATCH /v1/providers/:name` and `engine.providers.update()`. */
export const providerPatchSchema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: fields,
} as const;

const headers = { type: 'object', maxProperties: 50, additionalProperties: { type: 'string', maxLength: 4096 } } as const;
const defaultModel = { type: 'string', minLength: 1, maxLength: 256 } as const;

/** Kind-specific `options`. */
export const providerOptionsSchemas = {
  mock: {
    type: 'object',
    additionalProperties: false,
    properties: {
      latencyMs: { type: 'number', minimum: 0, maximum: 3_600_000 },
      jitterMs: { type: 'number', minimum: 0, maximum: 3_600_000 },
      failRate: { type: 'number', minimum: 0, maximum: 1 },
      tokensPerSecond: { type: 'number', minimum: 0, maximum: 1_000_000 },
      defaultModel,
    },
  },
  anthropic: {
    type: 'object',
    additionalProperties: false,
    properties: {
      headers,
      defaultModel,
      maxTokens: { type: 'integer', minimum: 1, maximum: 1_000_000 },
      version: { type: 'string', minLength: 1, maxLength: 64 },
    },
  },
  openai: {
    type: 'object',
    additionalProperties: false,
    properties: { headers, defaultModel },
  },
  gemini: {
    type: 'object',
    additionalProperties: false,
    properties: { headers, defaultModel },
  },
  azure: {
    type: 'object',
    additionalProperties: false,
    properties: {
      headers,
      defaultModel,
      /** The Azure OpenAI `api-version` query parameter. */
      apiVersion: { type: 'string', pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}(-preview)?$' },
    },
  },
  bedrock: {
    type: 'object',
    additionalProperties: false,
    properties: {
      headers,
      defaultModel,
      /** The AWS region that signs the requests and, without a baseUrl, names the endpoint. */
      region: { type: 'string', pattern: '^[a-z]{2}(-[a-z]+)+-[0-9]+$' },
    },
  },
} as const;
