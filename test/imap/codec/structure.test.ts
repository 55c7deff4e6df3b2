import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bodyStructureValue, bodyValue, envelopeValue, type BodyPartLike, type EnvelopeLike } from '../../../protocol-tasks/imap/codec/structure.js';
import { Receiver } from '../../../protocol-tasks/imap/codec/receiver.js';
import { serializeValue, type ImapValue } from '../../../protocol-tasks/imap/codec/serialize.js';
import type { Envelope, MimePart } from '../../../core/mime/types.js';
import { indexMessage } from '../../../core/mime/index.js';
import { demoMessages } from '../../../core/mime/samples.js';

// Compile-time check: the codec's structural types accept core/mime's types unchanged.
const _env: EnvelopeLike = null as unknown as Envelope;
const _part: BodyPartLike = null as unknown as MimePart;
void _env;
void _part;

const s = (v: ImapValue) => serializeValue(v).toString('latin1');

function text(overrides: Partial<BodyPartLike> = {}): BodyPartLike {
  return {
    type: 'text',
    subtype: 'plain',
    params: [['charset', 'US-ASCII']],
    id: null,
    description: null,
    encoding: '7BIT',
    size: 3028,
    lines: 92,
    md5: null,
    disposition: null,
    language: null,
    location: null,
    ...overrides,
  };
}

const envelope: EnvelopeLike = {
  date: 'Wed, 17 Jul 1996 02:23:25 -0700 (PDT)',
  subject: 'IMAP4rev1 WG mtg summary and minutes',
  from: [{ name: 'Terry Gray', adl: null, mailbox: 'gray', host: 'cac.washington.edu' }],
  sender: null,
  replyTo: [],
  to: [{ name: null, adl: null, mailbox: 'imap', host: 'cac.washington.edu' }],
  cc: [
    { name: null, adl: null, mailbox: 'minutes', host: 'CNRI.Reston.VA.US' },
    { name: 'John Klensin', adl: null, mailbox: 'KLENSIN', host: 'MIT.EDU' },
  ],
  bcc: null,
  inReplyTo: null,
  messageId: '<B27397-0100000@cac.washington.edu>',
};

/** Parses a serialized value with the receiver (as if a client had sent it): well-formed? */
function wellFormed(v: ImapValue): void {
  const line = Buffer.concat([Buffer.from('A X '), serializeValue(v), Buffer.from('\r\n')]);
  const evs = new Receiver({ maxCommandSize: 1 << 20, maxArgLiteralSize: 1 << 20 }).feed(line).filter((e) => e.kind !== 'continue');
  assert.equal(evs.length, 1);
  assert.equal(evs[0]!.kind, 'command', JSON.stringify(evs[0]));
}

describe('ENVELOPE', () => {
  it('serializes the RFC 3501 example; absent Sender / empty Reply-To take From', () => {
    assert.equal(
      s(envelopeValue(envelope)),
      '("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev1 WG mtg summary and minutes" ' +
        '(("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) ' +
        '(("Terry Gray" NIL "gray" "cac.washington.edu")) ((NIL NIL "imap" "cac.washington.edu")) ' +
        '((NIL NIL "minutes" "CNRI.Reston.VA.US") ("John Klensin" NIL "KLENSIN" "MIT.EDU")) NIL NIL ' +
        '"<B27397-0100000@cac.washington.edu>")',
    );
  });

  it('writes 8-bit and quote-heavy header text safely, groups with NIL host', () => {
    const v = envelopeValue({
      ...envelope,
      subject: 'Gr\xfc\xdfe',
      from: [
        { name: null, adl: null, mailbox: 'team', host: null },
        { name: 'A "B" C', adl: null, mailbox: 'a', host: 'x.example' },
        { name: null, adl: null, mailbox: null, host: null },
      ],
    });
    const out = s(v);
    assert.ok(out.includes('{5}\r\nGr\xfc\xdfe'));
    assert.ok(out.includes('((NIL NIL "team" NIL) ("A \\"B\\" C" NIL "a" "x.example") (NIL NIL NIL NIL))'));
    wellFormed(v);
  });
});

