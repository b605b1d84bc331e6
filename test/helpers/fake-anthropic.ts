/**
 * A fake Anthropic Messages API on 127.0.0.1: `POST /v1/messages` in the real wire format, plain
 * and streamed (message_start, content_block_start/delta/stop with text and tool_use input_json
 * deltas, message_delta, message_stop), its errors, and streams that break before or after their
 * first token.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Test } from 'tap';

export type AnthropicBehaviour =
  | {
      kind: 'ok';
      text?: string;
      /** Answer with tool_use blocks (after the text, if any). */
      toolUses?: { name: string; input: unknown }[];
      inputTokens?: number;
      outputTokens?: number;
      cacheReadTokens?: number;
      cacheWriteTokens?: number;
      stopReason?: string;
      /** Between stream events, ms. */
      chunkDelayMs?: number;
      /** A stream cut after this many content deltas (0: before the first token). */
      cutAfter?: number;
      /** A stream that sends an `error` event after this many content deltas. */
      errorAfter?: number;
    }
  | { kind: 'error'; status: number; type: string; message: string };

export interface FakeAnthropic {
  baseUrl: string;
  requests: { body: any; headers: IncomingMessage['headers'] }[];
  behave(b: AnthropicBehaviour): void;
}

const lastText = (body: any) => {
  const c = body.messages.at(-1)?.content;
  if (typeof c === 'string') return c;
  return (c ?? [])
    .map((b: any) =>
      b.type === 'text' ? b.text : b.type === 'tool_result' ? (typeof b.content === 'string' ? b.content : JSON.stringify(b.content)) : '',
    )
    .join('');
};

function stream(res: ServerResponse, body: any, b: Extract<AnthropicBehaviour, { kind: 'ok' }>, text: string, id: string): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const usage = {
    input_tokens: b.inputTokens ?? 11,
    output_tokens: 1,
    cache_read_input_tokens: b.cacheReadTokens ?? 0,
    cache_creation_input_tokens: b.cacheWriteTokens ?? 0,
  };
  const events: ([string, unknown] | 'cut' | 'error')[] = [
    [
      'message_start',
      {
        type: 'message_start',
        message: { id, type: 'message', role: 'assistant', model: body.model, content: [], stop_reason: null, stop_sequence: null, usage },
      },
    ],
    ['ping', { type: 'ping' }],
  ];
  let deltas = 0;
  const delta = (e: [string, unknown]) => {
    if (b.cutAfter === deltas) events.push('cut');
    if (b.errorAfter === deltas) events.push('error');
    events.push(e);
    deltas++;
  };
  let index = 0;
  if (!b.toolUses || b.text !== undefined) {
    events.push(['content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } }]);
    for (const w of text.match(/\S+\s*|\s+/g) ?? [])
      delta(['content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: w } }]);
    events.push(['content_block_stop', { type: 'content_block_stop', index }]);
    index++;
  }
  for (const [k, t] of (b.toolUses ?? []).entries()) {
    events.push([
      'content_block_start',
      { type: 'content_block_start', index, content_block: { type: 'tool_use', id: `toolu_fake_${k}`, name: t.name, input: {} } },
    ]);
    const json = JSON.stringify(t.input);
    for (let i = 0; i < json.length; i += 6)
      delta([
        'content_block_delta',
        { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: json.slice(i, i + 6) } },
      ]);
    events.push(['content_block_stop', { type: 'content_block_stop', index }]);
    index++;
  }
  if (b.cutAfter !== undefined && b.cutAfter >= deltas) events.push('cut');
  if (b.errorAfter !== undefined && b.errorAfter >= deltas) events.push('error');
  events.push([
    'message_delta',
    {
      type: 'message_delta',
      delta: { stop_reason: b.stopReason ?? (b.toolUses ? 'tool_use' : 'end_turn'), stop_sequence: null },
      usage: { output_tokens: b.outputTokens ?? 6 },
    },
  ]);
  events.push(['message_stop', { type: 'message_stop' }]);
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
      res.write(
        `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded mid-stream' } })}\n\n`,
      );
      res.end();
      return;
    }
    const [name, data] = e as [string, unknown];
    res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
    if (b.chunkDelayMs) setTimeout(next, b.chunkDelayMs);
    else setImmediate(next);
  };
  next();
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
      if (req.url !== '/v1/messages' || !req.headers['x-api-key'] || !req.headers['anthropic-version']) {
        res
          .writeHead(401, { 'content-type': 'application/json' })
          .end(JSON.stringify({ type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } }));
        return;
      }
      if (b.kind === 'error') {
        res
          .writeHead(b.status, { 'content-type': 'application/json' })
          .end(JSON.stringify({ type: 'error', error: { type: b.type, message: b.message } }));
        return;
      }
      const text = b.text ?? `claude says: ${lastText(body)}`;
      const id = `msg_${requests.length}`;
      if (body.stream) {
        stream(res, body, b, text, id);
        return;
      }
      const content: unknown[] = [];
      if (!b.toolUses || b.text !== undefined) content.push({ type: 'text', text });
      for (const [k, t] of (b.toolUses ?? []).entries())
        content.push({ type: 'tool_use', id: `toolu_fake_${k}`, name: t.name, input: t.input });
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          id,
          type: 'message',
          role: 'assistant',
          model: body.model,
          content,
          stop_reason: b.stopReason ?? (b.toolUses ? 'tool_use' : 'end_turn'),
          stop_sequence: null,
          usage: {
            input_tokens: b.inputTokens ?? 11,
            output_tokens: b.outputTokens ?? 6,
            cache_read_input_tokens: b.cacheReadTokens ?? 0,
            cache_creation_input_tokens: b.cacheWriteTokens ?? 0,
          },
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as AddressInfo;
  return { baseUrl: `http://127.0.0.1:${port}/v1`, requests, behave: (b) => (behaviour = b), server } as FakeAnthropic;
}
