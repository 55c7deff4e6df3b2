// Opens the store a process is configured for: the embedded one (SQLite + files, `npm start`)
// or the AWS adapter (DynamoDB + S3: Fargate tasks, Lambdas, start:aws-local). Each adapter is
// loaded only when chosen, so a process on the AWS adapter never loads the SQLite binding (the
// Fargate image does not ship it) and the embedded one never loads the AWS SDK.

import type { Store } from './port.js';
import { TABLE_NAMES, tableNames, type PhysicalNames, type TableName } from './aws/tables.js';

export type StoreKind = 'local' | 'aws';

export interface AwsStoreSelection {
  bucket: string;
  names: PhysicalNames;
  /** If-None-Match on blob PUTs; off for local S3 stand-ins that ignore it (s3rver). */
  conditionalPut: boolean;
}

export type StoreSelection = { kind: 'local'; dataDir: string } | { kind: 'aws'; aws: AwsStoreSelection };

/**
 * From the environment (DESIGN.md §6):
 *   STORE                  local (default) | aws
 *   DATA_DIR               the embedded store's directory (local)
 *   BUCKET                 the message bucket (aws, required)
 *   TABLE_PREFIX           physical table names are <prefix><logical> (aws, default "mail-")
 *   TABLE_<LOGICAL>        one table's physical name, e.g. TABLE_MESSAGES (aws; wins over the prefix;
 *                          the CDK stack sets these, since CloudFormation names its tables)
 *   S3_CONDITIONAL_PUT     on | off; default off when AWS_ENDPOINT_URL_S3 points at a local S3
 */
export function storeSelectionFromEnv(env: NodeJS.ProcessEnv = process.env): StoreSelection {
  const kind = (env.STORE || 'local').toLowerCase();
  if (kind === 'local') return { kind: 'local', dataDir: env.DATA_DIR || './.data' };
  if (kind !== 'aws') throw new Error(`STORE must be local or aws, got '${env.STORE}'`);
  const bucket = env.BUCKET;
  if (!bucket) throw new Error('STORE=aws needs BUCKET (the message bucket)');
  const names = tableNames(env.TABLE_PREFIX ?? 'mail-');
  for (const t of TABLE_NAMES) {
    const v = env[`TABLE_${t.toUpperCase()}`];
    if (v) names[t as TableName] = v;
  }
  const cp = (env.S3_CONDITIONAL_PUT || '').toLowerCase();
  if (cp !== '' && cp !== 'on' && cp !== 'off') throw new Error(`S3_CONDITIONAL_PUT must be on or off, got '${env.S3_CONDITIONAL_PUT}'`);
  const conditionalPut = cp === '' ? !env.AWS_ENDPOINT_URL_S3 : cp === 'on';
  return { kind: 'aws', aws: { bucket, names, conditionalPut } };
}

export async function openStore(sel: StoreSelection): Promise<Store> {
  if (sel.kind === 'local') {
    const { openLocalStore } = await import('./local/index.js');
    return openLocalStore(sel.dataDir);
  }
  const { AwsStore } = await import('./aws/store.js');
  return new AwsStore({ bucket: sel.aws.bucket, names: sel.aws.names, conditionalPut: sel.aws.conditionalPut });
}
