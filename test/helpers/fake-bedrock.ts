/**
 * A fake AWS Bedrock runtime on 127.0.0.1: `POST /model/{modelId}/converse` and
 * `/converse-stream` in AWS's wire formats (Converse JSON; ConverseStream as binary event-stream
 * frames, encoded with Smithy's codec), errors as `{message}` with `x-amzn-ErrorType`. Each request's
 * SigV4 signature is checked by signing it again with the known secret, or its Bearer key compared.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Sha256 } from '@aws-crypto/sha256-js';
import { EventStreamCodec } from '@smithy/core/event-streams';
import { SignatureV4 } from '@smithy/signature-v4';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import type { Test } from 'tap';
import { listen } from './listen.js';

export const AWS_KEY = { accessKeyId: 'AKIDFAKE0123456789', secretAccessKey: 'fake/secret+key0123456789abcdefghijklmn' };
export const BEDROCK_API_KEY = 'bedrock-api-key-fake-0123456789';

export type BedrockBehaviour =
  | {
      kind: 'ok';
      text?: string;
      toolUses?: { name: string; input: unknown }[];
      inputTokens?: number;
      outputTokens?: number;
      cacheReadTokens?: number;
      /** A stream that ends with this exception after its first text delta. */
      exception?: string;
    }
  | { kind: 'status'; status: number; errorType: string; message?: string };

export interface FakeBedrock {
  baseUrl: string;
  requests: { path: string; body: any; headers: IncomingMessage['headers']; signed: 'sigv4' | 'bearer' }[];
  behave(b: BedrockBehaviour): void;
}

const codec = new EventStreamCodec(toUtf8, fromUtf8);
const frame = (type: 'event' | 'exception', name: string, payload: unknown) =>
  codec.encode({
    headers: {
      ':message-type': { type: 'string', value: type },
      [type === 'event' ? ':event-type' : ':exception-type']: { type: 'string', value: name },
      ':content-type': { type: 'string', value: 'application/json' },
    },
    body: fromUtf8(JSON.stringify(payload)),
  });

const words = (text: string) => text.match(/\S+\s*|\s+/g) ?? [];

/** Whether the request carries a valid signature: the same request signed again with the secret gives the same Authorization. */
async function validSignature(req: IncomingMessage, body: string, region: string): Promise<boolean> {
  const auth = req.headers.authorization ?? '';
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/\d{8}\/([^/]+)\/bedrock\/aws4_request, SignedHeaders=([^,]+), Signature=[0-9a-f]{64}$/.exec(
      auth,
    );
  if (!m || m[1] !== AWS_KEY.accessKeyId || m[2] !== region) return false;
  const signedNames = (m[3] as string).split(';');
  const headers: Record<string, string> = {};
  for (const name of signedNames) headers[name] = String(req.headers[name] ?? '');
  const stamp = String(req.headers['x-amz-date']);
  const date = new Date(
    `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13, 15)}Z`,
  );
  const signer = new SignatureV4({ service: 'bedrock', region, sha256: Sha256, credentials: AWS_KEY });
  const [host, port] = String(req.headers.host).split(':');
  const again = await signer.sign(
    {
      method: 'POST',
      protocol: 'http:',
      hostname: host as string,
      port: Number(port),
      path: (req.url as string).split('?')[0] as string,
      query: {},
      headers,
      body,
    },
    { signingDate: date },
  );
  return again.headers.authorization === auth;
}

/**
 * `verify: false` accepts any SigV4 header of the right shape without signing the request again
 * (benchmarks, where the check would cost the fake, not the gateway).
 */
export async function fakeBedrock(
  t: Pick<Test, 'teardown'>,
  initial: BedrockBehaviour = { kind: 'ok' },
  region = 'us-east-1',
  verify = true,
): Promise<FakeBedrock> {
  let behaviour = initial;
  const requests: FakeBedrock['requests'] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const error = (status: number, type: string, message: string) =>
        res
          .writeHead(status, {
            'content-type': 'application/json',
            'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
          })
          .end(JSON.stringify({ message }));
      const m = /^\/model\/([^/]+)\/(converse|converse-stream)$/.exec(req.url ?? '');
      if (req.method !== 'POST' || !m) return error(404, 'UnknownOperationException', 'not found');
      const raw = Buffer.concat(chunks).toString('utf8');
      let signed: 'sigv4' | 'bearer';
      if (req.headers.authorization === `Bearer ${BEDROCK_API_KEY}`) signed = 'bearer';
      else if (verify ? await validSignature(req, raw, region) : /^AWS4-HMAC-SHA256 Credential=/.test(req.headers.authorization ?? ''))
        signed = 'sigv4';
      else return error(403, 'InvalidSignatureException', 'The request signature we calculated does not match the signature you provided.');
      const body = JSON.parse(raw);
      requests.push({ path: req.url as string, body, headers: req.headers, signed });
      const b = behaviour;
      if (b.kind === 'status') return error(b.status, b.errorType, b.message ?? `fake ${b.errorType}`);
      const lastText = (body.messages.at(-1)?.content ?? []).map((c: { text?: string }) => c.text ?? '').join('');
      const text = b.text ?? `fake answer to: ${lastText}`;
      const usage = {
        inputTokens: b.inputTokens ?? 7,
        outputTokens: b.outputTokens ?? 5,
        totalTokens: (b.inputTokens ?? 7) + (b.outputTokens ?? 5) + (b.cacheReadTokens ?? 0),
        ...(b.cacheReadTokens && { cacheReadInputTokens: b.cacheReadTokens }),
      };
      const tools = (b.toolUses ?? []).map((u, i) => ({ toolUseId: `tooluse_fake_${i}`, name: u.name, input: u.input }));
      const stopReason = tools.length ? 'tool_use' : 'end_turn';
      if (m[2] === 'converse') {
        const content = tools.length ? tools.map((toolUse) => ({ toolUse })) : [{ text }];
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ output: { message: { role: 'assistant', content } }, stopReason, usage, metrics: { latencyMs: 1 } }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream' });
      res.write(frame('event', 'messageStart', { role: 'assistant' }));
      if (tools.length) {
        tools.forEach((u, i) => {
          res.write(
            frame('event', 'contentBlockStart', { contentBlockIndex: i, start: { toolUse: { toolUseId: u.toolUseId, name: u.name } } }),
          );
          const input = JSON.stringify(u.input);
          const half = Math.floor(input.length / 2);
          for (const part of [input.slice(0, half), input.slice(half)]) {
            res.write(frame('event', 'contentBlockDelta', { contentBlockIndex: i, delta: { toolUse: { input: part } } }));
          }
          res.write(frame('event', 'contentBlockStop', { contentBlockIndex: i }));
        });
      } else {
        for (const w of words(text)) {
          res.write(frame('event', 'contentBlockDelta', { contentBlockIndex: 0, delta: { text: w } }));
          if (b.exception) {
            res.end(frame('exception', b.exception, { message: `fake ${b.exception}` }));
            return;
          }
        }
        res.write(frame('event', 'contentBlockStop', { contentBlockIndex: 0 }));
      }
      res.write(frame('event', 'messageStop', { stopReason }));
      res.end(frame('event', 'metadata', { usage, metrics: { latencyMs: 1 } }));
    });
  });
  const port = await listen(t, server);
  return { baseUrl: `http://127.0.0.1:${port}`, requests, behave: (b) => (behaviour = b) };
}
