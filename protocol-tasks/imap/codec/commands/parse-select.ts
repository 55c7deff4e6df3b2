// SELECT / EXAMINE mailbox [(CONDSTORE) | (QRESYNC (uidvalidity modseq [known-uids
// [(known-seqs known-uids)]]))]  (RFC 3501 §6.3.1, RFC 7162 §3.1.8 and §3.2.5).

import { Args, ParseError } from './reader.js';
import type { ParseContext, QresyncParams, SelectCommand } from './types.js';

function parseQresync(items: Args): QresyncParams {
  const uidValidity = items.nzNumber('UIDVALIDITY');
  const modseq = items.modseq('mod-sequence', false);
  let knownUids = null;
  let seqMatch = null;
  if (!items.done && items.peek()!.type === 'atom') knownUids = items.sequenceSet('known UIDs');
  if (!items.done) {
    const m = new Args(items.list('sequence match data'), 'QRESYNC');
    const seqs = m.sequenceSet('known sequence set');
    const uids = m.sequenceSet('known UID set');
    m.end();
    seqMatch = { seqs, uids };
  }
  items.end();
  return { uidValidity, modseq, knownUids, seqMatch };
}

export function parseSelect(name: 'SELECT' | 'EXAMINE', args: Args, ctx: ParseContext): SelectCommand {
  const mailbox = args.mailbox(ctx);
  let condstore = false;
  let qresync: QresyncParams | null = null;
  if (!args.done) {
    const params = new Args(args.list('select parameters'), name);
    while (!params.done) {
      const p = params.keyword('select parameter');
      if (p === 'CONDSTORE') condstore = true;
      else if (p === 'QRESYNC') {
        if (qresync) throw new ParseError(`${name}: QRESYNC given twice`);
        qresync = parseQresync(new Args(params.list('QRESYNC parameters'), 'QRESYNC'));
      } else throw new ParseError(`${name}: unknown parameter ${p.slice(0, 40)}`);
    }
  }
  args.end();
  return { name, mailbox, condstore, qresync };
}
