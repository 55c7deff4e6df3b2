// SEARCH / UID SEARCH against a known mailbox: every RFC 3501 key, NOT/OR nesting,
// CHARSET, decoded (RFC 2047, base64, quoted-printable) matching, and the cost rules:
// header keys never read a blob, body keys read only the blobs of messages still in question.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { deliverMessage } from '../../core/store/deliver.js';
import { openLocalStore } from '../../core/store/local/index.js';
import type { BlobStore } from '../../core/store/port.js';
import { startTestServer, USER, type TestServer } from '../helpers/server.js';
import { searchResult, TaggedClient, type Reply } from './tagged-client.js';

const crlf = (lines: string[]) => Buffer.from(lines.join('\r\n'), 'latin1');

const attachment = Buffer.concat([Buffer.from('hiddenword '), randomBytes(20000)]);

// Seeded after a throwaway message, so UIDs (2..6) differ from sequence numbers (1..5).
const MESSAGES = [
  {
    // m1
    raw: crlf([
      'From: Alice Example <alice@example.test>',
      'To: Bob <bob@example.test>',
      'Cc: carol@example.test',
      'Subject: Hello world',
      // As written it is 2 March; in UTC it is already 3 March (SENTON must use the former).
      'Date: Mon, 02 Mar 2026 23:30:00 -0500',
      'Message-ID: <m1@example.test>',
      'X-Tracking: abc123',
      '',
      'The quick brown fox jumps over the lazy dog.',
      '',
    ]),
    flags: ['\\Seen'],
    date: '2026-03-01T12:00:00Z',
  },
  {
    // m2: RFC 2047 B and Q words (UTF-8, a subject split over two words), base64 body
    raw: crlf([
      'From: =?UTF-8?B?w4Rrc2VsIE3DvGxsZXI=?= <aksel@example.test>',
      'To: alice@example.test',
      'Bcc: dave@example.test',
      'Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus?=',
      ' =?UTF-8?Q?_M=C3=BCnchen?=',
      'Date: Tue, 10 Mar 2026 08:00:00 +0100',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from('Übermorgen treffen wir uns im Biergarten.\r\n', 'utf8').toString('base64'),
      '',
    ]),
    flags: ['\\Flagged', '\\Answered'],
    date: '2026-03-10T07:00:00Z',
  },
  {
    // m3: ISO-8859-1 Q words, quoted-printable Latin-1 body with a soft line break
    raw: crlf([
      'From: =?ISO-8859-1?Q?Zo=E9?= <zoe@example.test>',
      'To: alice@example.test',
      'Subject: =?ISO-8859-1?Q?caf=E9?= menu',
      'Date: 15 Mar 2026 12:00:00 +0000',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=iso-8859-1',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      'Le caf=E9 est pr=EAt, voil=E0 la carte du jour avec une tr=',
      '=E8s longue ligne.',
      '',
    ]),
    flags: ['\\Draft', '$Important'],
    date: '2026-03-15T00:00:00Z',
  },
  {
    // m4: multipart with a text part and a big binary attachment
    raw: Buffer.concat([
      crlf([
        'From: bob@example.test',
        'To: alice@example.test',
        'Subject: Report attached',
        'Date: Fri, 20 Mar 2026 09:00:00 +0000',
        'X-Tracking: zzz999',
        'MIME-Version: 1.0',
        'Content-Type: multipart/mixed; boundary="b1"',
        '',
        '--b1',
        'Content-Type: text/plain; charset=us-ascii',
        '',
        'See the quarterly numbers attached.',
        '--b1',
        'Content-Type: application/octet-stream; name="r.bin"',
        'Content-Transfer-Encoding: base64',
        '',
        attachment.toString('base64').replace(/.{76}/g, '$&\r\n'),
        '--b1--',
        '',
      ]),
    ]),
    flags: ['\\Deleted'],
    date: '2026-03-20T10:00:00Z',
  },
  {
    // m5: no Date header (sent-date keys fall back to the internal date)
    raw: crlf(['From: carol@example.test', 'To: alice@example.test', 'Subject: Plain note', '', 'Nothing special here.', '']),
    flags: [],
    date: '2026-03-25T10:00:00Z',
  },
];

