/**
 * The processes' messages over PostgreSQL's LISTEN/NOTIFY. One dedicated connection listens; a
 * heartbeat query on it every `heartbeatMs` finds a connection that died without a word (a
 * firewall's idle timeout, a failover), and a lost connection is replaced at once and then at each
 * heartbeat until it is back. Messages are packed several to a notification (under PostgreSQL's
 * 8,000-byte payload limit) and wait up to `LINGER_MS` for a write to carry them (see `take`):
 * a notification sent alone costs a round trip, and every notifying transaction wakes every
 * listening connection on the database, whatever its channel.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { BusMessage, StoreBus } from '../store.js';
import { MAX_NOTIFICATIONS, notifyStatement, prepared, quoteIdent } from './pool.js';

/** Largest payload sent, bytes (PostgreSQL refuses 8,000 and more). */
const MAX_PAYLOAD = 7_500;

/** Longest a message waits for a write to carry it before it is sent alone, ms. */
export const LINGER_MS = 5;

interface Envelope {
  /** The sending process. */
  n: string;
  m: BusMessage[];
}

export class PgBus implements StoreBus {
  private client: pg.Client | undefined;
  private connecting = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly handlers = new Set<(m: BusMessage) => void>();
  private readonly statusFns: ((listening: boolean) => void)[] = [];
  private outbox: string[] = [];
  /** Packed notifications left over by `take` (more than it was asked for). */
  private spill: string[] = [];
  private lingering: NodeJS.Timeout | undefined;
  /** This process on the bus: its own messages come back to it, and are dropped. */
  private readonly node = randomBytes(6).toString('hex');
  /** How every notification this process sends starts. */
  private readonly head = `{"n":"${this.node}","m":[`;

  /**
   * Called when a message has waited `LINGER_MS` and no write took it: sends what waits, in
   * order after any notifications already on their way. By default, alone (`sendWaiting`).
   */
  due: () => void = () => void this.sendWaiting();

  constructor(
    private readonly pool: pg.Pool,
    private readonly clientConfig: pg.ClientConfig,
    /** The channel every process listens on. */
    readonly channel: string,
    private readonly heartbeatMs: number,
    /** Whether statements may be prepared (see `prepared` in pool.ts). */
    private readonly prepare = true,
  ) {}

  get listening(): boolean {
    return this.client !== undefined;
  }

  onStatus(fn: (listening: boolean) => void): void {
    this.statusFns.push(fn);
  }

  subscribe(handler: (m: BusMessage) => void): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  /** Connect and listen; reconnects on its own until `stop()`. */
  async start(): Promise<void> {
    this.timer = setInterval(() => void this.beat(), this.heartbeatMs);
    this.timer.unref();
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.sendWaiting();
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => {});
  }

  publish(message: BusMessage): boolean {
    const text = JSON.stringify(message);
    if (this.head.length + 2 + text.length > MAX_PAYLOAD) return false;
    if (this.stopped) return true;
    this.outbox.push(text);
    this.arm();
    return true;
  }

  /** Make the waiting messages due in `LINGER_MS`, unless they already are. */
  private arm(): void {
    this.lingering ??= setTimeout(() => {
      this.lingering = undefined;
      this.due();
    }, LINGER_MS);
  }

  /**
   * The waiting messages, packed into at most `max` notifications, in the order they were
   * published; what does not fit waits on. A write about to commit takes them, and PostgreSQL
   * delivers them at its commit.
   */
  take(max: number): string[] {
    if (this.outbox.length > 0) {
      this.spill.push(...this.pack(this.outbox));
      this.outbox = [];
    }
    const taken = this.spill.splice(0, max);
    if (this.spill.length === 0) {
      clearTimeout(this.lingering);
      this.lingering = undefined;
    } else {
      // What is left is due too, even when the timer that made it due has fired.
      this.arm();
    }
    return taken;
  }

  /** Send every waiting message now, alone. */
  async sendWaiting(): Promise<void> {
    const payloads = this.take(Number.POSITIVE_INFINITY);
    if (payloads.length > 0) await this.send(payloads);
  }

  /** Messages packed into as few notifications as fit. */
  private pack(messages: string[]): string[] {
    const head = this.head;
    const payloads: string[] = [];
    let current: string[] = [];
    let size = head.length + 2;
    for (const m of messages) {
      if (size + m.length + 1 > MAX_PAYLOAD) {
        payloads.push(`${head}${current.join(',')}]}`);
        current = [];
        size = head.length + 2;
      }
      current.push(m);
      size += m.length + 1;
    }
    if (current.length > 0) payloads.push(`${head}${current.join(',')}]}`);
    return payloads;
  }

  /** Send notifications by themselves. */
  async send(payloads: string[]): Promise<void> {
    try {
      for (let i = 0; i < payloads.length; i += MAX_NOTIFICATIONS) {
        const st = notifyStatement(this.channel, payloads.slice(i, i + MAX_NOTIFICATIONS));
        await this.pool.query(prepared(st.sql, st.params, this.prepare));
      }
    } catch {
      // Best effort: the other processes poll when messages go missing.
    }
  }

  private receive(payload: string | undefined): void {
    // This process's own messages come back too: known by their head, without parsing them.
    if (payload === undefined || payload.startsWith(this.head)) return;
    let envelope: Envelope;
    try {
      envelope = JSON.parse(payload) as Envelope;
    } catch {
      return; // not ours: someone else notifies on this channel
    }
    if (envelope.n === this.node || !Array.isArray(envelope.m)) return;
    for (const m of envelope.m) for (const h of this.handlers) h(m);
  }

  private async connect(): Promise<void> {
    if (this.stopped || this.connecting || this.client) return;
    this.connecting = true;
    // The heartbeat's query must not wait forever on a dead socket.
    const client = new pg.Client({
      ...this.clientConfig,
      application_name: 'switchyard-listen',
      query_timeout: this.heartbeatMs,
      connectionTimeoutMillis: this.heartbeatMs,
    });
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    client.on('notification', (n) => this.receive(n.payload));
    try {
      await client.connect();
      await client.query(`LISTEN ${quoteIdent(this.channel)}`);
      if (this.stopped) {
        await client.end();
        return;
      }
      this.client = client;
      for (const fn of this.statusFns) fn(true);
    } catch {
      await client.end().catch(() => {});
      // Tried again at the next heartbeat.
    } finally {
      this.connecting = false;
    }
  }

  private lost(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    client.end().catch(() => {});
    for (const fn of this.statusFns) fn(false);
    if (!this.stopped) void this.connect();
  }

  private async beat(): Promise<void> {
    const c = this.client;
    if (!c) return this.connect();
    try {
      await c.query('SELECT 1');
    } catch {
      this.lost(c);
    }
  }
}
