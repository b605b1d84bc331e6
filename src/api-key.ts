/** The server's API key when none is given: random, made once, kept in a 0600 file next to the database. */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { isPostgresUrl } from './config.js';

export function apiKeyPath(database: string): string {
  // A database server has no folder of its own here: the key goes under ./data (several processes
  // sharing one database should all be given the same SWITCHYARD_API_KEY instead).
  const onServer = database === ':memory:' || isPostgresUrl(database);
  const dir = onServer ? resolve('data') : dirname(resolve(database));
  return join(dir, 'api-key');
}

/** Read the key file, or create it (exclusively, mode 0600) on first start. */
export function loadOrCreateApiKey(path: string): { key: string; created: boolean } {
  try {
    const key = readFileSync(path, 'utf8').trim();
    if (key.length >= 16) return { key, created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(dirname(path), { recursive: true });
  const key = `swy_${randomBytes(32).toString('base64url')}`;
  writeFileSync(path, `${key}\n`, { mode: 0o600, flag: 'w' });
  return { key, created: true };
}
