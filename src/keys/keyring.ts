/**
 * The API keys made through `POST /v1/keys`: created with a random secret shown once, kept as a
 * SHA-256 hash, held in memory for authentication (one instance owns its database), revoked
 * without a restart. A key is also a tenant: its id owns the jobs it submits.
 */
import { createHash, randomBytes } from 'node:crypto';
import { SwitchyardError } from '../errors.js';
import type { Store } from '../store/store.js';
import { compileValidator } from '../validation.js';
import { SCOPES, type ApiKey, type KeyInput, type KeyRecord } from '../domain/keys.js';

/** How often a key's last-used time is written through to the database, ms. */
const TOUCH_EVERY_MS = 60_000;

export const SECRET_PREFIX = 'swy_';

export const keyInputSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['scopes'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 100 },
    scopes: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: SCOPES } },
    expiresAt: { type: 'string', format: 'date-time' },
    rateLimit: { type: 'integer', minimum: 1, maximum: 10_000_000 },
    dailyTokenBudget: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    dailyCostBudgetUsd: { type: 'number', minimum: 0, maximum: 1e12 },
    budgetAction: { enum: ['fail', 'wait'] },
    maxConcurrency: { type: 'integer', minimum: 1, maximum: 1_000_000 },
    weight: { type: 'integer', minimum: 1, maximum: 1000 },
  },
} as const;

const checkInput = compileValidator<KeyInput>(keyInputSchema, 'SWY_VALIDATION', 'key');

/** The hash a key is stored and found by. */
export const hashSecret = (secret: string): string => createHash('sha256').update(secret).digest('hex');

function publicKey(k: KeyRecord): ApiKey {
  const { hash: _hash, ...rest } = k;
  return { ...rest, scopes: [...rest.scopes] };
}

export class KeyRing {
  private readonly byHash = new Map<string, KeyRecord>();
  private readonly byId = new Map<string, KeyRecord>();
  private readonly written = new Map<string, number>();

  constructor(
    private readonly store: Store,
    private readonly onError: (err: unknown) => void,
    /** Told after this process created or revoked a key. */
    private readonly onChange: () => void = () => {},
  ) {}

  /** Read every key into memory; `createEngine()` calls it, and again when another process changed them. */
  async load(): Promise<void> {
    const keys = await this.store.listKeys();
    const ids = new Set(keys.map((k) => k.id));
    for (const [id, k] of this.byId) {
      if (ids.has(id)) continue;
      this.byId.delete(id);
      this.byHash.delete(k.hash);
    }
    for (const k of keys) {
      // The last use this process saw may be later than the stored one (touches are written lazily).
      const seen = this.byId.get(k.id)?.lastUsedAt;
      if (seen && (k.lastUsedAt === null || seen > k.lastUsedAt)) k.lastUsedAt = seen;
      this.index(k);
    }
  }

  private index(k: KeyRecord): void {
    this.byHash.set(k.hash, k);
    this.byId.set(k.id, k);
  }

  /** Make a key. The secret is returned here and never again. */
  async create(input: KeyInput): Promise<{ key: ApiKey; secret: string }> {
    checkInput(input);
    const now = Date.now();
    if (input.expiresAt !== undefined && new Date(input.expiresAt).getTime() <= now) {
      throw new SwitchyardError('SWY_VALIDATION', 'key.expiresAt must be in the future');
    }
    const secret = SECRET_PREFIX + randomBytes(32).toString('base64url');
    const record: KeyRecord = {
      id: `key_${randomBytes(8).toString('hex')}`,
      name: input.name ?? null,
      prefix: secret.slice(0, 12),
      scopes: [...input.scopes],
      expiresAt: input.expiresAt === undefined ? null : new Date(input.expiresAt).toISOString(),
      rateLimit: input.rateLimit ?? null,
      dailyTokenBudget: input.dailyTokenBudget ?? null,
      dailyCostBudgetUsd: input.dailyCostBudgetUsd ?? null,
      budgetAction: input.budgetAction ?? 'fail',
      maxConcurrency: input.maxConcurrency ?? null,
      weight: input.weight ?? 1,
      createdAt: new Date(now).toISOString(),
      revokedAt: null,
      lastUsedAt: null,
      hash: hashSecret(secret),
    };
    await this.store.insertKey(record);
    this.index(record);
    this.onChange();
    return { key: publicKey(record), secret };
  }

  /** Every key, newest first, without secrets. */
  list(): ApiKey[] {
    return [...this.byId.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id)).map(publicKey);
  }

  get(id: string): ApiKey {
    const k = this.byId.get(id);
    if (!k) throw new SwitchyardError('SWY_KEY_NOT_FOUND', `key ${id} not found`);
    return publicKey(k);
  }

  /** The key's record, for scheduling and budgets; undefined for tenants that are not keys. */
  record(id: string): KeyRecord | undefined {
    return this.byId.get(id);
  }

  /** Refuse the key from now on. Revoking twice keeps the first time. */
  async revoke(id: string): Promise<ApiKey> {
    const k = this.byId.get(id);
    if (!k) throw new SwitchyardError('SWY_KEY_NOT_FOUND', `key ${id} not found`);
    if (k.revokedAt === null) {
      const now = Date.now();
      await this.store.revokeKey(id, now);
      k.revokedAt = new Date(now).toISOString();
      this.onChange();
    }
    return publicKey(k);
  }

  /**
   * The live key a secret belongs to, or SWY_UNAUTHORIZED. Found by the SHA-256 of the secret: the
   * secret itself is never compared, and a lookup's timing tells nothing an attacker can use, since
   * no one can choose the secret whose hash shares a prefix with a stored one.
   */
  authenticate(secret: string): KeyRecord {
    return this.authenticateHash(hashSecret(secret));
  }

  /** `authenticate` for a secret already hashed (hex SHA-256) by the caller. */
  authenticateHash(hash: string): KeyRecord {
    const k = this.byHash.get(hash);
    if (!k) {
      throw new SwitchyardError('SWY_UNAUTHORIZED', 'a valid API key is required: Authorization: Bearer <key>');
    }
    const now = Date.now();
    if (k.revokedAt !== null) throw new SwitchyardError('SWY_UNAUTHORIZED', 'this API key was revoked');
    if (k.expiresAt !== null && Date.parse(k.expiresAt) <= now) throw new SwitchyardError('SWY_UNAUTHORIZED', 'this API key expired');
    k.lastUsedAt = new Date(now).toISOString();
    if (now - (this.written.get(k.id) ?? 0) >= TOUCH_EVERY_MS) {
      this.written.set(k.id, now);
      this.store.touchKey(k.id, now).catch(this.onError);
    }
    return k;
  }
}
