#!/usr/bin/env node
/** The `switchyard` command. */
import { parseArgs } from 'node:util';
import { backupFile } from './store/backup.js';
import { copySqliteToPostgres } from './store/postgres/copy.js';
import { pino } from 'pino';
import { apiKeyPath, loadOrCreateApiKey } from './api-key.js';
import { configFromEnv, DEFAULT_DATABASE, isPostgresUrl } from './config.js';
import { createEngine } from './engine.js';
import { createServer } from './http/app.js';
import { attachJobLogs } from './logging.js';
import { CliError } from './cli/client.js';
import { getCommand, providersCommand, statsCommand, usageCommand, waitCommand } from './cli/commands.js';
import { loadcheckCommand } from './cli/loadcheck.js';
import { submitCommand } from './cli/submit.js';
import { readProvidersFile } from './cli/providers-file.js';
import { commandHelp, USAGE } from './cli/help.js';

async function serve(): Promise<void> {
  // A write past the file-size limit (RLIMIT_FSIZE) must fail that write with EFBIG, as a full disk
  // fails it with ENOSPC, not end the process (the default action of SIGXFSZ).
  process.on('SIGXFSZ', () => undefined);
  const cfg = configFromEnv();
  if (cfg.configFile !== undefined) cfg.engine.providers = readProvidersFile(cfg.configFile);
  const logger = pino({ level: cfg.logLevel, redact: ['req.headers.authorization', '*.apiKey', '*.secret'] });
  const engine = await createEngine({ ...cfg.engine, logger });
  let apiKey = cfg.apiKey;
  if (apiKey === undefined) {
    const path = apiKeyPath(cfg.engine.database ?? DEFAULT_DATABASE);
    const { key, created } = loadOrCreateApiKey(path);
    apiKey = key;
    logger.info({ path }, created ? 'created an API key (SWITCHYARD_API_KEY was not set)' : 'using the API key from its file');
  }
  attachJobLogs(engine, logger, { payloads: cfg.logPayloads });
  await engine.start();
  // Names this process in the lease columns (jobs.lease_owner, attempts.owner) of a shared database.
  logger.info({ instance: engine.instanceId }, 'engine started');
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
  // Started by a Node parent over an IPC channel (a supervisor, a test): stop when the parent is gone,
  // however it ended, rather than run on unowned.
  if (process.send !== undefined) {
    if (process.connected) process.once('disconnect', () => void shutdown('parent gone'));
    else void shutdown('parent gone');
  }
}

async function backup(args: string[]): Promise<void> {
  const { positionals, values } = parseArgs({ args, allowPositionals: true, options: { db: { type: 'string' } } });
  const destination = positionals[0];
  if (!destination) throw new CliError('give the file to copy the database to', 2);
  const source = values.db ?? configFromEnv().engine.database ?? DEFAULT_DATABASE;
  const r = await backupFile(source, destination);
  process.stdout.write(`backed up ${source} to ${r.path}: ${r.pages} pages, ${r.bytes} bytes in ${r.durationMs} ms\n`);
}

async function migrate(args: string[]): Promise<void> {
  const { positionals, values } = parseArgs({ args, allowPositionals: true, options: { schema: { type: 'string' } } });
  const [source, url] = positionals;
  if (!source || !url || !isPostgresUrl(url)) throw new CliError('give a SQLite file and a postgres:// URL', 2);
  const report = await copySqliteToPostgres(source, url, {
    schema: values.schema,
    onTable: (table, rows) => process.stdout.write(`${table}: ${rows} rows\n`),
  });
  process.stdout.write(`copied ${source} into PostgreSQL in ${report.durationMs} ms; start the servers with SWITCHYARD_DB=<that url>\n`);
}

/** Commands that talk to a running server; each resolves with its exit code. */
const CLIENT_COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  submit: submitCommand,
  get: getCommand,
  wait: waitCommand,
  stats: statsCommand,
  usage: usageCommand,
  providers: providersCommand,
  loadcheck: loadcheckCommand,
};

async function main(argv: string[]): Promise<void> {
  const command = argv[0];
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write((command !== undefined && commandHelp(command)) || USAGE);
    return;
  }
  const client = command === undefined ? undefined : CLIENT_COMMANDS[command];
  if (client) {
    process.exitCode = await client(argv.slice(1));
    return;
  }
  switch (command) {
    case 'serve':
      return serve();
    case 'backup':
      return backup(argv.slice(1));
    case 'migrate':
      return migrate(argv.slice(1));
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
  const command = process.argv[2] ?? '';
  // Bad usage (an unknown option, a missing argument): say what, show the command's help, exit 2.
  const badOption = (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true;
  if ((err instanceof CliError && err.exitCode === 2) || badOption) {
    process.stderr.write(`switchyard: ${(err as Error).message}\n\n${commandHelp(command) ?? USAGE}`);
    process.exit(2);
  }
  if (err instanceof CliError) {
    process.stderr.write(`switchyard: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  const e = err as { code?: string; message?: string };
  process.stderr.write(`switchyard: ${e.code ? `${e.code}: ` : ''}${e.message ?? String(err)}\n`);
  process.exit(1);
});
