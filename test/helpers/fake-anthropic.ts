/** A fake Anthropic Messages API on 127.0.0.1: `POST /v1/messages` in the real wire format, and its errors. */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Test } from 'tap';

export type AnthropicBehaviour =
  | { kind: 'ok'; text?: string; inputTokens?: number; outputTokens?: number; stopReason?: string }
  | { kind: 'error'; status: number; type: string; message: string };

export interface FakeAnthropic {
  baseUrl: string;
  requests: { body: any; headers: IncomingMessage['headers'] }[];
  behave(b: AnthropicBehaviour): void;
}

export async function fakeAnthropic(t: Test, initial: AnthropicBehaviour = { kind: 'ok' }): Promise<FakeAnthropic> {
  let behaviour = initial;
  const requests: FakeAnthropic['requests'] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      requests.push({ body, headers: req.headers });
      const b = behaviour;
      res.setHeader('content-type', 'application/json');
      if (req.url !== '/v1/messages' || !req.headers['x-api-key'] || !req.headers['anthropic-version']) {
        res.writeHead(401).end(JSON.stringify({ type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } }));
        return;
      }
      if (b.kind === 'error') {
        res.writeHead(b.status).end(JSON.stringify({ type: 'error', error: { type: b.type, message: b.message } }));
        return;
      }
      res.writeHead(200).end(JSON.stringify({
        id: `msg_${requests.length}`, type: 'message', role: 'assistant', model: body.model,
        content: [{ type: 'text', text: b.text ?? `claude says: ${body.messages.at(-1).content}` }],
        stop_reason: b.stopReason ?? 'end_turn', stop_sequence: null,
        usage: { input_tokens: b.inputTokens ?? 11, output_tokens: b.outputTokens ?? 6 },
      }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  const { port } = server.address() as AddressInfo;
  return { baseUrl: `http://127.0.0.1:${port}/v1`, requests, behave: (b) => (behaviour = b) };
}
