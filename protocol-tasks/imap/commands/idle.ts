// IDLE (RFC 2177): changes to the selected mailbox are pushed as they happen; a keepalive
// goes out more often than the AWS NLB's 350 s idle timeout. Accepted without a selected
// mailbox too (Outlook does that); then only keepalives flow.
import type { IdleCommand } from '../codec/commands/types.js';
import { continuation } from '../codec/serialize.js';
import { DEFAULT_IDLE_KEEPALIVE_MS, DEFAULT_IDLE_POLL_MS, bad, ok, type ImapCommandHandler } from '../session.js';

export const idle: ImapCommandHandler<IdleCommand> = {
  name: 'IDLE',
  states: ['authenticated', 'selected'],
  async run(s) {
    await s.send(continuation('idling'));
    let chain = Promise.resolve();
    const push = () => {
      chain = chain.then(() => s.releaseUpdates()).catch(() => undefined);
    };
    s.setChangeHook(push);
    if (s.selected) s.dirty = true;
    push();
    const every = s.services.idleKeepaliveMs ?? DEFAULT_IDLE_KEEPALIVE_MS;
    const timer = setInterval(() => void s.untaggedLine('OK Still here'), every);
    // Safety net for a missed change notice (another process wrote, e.g. mailctl, or a lost
    // fan-out message): look at the journal now and then. One small range query per period.
    const poll = setInterval(() => {
      if (s.selected) {
        s.dirty = true;
        push();
      }
    }, s.services.idlePollMs ?? DEFAULT_IDLE_POLL_MS);
    let line: Buffer | null;
    try {
      line = await s.readLine();
    } finally {
      clearInterval(timer);
      clearInterval(poll);
      s.setChangeHook(null);
      await chain;
    }
    if (line === null) return ok('IDLE terminated');
    if (line.toString('latin1').toUpperCase() !== 'DONE') return bad('Expected DONE to end IDLE.');
    return ok('IDLE terminated');
  },
};
