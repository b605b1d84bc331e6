/** The command line's help: the list of commands, and each command's own (`switchyard <command> --help`). */

const CONNECTION = `Commands that talk to a server take --url (or SWITCHYARD_URL, default http://127.0.0.1:$PORT or :8080)
and --key (or SWITCHYARD_API_KEY, or the server's key file next to SWITCHYARD_DB).`;

/** Each command: its synopsis, one line of what it does, and more where it needs it. */
const COMMANDS: Record<string, { synopsis: string; does: string; more?: string }> = {
  serve: {
    synopsis: 'serve',
    does: 'run the HTTP API and the job engine',
    more: 'Configured by environment variables (docs/configuration.md) and, with SWITCHYARD_CONFIG, a providers file (docs/providers.md).',
  },
  submit: {
    synopsis: 'submit [file|-] [--type t] [--wait] [--out results.jsonl] [--batch-size 500] [--concurrency 16] [--quiet]',
    does: 'submit one job (.json) or many (.jsonl file, or JSONL on stdin)',
    more: 'With --wait, waits for every job and writes them to --out (or stdout) as they end.',
  },
  get: { synopsis: 'get <id>', does: 'print a job' },
  wait: {
    synopsis: 'wait <id> [--timeout ms]',
    does: 'wait until a job finishes and print it',
    more: 'Exit code: 0 completed, 1 failed or cancelled, 3 timed out.',
  },
  stats: { synopsis: 'stats [--json]', does: 'job counts, success rate, percentiles, throughput' },
  usage: {
    synopsis: 'usage [--from t] [--to t] [--group-by provider,model,type,tenant,day,hour] [--json]',
    does: 'provider calls, tokens and cost, grouped',
  },
  providers: {
    synopsis: 'providers [list|check <name>|enable <name>|disable <name>] [--json]',
    does: 'list providers with their state, probe one, or switch one on or off',
  },
  loadcheck: {
    synopsis: 'loadcheck [--jobs 1000] [--concurrency 50] [--duration 60] [--latency ms] [--json]',
    does: 'drive a running server with a bounded load and report what happened',
  },
  backup: {
    synopsis: 'backup <file> [--db path]',
    does: 'an online, consistent copy of the database (default SWITCHYARD_DB) to <file>',
    more: 'Safe while a server runs on it.',
  },
  migrate: {
    synopsis: 'migrate <sqlite-file> <postgres-url> [--schema name]',
    does: 'copy a SQLite database into an empty PostgreSQL schema (stop the server first)',
  },
};

const SERVER_COMMANDS = new Set(['submit', 'get', 'wait', 'stats', 'usage', 'providers', 'loadcheck']);

/** Every command, one line each. */
export const USAGE = `usage: switchyard <command> [options]     (switchyard <command> --help for one command)

commands:
${Object.values(COMMANDS)
  .map((c) => `  ${c.synopsis}\n      ${c.does}`)
  .join('\n')}

Exit codes: 0 done, 1 failed, 2 bad usage (an unknown command or option, a missing argument), 3 timed out (wait).
${CONNECTION}
`;

/** One command's help, or undefined for an unknown command. */
export function commandHelp(command: string): string | undefined {
  const c = COMMANDS[command];
  if (!c) return undefined;
  return `usage: switchyard ${c.synopsis}\n\n${c.does}.${c.more ? `\n${c.more}` : ''}${SERVER_COMMANDS.has(command) ? `\n\n${CONNECTION}` : ''}\n`;
}
