// Turns storage errors a client can act on into tagged NO replies (shared by APPEND, COPY,
// MOVE and EXPUNGE). Anything else is left to the session, which ends only this session.
import { StoreError } from '../../../core/store/port.js';
import { no, type Done } from '../session.js';

/**
 * `missingFolder`: the response code when the folder is gone (TRYCREATE for a target that
 * vanished, NONEXISTENT otherwise).
 */
export function storeFailure(e: unknown, missingFolder: 'TRYCREATE' | 'NONEXISTENT'): Done | null {
  if (!(e instanceof StoreError)) return null;
  switch (e.code) {
    case 'NONEXISTENT':
      return no('Mailbox does not exist.', missingFolder);
    case 'LIMIT':
      return no(`Limit reached: ${e.message}.`, 'LIMIT');
    case 'UNAVAILABLE':
      return no('Storage is busy; try again.', 'UNAVAILABLE');
    case 'INVALID':
      return no(`Refused: ${e.message}.`);
    default:
      return null;
  }
}
