/**
 * The live set of providers: loaded from the store, edited through the API without a restart.
 * A changed provider is replaced by a new actor; the old one finishes its calls in flight.
 */
import { SwitchyardError } from '../errors.js';
import type { Store } from '../store/store.js';
import { compileValidator } from '../validation.js';
import { Provider } from './provider.js';
import { providerCreateSchema, providerOptionsSchemas, providerPatchSchema } from './schema.js';
import type { BreakerSettings, ProbeResult, ProviderConfig, PublicProvider } from '../domain/providers.js';
import type { ProviderEnv } from './env.js';

/** What `add()` accepts: `name` and `kind` are required, everything else has a default. */
export type ProviderInput = Partial<Omit<ProviderConfig, 'createdAt' | 'updatedAt' | 'breaker'>> &
  Pick<ProviderConfig, 'name' | 'kind'> & { breaker?: Partial<BreakerSettings> };

/** What `update()` accepts. */
export type ProviderPatch = Partial<Omit<ProviderInput, 'name'>>;

export const DEFAULT_BREAKER: BreakerSettings = {
  errorThresholdPercentage: 50,
  volumeThreshold: 5,
  resetTimeoutMs: 30_000,
  rollingWindowMs: 10_000,
};

const validateCreate = compileValidator<ProviderInput>(providerCreateSchema, 'SWY_INVALID_PROVIDER', 'provider');
const validatePatch = compileValidator<ProviderPatch>(providerPatchSchema, 'SWY_INVALID_PROVIDER', 'provider');
const validateOptions = {
  mock: compileValidator(providerOptionsSchemas.mock, 'SWY_INVALID_PROVIDER', 'provider.options'),
  openai: compileValidator(providerOptionsSchemas.openai, 'SWY_INVALID_PROVIDER', 'provider.options'),
  anthropic: compileValidator(providerOptionsSchemas.anthropic, 'SWY_INVALID_PROVIDER', 'provider.options'),
};

