/**
 * Files of the Batch API: the bytes on disk (written through a temporary name, so a crash never
 * leaves a half file behind a record), the record in the store. Uploads are streamed to disk and
 * results are written line by line: no file is ever held in memory whole.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, type ReadStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SwitchyardError } from '../errors.js';
import type { BatchStore } from '../store/store.js';
import type { FileObject, FilePurpose, FileRecord } from './types.js';

/** File ids are made here (`file-` and 24 hex digits); anything else names no file. */
const FILE_ID = /^file-[0-9a-f]{24}$/;

export function toFileObject(f: FileRecord): FileObject {
  return {
    id: f.id, object: 'file', bytes: f.bytes, created_at: Math.floor(f.createdAt / 1000), filename: f.filename,
    purpose: f.purpose, status: 'processed', expires_at: null, status_details: null,
  };
}

/** Bytes received but not yet a file. */
export interface Upload {
  bytes: number;
  commit(tenant: string, purpose: FilePurpose, filename: string): Promise<FileRecord>;
  discard(): Promise<void>;
}

/** Writes a file line by line, waiting when the disk is slower than the producer. */
export interface LineWriter {
  write(line: string): Promise<void>;
  /** Finish, record the file and return it; undefined when no line was written. */
  close(): Promise<FileRecord | undefined>;
}

export class Files {
  private ready: Promise<unknown> | undefined;

  constructor(private readonly store: BatchStore, private readonly dir: string) {}

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
  async receive(body: Readable & { truncated?: boolean }): Promise<Upload> {
    await this.ensureDir();
    const id = this.newId();
    const final = this.path(id);
    const temp = `${final}.part`;
    let bytes = 0;
    body.on('data', (chunk: Buffer) => (bytes += chunk.length));
    try {
      await pipeline(body, createWriteStream(temp, { mode: 0o600 }));
      if (body.truncated) throw new SwitchyardError('SWY_LIMIT_EXCEEDED', 'the file is larger than the upload limit');
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
    return {
      bytes,
      commit: async (tenant, purpose, filename) => {
        await rename(temp, final);
        const record: FileRecord = { id, tenant, purpose, filename, bytes, createdAt: Date.now() };
        await this.store.insertFile(record);
        return record;
      },
      discard: () => rm(temp, { force: true }),
    };
  }

  /** A writer for a results file; the record exists only once every line is on disk. */
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
        const record: FileRecord = { id, tenant, purpose, filename, bytes, createdAt: Date.now() };
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
