/** The Batch API's tables on PostgreSQL: files (metadata; bytes on storage every node shares), batches, batch lines. */
import type pg from 'pg';
import type { BatchStore } from '../store.js';
import type { JobStatus } from '../../domain/jobs.js';
import { BATCH_COLUMNS, batchParams, rowToBatch, rowToFile, type FileRow } from '../batches.js';
import { rowToJob, type JobRow } from '../rows.js';
import type { Write } from './group-commit.js';

type Read = <R extends pg.QueryResultRow>(sql: string, params?: unknown[]) => Promise<R[]>;

export function pgBatchStore(read: Read, write: <T>(fn: Write<T>) => Promise<T>): BatchStore {
  return {
    insertFile: (f) =>
      write(async (c) => {
        await c.query(
          'INSERT INTO files (id, tenant, purpose, filename, bytes, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
          [f.id, f.tenant, f.purpose, f.filename, f.bytes, f.createdAt, f.expiresAt],
        );
      }),
    getFile: async (id) => {
      const [r] = await read<FileRow>('SELECT * FROM files WHERE id = $1', [id]);
      return r && rowToFile(r);
    },
    listFiles: async (tenant, purpose, limit) =>
      (
        await read<FileRow>(
          `SELECT * FROM files WHERE ($1::text IS NULL OR tenant = $1) AND ($2::text IS NULL OR purpose = $2)
          ORDER BY created_at DESC, id DESC LIMIT $3`,
          [tenant ?? null, purpose ?? null, limit],
        )
      ).map(rowToFile),
    deleteFile: (id) => write(async (c) => ((await c.query('DELETE FROM files WHERE id = $1', [id])).rowCount ?? 0) > 0),
    fileUsage: async (tenant) => {
      const [r] = await read<{ files: number; bytes: number }>(
        'SELECT count(*)::int AS files, coalesce(sum(bytes), 0) AS bytes FROM files WHERE tenant = $1',
        [tenant],
      );
      return r ?? { files: 0, bytes: 0 };
    },
    expiredFiles: async (now, limit) =>
      (
        await read<FileRow>('SELECT * FROM files WHERE expires_at IS NOT NULL AND expires_at <= $1 ORDER BY expires_at LIMIT $2', [
          now,
          limit,
        ])
      ).map(rowToFile),
    insertBatch: (b) =>
      write(async (c) => {
        const params = batchParams(b);
        const cols = BATCH_COLUMNS.map(([, col]) => col);
        await c.query(
          `INSERT INTO batches (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})`,
          cols.map((col) => params[col] ?? null),
        );
      }),
    getBatch: async (id) => {
      const [r] = await read('SELECT * FROM batches WHERE id = $1', [id]);
      return r && rowToBatch(r);
    },
    listBatches: async (tenant, after, limit) =>
      (
        await read(
          `SELECT * FROM batches WHERE ($1::text IS NULL OR tenant = $1)
          AND ($2::text IS NULL OR (created_at, id) < (SELECT created_at, id FROM batches WHERE id = $2))
          ORDER BY created_at DESC, id DESC LIMIT $3`,
          [tenant ?? null, after ?? null, limit],
        )
      ).map(rowToBatch),
    batchesWithStatus: async (status) => (await read('SELECT * FROM batches WHERE status = $1', [status])).map(rowToBatch),
    updateBatch: (id, patch, from) =>
      write(async (c) => {
        const params = batchParams(patch);
        // Column names come from BATCH_COLUMNS, never from input.
        const cols = Object.keys(params);
        const values: unknown[] = cols.map((col) => params[col]);
        values.push(id);
        let guard = '';
        if (from) {
          values.push(from);
          guard = ` AND status = ANY($${values.length}::text[])`;
        }
        const set = cols.map((col, i) => `${col} = $${i + 1}`).join(', ');
        const { rows } = await c.query(`UPDATE batches SET ${set} WHERE id = $${cols.length + 1}${guard} RETURNING *`, values);
        return rows[0] && rowToBatch(rows[0]);
      }),
    linkBatchJobs: (batchId, lines) =>
      write(async (c) => {
        if (lines.length === 0) return;
        await c.query(
          `INSERT INTO batch_jobs (batch_id, line, custom_id, job_id)
          SELECT $1, * FROM unnest($2::int[], $3::text[], $4::text[]) ON CONFLICT DO NOTHING`,
          [batchId, lines.map((l) => l.line), lines.map((l) => l.customId), lines.map((l) => l.jobId)],
        );
      }),
    batchJobCounts: async (batchId) => {
      const out: Partial<Record<JobStatus, number>> = {};
      for (const r of await read<{ status: JobStatus; n: number }>(
        `SELECT j.status AS status, count(*)::int AS n FROM batch_jobs b JOIN jobs j ON j.id = b.job_id
        WHERE b.batch_id = $1 GROUP BY j.status`,
        [batchId],
      ))
        out[r.status] = r.n;
      return out;
    },
    batchResults: async (batchId, after, limit) =>
      (
        await read<JobRow & { b_line: number; b_custom_id: string }>(
          `SELECT b.line AS b_line, b.custom_id AS b_custom_id, j.* FROM batch_jobs b JOIN jobs j ON j.id = b.job_id
          WHERE b.batch_id = $1 AND b.line > $2 ORDER BY b.line LIMIT $3`,
          [batchId, after, limit],
        )
      ).map((r) => ({ line: r.b_line, customId: r.b_custom_id, job: rowToJob(r) })),
    activeBatchJobs: async (batchId, limit) =>
      (
        await read<{ id: string }>(
          `SELECT j.id FROM batch_jobs b JOIN jobs j ON j.id = b.job_id
          WHERE b.batch_id = $1 AND j.status IN ('queued', 'running') LIMIT $2`,
          [batchId, limit],
        )
      ).map((r) => r.id),
  };
}
