/**
 * The web console in a real browser: Debian's Chromium driven by playwright-core (never a
 * downloaded browser), against a real server on a real socket. Sign-in, live updates, filters, a
 * job's attempts, cancel and retry, a read-only key, a provider disabled from the page, sign-out;
 * axe-core on every page; screenshots of the main pages in light and dark (into docs/img/ with
 * UPDATE_SCREENSHOTS=1, else into the test's temp dir, so that a test run leaves the tree clean).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import OpenAI, { toFile } from 'openai';
import { pino } from 'pino';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import t, { type Test } from 'tap';
import { API_KEY, makeEngine, serve, tempDir } from './helpers/engine.js';
import { fakeOpenAI } from './helpers/fake-openai.js';
import { requireTool } from './helpers/requires.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const IMG = fileURLToPath(new URL('../docs/img/', import.meta.url));
const chat = (content: string, extra: Record<string, unknown> = {}) => ({ input: { messages: [{ role: 'user', content }] }, ...extra });

async function browser(t: Test): Promise<BrowserContext> {
  const context = await chromium.launchPersistentContext(tempDir(t), {
    executablePath: CHROMIUM,
    args: FLAGS,
    headless: true,
    viewport: { width: 1280, height: 800 },
  });
  t.teardown(() => context.close());
  return context;
}

async function signIn(page: Page, base: string, key: string): Promise<void> {
  await page.goto(`${base}/ui/`);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Pages' }).waitFor();
}

/** No serious or critical accessibility violations on the page as it is now. */
async function accessible(t: Test, page: Page, name: string): Promise<void> {
  // Evaluated through the DevTools protocol, which the page's CSP does not govern.
  await page.evaluate(AXE);
  const violations = (await page.evaluate(async () => {
    const r = await (globalThis as unknown as { axe: { run: () => Promise<{ violations: { id: string; impact: string }[] }> } }).axe.run();
    return r.violations.map((v) => ({ id: v.id, impact: v.impact }));
  })) as { id: string; impact: string }[];
  t.same(
    violations.filter((v) => v.impact === 'serious' || v.impact === 'critical'),
    [],
    `${name}: no serious or critical accessibility violations`,
  );
}

/** Resolves when the element with `testId` shows `text` (the page updates it on its own). */
function textIs(page: Page, testId: string, text: string): Promise<void> {
  // A locator waits without evaluating strings in the page, which its CSP forbids.
  return page
    .getByTestId(testId)
    .filter({ hasText: new RegExp(`^${text}$`) })
    .waitFor();
}

async function screenshots(page: Page, name: string, dir: string): Promise<void> {
  for (const theme of ['light', 'dark']) {
    await page.getByLabel('Theme').selectOption(theme);
    await page.screenshot({ path: join(dir, `console-${name}-${theme}.png`) });
  }
  await page.getByLabel('Theme').selectOption('system');
}

