// Child process for test/store/local.test.ts: opens the local store on a shared data directory,
// waits for "go" on stdin, then N times: appends a message and adds the keyword <tag><i> to the
// message <flagUid>; prints the append results as one JSON line.
//   node --import tsx test/store/local-child.ts <dataDir> <accountId> <folderId> <n> <tag> <flagUid>

import { createInterface } from 'node:readline';
import { openLocalStore } from '../../core/store/local/index.js';
import { putMessage } from './fixtures.js';

const [dataDir, accountId, folderId, nStr, tag, flagUid] = process.argv.slice(2);
const n = Number(nStr);
const store = await openLocalStore(dataDir!);
process.stdout.write('ready\n');
const rl = createInterface({ input: process.stdin });
for await (const line of rl) if (line.trim() === 'go') break;
rl.close();

const results: Array<{ uid: number; modseq: number; blobKey: string; subject: string }> = [];
for (let i = 0; i < n; i++) {
  const subject = `${tag}-${i}`;
  const { raw: _raw, ...msg } = await putMessage(store, accountId!, { subject });
  const r = await store.appendMessage(accountId!, folderId!, msg);
  results.push({ uid: r.uid, modseq: r.modseq, blobKey: msg.blobKey, subject });
  await store.updateFlags(accountId!, folderId!, { uids: [Number(flagUid)], op: 'add', flags: [`${tag}${i}`] });
}
await store.close();
process.stdout.write(JSON.stringify(results) + '\n');
