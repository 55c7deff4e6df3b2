// NAMESPACE (RFC 2342): one personal namespace, "/" as the hierarchy delimiter.
import type { NamespaceCommand } from '../codec/commands/types.js';
import { ok, type ImapCommandHandler } from '../session.js';

export const namespace: ImapCommandHandler<NamespaceCommand> = {
  name: 'NAMESPACE',
  states: ['authenticated', 'selected'],
  async run(s) {
    await s.untaggedLine('NAMESPACE (("" "/")) NIL NIL');
    return ok('NAMESPACE completed');
  },
};
