// Mapping of AWS SDK errors to the port's StoreError codes. Only what is transient becomes
// UNAVAILABLE (safe to retry); conditional-write outcomes are decided by the caller, which
// knows what the condition meant (ALREADY_EXISTS, CONFLICT, NONEXISTENT...).

import { StoreError } from '../port.js';

const TRANSIENT_NAMES = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'Throttling',
  'RequestLimitExceeded',
  'LimitExceededException',
  'InternalServerError',
  'InternalFailure',
  'InternalError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'TransactionConflictException',
  'TransactionInProgressException',
  'SlowDown',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'ConditionalRequestConflict', // S3: a concurrent conditional write; retry
]);

const TRANSIENT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'EHOSTUNREACH', 'ECONNABORTED']);

export function awsErrorName(e: unknown): string {
  return typeof e === 'object' && e !== null ? String((e as { name?: unknown }).name ?? '') : '';
}

export function httpStatus(e: unknown): number | undefined {
  return typeof e === 'object' && e !== null ? (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode : undefined;
}

export function isTransient(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const name = awsErrorName(e);
  if (TRANSIENT_NAMES.has(name)) return true;
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && TRANSIENT_CODES.has(code)) return true;
  const status = httpStatus(e);
  if (status !== undefined && (status >= 500 || status === 429)) return true;
  if ((e as { $retryable?: unknown }).$retryable) return true;
  return false;
}

/** Maps an error thrown by an SDK call; StoreErrors pass through. */
export function mapAwsError(e: unknown, what = 'storage request'): unknown {
  if (e instanceof StoreError) return e;
  if (isTransient(e)) return new StoreError(`${what} failed, retry later: ${awsErrorName(e) || String(e)}`, 'UNAVAILABLE');
  const name = awsErrorName(e);
  if (name === 'ResourceNotFoundException' || name === 'NoSuchBucket') {
    return new StoreError(`${what}: table or bucket missing (${(e as Error).message})`, 'UNAVAILABLE');
  }
  if (name === 'ItemCollectionSizeLimitExceededException') return new StoreError(`${what}: item collection too large`, 'LIMIT');
  if (name === 'ValidationException' && /size/i.test((e as Error).message ?? '')) {
    return new StoreError(`${what}: item too large (${(e as Error).message})`, 'LIMIT');
  }
  return e;
}
