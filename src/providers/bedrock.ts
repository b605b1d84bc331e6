/**
 * The `bedrock` adapter: AWS Bedrock's Converse API, `POST {baseUrl}/model/{modelId}/converse`
 * and, streamed, `/converse-stream`, whose answer is AWS's binary event-stream framing (decoded
 * with Smithy's codec). Requests are signed with SigV4 (`apiKey` = `ACCESS_KEY_ID:SECRET_ACCESS_KEY`
 * or `…:SESSION_TOKEN`), or carry a Bedrock API key as a Bearer token (an `apiKey` without a colon).
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { EventStreamCodec, getChunkedStream } from '@smithy/core/event-streams';
import { SignatureV4 } from '@smithy/signature-v4';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import type { Agent } from 'undici';
import { SwitchyardError, type ErrorCode } from '../errors.js';
import type { Adapter, CallAbort, DeltaSink, LlmResponse, NormalRequest, ProviderConfig } from '../domain/providers.js';
import type { ProviderEnv } from './env.js';
import { type BedrockUsage, type ConverseAnswer, finishOf, fromConverseContent, toConverseRequest, usageOf } from './bedrock-map.js';
import { callOf, type PostOptions, postBody, postJson, providerAgent } from './http.js';
import { Assembler } from './request.js';
import { textOf } from './tokens.js';

/** The region used when `options.region` is not set. */
export const BEDROCK_REGION = 'us-east-1';

/** Bedrock's endpoint in `region`, when `baseUrl` is not set. */
export const bedrockUrl = (region: string) => `https://bedrock-runtime.${region}.amazonaws.com`;

/** The exceptions a ConverseStream may end with → the taxonomy. */
const STREAM_ERRORS: Record<string, ErrorCode> = {
  throttlingException: 'SWY_PROVIDER_RATE_LIMITED',
  serviceUnavailableException: 'SWY_PROVIDER_OVERLOADED',
  validationException: 'SWY_PROVIDER_BAD_REQUEST',
  modelStreamErrorException: 'SWY_PROVIDER_SERVER',
  internalServerException: 'SWY_PROVIDER_SERVER',
};

// biome-ignore lint/suspicious/noExplicitAny: ConverseStream's events are many shapes, each field checked where read
type StreamEvent = Record<string, any>;

export class BedrockAdapter implements Adapter {
  private readonly agent: Agent;
  private readonly base: URL;
  private readonly extra: Record<string, string>;
  private readonly signer: SignatureV4 | undefined;
  private readonly bearer: string | undefined;

  constructor(
    private readonly config: ProviderConfig,
    env: ProviderEnv,
  ) {
    const region = (config.options.region as string | undefined) ?? BEDROCK_REGION;
    this.base = new URL((config.baseUrl ?? bedrockUrl(region)).replace(/\/+$/, ''));
    this.agent = providerAgent(config, env);
    this.extra = (config.options.headers ?? {}) as Record<string, string>;
    const key = config.apiKey ?? '';
    const [accessKeyId, secretAccessKey, sessionToken] = key.split(':');
    if (key.includes(':') && accessKeyId && secretAccessKey) {
      this.signer = new SignatureV4({
        service: 'bedrock',
        region,
        sha256: Sha256,
        credentials: { accessKeyId, secretAccessKey, ...(sessionToken && { sessionToken }) },
      });
    } else if (key) this.bearer = key;
  }

  /** The signed (or Bearer-authorised) POST of `body` to `{base}/model/{model}/{action}`. */
  private async post(model: string, action: string, body: Record<string, unknown>, abort: CallAbort): Promise<PostOptions> {
    const path = `${this.base.pathname === '/' ? '' : this.base.pathname}/model/${encodeURIComponent(model)}/${action}`;
    const text = JSON.stringify(body);
    let headers: Record<string, string> = { ...this.extra, 'content-type': 'application/json', host: this.base.host };
    if (this.signer) {
      const signed = await this.signer.sign({
        method: 'POST',
        protocol: this.base.protocol,
        hostname: this.base.hostname,
        ...(this.base.port && { port: Number(this.base.port) }),
        path,
        query: {},
        headers,
        body: text,
      });
      headers = signed.headers as Record<string, string>;
    } else if (this.bearer) headers.authorization = `Bearer ${this.bearer}`;
    // undici sets the Host header itself, from the URL (which is the one signed).
    const { host: _host, ...sent } = headers;
    return callOf(this.config, this.agent, `${this.base.origin}${path}`, sent, text, abort);
  }

