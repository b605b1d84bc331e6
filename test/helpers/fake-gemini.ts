/**
 * A fake Gemini API on 127.0.0.1: `POST /v1beta/models/{model}:generateContent` and
 * `:streamGenerateContent?alt=sse` in Google's wire format (candidates with parts, function calls,
 * `usageMetadata`, errors as `{error: {code, message, status}}`), keyed by `x-goog-api-key`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Test } from 'tap';
import { listen } from './listen.js';

export type GeminiBehaviour =
  | {
      kind: 'ok';
      text?: string;
      functionCalls?: { name: string; args: unknown }[];
      promptTokens?: number;
      outputTokens?: number;
      thoughtsTokens?: number;
      cachedTokens?: number;
      /** A stream cut (the connection destroyed) after this many text chunks. */
      cutAfter?: number;
    }
  | { kind: 'status'; status: number; googleStatus: string; message?: string; retryAfter?: string };

export interface FakeGemini {
  baseUrl: string;
  requests: { url: string; body: any; headers: IncomingMessage['headers'] }[];
  behave(b: GeminiBehaviour): void;
}

const words = (text: string) => text.match(/\S+\s*|\s+/g) ?? [];

function lastText(body: any): string {
  const parts = body.contents?.at(-1)?.parts ?? [];
  return parts.map((p: { text?: string }) => p.text ?? JSON.stringify(p)).join('');
}

export async function fakeGemini(
  t: Pick<Test, 'teardown'>,
  initial: GeminiBehaviour = { kind: 'ok' },
  key = 'gemini-test-key',
): Promise<FakeGemini> {
  let behaviour = initial;
  const requests: FakeGemini['requests'] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const error = (status: number, googleStatus: string, message: string, headers: Record<string, string> = {}) =>
        res
          .writeHead(status, { 'content-type': 'application/json', ...headers })
          .end(JSON.stringify({ error: { code: status, message, status: googleStatus } }));
      const m = /^\/v1beta\/models\/([^:/]+):(generateContent|streamGenerateContent\?alt=sse)$/.exec(req.url ?? '');
      if (req.method !== 'POST' || !m) return error(404, 'NOT_FOUND', 'not found');
      if (req.headers['x-goog-api-key'] !== key) return error(400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.');
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      requests.push({ url: req.url as string, body, headers: req.headers });
      const model = decodeURIComponent(m[1] as string);
      const b = behaviour;
      if (b.kind === 'status') {
        return error(b.status, b.googleStatus, b.message ?? `fake ${b.googleStatus}`, b.retryAfter ? { 'retry-after': b.retryAfter } : {});
      }
      const text = b.text ?? `fake answer to: ${lastText(body)}`;
      const usageMetadata = {
        promptTokenCount: b.promptTokens ?? 7,
        candidatesTokenCount: b.outputTokens ?? 5,
        totalTokenCount: (b.promptTokens ?? 7) + (b.outputTokens ?? 5) + (b.thoughtsTokens ?? 0),
        ...(b.thoughtsTokens && { thoughtsTokenCount: b.thoughtsTokens }),
        ...(b.cachedTokens && { cachedContentTokenCount: b.cachedTokens }),
      };
      const callParts = (b.functionCalls ?? []).map((c) => ({ functionCall: { name: c.name, args: c.args } }));
      const finishReason = 'STOP';
      if (m[2] === 'generateContent') {
        const parts = b.functionCalls ? callParts : [{ text }];
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            candidates: [{ content: { role: 'model', parts }, finishReason, index: 0 }],
            usageMetadata,
            modelVersion: model,
            responseId: 'fake',
          }),
        );
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const send = (o: unknown) => res.write(`data: ${JSON.stringify(o)}\r\n\r\n`);
      if (b.functionCalls) {
        send({
          candidates: [{ content: { role: 'model', parts: callParts }, finishReason, index: 0 }],
          usageMetadata,
          modelVersion: model,
        });
        res.end();
        return;
      }
      const pieces = words(text);
      pieces.forEach((w, i) => {
        if (b.cutAfter !== undefined && i >= b.cutAfter) return;
        const last = i === pieces.length - 1;
        send({
          candidates: [{ content: { role: 'model', parts: [{ text: w }] }, ...(last && { finishReason }), index: 0 }],
          ...(last && { usageMetadata }),
          modelVersion: model,
        });
      });
      if (b.cutAfter !== undefined) res.socket?.destroy();
      else res.end();
    });
  });
  const port = await listen(t, server);
  return { baseUrl: `http://127.0.0.1:${port}/v1beta`, requests, behave: (b) => (behaviour = b) };
}
