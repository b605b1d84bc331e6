/**
 * Files of the Batch API: the bytes on disk (written through a temporary name, so a crash never
 * leaves a half file behind a record), the record in the store. Uploads are streamed to disk and
 * results are written line by line: no file is ever held in memory whole.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, type ReadStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SwitchyardError } from '../errors.js';
import type { BatchStore } from '../store/store.js';
import type { FileObject, FilePurpose, FileRecord } from '../domain/batches.js';

/** File ids are made here (`file-` and 24 hex digits); anything else names no file. */
const FILE_ID = /^file-[0-9a-f]{24}$/;

export function toFileObject(f: FileRecord): FileObject {
  return {
    id: f.id,
    object: 'file',
    bytes: f.bytes,
    created_at: Math.floor(f.createdAt / 1000),
    filename: f.filename,
    purpose: f.purpose,
    status: 'processed',
    expires_at: f.expiresAt === null ? null : Math.floor(f.expiresAt / 1000),
    status_details: null,
  };
}

/** Bytes received but not yet a file. */
export interface Upload {
  bytes: number;
  /** Record the file; `expiresInSeconds` overrides the default expiry (OpenAI's `expires_after`). */
  commit(tenant: string, purpose: FilePurpose, filename: string, expiresInSeconds?: number): Promise<FileRecord>;
  discard(): Promise<void>;
}

/** Per-tenant bounds on files. */
export interface FileLimits {
  /** Bytes one tenant's files may take. */
  quotaBytes: number;
  /** Files one tenant may keep. */
  quotaFiles: number;
  /** Days until a file is deleted, unless its upload says otherwise; 0 keeps files. */
  expiryDays: number;
}

const DAY_MS = 86_400_000;
/** A disk that cannot take the bytes: the server's condition, not the request's fault. */
const DISK_FULL = new Set(['ENOSPC', 'EDQUOT', 'EFBIG', 'EROFS', 'EIO']);

/** Counts bytes through a pipeline and stops it past `max` (a tenant's room within its quota). */
function capped(max: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > max) done(new SwitchyardError('SWY_QUOTA_EXCEEDED', `the upload passes this key's file quota (${max} bytes left)`));
      else done(null, chunk);
    },
  });
}

/** Writes a file line by line, waiting when the disk is slower than the producer. */
export interface LineWriter {
  write(line: string): Promise<void>;
  /** Finish, record the file and return it; undefined when no line was written. */
  close(): Promise<FileRecord | undefined>;
}

export class Files {
  private ready: Promise<unknown> | undefined;

  constructor(
    private readonly store: BatchStore,
    private readonly dir: string,
    private readonly limits: FileLimits,
  ) {}

  private expiry(now: number, seconds?: number): number | null {
    if (seconds !== undefined) return now + seconds * 1000;
    return this.limits.expiryDays > 0 ? now + this.limits.expiryDays * DAY_MS : null;
  }

  /** Bytes `tenant` may still upload; throws SWY_QUOTA_EXCEEDED when it may upload no file at all. */
  async room(tenant: string): Promise<number> {
    const used = await this.store.fileUsage(tenant);
    if (used.files >= this.limits.quotaFiles) {
      throw new SwitchyardError(
        'SWY_QUOTA_EXCEEDED',
        `this key keeps ${used.files} files; the quota is ${this.limits.quotaFiles}: delete some first`,
      );
    }
    const left = this.limits.quotaBytes - used.bytes;
    if (left <= 0)
      throw new SwitchyardError('SWY_QUOTA_EXCEEDED', `this key's files take ${used.bytes} bytes; the quota is ${this.limits.quotaBytes}`);
    return left;
  }

  /** Delete files whose expiry passed, a page at a time; returns how many. */
  async expire(now = Date.now()): Promise<number> {
    let n = 0;
    for (;;) {
      const page = await this.store.expiredFiles(now, 100);
      for (const f of page) {
        await this.store.deleteFile(f.id);
        await rm(this.path(f.id), { force: true });
      }
      n += page.length;
      if (page.length < 100) return n;
    }
  }

  private newId(): string {
    return `file-${randomBytes(12).toString('hex')}`;
  }

