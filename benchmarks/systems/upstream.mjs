// A loopback OpenAI-compatible upstream for the gateway benchmark, in its own process: it answers
// `POST /v1/chat/completions` at once, whole or as a stream of TOKENS chunks GAP ms apart.
//   node benchmarks/systems/upstream.mjs <tokens> <gap ms>   → prints "listening <port>"
import { createServer } from 'node:http';

const TOKENS = Number(process.argv[2] ?? 20);
const GAP = Number(process.argv[3] ?? 2);
const whole = Buffer.from(
  JSON.stringify({
    id: 'chatcmpl-up',
    object: 'chat.completion',
    created: 0,
    model: 'up-1',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: 'a short answer from the upstream', refusal: null },
        finish_reason: 'stop',
        logprobs: null,
      },
    ],
    usage: { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19 },
  }),
);
const base = { id: 'chatcmpl-up', object: 'chat.completion.chunk', created: 0, model: 'up-1' };
const frame = (delta, finish = null) => `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
const first = frame({ role: 'assistant', content: '' });
const token = frame({ content: 'tok ' });
const last = `${frame({}, 'stop')}data: ${JSON.stringify({ ...base, choices: [], usage: { prompt_tokens: 12, completion_tokens: TOKENS, total_tokens: 12 + TOKENS } })}\n\ndata: [DONE]\n\n`;

const server = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    if (!body.includes('"stream":true')) {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': whole.length }).end(whole);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.socket.setNoDelay(true);
    res.write(first);
    let n = 0;
    const next = () => {
      if (n++ < TOKENS) {
        res.write(token);
        setTimeout(next, GAP);
      } else {
        res.end(last);
      }
    };
    next();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
