// Cross-task change notices (the cloud half of bus.ts).
//
//   DynamoDB stream of the journal table ──▶ idle-fanout Lambda ──▶ POST /notify on every task
//
// A change in the store writes a journal entry (keys: folder id + modseq). The fan-out turns a
// batch of stream records into the SET of changed mailboxes (one entry per folder, highest
// modseq), finds the running tasks through ECS service discovery (Cloud Map DiscoverInstances:
// ECS registers and deregisters each task itself; no registry of our own) and sends the whole
// set to each task in one signed request. A task publishes the notices on its own bus, so only
// its sessions on those mailboxes wake, and each reads the journal from its last modseq. A
// notice only ever says "look again": losing one delays a session until its next journal poll
// (IDLE polls every 30 s), never loses a change.
//
// Other notices (settings, accounts, folder lists) are not in the journal; the admin API sends
// them through the same function (a direct invocation carrying `changes`), so they reach the
// tasks by the same path. When broadcasting stops being cheap: core/events/FANOUT.md.

import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { PROTOCOLS, type ProtocolName } from '../settings/schema.js';
import { TABLES } from '../store/aws/tables.js';
import type { ChangeNotice, EventBus, Listener } from './bus.js';

// ---------------------------------------------------------------------------------------------
// Wire format

export const NOTIFY_PATH = '/notify';
export const SIGNATURE_HEADER = 'x-mail-notify-signature';
/** Signed requests older or newer than this are refused (replay window). */
export const SIGNATURE_TOLERANCE_MS = 5 * 60 * 1000;
/** Largest request body a task accepts; a sender splits bigger batches. */
export const MAX_NOTIFY_BODY = 1024 * 1024;
/** Changes per request: ~100 bytes each, so a request stays far below MAX_NOTIFY_BODY. */
export const MAX_CHANGES_PER_REQUEST = 5000;

/**
 * One change as it travels between processes. A mailbox change from the journal stream knows
 * its folder and modseq but not the account (the stream carries keys only); the receiving task
 * fills the account in from the folders its own sessions have opened (see folder-owners.ts).
 */
export type WireChange =
  | { kind: 'mailbox'; folderId: string; modseq: number; accountId?: string }
  | { kind: 'folders'; accountId: string }
  | { kind: 'account'; accountId: string }
  | { kind: 'settings'; protocol: ProtocolName };

export interface NotifyBatch {
  v: 1;
  changes: WireChange[];
}

const id = z.string().min(1).max(256);
const wireChange = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('mailbox'), folderId: id, modseq: z.number().int().min(0), accountId: id.optional() }),
  z.object({ kind: z.literal('folders'), accountId: id }),
  z.object({ kind: z.literal('account'), accountId: id }),
  z.object({ kind: z.literal('settings'), protocol: z.enum(PROTOCOLS) }),
]);
export const notifyBatchSchema = z.object({
  v: z.literal(1),
  changes: z.array(wireChange).max(MAX_CHANGES_PER_REQUEST),
});

/** A local notice as it travels (the mailbox's account is known where the notice was made). */
export function toWire(n: ChangeNotice): WireChange {
  return n.kind === 'mailbox' ? { kind: 'mailbox', folderId: n.folderId, modseq: n.modseq, accountId: n.accountId } : { ...n };
}

/**
 * One entry per mailbox (highest modseq; an account id kept when any duplicate had one) and
 * per other notice, in a stable order.
 */
export function mergeChanges(changes: Iterable<WireChange>): WireChange[] {
  const mailboxes = new Map<string, { kind: 'mailbox'; folderId: string; modseq: number; accountId?: string }>();
  const others = new Map<string, WireChange>();
  for (const c of changes) {
    if (c.kind === 'mailbox') {
      const prev = mailboxes.get(c.folderId);
      if (!prev) {
        mailboxes.set(c.folderId, { ...c });
      } else {
        prev.modseq = Math.max(prev.modseq, c.modseq);
        if (prev.accountId === undefined && c.accountId !== undefined) prev.accountId = c.accountId;
      }
    } else {
      const key = c.kind === 'settings' ? `settings:${c.protocol}` : `${c.kind}:${c.accountId}`;
      others.set(key, c);
    }
  }
  const m = [...mailboxes.values()].sort((a, b) => (a.folderId < b.folderId ? -1 : a.folderId > b.folderId ? 1 : 0));
  const o = [...others.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, c]) => c);
  return [...m, ...o];
}

// ---------------------------------------------------------------------------------------------
// DynamoDB stream records -> changes

