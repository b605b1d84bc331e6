/**
 * A fake OpenAI-compatible server on 127.0.0.1: speaks the real `POST /chat/completions` wire format
 * and can be told to answer, fail with a status, throttle with Retry-After or hang.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Test } from 'tap';

export type Behaviour =
  | { kind: 'ok'; text?: string; promptTokens?: number; completionTokens?: number; delayMs?: number }
  | { kind: 'status'; status: number; retryAfter?: string; body?: unknown }
  | { kind: 'hang' }
  /** Drop the connection without an answer. */
  | { kind: 'reset' }
  /** 200 with a body that is not a chat completion. */
  | { kind: 'malformed' };

export interface FakeOpenAI {
  baseUrl: string;
  /** Requests received, in order, with their parsed bodies and headers. */
  requests: { body: any; headers: IncomingMessage['headers'] }[];
  behave(b: Behaviour): void;
  server: Server;
  /** Hanging requests whose client went away (aborted the call). */
  aborted(): number;
  /** Most requests it was answering at once. */
  peakConcurrency(): number;
}

export async function fakeOpenAI(t: Test, initial: Behaviour = { kind: 'ok' }): Promise<FakeOpenAI> {
  let behaviour = initial;
  const requests: FakeOpenAI['requests'] = [];
  const hanging = new Set<ServerResponse>();
  let aborted = 0;
  let active = 0;
  let peak = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'not found', type: 'invalid_request_error' } }));
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      requests.push({ body, headers: req.headers });
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
          if (hanging.delete(res)) aborted++;
        });
        return;
      }
      if (b.kind === 'status') {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (b.retryAfter !== undefined) headers['retry-after'] = b.retryAfter;
        res.writeHead(b.status, headers).end(JSON.stringify(b.body ?? { error: { message: `fake status ${b.status}`, type: 'server_error' } }));
        return;
      }
      const reply = () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
        id: `chatcmpl-${requests.length}`,
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model: body.model,
        choices: [{ index: 0, message: { role: 'assistant', content: b.text ?? `fake answer to: ${body.messages.at(-1).content}` }, finish_reason: 'stop' }],
        usage: { prompt_tokens: b.promptTokens ?? 7, completion_tokens: b.completionTokens ?? 5, total_tokens: (b.promptTokens ?? 7) + (b.completionTokens ?? 5) },
      }));
      if (b.delayMs) setTimeout(reply, b.delayMs);
      else reply();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => {
    for (const r of [...hanging]) {
      hanging.delete(r);
      r.destroy();
    }
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  const { port } = server.address() as AddressInfo;
  return { baseUrl: `http://127.0.0.1:${port}/v1`, requests, behave: (b) => (behaviour = b), server, aborted: () => aborted, peakConcurrency: () => peak };
}
