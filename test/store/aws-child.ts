// Child process for test/store/aws.test.ts: opens an AwsStore on the shared tables and bucket,
// waits for "go" on stdin, then issues N appends and N keyword adds on <flagUid> all at once;
// prints the append results as one JSON line. Endpoints come from AWS_ENDPOINT_URL_* (env).
//   node --import tsx test/store/aws-child.ts <optionsJson> <accountId> <folderId> <n> <tag> <flagUid>

import { createInterface } from 'node:readline';
import { openAwsStore, type AwsStoreOptions } from '../../core/store/aws/store.js';
import { putMessage } from './fixtures.js';

const [optsJson, accountId, folderId, nStr, tag, flagUid] = process.argv.slice(2);
const n = Number(nStr);
const store = openAwsStore(JSON.parse(optsJson!) as AwsStoreOptions);
const prepared = [];
for (let i = 0; i < n; i++) {
  const subject = `${tag}-${i}`;
  const { raw: _raw, ...msg } = await putMessage(store, accountId!, { subject });
  prepared.push({ subject, msg });
}
process.stdout.write('ready\n');
const rl = createInterface({ input: process.stdin });
for await (const line of rl) if (line.trim() === 'go') break;
rl.close();

const [results] = await Promise.all([
  Promise.all(
    prepared.map(async ({ subject, msg }) => {
      const r = await store.appendMessage(accountId!, folderId!, msg);
      return { uid: r.uid, modseq: r.modseq, blobKey: msg.blobKey, subject };
    }),
  ),
  Promise.all(
    prepared.map((_, i) => store.updateFlags(accountId!, folderId!, { uids: [Number(flagUid)], op: 'add', flags: [`${tag}${i}`] })),
  ),
]);
await store.close();
process.stdout.write(JSON.stringify(results) + '\n');
