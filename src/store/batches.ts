/** The Batch API's tables: files, batches, and the job behind each batch line. */
import type Database from 'better-sqlite3';
import type { JobStatus } from '../domain/jobs.js';
import type { BatchLine, BatchRecord, FileRecord } from '../domain/batches.js';
import { rowToJob, type JobRow } from './rows.js';
import type { Job } from '../domain/jobs.js';

export interface FileRow {
  id: string;
  tenant: string;
  purpose: FileRecord['purpose'];
  filename: string;
  bytes: number;
  created_at: number;
  expires_at: number | null;
}

export const rowToFile = (r: FileRow): FileRecord => ({
  id: r.id,
  tenant: r.tenant,
  purpose: r.purpose,
  filename: r.filename,
  bytes: r.bytes,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
});

export const BATCH_COLUMNS: [keyof BatchRecord, string][] = [
  ['id', 'id'],
  ['tenant', 'tenant'],
  ['endpoint', 'endpoint'],
  ['inputFileId', 'input_file_id'],
  ['completionWindow', 'completion_window'],
  ['status', 'status'],
  ['errors', 'errors'],
  ['outputFileId', 'output_file_id'],
  ['errorFileId', 'error_file_id'],
  ['metadata', 'metadata'],
  ['total', 'total'],
  ['createdAt', 'created_at'],
  ['inProgressAt', 'in_progress_at'],
  ['expiresAt', 'expires_at'],
  ['finalizingAt', 'finalizing_at'],
  ['completedAt', 'completed_at'],
  ['failedAt', 'failed_at'],
  ['expiredAt', 'expired_at'],
  ['cancellingAt', 'cancelling_at'],
  ['cancelledAt', 'cancelled_at'],
  ['readAttempts', 'read_attempts'],
];
const JSON_FIELDS = new Set<keyof BatchRecord>(['errors', 'metadata']);

export function rowToBatch(row: Record<string, unknown>): BatchRecord {
  const out: Record<string, unknown> = {};
  for (const [field, column] of BATCH_COLUMNS) {
    const v = row[column];
    out[field] = JSON_FIELDS.has(field) && typeof v === 'string' ? JSON.parse(v) : v;
  }
  return out as unknown as BatchRecord;
}

export function batchParams(b: Partial<BatchRecord>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, column] of BATCH_COLUMNS) {
    if (!(field in b)) continue;
    const v = b[field];
    out[column] = JSON_FIELDS.has(field) && v !== null && v !== undefined ? JSON.stringify(v) : v;
  }
  return out;
}

export class BatchTables {
  private readonly s;
  private readonly updates = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {
    this.s = {
      insertFile: db.prepare(`INSERT INTO files (id, tenant, purpose, filename, bytes, created_at, expires_at)
        VALUES (@id, @tenant, @purpose, @filename, @bytes, @createdAt, @expiresAt)`),
      usage: db.prepare('SELECT count(*) AS files, coalesce(sum(bytes), 0) AS bytes FROM files WHERE tenant = ?'),
      expired: db.prepare('SELECT * FROM files WHERE expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at LIMIT ?'),
      file: db.prepare('SELECT * FROM files WHERE id = ?'),
      files: db.prepare(`SELECT * FROM files WHERE (@tenant IS NULL OR tenant = @tenant) AND (@purpose IS NULL OR purpose = @purpose)
        ORDER BY created_at DESC, id DESC LIMIT @limit`),
      deleteFile: db.prepare('DELETE FROM files WHERE id = ?'),
      insertBatch: db.prepare(`INSERT INTO batches (${BATCH_COLUMNS.map(([, c]) => c).join(', ')})
        VALUES (${BATCH_COLUMNS.map(([, c]) => `@${c}`).join(', ')})`),
      batch: db.prepare('SELECT * FROM batches WHERE id = ?'),
      batches: db.prepare(`SELECT * FROM batches WHERE (@tenant IS NULL OR tenant = @tenant)
        AND (@after IS NULL OR (created_at, id) < (SELECT created_at, id FROM batches WHERE id = @after))
        ORDER BY created_at DESC, id DESC LIMIT @limit`),
      byStatus: db.prepare('SELECT * FROM batches WHERE status = ?'),
      link: db.prepare(`INSERT OR IGNORE INTO batch_jobs (batch_id, line, custom_id, job_id) VALUES (@batchId, @line, @customId, @jobId)`),
      counts: db.prepare(`SELECT j.status AS status, count(*) AS n FROM batch_jobs b JOIN jobs j ON j.id = b.job_id
        WHERE b.batch_id = ? GROUP BY j.status`),
      results: db.prepare(`SELECT b.line AS b_line, b.custom_id AS b_custom_id, j.* FROM batch_jobs b JOIN jobs j ON j.id = b.job_id
        WHERE b.batch_id = @batchId AND b.line > @after ORDER BY b.line LIMIT @limit`),
      active: db
        .prepare(`SELECT j.id FROM batch_jobs b JOIN jobs j ON j.id = b.job_id
        WHERE b.batch_id = ? AND j.status IN ('queued', 'running') LIMIT ?`)
        .pluck(),
    };
  }

