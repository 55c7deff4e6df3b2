// Shared shape of LIST and UIDL: one message or all messages not marked deleted.
import { err, multiline, ok, parseMsgNumber } from '../codec.js';
import type { Pop3Command } from '../codec.js';
import type { Pop3Session, SnapshotMessage } from '../session.js';

export async function scan(s: Pop3Session, cmd: Pop3Command, item: (m: SnapshotMessage) => string): Promise<void> {
  if (cmd.args.length > 1) return s.send(err(`${cmd.name} takes at most one argument.`));
  if (cmd.args.length === 1) {
    const n = parseMsgNumber(cmd.args[0]);
    const m = s.message(n);
    if (!m) return s.send(err('No such message.'));
    return s.send(ok(`${n} ${item(m)}`));
  }
  const lines: string[] = [];
  s.messages.forEach((m, i) => {
    if (!m.deleted) lines.push(`${i + 1} ${item(m)}`);
  });
  await s.send(ok(`${lines.length} messages`) + multiline(lines));
}
