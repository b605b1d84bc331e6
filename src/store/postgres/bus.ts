/**
 * The processes' messages over PostgreSQL's LISTEN/NOTIFY. One dedicated connection listens; a
 * heartbeat query on it every `heartbeatMs` finds a connection that died without a word (a
 * firewall's idle timeout, a failover), and a lost connection is replaced at once and then at each
 * heartbeat until it is back. Messages are sent through the pool, packed several to a
 * notification (under PostgreSQL's 8,000-byte payload limit), once per event-loop turn.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { BusMessage, StoreBus } from '../store.js';
import { MAX_NOTIFICATIONS, notifyStatement, prepared, quoteIdent } from './pool.js';

/** Largest payload sent, bytes (PostgreSQL refuses 8,000 and more). */
const MAX_PAYLOAD = 7_500;

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
  private flushing = false;
  /** This process on the bus: its own messages come back to it, and are dropped. */
  private readonly node = randomBytes(6).toString('hex');
  /** How every notification this process sends starts. */
  private readonly head = `{"n":"${this.node}","m":[`;

  /**
   * Hands notifications to a transaction about to start, which sends them with its own statements
   * (true), or declines (false).
   */
  carrier: (channel: string, payloads: string[]) => boolean = () => false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly clientConfig: pg.ClientConfig,
    private readonly channel: string,
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
    await this.flush();
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => {});
  }

  publish(message: BusMessage): boolean {
    const text = JSON.stringify(message);
    if (this.head.length + 2 + text.length > MAX_PAYLOAD) return false;
    if (this.stopped) return true;
    this.outbox.push(text);
    if (this.outbox.length === 1 && !this.flushing) setImmediate(() => void this.flush());
    return true;
  }

  /** Send what is in the outbox, packed into as few notifications as fit. */
  private async flush(): Promise<void> {
    if (this.flushing || this.outbox.length === 0) return;
    this.flushing = true;
    const messages = this.outbox;
    this.outbox = [];
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
    try {
      if (!this.carrier(this.channel, payloads)) await this.send(payloads);
    } finally {
      this.flushing = false;
      if (this.outbox.length > 0) setImmediate(() => void this.flush());
    }
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
