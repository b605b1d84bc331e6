/** The `sessions` table (SQLite): web console sessions. */
import type Database from 'better-sqlite3';
import type { SessionRecord } from '../domain/sessions.js';

interface SessionRow {
  id_digest: string;
  key_digest: string;
  csrf: string;
  expires_at: number;
}

export class SessionTable {
  private readonly s;

  constructor(db: Database.Database) {
    this.s = {
      expire: db.prepare('DELETE FROM sessions WHERE expires_at <= ?'),
      insert: db.prepare(
        'INSERT INTO sessions (id_digest, key_digest, csrf, expires_at) VALUES (@idDigest, @keyDigest, @csrf, @expiresAt)',
      ),
      trim: db.prepare(`DELETE FROM sessions WHERE key_digest = @key AND id_digest NOT IN
        (SELECT id_digest FROM sessions WHERE key_digest = @key ORDER BY expires_at DESC LIMIT @keep)`),
      find: db.prepare('SELECT * FROM sessions WHERE id_digest = ? AND expires_at > ?'),
      close: db.prepare('DELETE FROM sessions WHERE id_digest = ?'),
    };
  }

  open(s: SessionRecord, perKey: number, now: number): void {
    this.s.expire.run(now);
    this.s.insert.run(s);
    this.s.trim.run({ key: s.keyDigest, keep: perKey });
  }

  find(idDigest: string, now: number): SessionRecord | undefined {
    const r = this.s.find.get(idDigest, now) as SessionRow | undefined;
    return r && { idDigest: r.id_digest, keyDigest: r.key_digest, csrf: r.csrf, expiresAt: r.expires_at };
  }

  close(idDigest: string): void {
    this.s.close.run(idDigest);
  }
}
