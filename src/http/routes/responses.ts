/**
 * `/v1/responses`: create (plain or streamed with the Responses event types), read back and delete
 * stored responses. Each response is a `chat` job on the same path as every other request, with
 * the same accounting.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Engine } from '../../engine.js';
import { SwitchyardError } from '../../errors.js';
import { clientGone, openEventStream, runJob, type EventStream } from '../live.js';
import { visibleScope } from '../auth.js';
import type { ChatOutput } from '../../jobs/chat.js';
import type { Job } from '../../domain/jobs.js';
import type { ChatDelta } from '../../domain/chat.js';
import { CHAT_COMPLETION_PRIORITY, messageOf } from '../../openai/chat.js';
import { jobError } from '../../openai/errors.js';
import {
  jobIdOf,
  outputItems,
  readable,
  responseId,
  responsesRequestSchema,
  toJob,
  toResponse,
  type ResponsesRequest,
} from '../../openai/responses.js';
import { idParams } from '../schemas.js';

/**
 * The Responses event stream of one answer: items are opened as their first piece arrives (a
 * message item for text, a function_call item per tool call), filled by deltas, and closed, then
 * `response.completed` carries the whole response.
 */
class ResponseEvents {
  private seq = 0;
  private next = 0;
  private text: { index: number; id: string; text: string; refusal: boolean } | undefined;
  private readonly calls = new Map<number, { index: number; id: string; callId: string; name: string; args: string }>();

  constructor(
    private readonly events: EventStream,
    private readonly jobId: string,
  ) {}

  private send(type: string, data: Record<string, unknown>): void {
    this.events.send({ type, sequence_number: this.seq++, ...data }, type);
  }

  begin(response: unknown): void {
    this.send('response.created', { response });
    this.send('response.in_progress', { response });
  }

  delta(d: ChatDelta): void {
    const piece = d.content ?? d.refusal;
    if (piece) {
      const refusal = d.content === undefined;
      if (!this.text) {
        this.text = { index: this.next++, id: `msg_${this.jobId}`, text: '', refusal };
        this.send('response.output_item.added', {
          output_index: this.text.index,
          item: { type: 'message', id: this.text.id, status: 'in_progress', role: 'assistant', content: [] },
        });
        this.send('response.content_part.added', {
          item_id: this.text.id,
          output_index: this.text.index,
          content_index: 0,
          part: refusal ? { type: 'refusal', refusal: '' } : { type: 'output_text', text: '', annotations: [], logprobs: [] },
        });
      }
      this.text.text += piece;
      this.send(this.text.refusal ? 'response.refusal.delta' : 'response.output_text.delta', {
        item_id: this.text.id,
        output_index: this.text.index,
        content_index: 0,
        delta: piece,
        ...(!this.text.refusal && { logprobs: [] }),
      });
    }
    for (const t of d.tool_calls ?? []) {
      let call = this.calls.get(t.index);
      if (!call) {
        call = { index: this.next++, id: `fc_${this.jobId}_${t.index}`, callId: t.id ?? '', name: t.function?.name ?? '', args: '' };
        this.calls.set(t.index, call);
        this.send('response.output_item.added', {
          output_index: call.index,
          item: { type: 'function_call', id: call.id, call_id: call.callId, name: call.name, arguments: '', status: 'in_progress' },
        });
      }
      const args = t.function?.arguments;
      if (args) {
        call.args += args;
        this.send('response.function_call_arguments.delta', { item_id: call.id, output_index: call.index, delta: args });
      }
    }
  }

  /** Close the items opened, then `response.completed` with the response. */
  finish(job: Job): void {
    const items = outputItems(job.id, messageOf(job.output as ChatOutput)) as { type: string }[];
    if (this.text) {
      const item = items.find((i) => i.type === 'message') as unknown as { content: Record<string, unknown>[] };
      const part = item.content[0] as Record<string, unknown>;
      if (!this.text.refusal)
        this.send('response.output_text.done', {
          item_id: this.text.id,
          output_index: this.text.index,
          content_index: 0,
          text: this.text.text,
          logprobs: [],
        });
      else
        this.send('response.refusal.done', {
          item_id: this.text.id,
          output_index: this.text.index,
          content_index: 0,
          refusal: this.text.text,
        });
      this.send('response.content_part.done', { item_id: this.text.id, output_index: this.text.index, content_index: 0, part });
      this.send('response.output_item.done', { output_index: this.text.index, item });
    }
    for (const call of this.calls.values()) {
      this.send('response.function_call_arguments.done', { item_id: call.id, output_index: call.index, arguments: call.args });
      this.send('response.output_item.done', {
        output_index: call.index,
        item: { type: 'function_call', id: call.id, call_id: call.callId, name: call.name, arguments: call.args, status: 'completed' },
      });
    }
    this.send('response.completed', { response: toResponse(job) });
  }

