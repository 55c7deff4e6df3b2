// Local stand-in for Lambda's DynamoDB stream event source: polls a table's stream on DynamoDB
// Local (DescribeStream / GetShardIterator / GetRecords) and hands each batch of records, in
// the Lambda event shape, to a handler (the real idle-fanout handler). Used by
// start:aws-local and by the two-task tests. Never used against AWS (Lambda does this there).
//
// Like the event source mapping: open shards start at LATEST, shards that appear later (a
// parent closed) start at TRIM_HORIZON, batches go per shard in order, a failed batch is
// retried a few times and then dropped (maxRecordAge-like: stale notices are worth nothing).
// The INSERT/MODIFY filter of the CDK mapping is applied here too.

import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as StreamRecord,
} from '@aws-sdk/client-dynamodb-streams';

export interface StreamEvent {
  Records: Array<{ eventID?: string; eventName?: string; eventSource: string; eventSourceARN: string; awsRegion: string; dynamodb?: StreamRecord['dynamodb'] }>;
}

export interface StreamPollerOptions {
  ddb: DynamoDBClient;
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  tableName: string;
  handler: (event: StreamEvent) => Promise<unknown>;
  /** Wait between empty polls of a shard. Default 100 ms (Lambda polls about every 250 ms). */
  intervalMs?: number;
  /** Records per handler call (Lambda batchSize). Default 1000. */
  batchSize?: number;
  /** Event names passed on (the CDK mapping's filter). Default INSERT and MODIFY. */
  eventNames?: string[];
  log?: (msg: string, extra?: Record<string, unknown>) => void;
}

export class StreamPoller {
  private readonly streams: DynamoDBStreamsClient;
  private readonly readers = new Map<string, Promise<void>>();
  private readonly closedShards = new Set<string>();
  private stopped = false;
  private discoverTimer: NodeJS.Timeout | null = null;
  private streamArn = '';
  /** Batches handed to the handler, and records in them. */
  batches = 0;
  records = 0;
  failures = 0;

  constructor(private readonly opts: StreamPollerOptions) {
    this.streams = new DynamoDBStreamsClient({ endpoint: opts.endpoint, region: opts.region, credentials: opts.credentials });
  }

  async start(): Promise<void> {
    const d = await this.opts.ddb.send(new DescribeTableCommand({ TableName: this.opts.tableName }));
    const arn = d.Table?.LatestStreamArn;
    if (!arn) throw new Error(`table ${this.opts.tableName} has no stream`);
    this.streamArn = arn;
    await this.discover(true);
    let discovering = false;
    this.discoverTimer = setInterval(() => {
      if (discovering || this.stopped) return;
      discovering = true;
      void this.discover(false)
        .catch(() => undefined)
        .finally(() => (discovering = false));
    }, 1000);
    this.discoverTimer.unref();
  }

  private async discover(initial: boolean): Promise<void> {
    let start: string | undefined;
    do {
      const r = await this.streams.send(new DescribeStreamCommand({ StreamArn: this.streamArn, ExclusiveStartShardId: start }));
      const shards = r.StreamDescription?.Shards ?? [];
      for (const s of shards) {
        const id = s.ShardId!;
        if (this.readers.has(id) || this.closedShards.has(id)) continue;
        const open = s.SequenceNumberRange?.EndingSequenceNumber === undefined;
        if (initial && !open) {
          this.closedShards.add(id);
          continue;
        }
        // The iterator is taken before start() returns, so nothing written after start() is missed.
        let iterator: string | undefined;
        try {
          const type = initial ? 'LATEST' : 'TRIM_HORIZON';
          iterator = (await this.streams.send(new GetShardIteratorCommand({ StreamArn: this.streamArn, ShardId: id, ShardIteratorType: type }))).ShardIterator;
        } catch (e) {
          this.opts.log?.('stream poller: no iterator', { shardId: id, error: (e as Error).message });
          continue;
        }
        this.readers.set(id, this.read(id, iterator));
      }
      start = r.StreamDescription?.LastEvaluatedShardId;
    } while (start);
  }

  private async read(shardId: string, first: string | undefined): Promise<void> {
    const interval = this.opts.intervalMs ?? 100;
    const wanted = new Set(this.opts.eventNames ?? ['INSERT', 'MODIFY']);
    let iterator = first;
    while (iterator && !this.stopped) {
      let r;
      try {
        r = await this.streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: this.opts.batchSize ?? 1000 }));
      } catch (e) {
        if (this.stopped) return;
        const name = (e as { name?: string }).name;
        if (name === 'TrimmedDataAccessException' || name === 'ExpiredIteratorException') {
          // DynamoDB Local answers TrimmedDataAccess for a LATEST iterator taken on a shard that
          // had no record yet, once records arrive; iterators also expire. Start again from the
          // oldest record still there (a few stale notices are harmless: they only say "look again").
          try {
            iterator = (
              await this.streams.send(new GetShardIteratorCommand({ StreamArn: this.streamArn, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }))
            ).ShardIterator;
            continue;
          } catch {
            // fall through to the pause below
          }
        }
        this.opts.log?.('stream poller: GetRecords failed', { shardId, error: (e as Error).message });
        await sleep(interval * 5);
        continue;
      }
      iterator = r.NextShardIterator;
      const records = (r.Records ?? []).filter((x) => wanted.has(x.eventName ?? ''));
      if (records.length > 0) {
        const event: StreamEvent = {
          Records: records.map((x) => ({
            eventID: x.eventID,
            eventName: x.eventName,
            eventSource: 'aws:dynamodb',
            eventSourceARN: this.streamArn,
            awsRegion: this.opts.region,
            dynamodb: x.dynamodb,
          })),
        };
        await this.deliver(event);
      } else if ((r.Records ?? []).length === 0) {
        await sleep(interval);
      }
    }
    this.closedShards.add(shardId);
    this.readers.delete(shardId);
  }

  private async deliver(event: StreamEvent): Promise<void> {
    for (let attempt = 0; attempt < 3 && !this.stopped; attempt++) {
      try {
        await this.opts.handler(event);
        this.batches++;
        this.records += event.Records.length;
        return;
      } catch (e) {
        this.failures++;
        this.opts.log?.('stream poller: handler failed', { attempt, error: (e as Error).message });
        await sleep(200 * (attempt + 1));
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.discoverTimer) clearInterval(this.discoverTimer);
    await Promise.allSettled([...this.readers.values()]);
    this.streams.destroy();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
