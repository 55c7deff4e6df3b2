// The AWS adapter (DynamoDB + S3) on DynamoDB Local and s3rver: the store contract, unchanged,
// plus what only this adapter can show (fault injection through the SDK clients, request
// counts and read units of a header-only sync).

import { after, before } from 'node:test';
import { openAwsStore, type AwsStore, type AwsStoreOptions } from '../../core/store/aws/store.js';
import { startAwsLocal, type AwsLocal, type AwsSpace } from '../helpers/aws-local.js';
import { storeContract } from './contract.js';

let local: AwsLocal;
before(async () => {
  local = await startAwsLocal();
  // The store's clients take their endpoints from the SDK's standard variables, as in production.
  process.env.AWS_ENDPOINT_URL_DYNAMODB = local.dynamodbEndpoint;
  process.env.AWS_ENDPOINT_URL_S3 = local.s3Endpoint;
});
after(async () => {
  await local?.stop();
});

function openOn(space: AwsSpace, extra: Partial<AwsStoreOptions> = {}): AwsStore {
  return openAwsStore({
    names: space.names,
    bucket: space.bucket,
    region: local.region,
    credentials: local.credentials,
    conditionalPut: false, // s3rver ignores If-None-Match
    ...extra,
  });
}

storeContract('aws', async () => {
  const space = await local.createSpace();
  let current = openOn(space);
  return {
    store: current,
    reopen: async () => (current = openOn(space)),
    cleanup: async () => {
      await current.close();
      await space.drop();
    },
  };
});
