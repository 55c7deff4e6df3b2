// The demo mailbox that `npm start` creates on first start, so a new user can point a mail
// client at the server at once. Its password is DEMO_PASSWORD, or generated once and kept in
// DATA_DIR/demo-password.txt (mode 0600) so every start can print it again.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { demoMessages } from '../mime/samples.js';
import type { Store } from '../store/port.js';
import { createMailbox, deliverToInbox, updateMailbox } from './mailboxes.js';

export const DEMO_ADDRESS = 'demo@example.test';

export async function ensureDemoMailbox(store: Store, dataDir: string, chosenPassword?: string): Promise<{ address: string; password: string; created: boolean }> {
  const file = join(dataDir, 'demo-password.txt');
  const existing = await store.getAccountByAddress(DEMO_ADDRESS);
  if (existing) {
    if (chosenPassword) {
      const saved = await readFile(file, 'utf8').catch(() => '');
      if (saved.trim() !== chosenPassword) {
        await updateMailbox(store, DEMO_ADDRESS, { password: chosenPassword });
        await writeFile(file, chosenPassword + '\n', { mode: 0o600 });
      }
      return { address: DEMO_ADDRESS, password: chosenPassword, created: false };
    }
    const saved = (await readFile(file, 'utf8').catch(() => '')).trim();
    return { address: DEMO_ADDRESS, password: saved || '(unknown: set DEMO_PASSWORD to reset it)', created: false };
  }
  const password = chosenPassword || randomBytes(9).toString('base64url');
  await createMailbox(store, { address: DEMO_ADDRESS, password });
  await writeFile(file, password + '\n', { mode: 0o600 });
  for (const m of demoMessages(DEMO_ADDRESS, new Date())) {
    await deliverToInbox(store, DEMO_ADDRESS, m.raw, { flags: m.flags, internalDate: m.internalDate });
  }
  return { address: DEMO_ADDRESS, password, created: true };
}