describe('BODYSTRUCTURE and BODY', () => {
  it('single part, with and without extension data', () => {
    assert.equal(s(bodyValue(text())), '("TEXT" "PLAIN" ("charset" "US-ASCII") NIL NIL "7BIT" 3028 92)');
    assert.equal(s(bodyStructureValue(text())), '("TEXT" "PLAIN" ("charset" "US-ASCII") NIL NIL "7BIT" 3028 92 NIL NIL NIL NIL)');
    const att: BodyPartLike = {
      ...text(),
      type: 'application',
      subtype: 'pdf',
      params: [['name', 'r.pdf']],
      encoding: 'BASE64',
      size: 4554,
      lines: null,
      md5: 'Q2hlY2sgSW50ZWdyaXR5IQ==',
      disposition: { type: 'attachment', params: [['filename', 'r.pdf']] },
      language: ['en', 'de'],
      location: 'http://x.example/r.pdf',
      id: '<id1@x>',
      description: 'Report',
    };
    assert.equal(
      s(bodyStructureValue(att)),
      '("APPLICATION" "PDF" ("name" "r.pdf") "<id1@x>" "Report" "BASE64" 4554 "Q2hlY2sgSW50ZWdyaXR5IQ==" ' +
        '("attachment" ("filename" "r.pdf")) ("en" "de") "http://x.example/r.pdf")',
    );
    assert.equal(s(bodyStructureValue({ ...att, language: ['en'], disposition: { type: 'inline', params: [] } })).includes('("inline" NIL) "en"'), true);
  });

  it('multipart bodies are written back to back, then subtype and extension data', () => {
    const mp: BodyPartLike = {
      ...text(),
      type: 'multipart',
      subtype: 'mixed',
      params: [['boundary', 'b1']],
      lines: null,
      children: [text({ size: 5, lines: 1 }), text({ subtype: 'html', size: 7, lines: 2 })],
    };
    assert.equal(
      s(bodyStructureValue(mp)),
      '(("TEXT" "PLAIN" ("charset" "US-ASCII") NIL NIL "7BIT" 5 1 NIL NIL NIL NIL)' +
        '("TEXT" "HTML" ("charset" "US-ASCII") NIL NIL "7BIT" 7 2 NIL NIL NIL NIL) "MIXED" ("boundary" "b1") NIL NIL NIL)',
    );
    assert.equal(
      s(bodyValue(mp)),
      '(("TEXT" "PLAIN" ("charset" "US-ASCII") NIL NIL "7BIT" 5 1)("TEXT" "HTML" ("charset" "US-ASCII") NIL NIL "7BIT" 7 2) "MIXED")',
    );
    // A multipart without parts still yields valid syntax (1*body).
    assert.ok(s(bodyValue({ ...mp, children: [] })).startsWith('(("TEXT" "PLAIN"'));
  });

  it('message/rfc822 carries envelope, body and lines', () => {
    const msg: BodyPartLike = {
      ...text(),
      type: 'message',
      subtype: 'rfc822',
      params: [],
      size: 900,
      lines: 20,
      message: { envelope, root: text({ size: 10, lines: 1 }) },
    };
    const out = s(bodyValue(msg));
    assert.ok(out.startsWith('("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 900 ("Wed, 17 Jul 1996'));
    assert.ok(out.endsWith('("TEXT" "PLAIN" ("charset" "US-ASCII") NIL NIL "7BIT" 10 1) 20)'));
    // Without the encapsulated message (capped), the form stays message-shaped.
    wellFormed(bodyStructureValue({ ...msg, message: undefined }));
  });

  it('very deep structures are capped, not a stack overflow', () => {
    let part: BodyPartLike = text();
    for (let i = 0; i < 5000; i++) part = { ...text(), type: 'multipart', subtype: 'mixed', children: [part] };
    const out = s(bodyStructureValue(part));
    assert.ok(out.length > 0);
  });

  it('every demo message from the indexer serializes to well-formed values', () => {
    for (const m of demoMessages('user@example.test', new Date('2026-03-05T10:00:00Z'))) {
      const idx = indexMessage(m.raw);
      wellFormed(envelopeValue(idx.envelope));
      wellFormed(bodyStructureValue(idx.root));
      wellFormed(bodyValue(idx.root));
    }
  });
});