t.test('the web console, in Chromium', async (t) => {
  if (!requireTool(t, 'Chromium', existsSync(CHROMIUM), 'apt-get install -y chromium (or set CHROMIUM_PATH)')) return;
  const shots = process.env.UPDATE_SCREENSHOTS === '1' ? IMG : tempDir(t);
  const engine = await makeEngine(t);
  const logged: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) logged.push(JSON.parse(l));
      cb();
    },
  });
  const api = await serve(t, engine, { eventHeartbeatMs: 200, logger: pino({ level: 'info' }, sink) });
  const context = await browser(t);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    // The browser logs every 4xx answer (the session check before sign-in is one): not a script error.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(m.text());
  });

  await t.test('the page and its assets are served with a strict CSP, and /ui redirects under itself', async (t) => {
    const res = await fetch(`${api.url}/ui/`);
    t.equal(res.status, 200);
    t.match(res.headers.get('content-security-policy'), /default-src 'self'/);
    const html = await res.text();
    t.match(html, /src="\.\/app\.js"/, 'asset URLs are relative');
    t.notMatch(html, /https?:\/\//, 'nothing from another origin');
    const bare = await fetch(`${api.url}/ui`, { redirect: 'manual' });
    t.equal(bare.status, 302);
    t.equal(bare.headers.get('location'), 'ui/');
  });

  await t.test('sign in; a submitted job appears live on the overview and the jobs list', async (t) => {
    await signIn(page, api.url, API_KEY);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    const completed = page.getByTestId('count-completed');
    await completed.waitFor();
    t.equal(await completed.textContent(), '0');
    const job = (await api.call('POST', '/v1/jobs', chat('hello from the test'))).body;
    await textIs(page, 'count-completed', '1');
    t.equal(await completed.textContent(), '1', 'the overview counted the job without a reload');
    await accessible(t, page, 'overview');
    await screenshots(page, 'overview', shots);
    await page.getByRole('link', { name: 'Jobs' }).click();
    await page.locator(`tr[data-job="${job.id}"]`).waitFor();
    const next = (await api.call('POST', '/v1/jobs', chat('a second job'))).body;
    await page.locator(`tr[data-job="${next.id}"]`).waitFor();
    t.equal(await page.locator(`tr[data-job="${next.id}"]`).count(), 1, 'a job submitted while the list was open appeared in it');
    await accessible(t, page, 'jobs');
  });

  await t.test('filter, open a job, and see its attempts', async (t) => {
    await page.getByLabel('Status').selectOption('completed');
    await page.waitForURL(/#\/jobs\?status=completed/);
    t.ok((await page.locator('tbody tr').count()) >= 2, 'the completed jobs are listed');
    // An admin can narrow the list to one tenant (kept in the URL too).
    await page.getByLabel('Tenant').fill('nobody-has-this-tenant');
    await page.getByLabel('Tenant').press('Enter');
    await page.waitForURL(/tenant=nobody-has-this-tenant/);
    await page.getByText('No jobs match.').waitFor();
    // The jump box opens a job by its idempotency key too.
    const keyed = (await api.call('POST', '/v1/jobs', { ...chat('keyed'), idempotencyKey: 'order-4711' })).body;
    await page.getByLabel('Go to job id or idempotency key').fill('order-4711');
    await page.getByLabel('Go to job id or idempotency key').press('Enter');
    await page.getByRole('heading', { name: `Job ${keyed.id}` }).waitFor();
    await page.goto(`${api.url}/ui/#/jobs`);
    await page.getByLabel('Go to job id or idempotency key').fill('no-such-thing');
    await page.getByLabel('Go to job id or idempotency key').press('Enter');
    await page.getByRole('status').filter({ hasText: 'No job has the id or idempotency key "no-such-thing".' }).waitFor();
    await page.goto(`${api.url}/ui/#/jobs?status=completed`);
    await page.locator('tbody tr').first().waitFor();
    const first = page.locator('tbody tr a').first();
    const id = await first.textContent();
    await first.click();
    await page.getByRole('heading', { name: `Job ${id}` }).waitFor();
    t.equal(await page.getByTestId('job-status').textContent(), 'completed');
    t.equal(await page.locator('caption:text("Attempts, oldest first") + thead + tbody tr').count(), 1, 'one attempt');
    await accessible(t, page, 'job detail');
    await screenshots(page, 'job', shots);
  });

  await t.test('a large payload is cut on the server; "show all" loads it whole', async (t) => {
    const big = 'x'.repeat(200_000);
    const job = (await api.call('POST', '/v1/jobs', chat(big))).body;
    await engine.wait(job.id);
    const previewed = await api.call('GET', `/v1/jobs/${job.id}?preview=20000`);
    t.ok(JSON.stringify(previewed.body).length < 60_000, 'the preview answer is small');
    t.match(previewed.body.preview.input, { truncated: true });
    await page.goto(`${api.url}/ui/#/jobs/${job.id}`);
    const input = page.getByTestId('payload-input');
    await input.waitFor();
    t.ok(((await input.textContent()) ?? '').length < 25_000, 'the page shows the preview');
    await page.getByRole('button', { name: /Show all input/ }).click();
    await input.filter({ hasText: 'x'.repeat(1000) }).waitFor();
    await page.getByRole('button', { name: /Show all input/ }).waitFor({ state: 'detached' });
    t.ok(((await input.textContent()) ?? '').length > 200_000, 'then the whole input');
  });

  await t.test("a chat job's answer appears token by token while it runs", async (t) => {
    await engine.providers.update('mock', { options: { tokensPerSecond: 10 } });
    const words = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ');
    const job = (await api.call('POST', '/v1/jobs', { input: { stream: true, messages: [{ role: 'user', content: words }] } })).body;
    await page.goto(`${api.url}/ui/#/jobs/${job.id}`);
    const live = page.getByTestId('live-answer');
    await live.filter({ hasText: 'word1' }).waitFor();
    t.equal(await page.getByTestId('job-status').textContent(), 'running', 'tokens were shown while the job ran');
    await textIs(page, 'job-status', 'completed');
    t.equal(await live.count(), 0, 'the whole output replaces the live answer once done');
    await engine.providers.update('mock', { options: { tokensPerSecond: 0 } });
  });

  await t.test('cancel a running job, and retry a failed one', async (t) => {
    await engine.providers.update('mock', { options: { latencyMs: 600_000 } });
    const slow = (await api.call('POST', '/v1/jobs', chat('slow'))).body;
    await page.goto(`${api.url}/ui/#/jobs/${slow.id}`);
    await textIs(page, 'job-status', 'running');
    await page.getByRole('button', { name: 'Cancel job' }).click();
    await textIs(page, 'job-status', 'cancelled');
    t.equal((await api.call('GET', `/v1/jobs/${slow.id}`)).body.status, 'cancelled');
    t.ok(
      logged.some((l) => l.msg === 'console action' && l.keyId === 'admin' && l.url === `/v1/jobs/${slow.id}/cancel`),
      'the cancel made from the console is logged with the key that made it',
    );

    await engine.providers.update('mock', { options: { latencyMs: 0, failRate: 1 } });
    const failing = (await api.call('POST', '/v1/jobs', chat('fails', { maxAttempts: 1 }))).body;
    t.equal((await engine.wait(failing.id)).status, 'failed');
    await engine.providers.update('mock', { options: { latencyMs: 0, failRate: 0 } });
    await page.goto(`${api.url}/ui/#/jobs/${failing.id}`);
    await textIs(page, 'job-status', 'failed');
    await page.getByRole('button', { name: 'Retry job' }).click();
    t.equal((await engine.wait(failing.id)).status, 'completed', 'the retried job ran again and completed');
  });

  await t.test('a provider disabled from the page takes no more calls', async (t) => {
    await page.getByRole('link', { name: 'Providers' }).click();
    await page.getByRole('button', { name: 'Disable mock' }).click();
    await page.getByRole('button', { name: 'Enable mock' }).waitFor();
    t.equal(engine.providers.get('mock').enabled, false);
    const calls = engine.providers.get('mock').state.calls;
    const job = (await api.call('POST', '/v1/jobs', chat('nobody answers', { maxAttempts: 1 }))).body;
    const done = await engine.wait(job.id);
    t.match(done, { status: 'failed', error: { code: 'SWY_NO_PROVIDER' } }, 'no enabled provider serves the job');
    t.equal(engine.providers.get('mock').state.calls, calls, 'no call reached the disabled provider');
    await accessible(t, page, 'providers');
    await screenshots(page, 'providers', shots);
    await page.getByRole('button', { name: 'Enable mock' }).click();
    await page.getByRole('button', { name: 'Disable mock' }).waitFor();
    // Edited from the page; the API key is write-only.
    await page.getByRole('button', { name: 'Edit mock' }).click();
    const form = page.getByRole('form', { name: 'Edit mock' });
    await form.getByLabel('rpm').fill('600');
    await form.getByLabel(/API key/).fill('sk-typed-into-the-console');
    await form.getByRole('button', { name: 'Save mock' }).click();
    await page.getByRole('status').filter({ hasText: 'mock saved' }).waitFor();
    const saved = await api.call('GET', '/v1/providers/mock');
    t.match(saved.body, { rpm: 600, hasApiKey: true });
    t.notMatch(JSON.stringify(saved.body), /sk-typed/, 'the key is not in the API');
    t.notMatch(await page.content(), /sk-typed/, 'nor in the page');
    // The headroom under the new limit: a call made since takes one of the 600.
    const row = page.locator('tr[data-provider="mock"]');
    await row.filter({ hasText: /of 600 rpm left/ }).waitFor();
    const counted = (await api.call('POST', '/v1/jobs', chat('counted against rpm'))).body;
    t.equal((await api.call('GET', `/v1/jobs/${counted.id}?waitMs=30000`)).body.status, 'completed');
    await page.reload();
    const left = Number(
      /([\d,]+) of 600 rpm left/.exec((await row.filter({ hasText: /of 600 rpm left/ }).textContent()) ?? '')?.[1]?.replace(/,/g, ''),
    );
    t.ok(left < 600, `the page shows the call taken from the limit (${left} of 600 left)`);
    t.equal((await api.call('PATCH', '/v1/providers/mock', { rpm: null })).status, 200);

    // A provider of another kind, added from the page: its vendor's endpoint is the default.
    await page.getByRole('button', { name: 'Add a provider' }).click();
    const add = page.getByRole('form', { name: 'Add a provider' });
    await add.getByLabel('name').fill('gem');
    await add.getByLabel('kind').selectOption('gemini');
    await add.getByLabel(/API key/).fill('gemini-key-typed-in');
    await add.getByLabel(/models/).fill('gemini-*');
    await add.getByRole('button', { name: 'Add provider' }).click();
    await page.getByRole('status').filter({ hasText: 'gem added' }).waitFor();
    t.match((await api.call('GET', '/v1/providers/gem')).body, { kind: 'gemini', baseUrl: null, models: ['gemini-*'], hasApiKey: true });
    await page.locator('tr[data-provider="gem"]').waitFor();
    t.equal((await api.call('DELETE', '/v1/providers/gem')).status, 204);
  });

  await t.test('the overview draws the past from the hourly rollups, on an axis of the window asked for', async (t) => {
    await page.getByRole('link', { name: 'Overview' }).click();
    const chart = page.locator('figure', { hasText: 'Provider calls per hour, the last day' });
    await chart.waitFor();
    const span = async () => {
      const from = Number(await chart.getAttribute('data-from'));
      const to = Number(await chart.getAttribute('data-to'));
      return (to - from) / 3600;
    };
    t.equal(await span(), 25, 'the day: the last 24 whole hours and this one');
    const cells = await chart.locator('tbody td:nth-child(2)').allTextContents();
    t.ok(
      cells.some((c) => Number(c) > 0),
      `calls made this hour are drawn (${cells.join(', ')})`,
    );
    await page.getByRole('button', { name: 'Last hour' }).click();
    const hour = page.locator('figure', { hasText: 'Provider calls per hour, the last hour' });
    await hour.waitFor();
    t.equal((Number(await hour.getAttribute('data-to')) - Number(await hour.getAttribute('data-from'))) / 3600, 2);
    await page.getByRole('button', { name: 'Last day' }).click();
  });

  await t.test('usage by provider and model, exported as CSV; a model with no price is marked unpriced', async (t) => {
    const local = await fakeOpenAI(t);
    t.equal(
      (await api.call('POST', '/v1/providers', { name: 'local', kind: 'openai', baseUrl: local.baseUrl, models: ['my-llama'] })).status,
      201,
    );
    const unpriced = (await api.call('POST', '/v1/jobs', { input: { model: 'my-llama', messages: [{ role: 'user', content: 'x' }] } }))
      .body;
    t.equal((await api.call('GET', `/v1/jobs/${unpriced.id}?waitMs=30000`)).body.status, 'completed');
    await page.getByRole('link', { name: 'Usage' }).click();
    await page.getByRole('heading', { name: 'Usage and cost' }).waitFor();
    await page.locator('tbody tr', { hasText: 'mock' }).first().waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
    const csv = readFileSync((await download.path()) as string, 'utf8')
      .trim()
      .split('\n');
    t.equal(csv[0], 'provider,model,calls,errors,inputTokens,outputTokens,costUsd,unpricedCalls');
    t.ok(
      csv.some((line) => line.startsWith('mock,')),
      'a row per provider and model',
    );
    t.ok(
      csv.some((line) => /^local,my-llama,1,0,\d+,\d+,,1$/.test(line)),
      'the unpriced model: no cost, one unpriced call',
    );
    await page.locator('tr', { hasText: 'my-llama' }).filter({ hasText: 'unpriced' }).waitFor();
    await accessible(t, page, 'usage');
    t.equal((await api.call('DELETE', '/v1/providers/local')).status, 204);
  });

  await t.test("batches: a batch's progress, and its output file", async (t) => {
    const openai = new OpenAI({ apiKey: API_KEY, baseURL: `${api.url}/v1`, maxRetries: 0 });
    const lines = [1, 2, 3].map((i) =>
      JSON.stringify({
        custom_id: `req-${i}`,
        method: 'POST',
        url: '/v1/chat/completions',
        body: { model: 'mock-1', messages: [{ role: 'user', content: `q${i}` }] },
      }),
    );
    const file = await openai.files.create({ file: await toFile(Buffer.from(lines.join('\n')), 'in.jsonl'), purpose: 'batch' });
    const batch = await openai.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    await page.getByRole('link', { name: 'Batches' }).click();
    await textIs(page, `batch-status-${batch.id}`, 'completed');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator(`tr[data-batch="${batch.id}"]`).getByRole('link', { name: 'output' }).click(),
    ]);
    const out = readFileSync((await download.path()) as string, 'utf8')
      .trim()
      .split('\n');
    t.equal(out.length, 3, 'one output line per request');
    t.match(out[0], /"custom_id":"req-/);
    await accessible(t, page, 'batches');
  });

  await t.test('keys: made from the page, its secret shown once; revoked from the page', async (t) => {
    await page.getByRole('link', { name: 'Keys' }).click();
    await page.getByLabel('Name').fill('made-in-console');
    await page.getByRole('button', { name: 'Create key' }).click();
    const secret = (await page.getByTestId('new-secret').textContent()) ?? '';
    t.equal((await api.as(secret).call('GET', '/v1/jobs')).status, 200, 'the new key works');
    await page.getByRole('button', { name: 'I have stored it' }).click();
    t.equal(await page.getByTestId('new-secret').count(), 0, 'the secret is gone from the page');
    await accessible(t, page, 'keys');
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Revoke made-in-console' }).click();
    await page.locator('tr', { hasText: 'made-in-console' }).filter({ hasText: 'revoked' }).waitFor();
    t.equal((await api.as(secret).call('GET', '/v1/jobs')).status, 401, 'the revoked key is refused');
  });

  await t.test('a read-only key sees no write controls, and its forged writes get 403', async (t) => {
    const reader = (await api.call('POST', '/v1/keys', { name: 'reader', scopes: ['jobs:read'] })).body;
    // A job of the reader's own tenant (a key sees its tenant's jobs).
    const job = await engine.submit(chat('to look at', { delayMs: 3_600_000 }), { tenant: reader.id });
    const other = await (await browser(t)).newPage();
    await signIn(other, api.url, reader.secret);
    t.match(await other.locator('header').textContent(), /read-only/);
    await other.goto(`${api.url}/ui/#/jobs/${job.id}`);
    await other.getByTestId('job-status').waitFor();
    t.equal(await other.getByRole('button', { name: 'Cancel job' }).count(), 0, 'no cancel button');
    const forged = await other.evaluate(async (id) => {
      const s = (await (await fetch('../v1/session')).json()) as { csrfToken: string };
      const withToken = await fetch(`../v1/jobs/${id}/cancel`, { method: 'POST', headers: { 'x-csrf-token': s.csrfToken } });
      const without = await fetch(`../v1/jobs/${id}/cancel`, { method: 'POST' });
      const code = async (r: Response) => ((await r.json()) as { error: { code: string } }).error.code;
      return [withToken.status, await code(withToken), without.status, await code(without)];
    }, job.id);
    t.same(forged, [403, 'SWY_FORBIDDEN', 403, 'SWY_CSRF']);
    t.equal((await api.call('GET', `/v1/jobs/${job.id}`)).body.status, 'queued', 'the job was not touched');
  });

  await t.test('bulk: cancel the selected jobs, then every queued job, with the count shown before', async (t) => {
    await page.goto(`${api.url}/ui/#/jobs?status=queued`);
    await page.getByRole('heading', { name: 'Jobs' }).waitFor();
    const made = await Promise.all(
      [1, 2, 3].map(async (i) => (await api.call('POST', '/v1/jobs', chat(`later ${i}`, { delayMs: 3_600_000 }))).body),
    );
    for (const j of made) await page.locator(`tr[data-job="${j.id}"]`).waitFor();
    await page.getByLabel(`Select job ${made[0].id}`).check();
    await page.getByLabel(`Select job ${made[1].id}`).check();
    const asked: string[] = [];
    page.on('dialog', (d) => {
      asked.push(d.message());
      void d.accept();
    });
    await page.getByRole('button', { name: 'Cancel selected (2)' }).click();
    await page.getByRole('status').filter({ hasText: 'Cancel (selected): 2 done' }).waitFor();
    for (const j of made.slice(0, 2)) t.equal((await api.call('GET', `/v1/jobs/${j.id}`)).body.status, 'cancelled');
    // Narrowed by metadata, typed into the filter: counted by listing, and only those are cancelled.
    const tagged = await Promise.all(
      [1, 2].map(
        async (i) => (await api.call('POST', '/v1/jobs', chat(`tagged ${i}`, { delayMs: 3_600_000, metadata: { cohort: 'c7' } }))).body,
      ),
    );
    await page.getByLabel('Metadata').fill('cohort=c7');
    await page.getByLabel('Metadata').press('Enter');
    await page.waitForURL(/metadata=cohort%3Dc7/);
    for (const j of tagged) await page.locator(`tr[data-job="${j.id}"]`).waitFor();
    await page.getByRole('button', { name: 'Cancel all queued jobs that match' }).click();
    await page.getByRole('status').filter({ hasText: 'Cancel (all queued that match the filter): 2 done' }).waitFor();
    for (const j of tagged) t.equal((await api.call('GET', `/v1/jobs/${j.id}`)).body.status, 'cancelled');
    t.equal((await api.call('GET', `/v1/jobs/${made[2].id}`)).body.status, 'queued', 'a job outside the filter is left alone');
    await page.goto(`${api.url}/ui/#/jobs?status=queued`);
    await page.locator(`tr[data-job="${made[2].id}"]`).waitFor();
    const queued = (await api.call('GET', '/v1/stats')).body.queued as number;
    t.ok(queued >= 2, 'other queued jobs remain');
    const before = (await api.call('GET', '/v1/jobs?status=queued&limit=100')).body.data.map((j: { id: string }) => j.id) as string[];
    await page.getByRole('button', { name: 'Cancel all queued jobs' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Cancel (all queued): ${queued} done` })
      .waitFor();
    t.same(asked, ['Cancel 2 jobs?', 'Cancel 2 jobs?', `Cancel ${queued} jobs?`], 'each action said how many jobs before it ran');
    const after = await Promise.all(before.map(async (id) => (await api.call('GET', `/v1/jobs/${id}`)).body.status));
    t.same(new Set(after), new Set(['cancelled']), 'every job that was queued is cancelled');
    const left = (await api.call('GET', '/v1/jobs?status=queued&limit=100')).body.data as { id: string; attempt: number; error: unknown }[];
    t.same(left, [], 'no queued job is left');
    t.equal((await api.call('GET', '/v1/stats')).body.queued, 0, 'nor in the counters');
    page.removeAllListeners('dialog');
  });

  await t.test("usable from the keyboard alone, and readable at a phone's width", async (t) => {
    const phone = await (await browser(t)).newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(`${api.url}/ui/`);
    await phone.getByLabel('API key').waitFor();
    // Keyboard only: the key field takes the first Tab, Enter signs in, Tab reaches the links.
    await phone.keyboard.press('Tab');
    await phone.keyboard.type(API_KEY);
    await phone.keyboard.press('Enter');
    await phone.getByRole('navigation', { name: 'Pages' }).waitFor();
    let reached = false;
    for (let i = 0; i < 10 && !reached; i++) {
      await phone.keyboard.press('Tab');
      reached =
        (await phone.evaluate(
          () =>
            (globalThis as unknown as { document: { activeElement: { textContent: string } | null } }).document.activeElement?.textContent,
        )) === 'Jobs';
    }
    t.ok(reached, 'Tab reaches the Jobs link');
    await phone.keyboard.press('Enter');
    await phone.getByRole('heading', { name: 'Jobs' }).waitFor();
    for (const path of ['#/', '#/jobs', '#/providers', '#/usage']) {
      await phone.goto(`${api.url}/ui/${path}`);
      await phone.locator('main h2').waitFor();
      const [content, viewport] = await phone.evaluate(() => {
        const g = globalThis as unknown as { document: { body: { scrollWidth: number } }; innerWidth: number };
        return [g.document.body.scrollWidth, g.innerWidth];
      });
      t.ok(content <= viewport, `${path}: nothing wider than a 390 px screen (${content} px)`);
    }
  });

  await t.test('sign-out ends the session on the server', async (t) => {
    const cookie = (await context.cookies()).find((c) => c.name === 'swy_session');
    t.ok(cookie?.httpOnly, 'the session cookie is HttpOnly');
    t.equal(cookie?.sameSite, 'Strict');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API key').waitFor();
    const res = await fetch(`${api.url}/v1/session`, { headers: { cookie: `swy_session=${cookie?.value}` } });
    t.equal(res.status, 401, 'the old cookie opens nothing');
    t.same(errors, [], 'no script errors in the page');
  });
});
