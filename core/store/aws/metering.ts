// Request accounting for the AWS adapter: SDK middleware that counts commands per client and
// sums DynamoDB consumed capacity (it asks for ReturnConsumedCapacity=TOTAL on every data
// command: the figure costs nothing but a few response bytes).
//
// Two ways to read the counts:
//   - attachUsageContext(): the store attaches it to its own clients; every request is added
//     to the usage records current in the async context (core/store/usage.ts), which the
//     protocol sessions set around each command and benchmarks around whatever they measure;
//   - attachMeter(): a standalone counter on given clients (tests: read or reset it around an
//     operation), independent of any context.

import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { copyUsage, countCapacity, countRequest, newUsage, type StoreUsage } from '../usage.js';

export type Usage = StoreUsage;

export interface Meter {
  readonly usage: Usage;
  reset(): void;
  /** A copy of the counters. */
  snapshot(): Usage;
}

const CAPACITY_COMMANDS = new Set([
  'GetItemCommand',
  'PutItemCommand',
  'UpdateItemCommand',
  'DeleteItemCommand',
  'QueryCommand',
  'ScanCommand',
  'BatchGetItemCommand',
  'BatchWriteItemCommand',
  'TransactWriteItemsCommand',
  'TransactGetItemsCommand',
]);

const READS = new Set(['GetItemCommand', 'QueryCommand', 'ScanCommand', 'BatchGetItemCommand', 'TransactGetItemsCommand']);

interface Capacity {
  CapacityUnits?: number;
  ReadCapacityUnits?: number;
  WriteCapacityUnits?: number;
}

/** Read and write units in a response's ConsumedCapacity (one entry or a list of them). */
export function capacityOf(command: string, cc: unknown): { read: number; write: number } {
  let read = 0;
  let write = 0;
  const list = (Array.isArray(cc) ? cc : cc ? [cc] : []) as Capacity[];
  for (const c of list) {
    const units = c.CapacityUnits ?? 0;
    if (c.ReadCapacityUnits !== undefined || c.WriteCapacityUnits !== undefined) {
      read += c.ReadCapacityUnits ?? 0;
      write += c.WriteCapacityUnits ?? 0;
    } else if (READS.has(command)) read += units;
    else write += units;
  }
  return { read, write };
}

type Counter = (service: 'dynamodb' | 's3', command: string, read: number, write: number) => void;

function addMiddleware(clients: { dynamodb?: DynamoDBClient; s3?: S3Client }, name: string, count: Counter): void {
  clients.dynamodb?.middlewareStack.add(
    (next, context) => async (args) => {
      const command = (context as { commandName?: string }).commandName ?? 'unknown';
      count('dynamodb', command, 0, 0);
      const input = args.input as { ReturnConsumedCapacity?: string };
      if (CAPACITY_COMMANDS.has(command) && input.ReturnConsumedCapacity === undefined) input.ReturnConsumedCapacity = 'TOTAL';
      // (A failed conditional write consumes capacity too; its error does not say how much.)
      const out = await next(args);
      const { read, write } = capacityOf(command, (out.output as { ConsumedCapacity?: unknown }).ConsumedCapacity);
      if (read !== 0 || write !== 0) count('dynamodb', command, read, write);
      return out;
    },
    { step: 'initialize', name },
  );
  clients.s3?.middlewareStack.add(
    (next, context) => async (args) => {
      count('s3', (context as { commandName?: string }).commandName ?? 'unknown', 0, 0);
      return await next(args);
    },
    { step: 'initialize', name },
  );
}

export function attachMeter(clients: { dynamodb?: DynamoDBClient; s3?: S3Client }): Meter {
  let usage = newUsage();
  const meter: Meter = {
    get usage() {
      return usage;
    },
    reset() {
      usage = newUsage();
    },
    snapshot() {
      return copyUsage(usage);
    },
  };
  addMiddleware(clients, 'mailStoreMeter', (service, command, read, write) => {
    if (read !== 0 || write !== 0) {
      usage.readUnits += read;
      usage.writeUnits += write;
    } else {
      usage[service][command] = (usage[service][command] ?? 0) + 1;
    }
  });
  return meter;
}

const withContext = new WeakSet<object>();

/** Counts every request of these clients into the current usage context (once per client). */
export function attachUsageContext(clients: { dynamodb?: DynamoDBClient; s3?: S3Client }): void {
  const todo: { dynamodb?: DynamoDBClient; s3?: S3Client } = {};
  if (clients.dynamodb && !withContext.has(clients.dynamodb)) {
    withContext.add(clients.dynamodb);
    todo.dynamodb = clients.dynamodb;
  }
  if (clients.s3 && !withContext.has(clients.s3)) {
    withContext.add(clients.s3);
    todo.s3 = clients.s3;
  }
  addMiddleware(todo, 'mailStoreUsageContext', (service, command, read, write) => {
    if (read !== 0 || write !== 0) countCapacity(read, write);
    else countRequest(service, command);
  });
}
