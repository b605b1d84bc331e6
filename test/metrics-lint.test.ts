/** /metrics passes Prometheus's own linter (`promtool check metrics`), after real traffic. */
import { spawnSync } from 'node:child_process';
import t from 'tap';
import { chatJob, makeEngine, serve } from './helpers/engine.js';
import { hasCommand, requireTool } from './helpers/requires.js';

t.test('promtool check metrics accepts /metrics', async (t) => {
  if (!requireTool(t, 'promtool', hasCommand('promtool'), 'apt-get install prometheus')) return;
  const engine = await makeEngine(t);
  const api = await serve(t, engine);
  const job = await api.call('POST', '/v1/jobs', chatJob('hello'));
  await engine.wait(job.body.id, { timeoutMs: 30_000 });
  await api.call('GET', '/v1/stats');
  const text = await (await fetch(`${api.url}/metrics`)).text();
  t.match(text, /switchyard_jobs_finished_total\{type="chat",status="completed"\} 1/, 'after a job');
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 60_000 });
  t.equal(r.status, 0, `promtool check metrics: ${r.stdout}${r.stderr}`);
  // Prometheus's rule, checked here too so that it holds where promtool is older: only counters end in _total.
  const types = new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]));
  t.same(
    [...types].filter(([name, type]) => name?.endsWith('_total') && type !== 'counter'),
    [],
    'no gauge is named like a counter',
  );
});
