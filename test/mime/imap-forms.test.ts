// The IMAP wire forms of ENVELOPE, BODY and BODYSTRUCTURE (core/mime/imap-forms.ts): exact
// strings for known shapes, well-formed for every demo message, and the same octets as the
// codec's serializer writes for the same values (test/helpers/structure-oracle.ts), in both
// string modes (plain and UTF8=ACCEPT), for generated structures too.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { bodyStructureValue, bodyValue, envelopeValue, type BodyPartLike, type EnvelopeLike } from '../helpers/structure-oracle.js';
import { Receiver } from '../../protocol-tasks/imap/codec/receiver.js';
import { serializeValue, stringForm } from '../../protocol-tasks/imap/codec/serialize.js';
import type { Envelope, MimePart } from '../../core/mime/types.js';
import { indexMessage } from '../../core/mime/index.js';
import { demoMessages } from '../../core/mime/samples.js';
import { bodyForm, bodyStructureForm, envelopeForm, imapForms } from '../../core/mime/imap-forms.js';

// Compile-time check: the oracle's structural types accept core/mime's types unchanged.
const _env: EnvelopeLike = null as unknown as Envelope;
const _part: BodyPartLike = null as unknown as MimePart;
void _env;
void _part;

const asPart = (p: BodyPartLike) => p as MimePart;
const env = (e: EnvelopeLike) => envelopeForm(e as Envelope);
const bs = (p: BodyPartLike) => bodyStructureForm(asPart(p));
const body = (p: BodyPartLike) => bodyForm(asPart(p));

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

/** Parses a written form with the receiver (as if a client had sent it): well-formed? */
function wellFormed(form: string): void {
  const line = Buffer.from(`A X ${form}\r\n`, 'latin1');
  const evs = new Receiver({ maxCommandSize: 1 << 20, maxArgLiteralSize: 1 << 20 }).feed(line).filter((e) => e.kind !== 'continue');
  assert.equal(evs.length, 1);
  assert.equal(evs[0]!.kind, 'command', JSON.stringify(evs[0]));
}

describe('ENVELOPE', () => {
  it('serializes the RFC 3501 example; absent Sender / empty Reply-To take From', () => {
    assert.equal(
      env(envelope),
      '("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev1 WG mtg summary and minutes" ' +
        '(("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) ' +
        '(("Terry Gray" NIL "gray" "cac.washington.edu")) ((NIL NIL "imap" "cac.washington.edu")) ' +
        '((NIL NIL "minutes" "CNRI.Reston.VA.US") ("John Klensin" NIL "KLENSIN" "MIT.EDU")) NIL NIL ' +
        '"<B27397-0100000@cac.washington.edu>")',
    );
  });

  it('writes 8-bit and quote-heavy header text safely, groups with NIL host', () => {
    const v = env({
      ...envelope,
      subject: 'Gr\xfc\xdfe',
      from: [
        { name: null, adl: null, mailbox: 'team', host: null },
        { name: 'A "B" C', adl: null, mailbox: 'a', host: 'x.example' },
        { name: null, adl: null, mailbox: null, host: null },
      ],
    });
    const out = v;
    assert.ok(out.includes('{5}\r\nGr\xfc\xdfe'));
    assert.ok(out.includes('((NIL NIL "team" NIL) ("A \\"B\\" C" NIL "a" "x.example") (NIL NIL NIL NIL))'));
    wellFormed(v);
  });
});

