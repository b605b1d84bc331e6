// Writes docs/openapi.json from the routes' schemas (run: npm run docs:openapi).
import { writeFileSync } from 'node:fs';
import { createEngine, createServer } from '../dist/index.js';

const engine = await createEngine({ database: ':memory:', seedProviders: false });
const app = await createServer(engine, { apiKey: 'openapi-generation-only-key' });
await app.ready();
writeFileSync(new URL('../docs/openapi.json', import.meta.url), `${JSON.stringify(app.swagger(), null, 2)}\n`);
await app.close();
await engine.stop();
