/**
 * A fake OpenAI-compatible server on 127.0.0.1: speaks the real `POST /chat/completions` wire
 * format, plain and streamed (`chat.completion.chunk` server-sent events, tool-call argument
 * deltas, the usage chunk, `[DONE]`), and can be told to answer, fail with a status, throttle with
 * Retry-After, hang, or break a stream before or after its first token.
 */
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Test } from 'tap';
import { until } from './wait.js';

export interface FakeToolCall {
  name: string;
  arguments: string;
}

export type Behaviour =
  | {
      kind: 'ok';
      text?: string;
      /** Answer with these tool calls (and no text unless `text` is given). */
      toolCalls?: FakeToolCall[];
      finishReason?: string;
      promptTokens?: number;
      completionTokens?: number;
      cachedTokens?: number;
      /** Before the answer (the first chunk of a stream), ms. */
      delayMs?: number;
      /** Between chunks of a stream, ms. */
      chunkDelayMs?: number;
      /** A stream without the usage chunk, even when asked for one. */
      noUsage?: boolean;
      /** A stream cut (the connection destroyed) after this many answer chunks: 0 cuts it before the first token. */
      cutAfter?: number;
      /** A stream that sends an error event after this many answer chunks. */
      errorAfter?: number;
    }
  | { kind: 'status'; status: number; retryAfter?: string; body?: unknown }
  | { kind: 'hang' }
  /** Drop the connection without an answer. */
  | { kind: 'reset' }
  /** 200 with a body that is not a chat completion. */
  | { kind: 'malformed' };

export interface FakeOpenAI {
  baseUrl: string;
  /** Requests received, in order, with their parsed bodies and headers. */
  requests: { body: any; headers: IncomingMessage['headers']; url: string }[];
  behave(b: Behaviour): void;
  server: Server;
  /** Hanging requests whose client went away (aborted the call). */
  aborted(): number;
  /** Resolves when the client of a hanging request goes away. */
  nextAbort(): Promise<void>;
  /** Resolves once `n` requests in all have been received. */
  received(n: number): Promise<void>;
  /** Most requests it was answering at once. */
  peakConcurrency(): number;
}

const words = (text: string) => text.match(/\S+\s*|\s+/g) ?? [];

function stream(res: ServerResponse, body: any, b: Extract<Behaviour, { kind: 'ok' }>, text: string, id: string): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const base = {
    id,
    object: 'chat.completion.chunk',
    created: Math.floor(Date.now() / 1000),
    model: body.model,
    system_fingerprint: 'fp_fake',
  };
  const chunk = (delta: unknown, finish: string | null = null) => ({
    ...base,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  });
  const answer: unknown[] = [];
  if (!b.toolCalls || b.text !== undefined) for (const w of words(text)) answer.push(chunk({ content: w }));
  (b.toolCalls ?? []).forEach((c, index) => {
    answer.push(chunk({ tool_calls: [{ index, id: `call_fake_${index}`, type: 'function', function: { name: c.name, arguments: '' } }] }));
    for (let i = 0; i < c.arguments.length; i += 5)
      answer.push(chunk({ tool_calls: [{ index, function: { arguments: c.arguments.slice(i, i + 5) } }] }));
  });
  const events: (unknown | 'cut' | 'error')[] = [chunk({ role: 'assistant', content: '' })];
  answer.forEach((a, i) => {
    if (b.cutAfter === i) events.push('cut');
    if (b.errorAfter === i) events.push('error');
    events.push(a);
  });
  if (b.cutAfter !== undefined && b.cutAfter >= answer.length) events.push('cut');
  if (b.errorAfter !== undefined && b.errorAfter >= answer.length) events.push('error');
  events.push(chunk({}, b.finishReason ?? (b.toolCalls ? 'tool_calls' : 'stop')));
  if (body.stream_options?.include_usage && !b.noUsage) {
    const prompt = b.promptTokens ?? 7;
    const completion = b.completionTokens ?? 5;
    events.push({
      ...base,
      choices: [],
      usage: {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
        prompt_tokens_details: { cached_tokens: b.cachedTokens ?? 0 },
      },
    });
  }
  events.push('[DONE]');
  let i = 0;
  const next = (): void => {
    if (i >= events.length || res.destroyed) {
      res.end();
      return;
    }
    const e = events[i++];
    if (e === 'cut') {
      res.socket?.destroy();
      return;
    }
    if (e === 'error') {
      res.write(`data: ${JSON.stringify({ error: { message: 'upstream failed mid-stream', type: 'server_error', code: null } })}\n\n`);
      res.end();
      return;
    }
    res.write(`data: ${typeof e === 'string' ? e : JSON.stringify(e)}\n\n`);
    if (b.chunkDelayMs) setTimeout(next, b.chunkDelayMs);
    else setImmediate(next);
  };
  next();
}

