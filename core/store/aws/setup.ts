// Creates (or deletes) the tables and bucket of tables.ts on an endpoint: used by the local
// set-up (tests, start:aws-local). In AWS the CDK stack creates them from the same definitions.

import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  ResourceInUseException,
  ResourceNotFoundException,
  UpdateTimeToLiveCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import { TABLE_NAMES, createTableInputs, ttlInputs, type PhysicalNames } from './tables.js';

/** Creates every missing table, waits until each is ACTIVE, and turns TTL on. */
export async function createTables(ddb: DynamoDBClient, names: PhysicalNames): Promise<void> {
  await Promise.all(
    createTableInputs(names).map(async (input) => {
      try {
        await ddb.send(new CreateTableCommand(input));
      } catch (e) {
        if (!(e instanceof ResourceInUseException)) throw e;
      }
      for (let i = 0; i < 600; i++) {
        const d = await ddb.send(new DescribeTableCommand({ TableName: input.TableName }));
        if (d.Table?.TableStatus === 'ACTIVE') return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`table ${input.TableName} did not become ACTIVE`);
    }),
  );
  for (const input of ttlInputs(names)) {
    try {
      await ddb.send(new UpdateTimeToLiveCommand(input));
    } catch (e) {
      // Already enabled answers ValidationException ("TimeToLive is already enabled").
      if (!(e instanceof Error && /already enabled/i.test(e.message))) throw e;
    }
  }
}

export async function deleteTables(ddb: DynamoDBClient, names: PhysicalNames): Promise<void> {
  await Promise.all(
    TABLE_NAMES.map(async (t) => {
      try {
        await ddb.send(new DeleteTableCommand({ TableName: names[t] }));
      } catch (e) {
        if (!(e instanceof ResourceNotFoundException)) throw e;
      }
    }),
  );
}

export async function createBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (e) {
    const name = (e as { name?: string }).name;
    if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw e;
  }
}

/** Empties and deletes a bucket (local set-ups and tests only: it lists the bucket). */
export async function deleteBucket(s3: S3Client, bucket: string): Promise<void> {
  let startAfter: string | undefined;
  for (;;) {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1000, StartAfter: startAfter }));
    const keys = (page.Contents ?? []).map((o) => o.Key!).filter((k) => k !== undefined);
    if (keys.length > 0) {
      await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }));
    }
    if (!page.IsTruncated || keys.length === 0) break;
    startAfter = keys[keys.length - 1];
  }
  await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
}
