/**
 * The Anthropic-compatible front: `POST /v1/messages` (plain and streamed in Anthropic's event
 * format) and `POST /v1/messages/count_tokens`, on the same server, keys and job path as every
 * other request. The key may come as `x-api-key` (as Anthropic's clients send it) or as a Bearer
 * token; errors answer in Anthropic's shape. Point the official `@anthropic-ai/sdk` client's
 * `baseURL` at `http://host:port` (no `/v1`: the client adds it).
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Engine } from '../../engine.js';
import { replyWithError } from '../errors.js';
import { clientGone, openEventStream, runJob, type EventStream } from '../live.js';
import type { InputLimits } from '../../limits.js';
import { checkMessages } from '../limits.js';
import type { ChatOutput } from '../../jobs/chat.js';
import type { Job } from '../../domain/jobs.js';
import { jobError } from '../../openai/errors.js';
import { CHAT_COMPLETION_PRIORITY, messageOf } from '../../openai/chat.js';
import { STOP } from '../../providers/anthropic-map.js';
import type { ChatDelta } from '../../domain/chat.js';
import { estimateTokens } from '../../providers/tokens.js';
import {
  anthropicError,
  countTokensSchema,
  messagesRequestSchema,
  toChatInput,
  toMessage,
  type MessagesRequest,
} from '../../anthropic/messages.js';

/**
 * Anthropic's events for one answer: a block opens at its first piece (text, or a tool_use per
 * tool call), deltas fill it, and `message_delta` / `message_stop` end the message.
 */
class MessageEvents {
  private index = -1;
  private open: 'text' | number | undefined;

  constructor(private readonly events: EventStream) {}

  private send(type: string, data: Record<string, unknown>): void {
    this.events.send({ type, ...data }, type);
  }

  begin(jobId: string, model: string, inputTokens: number): void {
    this.send('message_start', {
      message: {
        id: `msg_${jobId}`,
        type: 'message',
        role: 'assistant',
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: inputTokens, output_tokens: 0 },
      },
    });
  }

  private close(): void {
    if (this.open !== undefined) this.send('content_block_stop', { index: this.index });
    this.open = undefined;
  }

  delta(d: ChatDelta): void {
    const text = d.content ?? d.refusal;
    if (text) {
      if (this.open !== 'text') {
        this.close();
        this.index++;
        this.open = 'text';
        this.send('content_block_start', { index: this.index, content_block: { type: 'text', text: '' } });
      }
      this.send('content_block_delta', { index: this.index, delta: { type: 'text_delta', text } });
    }
    for (const t of d.tool_calls ?? []) {
      if (this.open !== t.index) {
        this.close();
        this.index++;
        this.open = t.index;
        this.send('content_block_start', {
          index: this.index,
          content_block: { type: 'tool_use', id: t.id ?? `toolu_${t.index}`, name: t.function?.name ?? '', input: {} },
        });
      }
      if (t.function?.arguments)
        this.send('content_block_delta', { index: this.index, delta: { type: 'input_json_delta', partial_json: t.function.arguments } });
    }
  }

  finish(job: Job): void {
    this.close();
    const out = job.output as ChatOutput;
    this.send('message_delta', {
      delta: { stop_reason: STOP[out.finishReason] ?? 'end_turn', stop_sequence: null },
      usage: { output_tokens: job.usage.outputTokens },
    });
    this.send('message_stop', {});
  }

  fail(code: string, message: string, status: number): void {
    this.events.send(anthropicError(code, message, status), 'error');
  }

  ping(): void {
    this.send('ping', {});
  }

  whole(out: ChatOutput): void {
    const message = messageOf(out);
    if (typeof message.content === 'string' && message.content !== '') this.delta({ content: message.content });
    for (const [index, c] of (message.tool_calls ?? []).entries()) this.delta({ tool_calls: [{ index, ...c }] });
  }
}

export interface AnthropicRoutesOptions {
  engine: Engine;
  limits: InputLimits;
  heartbeatMs: number;
}

function anthropicErrorHandler(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  replyWithError(err, req, reply, (code, message, status) => {
    void reply.header('x-switchyard-error-code', code);
    return anthropicError(code, message, status);
  });
}

export async function anthropicRoutes(app: FastifyInstance, { engine, limits, heartbeatMs }: AnthropicRoutesOptions): Promise<void> {
  app.setErrorHandler(anthropicErrorHandler);

  app.post<{ Body: MessagesRequest }>(
    '/v1/messages',
    {
      config: { scope: 'jobs:write' },
      schema: { body: messagesRequestSchema },
      preValidation: async (req) => checkMessages((req.body as { messages?: unknown } | undefined)?.messages, limits, 'messages'),
    },
    async (req, reply) => {
      const body = req.body;
      const submit = {
        type: 'chat',
        input: toChatInput(body, body.stream === true),
        priority: CHAT_COMPLETION_PRIORITY,
        metadata: { source: 'messages' },
      };
      const gone = clientGone(reply.raw);
      const tenant = req.principal.tenant;
      if (!body.stream) {
        const done = await runJob(engine, submit, { tenant, gone });
        if (!done) return reply.status(499).send();
        void reply.header('x-switchyard-job-id', done.id);
        if (done.status === 'completed') return toMessage(done, body.model);
        const e = jobError(done.error);
        return reply
          .status(e.status)
          .header('x-switchyard-error-code', done.error?.code ?? 'SWY_INTERNAL')
          .send(anthropicError(done.error?.code ?? 'SWY_INTERNAL', done.error?.message ?? 'the request failed', e.status));
      }
      // As on the other fronts: the stream begins with the first piece (or a heartbeat, a `ping`).
      let writer: MessageEvents | undefined;
      let events: EventStream | undefined;
      let jobId = '';
      let heartbeat: NodeJS.Timeout | undefined;
      let pieces = 0;
      const input = submit.input;
      const open = (): MessageEvents => {
        if (!writer) {
          events = openEventStream(reply, { 'x-switchyard-job-id': jobId });
          writer = new MessageEvents(events);
          writer.begin(jobId, body.model, estimateTokens(input.messages, input.tools));
        }
        return writer;
      };
      try {
        const done = await runJob(engine, submit, {
          tenant,
          gone,
          onSubmitted: (job) => {
            jobId = job.id;
            heartbeat = setInterval(() => open().ping(), heartbeatMs);
          },
          onToken: (e) => {
            if (e.kind !== 'delta' || e.delta.reasoning !== undefined) return;
            pieces++;
            open().delta(e.delta);
          },
        });
        if (!done) return;
        if (done.status !== 'completed' && !writer) {
          const e = jobError(done.error);
          return reply
            .status(e.status)
            .send(anthropicError(done.error?.code ?? 'SWY_INTERNAL', done.error?.message ?? 'the request failed', e.status));
        }
        const w = open();
        if (done.status === 'completed') {
          if (pieces === 0) w.whole(done.output as ChatOutput);
          w.finish(done);
        } else {
          w.fail(done.error?.code ?? 'SWY_INTERNAL', done.error?.message ?? 'the request failed', jobError(done.error).status);
        }
      } finally {
        clearInterval(heartbeat);
        events?.end();
      }
    },
  );

  app.post<{ Body: MessagesRequest }>(
    '/v1/messages/count_tokens',
    { config: { scope: 'jobs:write' }, schema: { body: countTokensSchema } },
    async (req) => {
      const input = toChatInput({ ...req.body, max_tokens: 1 });
      return { input_tokens: estimateTokens(input.messages, input.tools) };
    },
  );
}