export async function fakeOpenAI(t: Pick<Test, 'teardown'>, initial: Behaviour = { kind: 'ok' }): Promise<FakeOpenAI> {
  let behaviour = initial;
  const requests: FakeOpenAI['requests'] = [];
  const hanging = new Set<ServerResponse>();
  let aborted = 0;
  const abortWaiters: (() => void)[] = [];
  const received = new EventEmitter();
  let active = 0;
  let peak = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      // OpenAI's route, or Azure OpenAI's (a deployment and an api-version).
      const chat = /^\/v1\/chat\/completions$|^\/openai\/deployments\/[^/?]+\/chat\/completions\?api-version=[^&]+$/;
      if (req.method !== 'POST' || !chat.test(req.url ?? '')) {
        res
          .writeHead(404, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: { message: 'not found', type: 'invalid_request_error' } }));
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      requests.push({ body, headers: req.headers, url: req.url as string });
      received.emit('request');
      active++;
      peak = Math.max(peak, active);
      res.on('close', () => active--);
      const b = behaviour;
      if (b.kind === 'reset') {
        req.socket.destroy();
        return;
      }
      if (b.kind === 'malformed') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"choices": [{"mess');
        return;
      }
      if (b.kind === 'hang') {
        hanging.add(res);
        res.on('close', () => {
          if (!hanging.delete(res)) return;
          aborted++;
          for (const w of abortWaiters.splice(0)) w();
        });
        return;
      }
      if (b.kind === 'status') {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (b.retryAfter !== undefined) headers['retry-after'] = b.retryAfter;
        res
          .writeHead(b.status, headers)
          .end(JSON.stringify(b.body ?? { error: { message: `fake status ${b.status}`, type: 'server_error' } }));
        return;
      }
      const last = body.messages.at(-1);
      const lastText = typeof last?.content === 'string' ? last.content : JSON.stringify(last?.content ?? '');
      const text = b.text ?? `fake answer to: ${lastText}`;
      const id = `chatcmpl-${requests.length}`;
      const reply = () => {
        if (body.stream) {
          stream(res, body, b, text, id);
          return;
        }
        const prompt = b.promptTokens ?? 7;
        const completion = b.completionTokens ?? 5;
        const toolCalls = b.toolCalls?.map((c, i) => ({ id: `call_fake_${i}`, type: 'function', function: c }));
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            id,
            object: 'chat.completion',
            created: Math.floor(Date.now() / 1000),
            model: body.model,
            choices: [
              {
                index: 0,
                message: {
                  role: 'assistant',
                  content: b.toolCalls && b.text === undefined ? null : text,
                  refusal: null,
                  ...(toolCalls && { tool_calls: toolCalls }),
                },
                logprobs: null,
                finish_reason: b.finishReason ?? (toolCalls ? 'tool_calls' : 'stop'),
              },
            ],
            usage: {
              prompt_tokens: prompt,
              completion_tokens: completion,
              total_tokens: prompt + completion,
              prompt_tokens_details: { cached_tokens: b.cachedTokens ?? 0 },
            },
          }),
        );
      };
      if (b.delayMs) setTimeout(reply, b.delayMs);
      else reply();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const r of [...hanging]) {
          hanging.delete(r);
          r.destroy();
        }
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    behave: (b) => (behaviour = b),
    server,
    aborted: () => aborted,
    nextAbort: () => new Promise<void>((resolve) => abortWaiters.push(resolve)),
    received: (n) => until(received, ['request'], () => requests.length >= n),
    peakConcurrency: () => peak,
  };
}

/**
 * A healthy second OpenAI-compatible provider, `backup` at priority 0, to fail over to: the
 * built-in mock never stands in for a model that a real provider serves.
 */
export async function addBackup(
  t: Test,
  engine: { providers: { add(p: { name: string; kind: 'openai'; baseUrl: string }): Promise<unknown> } },
): Promise<FakeOpenAI> {
  const backup = await fakeOpenAI(t, { kind: 'ok' });
  await engine.providers.add({ name: 'backup', kind: 'openai', baseUrl: backup.baseUrl });
  return backup;
}
