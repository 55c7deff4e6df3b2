// RETR (RFC 1939 §5): the whole message, dot-stuffed.
import { err, parseMsgNumber } from '../codec.js';
import type { Pop3CommandHandler } from '../session.js';
import { sendMessage } from './send-message.js';

export const retr: Pop3CommandHandler = {
  name: 'RETR',
  states: ['TRANSACTION'],
  async run(s, cmd) {
    const m = cmd.args.length === 1 ? s.message(parseMsgNumber(cmd.args[0])) : null;
    if (!m) return s.send(err(cmd.args.length === 1 ? 'No such message.' : 'RETR needs one message number.'));
    await sendMessage(s, `${m.size} octets`, s.services.store.blobs.stream(m.blobKey));
  },
};