  path(id: string): string {
    // Checked before use: never a path from input.
    if (!FILE_ID.test(id)) throw new SwitchyardError('SWY_FILE_NOT_FOUND', `file ${id} not found`);
    return join(this.dir, id);
  }

  private async ensureDir(): Promise<void> {
    this.ready ??= mkdir(this.dir, { recursive: true });
    await this.ready;
  }

  /**
   * Stream an upload to disk under a temporary name. It becomes a file only on `commit` (its
   * purpose may arrive after the bytes in a multipart body); a cut-short stream keeps nothing.
   */
  async receive(body: Readable & { truncated?: boolean }, maxBytes = Infinity): Promise<Upload> {
    await this.ensureDir();
    const id = this.newId();
    const final = this.path(id);
    const temp = `${final}.part`;
    let bytes = 0;
    body.on('data', (chunk: Buffer) => (bytes += chunk.length));
    try {
      await pipeline(body, capped(maxBytes), createWriteStream(temp, { mode: 0o600 }));
      if (body.truncated) throw new SwitchyardError('SWY_LIMIT_EXCEEDED', 'the file is larger than the upload limit');
    } catch (err) {
      body.resume();
      await rm(temp, { force: true });
      const code = (err as { code?: string }).code;
      if (code !== undefined && DISK_FULL.has(code)) {
        throw new SwitchyardError('SWY_STORE_UNAVAILABLE', `the server cannot store the file now (${code})`, { cause: err });
      }
      throw err;
    }
    return {
      bytes,
      commit: async (tenant, purpose, filename, expiresInSeconds) => {
        // Concurrent uploads of one tenant may each have fitted alone: the quota is checked again.
        const used = await this.store.fileUsage(tenant);
        if (used.files + 1 > this.limits.quotaFiles || used.bytes + bytes > this.limits.quotaBytes) {
          await rm(temp, { force: true });
          throw new SwitchyardError(
            'SWY_QUOTA_EXCEEDED',
            `the file would pass this key's file quota (${this.limits.quotaFiles} files, ${this.limits.quotaBytes} bytes)`,
          );
        }
        await rename(temp, final);
        const now = Date.now();
        const record: FileRecord = { id, tenant, purpose, filename, bytes, createdAt: now, expiresAt: this.expiry(now, expiresInSeconds) };
        await this.store.insertFile(record);
        return record;
      },
      discard: () => rm(temp, { force: true }),
    };
  }

  /**
   * A writer for a results file; the record exists only once every line is on disk. Results count
   * toward the tenant's quota but are never refused by it: they are bounded by the batch they answer.
   */
  async writer(tenant: string, purpose: FilePurpose, filename: string): Promise<LineWriter> {
    await this.ensureDir();
    const id = this.newId();
    const final = this.path(id);
    const temp = `${final}.part`;
    const out = createWriteStream(temp, { mode: 0o600 });
    let bytes = 0;
    return {
      write: async (line) => {
        const data = `${line}\n`;
        bytes += Buffer.byteLength(data);
        if (!out.write(data)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
      },
      close: async () => {
        await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
        if (bytes === 0) {
          await rm(temp, { force: true });
          return undefined;
        }
        await rename(temp, final);
        const now = Date.now();
        const record: FileRecord = { id, tenant, purpose, filename, bytes, createdAt: now, expiresAt: this.expiry(now) };
        await this.store.insertFile(record);
        return record;
      },
    };
  }

  /** The file, if `tenant` (undefined: any) may see it; else SWY_FILE_NOT_FOUND. */
  async get(id: string, tenant?: string): Promise<FileRecord> {
    const f = FILE_ID.test(id) ? await this.store.getFile(id) : undefined;
    if (!f || (tenant !== undefined && f.tenant !== tenant)) throw new SwitchyardError('SWY_FILE_NOT_FOUND', `file ${id} not found`);
    return f;
  }

  open(f: FileRecord): ReadStream {
    return createReadStream(this.path(f.id));
  }

  list(tenant: string | undefined, purpose: string | undefined, limit: number): Promise<FileRecord[]> {
    return this.store.listFiles(tenant, purpose, limit);
  }

  async delete(id: string, tenant?: string): Promise<void> {
    const f = await this.get(id, tenant);
    await this.store.deleteFile(f.id);
    await rm(this.path(f.id), { force: true });
  }
}