// BODY matching on decoded text: each message holds its words in another form.
const DECODE = [
  // 1: UTF-8 quoted-printable, the word split by a soft line break, a non-ASCII word in capitals
  crlf(['Subject: d1', 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: quoted-printable', '',
    'The sample of zanzi=', 'barite is ready. =C3=84RGER =C3=9CBER DIE POST.', '']),
  // 2: UTF-8 base64
  crlf(['Subject: d2', 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: base64', '',
    Buffer.from('Grüße aus der Straße. ZANZIBARITE is rare.\r\n', 'utf8').toString('base64'), '']),
  // 3: ISO-8859-1, 8-bit octets as they are
  Buffer.concat([crlf(['Subject: d3', 'Content-Type: text/plain; charset=iso-8859-1', 'Content-Transfer-Encoding: 8bit', '', '']),
    Buffer.from('Gr\xfc\xdfe, ZanZiBarIte und \xc4rger.\r\n', 'latin1')]),
  // 4: US-ASCII 7bit in mixed case
  crlf(['Subject: d4', 'Content-Type: text/plain; charset=us-ascii', '', 'Plain ZaNzIbArItE text.', '']),
  // 5: the word only in an image attachment (base64) and in the HTML part
  crlf(['Subject: d5', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="b"', '', '--b',
    'Content-Type: text/plain; charset=us-ascii', '', 'Nothing to see.', '--b',
    'Content-Type: text/html; charset=utf-8', 'Content-Transfer-Encoding: quoted-printable', '', '<p>Tokyo =E6=9D=B1=E4=BA=AC</p>', '--b',
    'Content-Type: image/png', 'Content-Transfer-Encoding: base64', '', Buffer.from('zanzibarite kelvin').toString('base64'), '--b--', '']),
  // 6: KELVIN SIGN (folds to "k"), UTF-8 8-bit
  Buffer.concat([crlf(['Subject: d6', 'Content-Type: text/plain; charset=utf-8', '', '']), Buffer.from('300 \u212aELVIN\r\n', 'utf8')]),
];

