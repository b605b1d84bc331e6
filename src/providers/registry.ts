/**
 * The live set of providers: loaded from the store, edited through the API without a restart.
 * A changed provider is replaced by a new actor; the old one finishes its calls in flight.
 */
import { stringify } from 'safe-stable-stringify';
import { SwitchyardError } from '../errors.js';
import type { Store } from '../store/store.js';
import { compileValidator } from '../validation.js';
import { Provider } from './provider.js';
import { providerCreateSchema, providerOptionsSchemas, providerPatchSchema } from './schema.js';
import type { BreakerSettings, ProbeResult, ProviderConfig, PublicProvider } from '../domain/providers.js';
import type { ProviderEnv } from './env.js';

/** What `add()` accepts: `name` and `kind` are required, everything else has a default. */
export type ProviderInput = Partial<Omit<ProviderConfig, 'createdAt' | 'updatedAt' | 'breaker' | 'managedBy'>> &
  Pick<ProviderConfig, 'name' | 'kind'> & { breaker?: Partial<BreakerSettings> };

/** A provider set by the providers file (or `createEngine({ providers })`) or by the environment. */
export type ManagedProvider = ProviderInput & { managedBy: 'config' | 'env' };

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
const validateOptions = Object.fromEntries(
  Object.entries(providerOptionsSchemas).map(([kind, schema]) => [
    kind,
    compileValidator(schema, 'SWY_INVALID_PROVIDER', 'provider.options'),
  ]),
) as Record<ProviderConfig['kind'], (data: unknown) => unknown>;

/** Kinds whose vendor has one endpoint, used when `baseUrl` is not set. */
const DEFAULT_ENDPOINT = new Set<ProviderConfig['kind']>(['mock', 'gemini', 'bedrock']);

function checkConfig(c: ProviderConfig, env: ProviderEnv): void {
  validateOptions[c.kind](c.options);
  if (!DEFAULT_ENDPOINT.has(c.kind) && !c.baseUrl) {
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

/** A provider's full config from what was given, with the defaults. */
function configOf(input: ProviderInput, managedBy: ProviderConfig['managedBy'], createdAt?: string): ProviderConfig {
  const now = new Date().toISOString();
  return {
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
    createdAt: createdAt ?? now,
    updatedAt: now,
    managedBy,
  };
}

/** Whether two configs differ in nothing but their times. */
function same(a: ProviderConfig, b: ProviderConfig): boolean {
  const strip = ({ createdAt: _c, updatedAt: _u, ...rest }: ProviderConfig) => rest;
  return stringify(strip(a)) === stringify(strip(b));
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

  /**
   * Reconcile the stored providers with `managed` (the providers file and the environment, read on
   * every start): each managed provider is written as configured, whatever the API changed since;
   * a stored provider that was managed and is no longer is removed; providers added through the
   * API are left alone. On a database's first start (no provider stored yet), `seed` is added
   * too. Then every stored provider is loaded.
   */
  async load(seed: ProviderInput[], managed: ManagedProvider[] = []): Promise<void> {
    const stored = new Map((await this.store.listProviders()).map((c) => [c.name, c]));
    const first = stored.size === 0;
    const wanted = new Set(managed.map((m) => m.name));
    for (const c of stored.values()) {
      if (c.managedBy !== null && !wanted.has(c.name)) await this.store.deleteProvider(c.name);
    }
    for (const m of managed) await this.reconcile(m, stored.get(m.name));
    if (first) {
      for (const s of seed.filter((s) => !wanted.has(s.name))) await this.insertOnce(this.validated(s, null));
    }
    for (const c of await this.store.listProviders()) this.installStored(c);
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
      if (this.byName.get(c.name)?.config.updatedAt !== c.updatedAt) this.installStored(c);
    }
  }

  /** A stored config, installed; one whose URL the host policy now refuses (stored before the rule) takes no calls. */
  private installStored(c: ProviderConfig): void {
    let refused: string | undefined;
    try {
      if (c.baseUrl !== null) this.env.hosts.checkUrl(c.baseUrl);
    } catch (err) {
      refused = (err as Error).message;
    }
    this.install(c, refused);
  }

  /** What was given as a full config, validated (throws SWY_INVALID_PROVIDER). */
  private validated(input: ProviderInput, managedBy: ProviderConfig['managedBy'], createdAt?: string): ProviderConfig {
    validateCreate(input);
    const config = configOf(input, managedBy, createdAt);
    checkConfig(config, this.env);
    return config;
  }

  /** Insert `config`; false when another process sharing the database inserted it first. */
  private async insertOnce(config: ProviderConfig): Promise<boolean> {
    try {
      await this.store.insertProvider(config);
      return true;
    } catch (err) {
      if ((err as { code?: string }).code !== 'SWY_PROVIDER_EXISTS') throw err;
      return false;
    }
  }

  /** Write one managed provider as configured; unchanged ones are not written (no reload elsewhere). */
  private async reconcile(m: ManagedProvider, current: ProviderConfig | undefined): Promise<void> {
    const { managedBy, ...input } = m;
    const config = this.validated(input, managedBy, current?.createdAt);
    if (current && same(current, config)) return;
    // Another process sharing the database may have inserted it first: then it is updated.
    if (current || !(await this.insertOnce(config))) await this.store.updateProvider(config);
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
    const config = this.validated(input, null);
    await this.store.insertProvider(config);
    this.install(config);
    this.onChange();
    return this.get(config.name);
  }

  async update(name: string, patch: ProviderPatch): Promise<PublicProvider> {
    validatePatch(patch);
    const current = this.byName.get(name)?.config;
    if (!current) throw new SwitchyardError('SWY_PROVIDER_NOT_FOUND', `provider ${name} not found`);
    if (current.managedBy !== null && Object.keys(patch).some((k) => k !== 'enabled')) {
      throw new SwitchyardError(
        'SWY_PROVIDER_MANAGED',
        `provider ${name} is set by the ${current.managedBy === 'env' ? 'environment' : 'providers file'}: change it there (only enabled may be patched, until the next start)`,
      );
    }
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
    if (p.config.managedBy !== null) {
      throw new SwitchyardError(
        'SWY_PROVIDER_MANAGED',
        `provider ${name} is set by the ${p.config.managedBy === 'env' ? 'environment' : 'providers file'}: remove it there`,
      );
    }
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
