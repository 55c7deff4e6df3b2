// Request accounting context: which storage requests (and DynamoDB capacity units) a piece of
// work caused. The protocol sessions run each command inside withUsage(); the AWS adapter's
// SDK middleware (aws/metering.ts) adds every request it sends to the records current in that
// async context. The local adapter sends no requests, so its records stay empty.
//
// Contexts nest: a benchmark may wrap a whole run in measureUsage() while the sessions inside
// it keep per-command records; each request is counted in every enclosing record.
//
// This file must not import the AWS SDK (a process on the local store never loads it), and
// core/ never imports protocol-tasks/: the sessions call in here, not the other way round.

import { AsyncLocalStorage } from 'node:async_hooks';

export interface StoreUsage {
  /** DynamoDB requests by command name (e.g. QueryCommand). */
  dynamodb: Record<string, number>;
  /** S3 requests by command name (e.g. GetObjectCommand). */
  s3: Record<string, number>;
  /** Consumed capacity as DynamoDB reports it (strongly consistent reads count 1 per 4 KB). */
  readUnits: number;
  writeUnits: number;
}

export function newUsage(): StoreUsage {
  return { dynamodb: {}, s3: {}, readUnits: 0, writeUnits: 0 };
}

export function copyUsage(u: StoreUsage): StoreUsage {
  return { dynamodb: { ...u.dynamodb }, s3: { ...u.s3 }, readUnits: u.readUnits, writeUnits: u.writeUnits };
}

export function addUsage(into: StoreUsage, from: StoreUsage): void {
  for (const [k, v] of Object.entries(from.dynamodb)) into.dynamodb[k] = (into.dynamodb[k] ?? 0) + v;
  for (const [k, v] of Object.entries(from.s3)) into.s3[k] = (into.s3[k] ?? 0) + v;
  into.readUnits += from.readUnits;
  into.writeUnits += from.writeUnits;
}

export function usageIsEmpty(u: StoreUsage): boolean {
  return u.readUnits === 0 && u.writeUnits === 0 && Object.keys(u.dynamodb).length === 0 && Object.keys(u.s3).length === 0;
}

/** Requests of all kinds in a record. */
export function requestCount(u: StoreUsage, service?: 'dynamodb' | 's3'): number {
  const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
  if (service) return sum(u[service]);
  return sum(u.dynamodb) + sum(u.s3);
}

interface Frame {
  usage: StoreUsage;
  parent: Frame | undefined;
}

const storage = new AsyncLocalStorage<Frame>();

/** Runs fn with `usage` as the current record (inside any record already current). */
export function withUsage<T>(usage: StoreUsage, fn: () => T): T {
  return storage.run({ usage, parent: storage.getStore() }, fn);
}

/** Runs fn and returns what its storage requests cost. */
export async function measureUsage<T>(fn: () => Promise<T>): Promise<{ result: T; usage: StoreUsage }> {
  const usage = newUsage();
  const result = await withUsage(usage, fn);
  return { result, usage };
}

/** Every record current here, innermost first (empty outside any context). */
export function currentUsages(): StoreUsage[] {
  const out: StoreUsage[] = [];
  for (let f = storage.getStore(); f; f = f.parent) out.push(f.usage);
  return out;
}

/** Called by the adapters' middleware: one request, and the capacity it consumed. */
export function countRequest(service: 'dynamodb' | 's3', command: string): void {
  for (let f = storage.getStore(); f; f = f.parent) {
    const m = f.usage[service];
    m[command] = (m[command] ?? 0) + 1;
  }
}

export function countCapacity(readUnits: number, writeUnits: number): void {
  if (readUnits === 0 && writeUnits === 0) return;
  for (let f = storage.getStore(); f; f = f.parent) {
    f.usage.readUnits += readUnits;
    f.usage.writeUnits += writeUnits;
  }
}

// ---- per protocol command (the sessions report, benchmarks and logs listen) ----

export interface CommandUsage {
  protocol: 'pop3' | 'imap4';
  /** The connection id of the session. */
  session: string;
  /** Command name as logged (e.g. 'UID FETCH', 'RETR'). */
  command: string;
  usage: StoreUsage;
}

type Listener = (e: CommandUsage) => void;
const listeners = new Set<Listener>();

/** Subscribes to the usage of every protocol command in this process (benchmarks). */
export function onCommandUsage(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/**
 * Reports one command's usage: to the listeners, and to the session's log at debug level when
 * the command made any storage request.
 */
export function reportCommandUsage(
  e: CommandUsage,
  log?: (level: 'debug', msg: string, extra?: Record<string, unknown>) => void,
): void {
  for (const l of listeners) {
    try {
      l(e);
    } catch {
      // a listener's failure is not the session's
    }
  }
  if (log && !usageIsEmpty(e.usage)) {
    log('debug', 'store usage', {
      id: e.session,
      protocol: e.protocol,
      command: e.command,
      dynamodb: e.usage.dynamodb,
      s3: e.usage.s3,
      readUnits: round(e.usage.readUnits),
      writeUnits: round(e.usage.writeUnits),
    });
  }
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