  fail(job: Job): void {
    this.send('response.failed', { response: toResponse(job) });
  }

  /** Pieces of an answer that came whole (its call did not stream). */
  whole(out: ChatOutput): void {
    const message = messageOf(out);
    if (typeof message.content === 'string' && message.content !== '') this.delta({ content: message.content });
    if (message.refusal) this.delta({ refusal: message.refusal });
    for (const [index, c] of (message.tool_calls ?? []).entries()) this.delta({ tool_calls: [{ index, ...c }] });
  }
}

export async function responsesRoutes(
  app: FastifyInstance,
  { engine, heartbeatMs }: { engine: Engine; heartbeatMs: number },
): Promise<void> {
  /** The stored response `id` a key may read, or SWY_JOB_NOT_FOUND (as an unknown one). */
  const stored = async (id: string, scope: { tenant?: string }): Promise<Job> => {
    const jobId = jobIdOf(id);
    const job = jobId === undefined ? undefined : await engine.get(jobId, scope).catch(() => undefined);
    if (!job || !readable(job)) throw new SwitchyardError('SWY_JOB_NOT_FOUND', `response ${id} not found`);
    return job;
  };

  app.post<{ Body: ResponsesRequest }>(
    '/v1/responses',
    { config: { scope: 'jobs:write' }, schema: { body: responsesRequestSchema } },
    async (req, reply: FastifyReply) => {
      const body = req.body;
      const previous = body.previous_response_id ? await stored(body.previous_response_id, { tenant: req.principal.tenant }) : undefined;
      const { input, meta } = toJob(body, previous, body.stream === true);
      const submit = { type: 'chat', input, priority: CHAT_COMPLETION_PRIORITY, metadata: { source: 'responses', responses: meta } };
      const gone = clientGone(reply.raw);
      const tenant = req.principal.tenant;
      if (!body.stream) {
        const done = await runJob(engine, submit, { tenant, gone });
        if (!done) return reply.status(499).send();
        if (done.status === 'completed') return toResponse(done, body);
        const e = jobError(done.error);
        return reply.status(e.status).send(e.body);
      }
      // As on /v1/chat/completions: the stream begins with the first piece (or a heartbeat), so a
      // request that fails before any piece answers with its error status.
      let writer: ResponseEvents | undefined;
      let events: EventStream | undefined;
      let submitted: Job | undefined;
      let heartbeat: NodeJS.Timeout | undefined;
      let pieces = 0;
      const open = (): ResponseEvents => {
        if (!writer || !events) {
          events = openEventStream(reply, { 'x-switchyard-job-id': submitted?.id ?? '' });
          writer = new ResponseEvents(events, submitted?.id ?? '');
          writer.begin(toResponse(submitted as Job, body));
        }
        return writer;
      };
      try {
        const done = await runJob(engine, submit, {
          tenant,
          gone,
          onSubmitted: (job) => {
            submitted = job;
            heartbeat = setInterval(() => {
              open();
              events?.comment('waiting');
            }, heartbeatMs);
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
          return reply.status(e.status).send(e.body);
        }
        const w = open();
        if (done.status === 'completed') {
          if (pieces === 0) w.whole(done.output as ChatOutput);
          w.finish(done);
        } else {
          w.fail(done);
        }
      } finally {
        clearInterval(heartbeat);
        events?.end();
      }
    },
  );

  app.get<{ Params: { id: string } }>('/v1/responses/:id', { config: { scope: 'jobs:read' }, schema: { params: idParams } }, async (req) =>
    toResponse(await stored(req.params.id, visibleScope(req.principal))),
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/responses/:id',
    { config: { scope: 'jobs:write' }, schema: { params: idParams } },
    async (req) => {
      const scope = visibleScope(req.principal);
      const job = await stored(req.params.id, scope);
      if (job.status === 'queued' || job.status === 'running') await engine.cancel(job.id, scope).catch(() => undefined);
      await engine.erase(job.id, scope);
      return { id: responseId(job.id), object: 'response.deleted', deleted: true };
    },
  );
}