  async chat(req: NormalRequest, abort: CallAbort, onDelta?: DeltaSink): Promise<Omit<LlmResponse, 'provider'>> {
    if (onDelta) return this.stream(req, abort, onDelta);
    const data = await postJson<ConverseAnswer>(await this.post(req.model, 'converse', toConverseRequest(req), abort));
    const content = data.output?.message?.content;
    if (!Array.isArray(content))
      throw new SwitchyardError('SWY_PROVIDER_BAD_RESPONSE', `${this.config.name}: answer has no output.message`);
    const message = fromConverseContent(content);
    return {
      text: textOf(message.content ?? ''),
      message,
      finishReason: finishOf(data.stopReason),
      model: req.model,
      usage: usageOf(data.usage),
    };
  }

  /** ConverseStream's events, translated to Chat Completions deltas as they arrive. */
  private async stream(req: NormalRequest, abort: CallAbort, onDelta: DeltaSink): Promise<Omit<LlmResponse, 'provider'>> {
    const answer = new Assembler();
    const codec = new EventStreamCodec(toUtf8, fromUtf8);
    /** Content block index → tool call index (OpenAI numbers tool calls from 0). */
    const toolIndex = new Map<number, number>();
    let stop: string | undefined;
    let usage: BedrockUsage | undefined;
    const emit = (d: Parameters<DeltaSink>[0]) => {
      answer.add(d);
      onDelta(d);
    };
    const handle = (type: string, kind: string, e: StreamEvent) => {
      if (type === 'exception') {
        throw new SwitchyardError(STREAM_ERRORS[kind] ?? 'SWY_PROVIDER_SERVER', `${this.config.name}: the stream ended with ${kind}`, {
          ...(typeof e.message === 'string' && { detail: e.message.slice(0, 300) }),
        });
      }
      switch (kind) {
        case 'contentBlockStart': {
          const tool = e.start?.toolUse;
          if (tool) {
            const index = toolIndex.size;
            toolIndex.set(e.contentBlockIndex, index);
            emit({ tool_calls: [{ index, id: tool.toolUseId, type: 'function', function: { name: tool.name, arguments: '' } }] });
          }
          break;
        }
        case 'contentBlockDelta': {
          const d = e.delta ?? {};
          if (typeof d.text === 'string' && d.text) emit({ content: d.text });
          else if (d.toolUse?.input)
            emit({ tool_calls: [{ index: toolIndex.get(e.contentBlockIndex) ?? 0, function: { arguments: d.toolUse.input } }] });
          else if (d.reasoningContent?.text) onDelta({ reasoning: d.reasoningContent.text });
          break;
        }
        case 'messageStop':
          stop = e.stopReason ?? 'end_turn';
          break;
        case 'metadata':
          usage = e.usage;
          break;
        default:
          break; // messageStart, contentBlockStop
      }
    };
    const stream = await this.post(req.model, 'converse-stream', toConverseRequest(req), abort);
    await postBody(stream, 'application/vnd.amazon.eventstream', async (body) => {
      // getChunkedStream cuts the bytes into whole frames by their length prefix; the codec checks
      // each frame's checksums and reads its headers.
      for await (const bytes of getChunkedStream(body)) {
        let m: ReturnType<EventStreamCodec['decode']>;
        try {
          m = codec.decode(bytes);
        } catch (err) {
          throw new SwitchyardError(
            'SWY_PROVIDER_BAD_RESPONSE',
            `${this.config.name}: a stream frame is malformed (${(err as Error).message})`,
          );
        }
        const type = String(m.headers[':message-type']?.value ?? 'event');
        const kind = String(m.headers[type === 'exception' ? ':exception-type' : ':event-type']?.value ?? '');
        let payload: StreamEvent;
        try {
          payload = m.body.length ? JSON.parse(toUtf8(m.body)) : {};
        } catch {
          throw new SwitchyardError('SWY_PROVIDER_BAD_RESPONSE', `${this.config.name}: a stream event is not JSON`);
        }
        handle(type, kind, payload);
      }
    });
    if (stop === undefined)
      throw new SwitchyardError('SWY_PROVIDER_BAD_RESPONSE', `${this.config.name}: the stream ended before the answer did`);
    const message = answer.message();
    return {
      text: textOf(message.content ?? ''),
      message,
      finishReason: finishOf(stop),
      model: req.model,
      usage: usageOf(usage),
    };
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
