/**
 * Where provider calls may go. Link-local and cloud-metadata addresses are always refused (a
 * provider URL aimed at them would hand the host's cloud credentials to whoever can configure
 * providers); loopback and private addresses stay allowed (local model servers) unless
 * SWITCHYARD_PROVIDER_HOSTS narrows them. URLs are checked when a provider is configured, and
 * every address a name resolves to is checked again when a connection is made, so a name that
 * later resolves elsewhere (DNS rebinding) is refused too.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import ipaddr from 'ipaddr.js';
import { SwitchyardError } from '../errors.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/** Names of metadata services (GCP, AWS, Azure, and the bare names some images resolve). */
const METADATA_NAMES = new Set(['metadata.google.internal', 'metadata.goog', 'metadata', 'instance-data', 'instance-data.ec2.internal']);
/** Metadata addresses outside the link-local ranges: AWS's IPv6 endpoint and Alibaba Cloud's. */
const METADATA_ADDRESSES = new Set(['fd00:ec2::254', '100.100.100.200']);

/** Why `address` is always refused, or undefined. */
export function refusedAddress(text: string): string | undefined {
  let addr: Address;
  try {
    addr = ipaddr.parse(text.replace(/^\[|\]$/g, ''));
  } catch {
    return undefined;
  }
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) addr = (addr as ipaddr.IPv6).toIPv4Address();
  if (addr.range() === 'linkLocal') return 'a link-local address';
  if (METADATA_ADDRESSES.has(addr.toNormalizedString()) || METADATA_ADDRESSES.has(addr.toString())) return 'a cloud metadata address';
  return undefined;
}

interface Entry {
  /** An exact host name, a `*.suffix`, or an address range. */
  name?: string;
  suffix?: string;
  range?: [Address, number];
}

function parseEntry(text: string): Entry {
  const t = text.trim().toLowerCase();
  if (t.startsWith('*.')) return { suffix: t.slice(1) };
  if (t.includes('/')) return { range: ipaddr.parseCIDR(t) };
  if (ipaddr.isValid(t)) {
    const a = ipaddr.parse(t);
    return { range: [a, a.kind() === 'ipv4' ? 32 : 128] };
  }
  return { name: t };
}

/** Which hosts provider calls may reach. */
/** A resolver with the shape of `dns.lookup` called with `all: true`. */
export type Resolver = (
  hostname: string,
  options: LookupOptions & { all: true },
  callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

export class HostPolicy {
  private readonly entries: Entry[] | undefined;

  /**
   * `allow`: SWITCHYARD_PROVIDER_HOSTS; undefined allows every host that is not always refused.
   * `resolve`: how names are resolved (the system's resolver).
   */
  constructor(
    allow?: readonly string[],
    private readonly resolve: Resolver = dnsLookup as unknown as Resolver,
  ) {
    this.entries = allow?.map((e) => {
      try {
        return parseEntry(e);
      } catch {
        throw new SwitchyardError(
          'SWY_INVALID_OPTIONS',
          `provider host ${JSON.stringify(e)} is not a host name, *.suffix, address or CIDR range`,
        );
      }
    });
  }

  private nameAllowed(host: string): boolean {
    if (!this.entries) return true;
    return this.entries.some((e) => e.name === host || (e.suffix !== undefined && host.endsWith(e.suffix)));
  }

  private addressAllowed(text: string): boolean {
    if (!this.entries) return true;
    let a: Address;
    try {
      a = ipaddr.process(text);
    } catch {
      return false;
    }
    return this.entries.some((e) => e.range !== undefined && a.kind() === e.range[0].kind() && a.match(e.range));
  }

  /** Throws SWY_INVALID_PROVIDER when a provider's base URL names a host it may not reach. */
  checkUrl(baseUrl: string): void {
    const host = new URL(baseUrl).hostname.toLowerCase().replace(/^\[|\]$/g, '');
    const refused = refusedAddress(host) ?? (METADATA_NAMES.has(host) ? 'a cloud metadata host' : undefined);
    if (refused) throw new SwitchyardError('SWY_INVALID_PROVIDER', `provider.baseUrl names ${refused}, which providers may never reach`);
    const literal = ipaddr.isValid(host);
    if (!(literal ? this.addressAllowed(host) : this.nameAllowed(host))) {
      throw new SwitchyardError('SWY_INVALID_PROVIDER', `provider.baseUrl host ${host} is not in SWITCHYARD_PROVIDER_HOSTS`);
    }
  }

  /**
   * A `lookup` for `net.connect` (through undici's `connect` options): the name's addresses, without
   * those that may not be reached; an error when none is left.
   */
  readonly lookup = (
    hostname: string,
    options: LookupOptions,
    callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ): void => {
    this.resolve(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      const byName = this.nameAllowed(hostname.toLowerCase());
      const ok = addresses.filter((a) => refusedAddress(a.address) === undefined && (byName || this.addressAllowed(a.address)));
      if (ok.length === 0) {
        const e = new Error(`${hostname} resolves only to addresses providers may not reach`) as NodeJS.ErrnoException;
        e.code = 'ESWYFORBIDDEN';
        return callback(e, []);
      }
      if (options.all) return callback(null, ok);
      const first = ok[0] as LookupAddress;
      callback(null, first.address, first.family);
    });
  };
}
