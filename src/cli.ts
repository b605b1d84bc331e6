#!/usr/bin/env node
/** The `switchyard` command. */
import { parseArgs } from 'node:util';
import { SwitchyardError } from './errors.js';
import { backupFile } from './store/backup.js';
import { pino } from 'pino';
import { apiKeyPath, loadOrCreateApiKey } from './api-key.js';
import { configFromEnv } from './config.js';
import { createEngine } from './engine.js';
import { createServer } from './http/app.js';
import { attachJobLogs } from './logging.js';

const USAGE = `usage: switchyard <command>

commands:
  serve                      run the HTTP API and the job engine (configured by environment variables; see README)
  backup <file> [--db path]  online, consistent copy of the database (default SWITCHYARD_DB) to <file>,
                             safe while a server runs on it
`;

async function serve(): Promise<void> {
  const cfg = configFromEnv();
  const logger = pino({ level: cfg.logLevel, redact: ['req.headers.authorization', '*.apiKey', '*.secret'] });
  const engine = await createEngine({ ...cfg.engine, logger });
  let apiKey = cfg.apiKey;
  if (apiKey === undefined) {
    const path = apiKeyPath(cfg.engine.database ?? './data/switchyard.db');
    const { key, created } = loadOrCreateApiKey(path);
    apiKey = key;
    logger.info({ path }, created ? 'created an API key (SWITCHYARD_API_KEY was not set)' : 'using the API key from its file');
  }
  attachJobLogs(engine, logger, { payloads: cfg.logPayloads });
  await engine.start();
  const app = await createServer(engine, { apiKey, logger, ...cfg.server });
  await app.listen({ port: cfg.port, host: cfg.host });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal, timeoutMs: engine.config.shutdownTimeoutMs }, 'stopping: no new jobs, draining in-flight work');
    try {
      await engine.stop();
      await app.close();
      logger.info('stopped');
      process.exit(0);
    } catch (err) {
      logger.error({ err }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

async function backup(args: string[]): Promise<void> {
  const { positionals, values } = parseArgs({ args, allowPositionals: true, options: { db: { type: 'string' } } });
  const destination = positionals[0];
  if (!destination) throw new SwitchyardError('SWY_VALIDATION', 'usage: switchyard backup <file> [--db path]');
  const source = values.db ?? configFromEnv().engine.database ?? './data/switchyard.db';
  const r = await backupFile(source, destination);
  process.stdout.write(`backed up ${source} to ${r.path}: ${r.pages} pages, ${r.bytes} bytes in ${r.durationMs} ms\n`);
}

async function main(argv: string[]): Promise<void> {
  const command = argv[0];
  switch (command) {
    case 'serve':
      return serve();
    case 'backup':
      return backup(argv.slice(1));
    case undefined:
    case 'help':
      process.stdout.write(USAGE);
      return;
    default:
      process.stderr.write(`switchyard: unknown command ${JSON.stringify(command)}\n${USAGE}`);
      process.exit(2);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const e = err as { code?: string; message?: string };
  process.stderr.write(`switchyard: ${e.code ? `${e.code}: ` : ''}${e.message ?? String(err)}\n`);
  process.exit(1);
});