describe('BODYSTRUCTURE and BODY', () => {
  it('single part, with and without extension data', () => {
    assert.equal(body(text()), '("TEXT" "PLAIN" ("charset" "US-ASCII") NIL NIL "7BIT" 3028 92)');
    assert.equal(bs(text()), '("TEXT" "PLAIN" ("charset" "US-ASCII") NIL NIL "7BIT" 3028 92 NIL NIL NIL NIL)');
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
      bs(att),
      '("APPLICATION" "PDF" ("name" "r.pdf") "<id1@x>" "Report" "BASE64" 4554 "Q2hlY2sgSW50ZWdyaXR5IQ==" ' +
        '("attachment" ("filename" "r.pdf")) ("en" "de") "http://x.example/r.pdf")',
    );
    assert.equal(bs({ ...att, language: ['en'], disposition: { type: 'inline', params: [] } }).includes('("inline" NIL) "en"'), true);
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
      bs(mp),
      '(("TEXT" "PLAIN" ("charset" "US-ASCII") NIL NIL "7BIT" 5 1 NIL NIL NIL NIL)' +
        '("TEXT" "HTML" ("charset" "US-ASCII") NIL NIL "7BIT" 7 2 NIL NIL NIL NIL) "MIXED" ("boundary" "b1") NIL NIL NIL)',
    );
    assert.equal(
      body(mp),
      '(("TEXT" "PLAIN" ("charset" "US-ASCII") NIL NIL "7BIT" 5 1)("TEXT" "HTML" ("charset" "US-ASCII") NIL NIL "7BIT" 7 2) "MIXED")',
    );
    // A multipart without parts still yields valid syntax (1*body).
    assert.ok(body({ ...mp, children: [] }).startsWith('(("TEXT" "PLAIN"'));
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
    const out = body(msg);
    assert.ok(out.startsWith('("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 900 ("Wed, 17 Jul 1996'));
    assert.ok(out.endsWith('("TEXT" "PLAIN" ("charset" "US-ASCII") NIL NIL "7BIT" 10 1) 20)'));
    // Without the encapsulated message (capped), the form stays message-shaped.
    wellFormed(bs({ ...msg, message: undefined }));
  });

  it('very deep structures are capped, not a stack overflow', () => {
    let part: BodyPartLike = text();
    for (let i = 0; i < 5000; i++) part = { ...text(), type: 'multipart', subtype: 'mixed', children: [part] };
    const out = bs(part);
    assert.ok(out.length > 0);
  });

  it('every demo message from the indexer serializes to well-formed values', () => {
    for (const m of demoMessages('user@example.test', new Date('2026-03-05T10:00:00Z'))) {
      const idx = indexMessage(m.raw);
      wellFormed(envelopeForm(idx.envelope));
      wellFormed(bodyStructureForm(idx.root));
      wellFormed(bodyForm(idx.root));
      for (const utf8 of [false, true]) {
        assert.equal(envelopeForm(idx.envelope, { utf8 }), oracle(envelopeValue(idx.envelope), utf8));
        assert.equal(bodyStructureForm(idx.root, { utf8 }), oracle(bodyStructureValue(idx.root), utf8));
        assert.equal(bodyForm(idx.root, { utf8 }), oracle(bodyValue(idx.root), utf8));
      }
    }
  });
});

const oracle = (v: Parameters<typeof serializeValue>[0], utf8: boolean) => serializeValue(v, { utf8 }).toString('latin1');

