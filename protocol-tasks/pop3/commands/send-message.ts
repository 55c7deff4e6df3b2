// Streams a message (or its top) to the client as a dot-stuffed multi-line response,
// reading the blob in chunks and waiting for the socket to drain (bounded memory, E38).
// The +OK is sent only once the first bytes are in hand, so a message whose bytes are gone
// (removed meanwhile by another session) gets -ERR and never another message's bytes.
import type { Readable } from 'node:stream';
import { DotStuffer, err, ok } from '../codec.js';
import type { Pop3Session } from '../session.js';

/** For TOP: send `headerSize` octets whole, then at most `bodyLines` lines. */
export interface TopLimit {
  headerSize: number;
  bodyLines: number;
}

/**
 * `source` is the message as a stream, or (small messages) a promise of all its octets; a
 * source that fails before its first octets means the message is gone.
 */
export async function sendMessage(s: Pop3Session, okText: string, source: Readable | Promise<Buffer>, limit?: TopLimit): Promise<void> {
  let it: AsyncIterator<Buffer>;
  let r: IteratorResult<Buffer>;
  let release = (): void => {};
  if (source instanceof Promise) {
    let whole: Buffer;
    try {
      whole = await source;
    } catch {
      return s.send(err('Message is no longer available.'));
    }
    it = { next: async () => ({ done: true, value: undefined }) };
    r = { done: false, value: whole };
  } else {
    const stream = source;
    release = () => stream.destroy();
    it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    try {
      r = await it.next();
    } catch {
      release();
      return s.send(err('Message is no longer available.'));
    }
  }
  const stuffer = new DotStuffer();
  let headerLeft = limit ? limit.headerSize : Infinity;
  let linesLeft = limit ? limit.bodyLines : Infinity;
  // The +OK line, the data and the final dot go out in as few writes as the chunks allow:
  // a message that is one chunk (most are; see core/store/local/blobs.ts) is one write.
  let out: Buffer[] = [Buffer.from(ok(okText), 'latin1')];
  try {
    while (!r.done && !s.conn.closed) {
      let chunk = r.value;
      if (limit) {
        const head = Math.min(headerLeft, chunk.length);
        headerLeft -= head;
        let at = head;
        while (at < chunk.length && linesLeft > 0) {
          const lf = chunk.indexOf(0x0a, at);
          if (lf < 0) {
            at = chunk.length;
            break;
          }
          at = lf + 1;
          linesLeft--;
        }
        if (linesLeft === 0) chunk = chunk.subarray(0, at);
      }
      if (chunk.length) out.push(stuffer.push(chunk));
      if (linesLeft === 0 && headerLeft === 0) break;
      r = await it.next();
      if (r.done) break;
      await s.send(out.length === 1 ? out[0]! : Buffer.concat(out));
      out = [];
    }
  } finally {
    // Once the response has started, a read error can only end the session (the caller
    // rethrows into the session loop, which closes with -ERR).
    release();
  }
  out.push(stuffer.finish());
  await s.send(Buffer.concat(out));
}
