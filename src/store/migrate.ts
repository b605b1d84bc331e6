/**
 * Numbered `.sql` migrations, each applied in its own transaction and recorded in `schema_version`.
 * A migration that rebuilds a table starts with `-- switchyard:foreign-keys-off`: foreign keys are
 * off while it runs (dropping the old table must not cascade) and checked before it commits.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type Database from 'better-sqlite3';

const FOREIGN_KEYS_OFF = '-- switchyard:foreign-keys-off';
const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

interface Migration {
  version: number;
  name: string;
  sql: string;
}

function loadMigrations(dir: string): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d+_.+\.sql$/.test(f))
    .map((f) => ({ version: Number.parseInt(f, 10), name: f, sql: readFileSync(dir + f, 'utf8') }))
    .sort((a, b) => a.version - b.version);
}

/** Bring the schema up to date; returns the versions applied now. */
export function migrate(db: Database.Database, dir = MIGRATIONS_DIR): number[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  const current = (db.prepare('SELECT max(version) AS v FROM schema_version').get() as { v: number | null }).v ?? 0;
  const record = db.prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)');
  const applied: number[] = [];
  for (const m of loadMigrations(dir)) {
    if (m.version <= current) continue;
    const rebuild = m.sql.startsWith(FOREIGN_KEYS_OFF);
    // The pragma is a no-op inside a transaction, so it is switched around it.
    const fkWasOn = (db.pragma('foreign_keys', { simple: true }) as number) === 1;
    if (rebuild) db.pragma('foreign_keys = OFF');
    try {
      db.transaction(() => {
        db.exec(m.sql);
        if (rebuild && (db.pragma('foreign_key_check') as unknown[]).length > 0) {
          throw new Error(`migration ${m.name} left rows that break a foreign key`);
        }
        record.run(m.version, m.name, Date.now());
      }).immediate();
    } finally {
      if (rebuild && fkWasOn) db.pragma('foreign_keys = ON');
    }
    applied.push(m.version);
  }
  return applied;
}