describe('IMAP SEARCH', () => {
  let server: TestServer;
  let storeDir: string;
  let c: TaggedClient;
  const reads = { count: 0, bytes: 0 };
  let uidValidity = 0;

  before(async () => {
    storeDir = await mkdtemp(join(tmpdir(), 'mab-search-'));
    const base = await openLocalStore(storeDir);
    // Count every blob read the server makes.
    const blobs = base.blobs as BlobStore;
    const get = blobs.get.bind(blobs);
    const stream = blobs.stream.bind(blobs);
    blobs.get = async (key, range) => {
      const b = await get(key, range);
      reads.count++;
      reads.bytes += b.length;
      return b;
    };
    blobs.stream = (key, range) => {
      reads.count++;
      return stream(key, range);
    };
    server = await startTestServer({ store: base });
    const store = server.store;
    const acc = (await store.getAccountByAddress(USER))!;
    const folder = await store.createFolder(acc.id, 'Search');
    uidValidity = folder.uidValidity;
    const first = await deliverMessage(store, { accountId: acc.id, folderId: folder.id, raw: crlf(['Subject: gone', '', 'x', '']) });
    await store.expunge(acc.id, folder.id, [first.uid]);
    for (const m of MESSAGES) {
      await deliverMessage(store, { accountId: acc.id, folderId: folder.id, raw: m.raw, flags: m.flags, internalDate: new Date(m.date) });
    }
    // A message whose header block is too big for the index (read from the blob instead).
    const big = await store.createFolder(acc.id, 'Big');
    const pad = Array.from({ length: 1100 }, (_, i) => `X-Padding-${i}: ${'p'.repeat(60)}`);
    await deliverMessage(store, {
      accountId: acc.id,
      folderId: big.id,
      raw: crlf(['From: big@example.test', 'Subject: needle in a big header', ...pad, '', 'body', '']),
    });
    await deliverMessage(store, { accountId: acc.id, folderId: big.id, raw: crlf(['Subject: small one', '', 'body', '']) });
    // Body text in every encoding the matcher treats apart (see DECODE).
    const dec = await store.createFolder(acc.id, 'Decode');
    for (const raw of DECODE) await deliverMessage(store, { accountId: acc.id, folderId: dec.id, raw });
    c = await TaggedClient.open(server.ports.imaps!, { select: 'Search' });
  });

  after(async () => {
    c?.close();
    await server?.stop();
    await rm(storeDir, { recursive: true, force: true });
  });

  async function seqs(criteria: string): Promise<number[]> {
    const r = await c.run(`SEARCH ${criteria}`);
    assert.equal(r.status, 'OK', `SEARCH ${criteria}: ${r.raw}`);
    return searchResult(r);
  }
  async function uids(criteria: string): Promise<number[]> {
    const r = await c.run(`UID SEARCH ${criteria}`);
    assert.equal(r.status, 'OK', `UID SEARCH ${criteria}: ${r.raw}`);
    return searchResult(r);
  }
  /** SEARCH with the criteria sent as UTF-8 in a LITERAL+ string for the last argument. */
  async function seqsUtf8(prefix: string, value: string): Promise<number[]> {
    const v = Buffer.from(value, 'utf8');
    const r = await c.run(Buffer.concat([Buffer.from(`SEARCH CHARSET UTF-8 ${prefix} {${v.length}+}\r\n`), v]));
    assert.equal(r.status, 'OK', r.raw);
    return searchResult(r);
  }

  it('ALL, sequence sets and UID sets', async () => {
    assert.deepEqual(await seqs('ALL'), [1, 2, 3, 4, 5]);
    assert.deepEqual(await uids('ALL'), [2, 3, 4, 5, 6]);
    assert.deepEqual(await seqs('2:3'), [2, 3]);
    assert.deepEqual(await seqs('*'), [5]);
    assert.deepEqual(await seqs('4,1'), [1, 4]);
    assert.deepEqual(await seqs('UID 3:4'), [2, 3]);
    assert.deepEqual(await uids('UID 3:4'), [3, 4]);
    assert.deepEqual(await uids('UID *'), [6]);
    assert.deepEqual(await uids('UID 100:*'), [6], 'n:* includes the highest UID');
    assert.deepEqual(await uids('1:2'), [2, 3], 'UID SEARCH with a sequence set answers UIDs');
    assert.deepEqual(await seqs('7'), [], 'sequence numbers past the end match nothing');
  });

  it('flag keys', async () => {
    assert.deepEqual(await seqs('ANSWERED'), [2]);
    assert.deepEqual(await seqs('UNANSWERED'), [1, 3, 4, 5]);
    assert.deepEqual(await seqs('DELETED'), [4]);
    assert.deepEqual(await seqs('UNDELETED'), [1, 2, 3, 5]);
    assert.deepEqual(await seqs('DRAFT'), [3]);
    assert.deepEqual(await seqs('UNDRAFT'), [1, 2, 4, 5]);
    assert.deepEqual(await seqs('FLAGGED'), [2]);
    assert.deepEqual(await seqs('UNFLAGGED'), [1, 3, 4, 5]);
    assert.deepEqual(await seqs('SEEN'), [1]);
    assert.deepEqual(await seqs('UNSEEN'), [2, 3, 4, 5]);
    assert.deepEqual(await seqs('KEYWORD $Important'), [3]);
    assert.deepEqual(await seqs('KEYWORD $important'), [3], 'keywords match case-insensitively');
    assert.deepEqual(await seqs('UNKEYWORD $Important'), [1, 2, 4, 5]);
    assert.deepEqual(await seqs('KEYWORD \\Seen'), [1]);
    assert.deepEqual(await seqs('UNDELETED UNSEEN'), [2, 3, 5], 'system flags ANDed');
    assert.deepEqual(await seqs('UNSEEN KEYWORD $IMPORTANT UNDELETED'), [3], 'with a keyword');
    assert.deepEqual(await uids('FLAGGED ANSWERED UNSEEN'), [3]);
    // This server never sets \Recent (SELECT says 0 RECENT).
    assert.deepEqual(await seqs('RECENT'), []);
    assert.deepEqual(await seqs('NEW'), []);
    assert.deepEqual(await seqs('OLD'), [1, 2, 3, 4, 5]);
  });

  it('size and internal-date keys', async () => {
    assert.deepEqual(await seqs('LARGER 10000'), [4]);
    assert.deepEqual(await seqs('SMALLER 10000'), [1, 2, 3, 5]);
    assert.deepEqual(await seqs('BEFORE 10-Mar-2026'), [1]);
    assert.deepEqual(await seqs('ON 10-Mar-2026'), [2]);
    assert.deepEqual(await seqs('SINCE 15-Mar-2026'), [3, 4, 5]);
    assert.deepEqual(await seqs('SINCE "1-Jan-2030"'), []);
  });

  it('sent-date keys use the Date header as written (internal date without one)', async () => {
    assert.deepEqual(await seqs('SENTON 2-Mar-2026'), [1]);
    assert.deepEqual(await seqs('SENTON 3-Mar-2026'), []);
    assert.deepEqual(await seqs('SENTBEFORE 10-Mar-2026'), [1]);
    assert.deepEqual(await seqs('SENTON 15-Mar-2026'), [3]);
    assert.deepEqual(await seqs('SENTSINCE 20-Mar-2026'), [4, 5]);
  });

  it('address and subject keys, with RFC 2047 decoding', async () => {
    assert.deepEqual(await seqs('FROM alice'), [1]);
    assert.deepEqual(await seqs('FROM "ALICE EXAMPLE"'), [1]);
    assert.deepEqual(await seqs('TO bob'), [1]);
    assert.deepEqual(await seqs('TO alice@example.test'), [2, 3, 4, 5]);
    assert.deepEqual(await seqs('CC carol'), [1]);
    assert.deepEqual(await seqs('BCC dave'), [2]);
    assert.deepEqual(await seqs('SUBJECT hello'), [1]);
    assert.deepEqual(await seqsUtf8('FROM', 'äksel müller'), [2], 'B-encoded UTF-8 display name, case-folded');
    assert.deepEqual(await seqsUtf8('FROM', 'zoé'), [3], 'Q-encoded Latin-1');
    assert.deepEqual(await seqsUtf8('SUBJECT', 'GRÜSSE'), [], 'no ß/SS folding');
    assert.deepEqual(await seqsUtf8('SUBJECT', 'grüße aus münchen'), [2], 'adjacent encoded words joined');
    assert.deepEqual(await seqsUtf8('SUBJECT', 'CAFÉ MENU'), [3]);
    assert.deepEqual(await seqs('SUBJECT "=?UTF-8?"'), [], 'the encoded form is not matched');
  });

  it('HEADER with a value and with an empty string', async () => {
    assert.deepEqual(await seqs('HEADER X-Tracking abc'), [1]);
    assert.deepEqual(await seqs('HEADER x-tracking ""'), [1, 4], 'an empty string matches every message with the field');
    assert.deepEqual(await seqs('HEADER Message-ID "<m1@example.test>"'), [1]);
    assert.deepEqual(await seqs('HEADER X-Missing ""'), []);
    // HEADER on the fields whose decoded values the store keeps: the same answers as the keys.
    assert.deepEqual(await seqs('HEADER SUBJECT hello'), [1]);
    assert.deepEqual(await seqs('HEADER from "ALICE EXAMPLE"'), [1]);
    assert.deepEqual(await seqs('HEADER Bcc ""'), [2], 'an empty string matches the messages with the field');
    // A needle with a line break cannot be decided from the kept values: read from the header.
    assert.deepEqual(await seqsUtf8('SUBJECT', 'hello\r\nworld'), []);
    assert.deepEqual(await seqsUtf8('SUBJECT', 'aus münchen'), [2]);
  });

  it('BODY and TEXT decode base64 and quoted-printable and search only text parts', async () => {
    assert.deepEqual(await seqs('BODY biergarten'), [2]);
    assert.deepEqual(await seqsUtf8('BODY', 'ÜBERMORGEN'), [2]);
    assert.deepEqual(await seqsUtf8('BODY', 'café est prêt'), [3]);
    assert.deepEqual(await seqsUtf8('BODY', 'très longue'), [3], 'a soft line break is removed');
    assert.deepEqual(await seqs('BODY quarterly'), [4]);
    assert.deepEqual(await seqs('BODY hiddenword'), [], 'binary attachments are not searched');
    assert.deepEqual(await seqs('BODY "Hello world"'), [], 'BODY does not search the header');
    assert.deepEqual(await seqs('TEXT "hello world"'), [1], 'TEXT searches the header');
    assert.deepEqual(await seqs('TEXT "x-tracking: zzz"'), [4]);
    assert.deepEqual(await seqs('TEXT lazy'), [1]);
    assert.deepEqual(await seqs('TEXT example.test'), [1, 2, 3, 4, 5]);
  });

  it('NOT, OR and parentheses, nested', async () => {
    assert.deepEqual(await seqs('NOT SEEN'), [2, 3, 4, 5]);
    assert.deepEqual(await seqs('OR FLAGGED DRAFT'), [2, 3]);
    assert.deepEqual(await seqs('(FLAGGED SEEN)'), []);
    assert.deepEqual(await seqs('NOT (OR SEEN (OR FLAGGED DRAFT))'), [4, 5]);
    assert.deepEqual(await seqs('OR (NOT UNSEEN) (NOT OR DELETED UNKEYWORD $Important)'), [1, 3]);
    assert.deepEqual(await seqs('NOT NOT NOT NOT FLAGGED'), [2]);
    assert.deepEqual(await seqs('OR SUBJECT hello OR BODY biergarten (LARGER 10000 NOT BODY nothing)'), [1, 2, 4]);
    assert.deepEqual(await seqs('UNDELETED NOT OR SUBJECT hello FROM zoe'), [2, 5]);
    assert.deepEqual(await uids('2:4 NOT UID 4'), [3, 5]);
  });

  it('CHARSET: UTF-8 and US-ASCII accepted, others NO [BADCHARSET]', async () => {
    assert.deepEqual(searchResult(await c.run('SEARCH CHARSET US-ASCII SUBJECT hello')), [1]);
    assert.deepEqual(searchResult(await c.run('SEARCH CHARSET utf-8 SUBJECT hello')), [1]);
    const r = await c.run('SEARCH CHARSET ISO-8859-1 SUBJECT hello');
    assert.equal(r.status, 'NO');
    assert.match(r.text, /^\[BADCHARSET \(UTF-8 US-ASCII\)\]/);
    assert.equal(r.untagged.length, 0);
  });

  it('invalid criteria are BAD', async () => {
    for (const bad of ['', 'FOO', 'BEFORE 32-Jan-2026', 'LARGER x', 'OR SEEN', '0', 'UID 1:0']) {
      const r = await c.run(`SEARCH ${bad}`.trim());
      assert.equal(r.status, 'BAD', `SEARCH ${bad}: ${r.raw}`);
    }
  });

  it('ESEARCH results for RETURN (...)', async () => {
    const r = await c.run('UID SEARCH RETURN (MIN MAX COUNT) UNSEEN', { tag: 'E1' });
    assert.deepEqual(r.untagged, ['ESEARCH (TAG "E1") UID MIN 3 MAX 6 COUNT 4']);
    const all = await c.run('SEARCH RETURN () NOT DELETED', { tag: 'E2' });
    assert.deepEqual(all.untagged, ['ESEARCH (TAG "E2") ALL 1:3,5']);
  });

  it('header keys are answered from the stored index, without reading a blob', async () => {
    reads.count = 0;
    assert.deepEqual(await seqs('FROM alice'), [1]);
    assert.deepEqual(await seqs('OR SUBJECT report HEADER X-Tracking abc'), [1, 4]);
    assert.deepEqual(await seqsUtf8('SUBJECT', 'münchen'), [2]);
    assert.deepEqual(await seqs('NOT TO bob SENTSINCE 1-Mar-2026 UNSEEN'), [2, 3, 4, 5]);
    assert.deepEqual(await seqs('SEEN LARGER 100 SINCE 1-Jan-2026 UID 1:*'), [1]);
    assert.equal(reads.count, 0);
  });

  it('body keys read only the blobs of messages still in question, and only their text parts', async () => {
    reads.count = 0;
    assert.deepEqual(await seqs('FLAGGED BODY biergarten'), [2]);
    assert.equal(reads.count, 1, 'only the one flagged message is read');

    reads.count = 0;
    assert.deepEqual(await seqs('OR SUBJECT hello BODY biergarten'), [1, 2]);
    assert.equal(reads.count, 4, 'the message whose subject matched is not read');

    reads.count = 0;
    reads.bytes = 0;
    assert.deepEqual(await seqs('DELETED BODY quarterly'), [4]);
    assert.equal(reads.count, 1);
    assert.ok(reads.bytes < 1000, `the attachment was not read (${reads.bytes} octets read)`);
  });

  it('a header too big for the index is read from the blob', async () => {
    const b = await TaggedClient.open(server.ports.imaps!, { select: 'Big' });
    try {
      reads.count = 0;
      const r = await b.run('SEARCH SUBJECT needle');
      assert.deepEqual(searchResult(r), [1]);
      assert.equal(reads.count, 1, 'one ranged read of the big header; none for the small message');
      assert.deepEqual(searchResult(await b.run('SEARCH HEADER X-Padding-1099 ppp')), [1]);
      assert.deepEqual(searchResult(await b.run('SEARCH SUBJECT small')), [2]);
    } finally {
      b.close();
    }
  });

  it('BODY finds words in quoted-printable, base64 and 8-bit charsets, across soft line breaks, in any case', async () => {
    const d = await TaggedClient.open(server.ports.imaps!, { select: 'Decode' });
    try {
      const body = async (value: string) => {
        const v = Buffer.from(value, 'utf8');
        const r = await d.run(Buffer.concat([Buffer.from(`SEARCH CHARSET UTF-8 BODY {${v.length}+}\r\n`), v]));
        assert.equal(r.status, 'OK', r.raw);
        return searchResult(r);
      };
      assert.deepEqual(await body('zanzibarite'), [1, 2, 3, 4], 'soft line break, base64, Latin-1 8-bit, mixed case; not the image');
      assert.deepEqual(await body('ärger'), [1, 3], 'non-ASCII capitals, in UTF-8 and in Latin-1');
      assert.deepEqual(await body('ÜBER DIE'), [1]);
      assert.deepEqual(await body('GRÜßE'), [2, 3]);
      assert.deepEqual(await body('straße'), [2]);
      assert.deepEqual(await body('東京'), [5], 'an HTML part is text');
      assert.deepEqual(await body('kelvin'), [6], 'KELVIN SIGN folds to k; the image is not searched');
      assert.deepEqual(await body('zanzibarite ready'), []);
      assert.deepEqual(searchResult(await d.run('SEARCH OR BODY absentword BODY "sample of"')), [1]);
      assert.deepEqual(searchResult(await d.run('SEARCH BODY zanzibarite NOT BODY rare')), [1, 3, 4], 'two needles in one search');
    } finally {
      d.close();
    }
  });

  it('is refused outside the selected state', async () => {
    const o = await TaggedClient.open(server.ports.imaps!);
    try {
      const r = await o.run('SEARCH ALL');
      assert.equal(r.status, 'BAD');
    } finally {
      o.close();
    }
    assert.ok(uidValidity > 0);
  });
});

export type { Reply };
