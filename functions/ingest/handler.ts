// ingest Lambda: S3 "object created" events for incoming/<key> (where an SES receipt rule's S3
// action writes each received message) -> read the raw message, deliver it to every local
// recipient's Inbox (core/admin/ingest.ts), then delete the object, but only when something
// was delivered and no delivery failed. Thin: the rules live in core.
//
// Environment: STORE=aws, BUCKET, TABLE_* (core/store/open.ts); LOCAL_DOMAINS (comma-separated
// mail domains served here; empty: every address is looked up).
// A failed delivery throws, so Lambda retries the event (asynchronous invocation: twice);
// the deliveries are idempotent per object, so the retry does not duplicate.

import { DeleteObjectCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ingestMessage, type IngestOutcome } from '../../core/admin/ingest.js';
import { MAX_MESSAGE_SIZE } from '../../core/store/deliver.js';
import { openStore, storeSelectionFromEnv } from '../../core/store/open.js';
import type { Store } from '../../core/store/port.js';

/** The parts of an S3 event notification record this handler reads. */
export interface S3EventRecord {
  eventName?: string;
  eventTime?: string;
  s3: { bucket: { name: string }; object: { key: string; size?: number; eTag?: string; sequencer?: string } };
}
export interface S3Event {
  Records?: S3EventRecord[];
}

export interface ObjectResult extends Partial<IngestOutcome> {
  key: string;
  deleted: boolean;
  skipped?: string;
}

let store: Store | null = null;
let s3: S3Client | null = null;

function s3Client(): S3Client {
  const local = Boolean(process.env.AWS_ENDPOINT_URL_S3);
  s3 ??= new S3Client(
    local ? { forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' } : {},
  );
  return s3;
}

const INCOMING = 'incoming/';

function log(level: 'info' | 'warn' | 'error', msg: string, extra: Record<string, unknown>): void {
  const line = JSON.stringify({ level, msg, ...extra });
  if (level === 'info') console.log(line);
  else console.error(line);
}

export async function handler(event: S3Event): Promise<{ objects: ObjectResult[] }> {
  store ??= await openStore(storeSelectionFromEnv(process.env));
  const domains = (process.env.LOCAL_DOMAINS || '').split(',').map((d) => d.trim().toLowerCase()).filter(Boolean);
  const results: ObjectResult[] = [];
  const errors: string[] = [];
  for (const rec of event.Records ?? []) {
    const bucket = rec.s3.bucket.name;
    // Keys in S3 events are URL-encoded, with '+' for a space.
    const key = decodeURIComponent(rec.s3.object.key.replace(/\+/g, ' '));
    if (!key.startsWith(INCOMING)) {
      results.push({ key, deleted: false, skipped: 'not under incoming/' });
      continue;
    }
    const client = s3Client();
    const obj = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    if ((obj.ContentLength ?? 0) > MAX_MESSAGE_SIZE) {
      obj.Body?.transformToWebStream().cancel().catch(() => undefined);
      log('warn', 'ingest: message over the size limit, kept', { key, size: obj.ContentLength });
      results.push({ key, deleted: false, skipped: 'too large' });
      continue;
    }
    const raw = Buffer.from(await obj.Body!.transformToByteArray());
    const outcome = await ingestMessage(store, raw, {
      sourceId: `${bucket}/${key}/${obj.ETag ?? rec.s3.object.eTag ?? ''}`,
      receivedAt: rec.eventTime ? new Date(rec.eventTime) : undefined,
      localDomains: domains,
    });
    for (const address of outcome.unknown) log('warn', 'ingest: unknown recipient rejected', { key, address });
    for (const r of outcome.refused) log('warn', 'ingest: message refused', { key, address: r.address, error: r.error });
    for (const f of outcome.failed) log('error', 'ingest: delivery failed', { key, address: f.address, error: f.error });
    let deleted = false;
    if (outcome.deleteSource) {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      deleted = true;
    } else if (outcome.delivered.length === 0 && outcome.failed.length === 0) {
      log('warn', 'ingest: nothing delivered, object kept', { key, recipients: outcome.recipients });
    }
    log('info', 'ingest', { key, delivered: outcome.delivered.length, unknown: outcome.unknown.length, failed: outcome.failed.length, deleted });
    results.push({ key, deleted, ...outcome });
    if (outcome.failed.length > 0) errors.push(`${key}: ${outcome.failed.map((f) => `${f.address}: ${f.error}`).join('; ')}`);
  }
  if (errors.length > 0) throw new Error(`ingest: deliveries failed (the event will be retried): ${errors.join(' | ')}`);
  return { objects: results };
}