  insertFile(f: FileRecord): void {
    this.s.insertFile.run(f);
  }

  file(id: string): FileRecord | undefined {
    const r = this.s.file.get(id) as FileRow | undefined;
    return r && rowToFile(r);
  }

  files(tenant: string | undefined, purpose: string | undefined, limit: number): FileRecord[] {
    return (this.s.files.all({ tenant: tenant ?? null, purpose: purpose ?? null, limit }) as FileRow[]).map(rowToFile);
  }

  fileUsage(tenant: string): { files: number; bytes: number } {
    return this.s.usage.get(tenant) as { files: number; bytes: number };
  }

  expiredFiles(now: number, limit: number): FileRecord[] {
    return (this.s.expired.all(now, limit) as FileRow[]).map(rowToFile);
  }

  deleteFile(id: string): boolean {
    return this.s.deleteFile.run(id).changes > 0;
  }

  insertBatch(b: BatchRecord): void {
    this.s.insertBatch.run(batchParams(b));
  }

  /** Set some fields of a batch; `from` (if given) must be its current status, or nothing changes. */
  updateBatch(id: string, patch: Partial<BatchRecord>, from?: BatchRecord['status'][]): BatchRecord | undefined {
    const params = batchParams(patch);
    const cols = Object.keys(params);
    const key = `${cols.join(',')}|${from?.join(',') ?? ''}`;
    let stmt = this.updates.get(key);
    if (!stmt) {
      // Column names come from BATCH_COLUMNS, never from input.
      const guard = from ? ` AND status IN (${from.map((s) => `'${s}'`).join(', ')})` : '';
      stmt = this.db.prepare(`UPDATE batches SET ${cols.map((c) => `${c} = @${c}`).join(', ')} WHERE id = @__id${guard} RETURNING *`);
      this.updates.set(key, stmt);
    }
    const row = stmt.get({ ...params, __id: id }) as Record<string, unknown> | undefined;
    return row && rowToBatch(row);
  }

  batch(id: string): BatchRecord | undefined {
    const r = this.s.batch.get(id) as Record<string, unknown> | undefined;
    return r && rowToBatch(r);
  }

  batches(tenant: string | undefined, after: string | undefined, limit: number): BatchRecord[] {
    return (this.s.batches.all({ tenant: tenant ?? null, after: after ?? null, limit }) as Record<string, unknown>[]).map(rowToBatch);
  }

  batchesWithStatus(status: BatchRecord['status']): BatchRecord[] {
    return (this.s.byStatus.all(status) as Record<string, unknown>[]).map(rowToBatch);
  }

  link(batchId: string, lines: BatchLine[]): void {
    for (const l of lines) this.s.link.run({ batchId, ...l });
  }

  counts(batchId: string): Partial<Record<JobStatus, number>> {
    const out: Partial<Record<JobStatus, number>> = {};
    for (const r of this.s.counts.all(batchId) as { status: JobStatus; n: number }[]) out[r.status] = r.n;
    return out;
  }

  results(batchId: string, after: number, limit: number): { line: number; customId: string; job: Job }[] {
    return (this.s.results.all({ batchId, after, limit }) as (JobRow & { b_line: number; b_custom_id: string })[]).map((r) => ({
      line: r.b_line,
      customId: r.b_custom_id,
      job: rowToJob(r),
    }));
  }

  activeJobIds(batchId: string, limit: number): string[] {
    return this.s.active.all(batchId, limit) as string[];
  }
}
