// RETR (RFC 1939 §5): the whole message, dot-stuffed.
import { err, parseMsgNumber } from '../codec.js';
import type { Pop3CommandHandler } from '../session.js';
import { sendMessage } from './send-message.js';

/** Messages up to this size are read into memory whole rather than streamed. */
const WHOLE_READ_MAX = 256 * 1024;

export const retr: Pop3CommandHandler = {
  name: 'RETR',
  states: ['TRANSACTION'],
  async run(s, cmd) {
    const m = cmd.args.length === 1 ? s.message(parseMsgNumber(cmd.args[0])) : null;
    if (!m) return s.send(err(cmd.args.length === 1 ? 'No such message.' : 'RETR needs one message number.'));
    // A message of ordinary size is read whole (one read, one write); a big one is streamed.
    const blobs = s.services.store.blobs;
    await sendMessage(s, `${m.size} octets`, m.size <= WHOLE_READ_MAX ? blobs.get(m.blobKey) : blobs.stream(m.blobKey));
  },
};
