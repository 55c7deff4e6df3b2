// ENABLE (RFC 5161). Only extensions this server implements get enabled; others are ignored.
import type { EnableCommand } from '../codec/commands/types.js';
import { ok, type ImapCommandHandler } from '../session.js';

/** What ENABLE can turn on here. CONDSTORE/QRESYNC/UTF8=ACCEPT join when implemented. */
export const ENABLEABLE = new Set<string>([]);

export const enable: ImapCommandHandler<EnableCommand> = {
  name: 'ENABLE',
  states: ['authenticated', 'selected'],
  async run(s, cmd) {
    const now: string[] = [];
    for (const c of cmd.capabilities) {
      if (ENABLEABLE.has(c) && !s.enabled.has(c)) {
        s.enabled.add(c);
        now.push(c);
      }
    }
    await s.untaggedLine(`ENABLED${now.map((c) => ' ' + c).join('')}`);
    return ok('ENABLE completed');
  },
};
