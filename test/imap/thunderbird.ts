// Thunderbird's header-first sync as it appears on the wire (shared/reference/client-flows.md
// §1): the header fetch it sends, how it cuts UID sets, and a parser for the FETCH responses.
// Used by test/imap/sync.test.ts and test/aws/clients.test.ts.
import assert from 'node:assert/strict';
import { compressSet } from './wire-client.js';

export const TB_FIELDS = 'From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type Reply-To Received';
export const TB_HEADER_FETCH = `(UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (${TB_FIELDS})])`;
export const TB_LABEL = `BODY[HEADER.FIELDS (${TB_FIELDS})]`;

/** Cuts ascending UIDs into sets of at most ~950 characters, as nsImapUtils.cpp does. */
export function chunkedSets(uids: number[], maxChars = 950): string[] {
  const out: string[] = [];
  let cur: number[] = [];
  for (const u of uids) {
    cur.push(u);
    if (compressSet(cur).length > maxChars) {
      cur.pop();
      out.push(compressSet(cur));
      cur = [u];
    }
  }
  if (cur.length) out.push(compressSet(cur));
  return out;
}

export interface FetchInfo {
  seq: number;
  uid: number;
  flags: string;
  size?: number;
  header?: string;
  label?: string;
}

/** Parses Thunderbird-shaped FETCH responses (UID, FLAGS, RFC822.SIZE, one header literal). */
export function parseFetch(line: string): FetchInfo {
  const m = /^\* (\d+) FETCH \((.*)\)\r\n$/s.exec(line);
  assert.ok(m, `a FETCH response: ${JSON.stringify(line.slice(0, 200))}`);
  const body = m[2]!;
  const uid = /(?:^|[ (])UID (\d+)/.exec(body);
  assert.ok(uid, `UID in every UID FETCH response: ${JSON.stringify(line.slice(0, 200))}`);
  const flags = /FLAGS \(([^)]*)\)/.exec(body);
  const info: FetchInfo = { seq: Number(m[1]), uid: Number(uid[1]), flags: flags ? flags[1]! : '' };
  const size = /RFC822\.SIZE (\d+)/.exec(body);
  if (size) info.size = Number(size[1]);
  const hdr = /(BODY\[[^\]]*\]) \{(\d+)\}\r\n/.exec(body);
  if (hdr) {
    info.label = hdr[1];
    const start = hdr.index + hdr[0].length;
    info.header = body.slice(start, start + Number(hdr[2]));
  }
  return info;
}
