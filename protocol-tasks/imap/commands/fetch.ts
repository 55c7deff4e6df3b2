// FETCH and UID FETCH (RFC 3501 §6.4.5, §6.4.8). The data items are served by
// ../fetch-items.ts: metadata from the view, envelope/structure/headers from the stored
// index, body sections by ranged blob reads. No untagged EXPUNGE is sent while a non-UID
// FETCH runs (the session holds them back: DESIGN §5 invariant 4).
import type { FetchCommand } from '../codec/commands/types.js';
import { runFetch } from '../fetch-items.js';
import type { ImapCommandHandler } from '../session.js';

export const fetch: ImapCommandHandler<FetchCommand> = {
  name: 'FETCH',
  states: ['selected'],
  run(s, cmd) {
    return runFetch(s, cmd);
  },
};
