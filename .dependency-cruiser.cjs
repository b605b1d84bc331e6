/**
 * Which parts of src/ may import which: the layers, written once, top first. A module may import
 * its own layer and the layers below it, never one above; and no import cycle is allowed.
 * `npm run lint:layers` (part of `npm test` and `npm run lint`) checks it.
 */
const LAYERS = [
  ['entry points: the CLI, the library', '^src/(cli|index|api-key)\\.ts$|^src/cli/'],
  ['the HTTP server and its fronts (Switchyard, OpenAI, Anthropic)', '^src/http/'],
  ['observers attached from outside', '^src/(metrics|logging)\\.ts$'],
  ['the composition root', '^src/engine\\.ts$'],
  ['features built on the engine (the Batch API)', '^src/batches/'],
  ['the engine core', '^src/core/'],
  ['the scheduler', '^src/scheduler/'],
  ['the worker threads that run handlers', '^src/pool/'],
  ['the Anthropic wire format', '^src/anthropic/'],
  ['the OpenAI wire format', '^src/openai/'],
  ['job types and their input', '^src/jobs/'],
  ['JSON Schema checks, on a thread of their own', '^src/schema/'],
  ['providers, routing and breakers', '^src/providers/'],
  ['keys, tenants and budgets', '^src/keys/'],
  ['usage and cost', '^src/usage/'],
  ['the store', '^src/store/'],
  // Shared by all: errors, validation, configuration, events, and the domain's types (src/domain/).
  ['the base', '^src/(errors|validation|config|limits|events)\\.ts$|^src/domain/'],
];
const BASE = LAYERS[LAYERS.length - 1][1];

const forbidden = [
  {
    name: 'no-cycles',
    severity: 'error',
    comment: 'An import cycle: the modules in it cannot be understood (or loaded) one at a time.',
    from: {},
    to: { circular: true },
  },
];
LAYERS.forEach(([name, path], i) => {
  if (i === 0) return;
  forbidden.push({
    name: `layer-${i}`,
    severity: 'error',
    comment: `${name} must not import any layer above it`,
    from: { path, ...(path === BASE ? {} : { pathNot: BASE }) },
    to: { path: LAYERS.slice(0, i).map(([, p]) => `(${p})`).join('|'), pathNot: BASE },
  });
});

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden,
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports count: a type is a dependency too.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(dist|test|node_modules)/' },
  },
};
