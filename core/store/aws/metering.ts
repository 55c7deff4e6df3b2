// Request accounting for the AWS adapter: SDK middleware that counts commands per client and
// sums DynamoDB consumed capacity (it asks for ReturnConsumedCapacity=TOTAL on every data
// command). Attach it to the clients the store uses; read or reset the counters around an
// operation. The per-protocol-command logging of issue 4 builds on this.

import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';

export interface Usage {
  dynamodb: Record<string, number>;
  s3: Record<string, number>;
  readUnits: number;
  writeUnits: number;
}

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

function empty(): Usage {
  return { dynamodb: {}, s3: {}, readUnits: 0, writeUnits: 0 };
}

export function attachMeter(clients: { dynamodb?: DynamoDBClient; s3?: S3Client }): Meter {
  let usage = empty();
  const meter: Meter = {
    get usage() {
      return usage;
    },
    reset() {
      usage = empty();
    },
    snapshot() {
      return { dynamodb: { ...usage.dynamodb }, s3: { ...usage.s3 }, readUnits: usage.readUnits, writeUnits: usage.writeUnits };
    },
  };
  clients.dynamodb?.middlewareStack.add(
    (next, context) => async (args) => {
      const name = (context as { commandName?: string }).commandName ?? 'unknown';
      usage.dynamodb[name] = (usage.dynamodb[name] ?? 0) + 1;
      const input = args.input as { ReturnConsumedCapacity?: string };
      if (CAPACITY_COMMANDS.has(name) && input.ReturnConsumedCapacity === undefined) input.ReturnConsumedCapacity = 'TOTAL';
      const countCapacity = (cc: unknown) => {
        const list = (Array.isArray(cc) ? cc : cc ? [cc] : []) as Capacity[];
        for (const c of list) {
          const units = c.CapacityUnits ?? 0;
          if (c.ReadCapacityUnits !== undefined || c.WriteCapacityUnits !== undefined) {
            usage.readUnits += c.ReadCapacityUnits ?? 0;
            usage.writeUnits += c.WriteCapacityUnits ?? 0;
          } else if (READS.has(name)) usage.readUnits += units;
          else usage.writeUnits += units;
        }
      };
      // (A failed conditional write consumes capacity too; its error does not say how much.)
      const out = await next(args);
      countCapacity((out.output as { ConsumedCapacity?: unknown }).ConsumedCapacity);
      return out;
    },
    { step: 'initialize', name: 'mailStoreMeter' },
  );
  clients.s3?.middlewareStack.add(
    (next, context) => async (args) => {
      const name = (context as { commandName?: string }).commandName ?? 'unknown';
      usage.s3[name] = (usage.s3[name] ?? 0) + 1;
      return await next(args);
    },
    { step: 'initialize', name: 'mailStoreMeter' },
  );
  return meter;
}