/** The part of a DynamoDB stream record (Lambda event shape, or GetRecords) the fan-out reads. */
export interface StreamRecordLike {
  eventName?: string;
  dynamodb?: { Keys?: Record<string, { S?: string; N?: string } | undefined> };
}

const JOURNAL_PK = TABLES.journal.partitionKey.name;
const JOURNAL_SK = TABLES.journal.sortKey!.name;

/**
 * The journal stream's records as the set of changed mailboxes. INSERT and MODIFY are changes;
 * REMOVE is a journal entry expiring (TTL) or a deleted folder being cleaned up: nothing a
 * session needs to see, so ignored. Records without the journal's keys are ignored too.
 */
export function changesFromStreamRecords(records: readonly StreamRecordLike[]): WireChange[] {
  const out: WireChange[] = [];
  for (const r of records) {
    if (r.eventName !== 'INSERT' && r.eventName !== 'MODIFY') continue;
    const keys = r.dynamodb?.Keys;
    const folderId = keys?.[JOURNAL_PK]?.S;
    const modseq = Number(keys?.[JOURNAL_SK]?.N);
    if (!folderId || !Number.isSafeInteger(modseq) || modseq < 0) continue;
    out.push({ kind: 'mailbox', folderId, modseq });
  }
  return mergeChanges(out);
}

// ---------------------------------------------------------------------------------------------
// Request signing: HMAC-SHA256 over "<timestamp>.<body>" with the shared secret. The secret
// itself never travels; a captured request cannot be replayed after the tolerance window.

export function signNotifyBody(secret: string, body: string, nowMs: number = Date.now()): string {
  const mac = createHmac('sha256', secret).update(`${nowMs}.`).update(body).digest('hex');
  return `t=${nowMs},v1=${mac}`;
}

