// The floor of the gateway benchmark: the least an HTTP hop in Node can add. A Fastify server with
// one route that forwards the body to the upstream (undici, keep-alive) and returns its answer:
// no job, no store, no validation. What Switchyard adds beyond this is its own work.
//   node benchmarks/systems/bare-proxy.mjs <upstream url>   → prints "listening <port>"
import Fastify from 'fastify';
import { Pool } from 'undici';

const upstream = new Pool(process.argv[2], { connections: 64 });
const app = Fastify();
app.post('/v1/chat/completions', async (req, reply) => {
  const res = await upstream.request({
    method: 'POST',
    path: '/v1/chat/completions',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(req.body),
  });
  if (!String(res.headers['content-type']).startsWith('text/event-stream'))
    return reply.type('application/json').send(await res.body.text());
  reply.hijack();
  reply.raw.writeHead(200, { 'content-type': 'text/event-stream' });
  reply.raw.socket?.setNoDelay(true);
  for await (const chunk of res.body) reply.raw.write(chunk);
  reply.raw.end();
});
await app.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(`listening ${app.server.address().port}\n`);
