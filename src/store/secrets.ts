/**
 * Provider API keys at rest: AES-256-GCM under a key derived (HKDF-SHA256) from
 * SWITCHYARD_SECRET_KEY. Without that variable keys are stored as given; encrypted ones then
 * cannot be read, and start-up says so.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { SwitchyardError } from '../errors.js';

const PREFIX = 'enc:v1:';

export class SecretBox {
  private readonly key: Buffer | undefined;

  /** Whether secrets are encrypted (SWITCHYARD_SECRET_KEY is set). */
  get sealing(): boolean {
    return this.key !== undefined;
  }

  /** Whether `stored` is encrypted. */
  static sealed(stored: string | null): boolean {
    return stored?.startsWith(PREFIX) === true;
  }

  constructor(secret: string | undefined) {
    this.key = secret === undefined ? undefined : Buffer.from(hkdfSync('sha256', secret, 'switchyard', 'provider-api-keys', 32));
  }

  seal(plain: string | null): string | null {
    if (plain === null || this.key === undefined || SecretBox.sealed(plain)) return plain;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return `${PREFIX}${iv.toString('base64url')}:${cipher.getAuthTag().toString('base64url')}:${body.toString('base64url')}`;
  }

  open(stored: string | null, provider: string): string | null {
    if (stored === null || !stored.startsWith(PREFIX)) return stored;
    if (this.key === undefined) {
      throw new SwitchyardError('SWY_INVALID_OPTIONS', `provider ${provider}'s apiKey is encrypted: set SWITCHYARD_SECRET_KEY`);
    }
    const [iv, tag, body] = stored.slice(PREFIX.length).split(':');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv ?? '', 'base64url'));
      decipher.setAuthTag(Buffer.from(tag ?? '', 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(body ?? '', 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new SwitchyardError(
        'SWY_INVALID_OPTIONS',
        `provider ${provider}'s apiKey cannot be decrypted: SWITCHYARD_SECRET_KEY is not the key it was stored with`,
      );
    }
  }
}

/** A provider's options with each header value sealed (`seal`) or opened. */
export function mapHeaders(options: Record<string, unknown>, fn: (value: string) => string): Record<string, unknown> {
  const headers = options.headers as Record<string, string> | undefined;
  if (headers === undefined) return options;
  return { ...options, headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, fn(v)])) };
}