export function verifyNotifySignature(
  secret: string,
  header: string | undefined,
  body: Buffer | string,
  nowMs: number = Date.now(),
  toleranceMs: number = SIGNATURE_TOLERANCE_MS,
): boolean {
  if (!secret || typeof header !== 'string' || header.length > 200) return false;
  const m = /^t=(\d{1,16}),v1=([0-9a-f]{64})$/.exec(header);
  if (!m) return false;
  const t = Number(m[1]);
  if (!Number.isSafeInteger(t) || Math.abs(nowMs - t) > toleranceMs) return false;
  const expected = createHmac('sha256', secret).update(`${t}.`).update(body).digest();
  const given = Buffer.from(m[2]!, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

// ---------------------------------------------------------------------------------------------
// Finding the tasks

export interface TaskEndpoint {
  /** For logs: the Cloud Map instance id (the ECS task id) or the URL. */
  id: string;
  /** Base URL of the task's notify endpoint, e.g. http://10.0.1.23:8025 */
  url: string;
}

export interface TaskDirectory {
  list(): Promise<TaskEndpoint[]>;
}

/** A fixed list of notify URLs (local runs: start:aws-local, tests). */
export class StaticTaskDirectory implements TaskDirectory {
  private readonly endpoints: TaskEndpoint[];
  constructor(urls: readonly string[]) {
    this.endpoints = urls.map((u) => {
      const url = u.replace(/\/+$/, '');
      return { id: url, url };
    });
  }
  async list(): Promise<TaskEndpoint[]> {
    return this.endpoints;
  }
}

/** The slice of the Cloud Map client this module uses (the SDK's ServiceDiscoveryClient fits). */
export interface DiscoverInstancesClient {
  send(cmd: unknown): Promise<{ Instances?: Array<{ InstanceId?: string; Attributes?: Record<string, string> }> }>;
}

export interface CloudMapDirectoryOptions {
  client: DiscoverInstancesClient;
  /** Builds the SDK's DiscoverInstancesCommand (injected so tests need no SDK). */
  command: (input: {
    NamespaceName: string;
    ServiceName: string;
    HealthStatus: 'HEALTHY_OR_ELSE_ALL';
    MaxResults: number;
  }) => unknown;
  namespace: string;
  service: string;
  /** The notify port every task listens on (the same task definition everywhere). */
  port: number;
  /** How long a discovered list is reused by a warm function. Default 5 s. */
  cacheMs?: number;
  now?: () => number;
}

/**
 * The tasks of one ECS service, as ECS registers them in Cloud Map (A records: each instance
 * carries AWS_INSTANCE_IPV4). The list is cached for a few seconds: a task that started within
 * that time misses a notice and sees the change on its next journal poll. DiscoverInstances
 * returns at most 1,000 instances, the ceiling of this design (see FANOUT.md).
 */
export class CloudMapTaskDirectory implements TaskDirectory {
  private cached: { at: number; list: TaskEndpoint[] } | null = null;
  private readonly cacheMs: number;
  private readonly now: () => number;

  constructor(private readonly opts: CloudMapDirectoryOptions) {
    this.cacheMs = opts.cacheMs ?? 5000;
    this.now = opts.now ?? Date.now;
  }

  async list(): Promise<TaskEndpoint[]> {
    const t = this.now();
    if (this.cached && t - this.cached.at < this.cacheMs) return this.cached.list;
    const res = await this.opts.client.send(
      this.opts.command({
        NamespaceName: this.opts.namespace,
        ServiceName: this.opts.service,
        HealthStatus: 'HEALTHY_OR_ELSE_ALL',
        MaxResults: 1000,
      }),
    );
    const list: TaskEndpoint[] = [];
    for (const inst of res.Instances ?? []) {
      const ip = inst.Attributes?.AWS_INSTANCE_IPV4;
      if (!ip) continue;
      const host = ip.includes(':') ? `[${ip}]` : ip;
      list.push({ id: inst.InstanceId ?? ip, url: `http://${host}:${this.opts.port}` });
    }
    this.cached = { at: t, list };
    return list;
  }

  /** Forget the cached list (after a task failed to answer, the next call asks again). */
  invalidate(): void {
    this.cached = null;
  }
}

// ---------------------------------------------------------------------------------------------
// Sending

export interface NotifyResult {
  tasks: number;
  delivered: number;
  failed: Array<{ id: string; error: string }>;
  changes: number;
  requests: number;
}

export interface TaskNotifierOptions {
  directory: TaskDirectory;
  /** The shared secret (or how to get it: read once from Secrets Manager, then kept). */
  secret: string | (() => Promise<string>);
  /** Per request. Default 2 s: a task that cannot answer in that time is busy or gone. */
  timeoutMs?: number;
  /** Requests in flight at once. Default 64. */
  concurrency?: number;
  fetch?: typeof fetch;
  now?: () => number;
}

/** Posts a set of changes to every task: one request per task (more only past MAX_CHANGES_PER_REQUEST). */
export class TaskNotifier {
  private secretValue: string | null = null;
  private secretLoadedAt = 0;
  private reloading: Promise<boolean> | null = null;
  private readonly timeoutMs: number;
  private readonly concurrency: number;
  private readonly doFetch: typeof fetch;
  private readonly now: () => number;

  constructor(private readonly opts: TaskNotifierOptions) {
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.concurrency = Math.max(1, opts.concurrency ?? 64);
    this.doFetch = opts.fetch ?? fetch;
    this.now = opts.now ?? Date.now;
    if (typeof opts.secret === 'string') this.secretValue = opts.secret;
  }

  private async secret(): Promise<string> {
    if (this.secretValue === null) {
      const s = await (this.opts.secret as () => Promise<string>)();
      if (!s) throw new Error('the notify secret is empty');
      this.secretValue = s;
      this.secretLoadedAt = this.now();
    }
    return this.secretValue;
  }

  /**
   * After a 401: the secret may have been changed (a new value, then a redeploy of the tasks).
   * Read it again, at most once a minute, and tell the caller whether it changed.
   */
  private reloadSecret(): Promise<boolean> {
    if (this.reloading) return this.reloading;
    if (typeof this.opts.secret === 'string' || this.now() - this.secretLoadedAt < 60_000) return Promise.resolve(false);
    const before = this.secretValue;
    this.reloading = (async () => {
      try {
        const s = await (this.opts.secret as () => Promise<string>)();
        if (!s) return false;
        this.secretValue = s;
        return s !== before;
      } catch {
        return false;
      } finally {
        this.secretLoadedAt = this.now();
        this.reloading = null;
      }
    })();
    return this.reloading;
  }

  async send(changes: readonly WireChange[]): Promise<NotifyResult> {
    const merged = mergeChanges(changes);
    if (merged.length === 0) return { tasks: 0, delivered: 0, failed: [], changes: 0, requests: 0 };
    const tasks = await this.opts.directory.list();
    let secret = await this.secret();
    const bodies: string[] = [];
    for (let i = 0; i < merged.length; i += MAX_CHANGES_PER_REQUEST) {
      const batch: NotifyBatch = { v: 1, changes: merged.slice(i, i + MAX_CHANGES_PER_REQUEST) };
      bodies.push(JSON.stringify(batch));
    }
    const failed: NotifyResult['failed'] = [];
    let delivered = 0;
    let next = 0;
    const worker = async () => {
      while (next < tasks.length) {
        const task = tasks[next++]!;
        try {
          for (const body of bodies) {
            if ((await this.post(task, body, secret)) !== 401) continue;
            if (!(await this.reloadSecret())) throw new Error('HTTP 401 (the task does not accept the notify secret)');
            secret = this.secretValue!;
            await this.post(task, body, secret, true);
          }
          delivered++;
        } catch (e) {
          failed.push({ id: task.id, error: e instanceof Error ? e.message : String(e) });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, tasks.length) }, worker));
    if (failed.length > 0 && this.opts.directory instanceof CloudMapTaskDirectory) this.opts.directory.invalidate();
    return { tasks: tasks.length, delivered, failed, changes: merged.length, requests: tasks.length * bodies.length };
  }

  /** Resolves with the status (204/200, or 401 when `final` is false); throws on anything else. */
  private async post(task: TaskEndpoint, body: string, secret: string, final = false): Promise<number> {
    const res = await this.doFetch(task.url + NOTIFY_PATH, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signNotifyBody(secret, body, this.now()) },
      body,
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    // Drain the body so the connection goes back to the keep-alive pool.
    await res.arrayBuffer().catch(() => undefined);
    if (res.status === 204 || res.status === 200) return res.status;
    if (res.status === 401 && !final) return 401;
    throw new Error(`HTTP ${res.status}`);
  }
}

// ---------------------------------------------------------------------------------------------
// The fan-out itself (what functions/idle-fanout/handler.ts runs)

/** A DynamoDB stream batch, or a direct invocation carrying changes (admin API: settings, accounts). */
export type FanoutEvent = { Records: readonly StreamRecordLike[] } | { changes: readonly WireChange[] };

export function changesFromEvent(event: FanoutEvent): WireChange[] {
  if ('Records' in event && Array.isArray(event.Records)) return changesFromStreamRecords(event.Records);
  if ('changes' in event && Array.isArray(event.changes)) {
    const parsed = z.array(wireChange).max(100_000).safeParse(event.changes);
    if (!parsed.success) throw new Error(`invalid changes in the event: ${parsed.error.issues[0]?.message ?? 'unknown'}`);
    return mergeChanges(parsed.data as WireChange[]);
  }
  throw new Error('unrecognised event: expected DynamoDB stream Records or changes');
}

/**
 * Turns the event into one set of changes and sends it to every task. Discovery failures throw
 * (the stream retries the batch); a task that does not answer is reported, not retried: it is
 * starting, stopping or overloaded, and its sessions catch up by polling the journal.
 */
export async function fanOut(event: FanoutEvent, notifier: Pick<TaskNotifier, 'send'>): Promise<NotifyResult> {
  return notifier.send(changesFromEvent(event));
}

// ---------------------------------------------------------------------------------------------
// The sending side of non-journal notices (admin API)

/** Where a ForwardingBus sends what was published (e.g. an asynchronous invocation of the fan-out). */
export type ChangeSink = (changes: WireChange[]) => Promise<void>;

/**
 * An EventBus for processes without sessions of their own (the admin Lambda): local listeners
 * still run, and every notice is queued for the sink; call flush() before the process may be
 * frozen (end of a Lambda invocation).
 */
export class ForwardingBus implements EventBus {
  private pending: WireChange[] = [];
  private readonly listeners = new Set<Listener>();

  constructor(private readonly sink: ChangeSink) {}

  publish(n: ChangeNotice): void {
    this.pending.push(toWire(n));
    for (const fn of [...this.listeners]) {
      queueMicrotask(() => {
        try {
          fn(n);
        } catch {
          // a listener's failure is its own
        }
      });
    }
  }

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Sends everything published so far (merged) in one call of the sink. */
  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const batch = mergeChanges(this.pending);
    this.pending = [];
    await this.sink(batch);
  }
}

/** The slice of the Lambda client a sink needs (the SDK's LambdaClient fits). */
export interface InvokeClient {
  send(cmd: unknown): Promise<{ StatusCode?: number; FunctionError?: string }>;
}

/**
 * A sink that invokes the fan-out function asynchronously (InvocationType Event) with
 * `{ changes }`: the admin Lambda stays outside the VPC and needs only lambda:InvokeFunction on
 * that one function.
 */
export function lambdaInvokeSink(
  client: InvokeClient,
  command: (input: { FunctionName: string; InvocationType: 'Event'; Payload: Uint8Array }) => unknown,
  functionName: string,
): ChangeSink {
  return async (changes) => {
    if (changes.length === 0) return;
    const payload = Buffer.from(JSON.stringify({ changes }));
    const res = await client.send(command({ FunctionName: functionName, InvocationType: 'Event', Payload: payload }));
    if (res.StatusCode !== undefined && res.StatusCode !== 202) throw new Error(`fan-out invocation answered ${res.StatusCode}`);
  };
}
