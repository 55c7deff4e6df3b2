// TOP msg n (RFC 1939 §7): the header and the first n lines of the body. With n = 0 and the
// header held in the stored index, the blob is not read at all.
import { DotStuffer, err, ok, parseMsgNumber, parseNonNegative } from '../codec.js';
import type { Pop3CommandHandler } from '../session.js';
import { sendMessage } from './send-message.js';

export const top: Pop3CommandHandler = {
  name: 'TOP',
  states: ['TRANSACTION'],
  async run(s, cmd) {
    if (cmd.args.length !== 2) return s.send(err('TOP needs a message number and a line count.'));
    const m = s.message(parseMsgNumber(cmd.args[0]));
    const lines = parseNonNegative(cmd.args[1]);
    if (!m) return s.send(err('No such message.'));
    if (lines === null) return s.send(err('Invalid line count.'));
    const stored = await s.services.store.getMessage(s.account!.id, s.inbox!.id, m.uid);
    if (!stored) return s.send(err('Message is no longer available.'));
    const { header, headerSize, size } = stored.index;
    if (lines === 0 && header !== null) {
      const stuffer = new DotStuffer();
      return s.send(Buffer.concat([Buffer.from(ok('Top of message follows')), stuffer.push(Buffer.from(header, 'latin1')), stuffer.finish()]));
    }
    const source = s.services.store.blobs.stream(m.blobKey, { start: 0, end: size });
    await sendMessage(s, 'Top of message follows', source, { headerSize, bodyLines: lines });
  },
};