function checkConfig(c: ProviderConfig, env: ProviderEnv): void {
  validateOptions[c.kind](c.options);
  if (c.kind !== 'mock' && !c.baseUrl) {
    throw new SwitchyardError('SWY_INVALID_PROVIDER', `provider.baseUrl is required for kind ${c.kind}`);
  }
  if (c.baseUrl !== null) {
    let url: URL;
    try {
      url = new URL(c.baseUrl);
    } catch {
      throw new SwitchyardError('SWY_INVALID_PROVIDER', 'provider.baseUrl is not a valid URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new SwitchyardError('SWY_INVALID_PROVIDER', 'provider.baseUrl must be http or https');
    }
    env.hosts.checkUrl(c.baseUrl);
  }
}

/** Hide the secrets: the API and the library never hand back the key or a header's value. */
export function toPublic(p: Provider): PublicProvider {
  const { apiKey, options, ...rest } = p.config;
  const { headers, ...open } = options as { headers?: Record<string, string> };
  return {
    ...rest,
    options: open,
    hasApiKey: apiKey !== null && apiKey !== '',
    secretHeaders: Object.keys(headers ?? {}),
    state: p.state(),
  };
}

/**
 * A provider's config after `patch`. Secrets stay write-only in fact: a new `baseUrl` or new
 * headers clear the stored key unless the same patch gives one (else a caller could aim the stored
 * key at a listener of their own), and a new `baseUrl` clears stored headers the same way. Options
 * given without `headers` keep the stored ones.
 */
export function patched(current: ProviderConfig, patch: ProviderPatch): ProviderConfig {
  const movedUrl = patch.baseUrl !== undefined && patch.baseUrl !== current.baseUrl;
  const newHeaders = (patch.options as { headers?: unknown } | undefined)?.headers !== undefined;
  const storedHeaders = (current.options as { headers?: Record<string, string> }).headers;
  let options = patch.options === undefined ? current.options : { ...patch.options };
  if (!newHeaders && storedHeaders !== undefined) {
    const { headers: _drop, ...rest } = options as { headers?: unknown };
    options = movedUrl ? rest : { ...rest, headers: storedHeaders };
  }
  const apiKey = patch.apiKey !== undefined ? patch.apiKey : movedUrl || newHeaders ? null : current.apiKey;
  return {
    ...current,
    ...patch,
    apiKey,
    options,
    breaker: { ...current.breaker, ...patch.breaker },
    updatedAt: new Date().toISOString(),
  } as ProviderConfig;
}

export class ProviderRegistry {
  private readonly byName = new Map<string, Provider>();
  /** `all()`'s answer, until a provider is installed or removed. */
  private sorted: readonly Provider[] | undefined;

  constructor(
    private readonly store: Store,
    private readonly env: ProviderEnv,
    private readonly onState: (p: Provider) => void,
    /** Told after this process added, changed or removed a provider. */
    private readonly onChange: () => void = () => {},
  ) {}

  /** Load every stored provider; seed `seed` when the table is empty. */
  async load(seed: ProviderInput[]): Promise<void> {
    let configs = await this.store.listProviders();
    if (configs.length === 0) {
      for (const s of seed) await this.add(s);
      configs = await this.store.listProviders();
    }
    for (const c of configs) {
      let refused: string | undefined;
      try {
        if (c.baseUrl !== null) this.env.hosts.checkUrl(c.baseUrl);
      } catch (err) {
        refused = (err as Error).message;
      }
      this.install(c, refused);
    }
  }

  /**
   * Read the providers again (another process changed them): changed ones are replaced, removed
   * ones retired, and unchanged ones keep their breaker and limits.
   */
  async reload(): Promise<void> {
    const configs = await this.store.listProviders();
    const names = new Set(configs.map((c) => c.name));
    for (const [name, p] of this.byName) {
      if (names.has(name)) continue;
      this.byName.delete(name);
      this.sorted = undefined;
      p.retire();
    }
    for (const c of configs) {
      if (this.byName.get(c.name)?.config.updatedAt === c.updatedAt) continue;
      let refused: string | undefined;
      try {
        if (c.baseUrl !== null) this.env.hosts.checkUrl(c.baseUrl);
      } catch (err) {
        refused = (err as Error).message;
      }
      this.install(c, refused);
    }
  }

  private install(config: ProviderConfig, refused?: string): void {
    this.byName.get(config.name)?.retire();
    this.byName.set(config.name, new Provider(config, this.env, this.onState, refused));
    this.sorted = undefined;
  }

  /** Every provider, highest priority first (the same array until a provider changes: the router asks on every call). */
  all(): readonly Provider[] {
    this.sorted ??= [...this.byName.values()].sort((a, b) => b.config.priority - a.config.priority || a.name.localeCompare(b.name));
    return this.sorted;
  }

  list(): PublicProvider[] {
    return this.all().map(toPublic);
  }

  get(name: string): PublicProvider {
    const p = this.byName.get(name);
    if (!p) throw new SwitchyardError('SWY_PROVIDER_NOT_FOUND', `provider ${name} not found`);
    return toPublic(p);
  }

  async add(input: ProviderInput): Promise<PublicProvider> {
    validateCreate(input);
    const now = new Date().toISOString();
    const config: ProviderConfig = {
      name: input.name,
      kind: input.kind,
      baseUrl: input.baseUrl ?? null,
      apiKey: input.apiKey ?? null,
      models: input.models ?? ['*'],
      modelMap: input.modelMap ?? {},
      priority: input.priority ?? 0,
      weight: input.weight ?? 1,
      enabled: input.enabled ?? true,
      timeoutMs: input.timeoutMs ?? 60_000,
      maxConcurrency: input.maxConcurrency ?? 1000,
      rpm: input.rpm ?? null,
      tpm: input.tpm ?? null,
      breaker: { ...DEFAULT_BREAKER, ...input.breaker },
      prices: input.prices ?? {},
      options: input.options ?? {},
      createdAt: now,
      updatedAt: now,
    };
    checkConfig(config, this.env);
    await this.store.insertProvider(config);
    this.install(config);
    this.onChange();
    return this.get(config.name);
  }

  async update(name: string, patch: ProviderPatch): Promise<PublicProvider> {
    validatePatch(patch);
    const current = this.byName.get(name)?.config;
    if (!current) throw new SwitchyardError('SWY_PROVIDER_NOT_FOUND', `provider ${name} not found`);
    const config = { ...patched(current, patch), name };
    checkConfig(config, this.env);
    await this.store.updateProvider(config);
    this.install(config);
    this.onChange();
    return this.get(name);
  }

  /** Pause a provider until `until` (epoch ms): another process was told to (a 429 with Retry-After). */
  pause(name: string, until: number): void {
    this.byName.get(name)?.pauseUntil(until);
  }

  /** Another process's half-open probe of `name` succeeded: close its breaker here too. */
  closeBreaker(name: string): void {
    this.byName.get(name)?.closeBreaker();
  }

  /** Probe one provider now (`POST /v1/providers/:name/check`). */
  async check(name: string): Promise<ProbeResult> {
    const p = this.byName.get(name);
    if (!p) throw new SwitchyardError('SWY_PROVIDER_NOT_FOUND', `provider ${name} not found`);
    return p.probe();
  }

  /** Probe every provider whose breaker is open or that is misconfigured. */
  async probeUnhealthy(): Promise<void> {
    await Promise.all(
      this.all()
        .filter((p) => p.needsProbe)
        .map((p) => p.probe()),
    );
  }

  async remove(name: string): Promise<void> {
    const p = this.byName.get(name);
    if (!p) throw new SwitchyardError('SWY_PROVIDER_NOT_FOUND', `provider ${name} not found`);
    await this.store.deleteProvider(name);
    this.byName.delete(name);
    this.sorted = undefined;
    p.retire();
    this.onChange();
  }

  close(): void {
    for (const p of this.byName.values()) p.retire();
    this.byName.clear();
    this.sorted = undefined;
  }
}