describe('the same octets as the codec serializer', () => {
  // Header text as the indexer keeps it: binary strings, with the octets that change the form
  // (quote, backslash, CR, LF, NUL, 8-bit, valid and invalid UTF-8) over-represented.
  const octet = fc.oneof(
    fc.constantFrom(0x22, 0x5c, 0x0d, 0x0a, 0x00, 0x20, 0xc3, 0xa9, 0xff, 0x80),
    fc.integer({ min: 0x20, max: 0x7e }),
    fc.integer({ min: 0, max: 0xff }),
  );
  const bin = fc.oneof(
    fc.array(octet, { maxLength: 40 }).map((a) => String.fromCharCode(...a)),
    fc.string({ unit: 'grapheme', maxLength: 12 }).map((t) => Buffer.from(t, 'utf8').toString('latin1')),
    fc.constant('"'.repeat(20)),
    fc.nat({ max: 1100 }).map((n) => 'x'.repeat(n)),
  );
  const nbin = fc.option(bin, { nil: null });
  const address = fc.record({ name: nbin, adl: nbin, mailbox: nbin, host: nbin });
  const list = fc.option(fc.array(address, { maxLength: 3 }), { nil: null });
  const envelopeArb = fc.record({
    date: nbin,
    subject: nbin,
    from: list,
    sender: list,
    replyTo: list,
    to: list,
    cc: list,
    bcc: list,
    inReplyTo: nbin,
    messageId: nbin,
  });
  const params = fc.array(fc.tuple(bin, bin), { maxLength: 3 });
  const leaf = fc.record({
    headerStart: fc.constant(0),
    bodyStart: fc.constant(0),
    bodyEnd: fc.constant(0),
    type: fc.constantFrom('text', 'application', 'image', 'message', 'TEXT'),
    subtype: fc.constantFrom('plain', 'rfc822', 'global', 'pdf', 'x-\xff\xdf'),
    params,
    id: nbin,
    description: nbin,
    encoding: fc.constantFrom('7BIT', 'base64', 'x-\xe9'),
    size: fc.nat(),
    lines: fc.option(fc.nat(), { nil: null }),
    md5: nbin,
    disposition: fc.option(fc.record({ type: bin, params }), { nil: null }),
    language: fc.option(fc.array(bin, { maxLength: 3 }), { nil: null }),
    location: nbin,
  });
  const part = fc.letrec((tie) => ({
    node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('multi'), tie('message')),
    multi: fc.record({ base: leaf, children: fc.array(tie('node'), { maxLength: 3 }) }).map(({ base, children }) => ({
      ...base,
      type: 'multipart',
      children: children as MimePart[],
    })),
    message: fc.record({ base: leaf, envelope: envelopeArb, root: tie('node') }).map(({ base, envelope, root }) => ({
      ...base,
      type: 'message',
      subtype: 'rfc822',
      message: { envelope, root: root as MimePart },
    })),
  })).node as fc.Arbitrary<MimePart>;

  it('ENVELOPE, BODY and BODYSTRUCTURE, plain and UTF8=ACCEPT', () => {
    fc.assert(
      fc.property(envelopeArb, part, (e, p) => {
        for (const utf8 of [false, true]) {
          assert.equal(envelopeForm(e, { utf8 }), oracle(envelopeValue(e), utf8));
          assert.equal(bodyStructureForm(p, { utf8 }), oracle(bodyStructureValue(p), utf8));
          assert.equal(bodyForm(p, { utf8 }), oracle(bodyValue(p), utf8));
        }
      }),
      { numRuns: 400 },
    );
  });

  it('imapForms keeps the UTF8=ACCEPT forms only when they differ', () => {
    fc.assert(
      fc.property(envelopeArb, part, (e, p) => {
        const f = imapForms({ envelope: e, root: p });
        assert.equal(f.envelope, envelopeForm(e));
        assert.equal(f.bodyStructure, bodyStructureForm(p));
        const e8 = envelopeForm(e, { utf8: true });
        const b8 = bodyStructureForm(p, { utf8: true });
        if (e8 === f.envelope && b8 === f.bodyStructure) assert.equal(f.utf8, undefined);
        else assert.deepEqual(f.utf8, { envelope: e8, bodyStructure: b8 });
      }),
      { numRuns: 200 },
    );
  });

  it('the quoted-or-literal rule is the codec stringForm', () => {
    fc.assert(
      fc.property(bin, fc.boolean(), (t, utf8) => {
        const form = envelopeForm({ ...emptyEnvelope, subject: t }, { utf8 });
        const quoted = form.startsWith('(NIL "');
        assert.equal(quoted ? 'quoted' : 'literal', stringForm(Buffer.from(t, 'latin1'), { utf8 }));
      }),
      { numRuns: 500 },
    );
  });
});

const emptyEnvelope: Envelope = {
  date: null,
  subject: null,
  from: null,
  sender: null,
  replyTo: null,
  to: null,
  cc: null,
  bcc: null,
  inReplyTo: null,
  messageId: null,
};
