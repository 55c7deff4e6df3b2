import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inflateSync } from 'node:zlib';
import { indexMessage, indexMessageStrict } from '../../core/mime/indexer.js';
import { demoMessages, demoPng } from '../../core/mime/samples.js';
import { sectionRange } from '../../core/mime/sections.js';
import { DEFAULT_MIME_LIMITS, MAX_STORED_HEADER, type Address, type MessageIndex, type MimePart } from '../../core/mime/types.js';
import { checkInvariants } from './invariants.js';

/** A message from lines joined by CRLF (pass '' for the blank line). */
function crlf(...lines: string[]): Buffer {
  return Buffer.from(lines.join('\r\n'), 'latin1');
}
function lf(...lines: string[]): Buffer {
  return Buffer.from(lines.join('\n'), 'latin1');
}
function ix(raw: Buffer): MessageIndex {
  const i = indexMessageStrict(raw);
  checkInvariants(i);
  return i;
}
function text(raw: Buffer, start: number, end: number): string {
  return raw.toString('latin1', start, end);
}
/** The bytes FETCH BODY[section] would return, e.g. '1.2', '2.HEADER', 'TEXT', '1.MIME'. */
function section(raw: Buffer, index: MessageIndex, spec: string): string | null {
  const parts = spec === '' ? [] : spec.split('.');
  const path: number[] = [];
  while (parts.length > 0 && /^\d+$/.test(parts[0]!)) path.push(Number(parts.shift()));
  const kind = (parts.join('.') || '') as '' | 'MIME' | 'HEADER' | 'TEXT';
  const r = sectionRange(index, path, kind);
  return r ? text(raw, r.start, r.end) : null;
}
function addr(name: string | null, mailbox: string | null, host: string | null, adl: string | null = null): Address {
  return { name, adl, mailbox, host };
}
function timed<T>(label: string, fn: () => T, maxMs = 5000): T {
  const t0 = performance.now();
  const r = fn();
  const ms = performance.now() - t0;
  assert.ok(ms < maxMs, `${label} took ${ms.toFixed(1)} ms`);
  return r;
}
function depthOf(part: MimePart): number {
  let d = 0;
  let p: MimePart | undefined = part;
  while (p) {
    d++;
    p = p.children ? p.children[0] : p.message?.root;
  }
  return d;
}

describe('single-part messages', () => {
  it('splits header and body at the blank line (CRLF)', () => {
    const raw = crlf('From: a@b.example', 'Subject: Hi', '', 'Hello', 'World', '');
    const i = ix(raw);
    assert.equal(i.size, raw.length);
    assert.equal(i.headerSize, 'From: a@b.example\r\nSubject: Hi\r\n\r\n'.length);
    assert.equal(i.header, 'From: a@b.example\r\nSubject: Hi\r\n\r\n');
    assert.deepEqual([i.root.headerStart, i.root.bodyStart, i.root.bodyEnd], [0, i.headerSize, raw.length]);
    assert.equal(section(raw, i, 'TEXT'), 'Hello\r\nWorld\r\n');
    assert.equal(section(raw, i, '1'), 'Hello\r\nWorld\r\n');
    assert.equal(section(raw, i, 'HEADER'), i.header);
    assert.equal(section(raw, i, '1.MIME'), i.header);
    assert.equal(section(raw, i, '2'), null);
    assert.equal(section(raw, i, '1.1'), null);
    assert.equal(i.root.type, 'text');
    assert.equal(i.root.subtype, 'plain');
    assert.deepEqual(i.root.params, [['charset', 'us-ascii']]);
    assert.equal(i.root.encoding, '7BIT');
    assert.equal(i.root.size, 14);
    assert.equal(i.root.lines, 2);
    assert.equal(i.truncated, false);
  });

  it('handles bare LF line ends with offsets into the bytes as they are', () => {
    const raw = lf('Subject: lf', 'Content-Type: text/plain', '', 'one', 'two');
    const i = ix(raw);
    assert.equal(i.header, 'Subject: lf\nContent-Type: text/plain\n\n');
    assert.equal(section(raw, i, 'TEXT'), 'one\ntwo');
    assert.equal(i.root.lines, 1); // LF count, as Dovecot: the last line has no line end
    assert.deepEqual(i.root.params, []);
  });

  it('finds the first blank line when LF and CRLF are mixed', () => {
    assert.equal(ix(Buffer.from('A: 1\r\n\nbody\r\n\r\nmore')).headerSize, 7);
    assert.equal(ix(Buffer.from('A: 1\n\r\nbody\n\nmore')).headerSize, 7);
    assert.equal(ix(Buffer.from('A: 1\nB: 2\n\nx\n\r\ny')).headerSize, 11);
  });

  it('treats a message without a blank line as all header', () => {
    const raw = crlf('Subject: no body', 'X: y');
    const i = ix(raw);
    assert.equal(i.headerSize, raw.length);
    assert.equal(i.root.bodyStart, raw.length);
    assert.equal(i.root.size, 0);
    assert.equal(i.envelope.subject, 'no body');
    assert.equal(section(raw, i, 'TEXT'), '');
  });

  it('indexes an empty message and one that is only a blank line', () => {
    const e = ix(Buffer.alloc(0));
    assert.equal(e.size, 0);
    assert.equal(e.headerSize, 0);
    assert.equal(e.header, '');
    assert.equal(e.root.lines, 0);
    assert.deepEqual(e.envelope.from, null);
    const b = ix(Buffer.from('\r\nbody'));
    assert.equal(b.headerSize, 2);
    assert.equal(section(Buffer.from('\r\nbody'), b, 'TEXT'), 'body');
    assert.equal(ix(Buffer.from('\nbody')).headerSize, 1);
  });

  it('keeps the stored header only up to MAX_STORED_HEADER', () => {
    const big = crlf('Subject: ' + 'x'.repeat(MAX_STORED_HEADER), '', 'b');
    const i = ix(big);
    assert.equal(i.header, null);
    assert.equal(i.headerSize, MAX_STORED_HEADER + 'Subject: \r\n\r\n'.length);
    const exact = Buffer.from('S: ' + 'x'.repeat(MAX_STORED_HEADER - 7) + '\r\n\r\n');
    assert.equal(ix(exact).headerSize, MAX_STORED_HEADER);
    assert.equal(ix(exact).header?.length, MAX_STORED_HEADER);
  });

  it('keeps 8-bit header octets as a binary string', () => {
    const raw = Buffer.concat([Buffer.from('Subject: '), Buffer.from('Grüße 東京', 'utf8'), Buffer.from('\r\nFrom: J\xf6rg <j@x.example>\r\n\r\nb', 'latin1')]);
    const i = ix(raw);
    assert.equal(Buffer.from(i.envelope.subject!, 'latin1').toString('utf8'), 'Grüße 東京');
    assert.equal(i.envelope.from![0]!.name, 'J\xf6rg');
    assert.deepEqual(Buffer.from(i.header!, 'latin1'), raw.subarray(0, i.headerSize));
  });

  it('counts lines of text parts only', () => {
    const t = ix(crlf('Content-Type: text/html', '', 'a', 'b', 'c', ''));
    assert.equal(t.root.lines, 3);
    const a = ix(crlf('Content-Type: application/pdf', '', 'a', 'b', ''));
    assert.equal(a.root.lines, null);
  });
});

describe('multipart offsets', () => {
  const mixed = crlf(
    'From: a@example.com',
    'Content-Type: multipart/mixed; boundary="XX"',
    '',
    'This is the preamble.',
    '--XX',
    'Content-Type: text/plain',
    '',
    'part one',
    '--XX',
    'Content-Type: application/octet-stream',
    'Content-Transfer-Encoding: base64',
    '',
    'AAEC',
    '',
    '--XX--',
    'This is the epilogue.',
    '',
  );

  it('cuts parts so that the line end before a delimiter belongs to the delimiter', () => {
    const i = ix(mixed);
    const kids = i.root.children!;
    assert.equal(kids.length, 2);
    assert.equal(section(mixed, i, '1'), 'part one');
    assert.equal(section(mixed, i, '1.MIME'), 'Content-Type: text/plain\r\n\r\n');
    assert.equal(section(mixed, i, '2'), 'AAEC\r\n');
    assert.equal(section(mixed, i, '2.MIME'), 'Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n');
    assert.equal(section(mixed, i, '3'), null);
    assert.equal(section(mixed, i, '2.HEADER'), null);
    assert.equal(kids[0]!.lines, 0);
    assert.equal(kids[1]!.encoding, 'BASE64');
    assert.equal(kids[1]!.size, 6);
    assert.equal(i.root.lines, null);
    assert.equal(section(mixed, i, 'TEXT')!.startsWith('This is the preamble.'), true);
  });

  it('serves nested multiparts as 1.1, 1.2, 2', () => {
    const raw = crlf(
      'Content-Type: multipart/mixed; boundary=outer',
      '',
      '--outer',
      'Content-Type: multipart/alternative; boundary=inner',
      '',
      '--inner',
      'Content-Type: text/plain',
      '',
      'plain',
      '--inner',
      'Content-Type: text/html',
      '',
      '<p>html</p>',
      '--inner--',
      '',
      '--outer',
      'Content-Type: image/png',
      'Content-Disposition: attachment; filename="a.png"',
      '',
      'PNG',
      '--outer--',
    );
    const i = ix(raw);
    assert.equal(section(raw, i, '1.1'), 'plain');
    assert.equal(section(raw, i, '1.2'), '<p>html</p>');
    assert.equal(section(raw, i, '1.2.MIME'), 'Content-Type: text/html\r\n\r\n');
    assert.equal(section(raw, i, '2'), 'PNG');
    assert.equal(section(raw, i, '1'), '--inner\r\nContent-Type: text/plain\r\n\r\nplain\r\n--inner\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--inner--\r\n');
    assert.equal(i.root.children![0]!.subtype, 'alternative');
    assert.deepEqual(i.root.children![1]!.disposition, { type: 'attachment', params: [['filename', 'a.png']] });
  });

  it('serves message/rfc822 parts: 2, 2.HEADER, 2.TEXT, 2.1, 2.2', () => {
    const raw = crlf(
      'Subject: outer',
      'Content-Type: multipart/mixed; boundary="b1"',
      '',
      '--b1',
      '',
      'see attached',
      '--b1',
      'Content-Type: message/rfc822',
      '',
      'From: Inner Sender <inner@example.org>',
      'Subject: inner',
      'Content-Type: multipart/alternative; boundary="b2"',
      '',
      '--b2',
      '',
      'inner text',
      '--b2',
      'Content-Type: text/html',
      '',
      '<b>inner</b>',
      '--b2--',
      '--b1--',
      '',
    );
    const i = ix(raw);
    assert.equal(section(raw, i, '1'), 'see attached');
    assert.equal(section(raw, i, '1.MIME'), '\r\n');
    assert.deepEqual(i.root.children![0]!.params, [['charset', 'us-ascii']]);
    const m = i.root.children![1]!;
    assert.equal(m.type, 'message');
    assert.equal(m.subtype, 'rfc822');
    assert.ok(m.message);
    assert.equal(m.message.envelope.subject, 'inner');
    assert.deepEqual(m.message.envelope.from, [addr('Inner Sender', 'inner', 'example.org')]);
    assert.equal(section(raw, i, '2.HEADER'), 'From: Inner Sender <inner@example.org>\r\nSubject: inner\r\nContent-Type: multipart/alternative; boundary="b2"\r\n\r\n');
    assert.equal(section(raw, i, '2.TEXT'), '--b2\r\n\r\ninner text\r\n--b2\r\nContent-Type: text/html\r\n\r\n<b>inner</b>\r\n--b2--');
    assert.equal(section(raw, i, '2'), section(raw, i, '2.HEADER')! + section(raw, i, '2.TEXT')!);
    assert.equal(section(raw, i, '2.1'), 'inner text');
    assert.equal(section(raw, i, '2.2'), '<b>inner</b>');
    assert.equal(section(raw, i, '2.2.MIME'), 'Content-Type: text/html\r\n\r\n');
    assert.equal(m.lines, section(raw, i, '2')!.split('\n').length - 1);
    assert.equal(i.envelope.subject, 'outer');
  });

  it('serves a non-multipart message/rfc822 part: 2.1 is its body', () => {
    const raw = crlf('Content-Type: multipart/mixed; boundary=z', '', '--z', 'Content-Type: message/rfc822', '', 'Subject: in', '', 'body of in', '--z--');
    const i = ix(raw);
    assert.equal(section(raw, i, '1.1'), 'body of in');
    assert.equal(section(raw, i, '1.HEADER'), 'Subject: in\r\n\r\n');
    assert.equal(section(raw, i, '1.1.1'), null);
  });

  it('accepts a top-level message/rfc822 body', () => {
    const raw = crlf('Content-Type: message/rfc822', '', 'Subject: inner', '', 'x');
    const i = ix(raw);
    assert.equal(i.root.message?.envelope.subject, 'inner');
    assert.equal(section(raw, i, '1.HEADER'), 'Subject: inner\r\n\r\n');
    assert.equal(section(raw, i, '1.1'), 'x');
  });

  it('ends the last part at the end of the body when the closing delimiter is missing', () => {
    const raw = crlf('Content-Type: multipart/mixed; boundary=q', '', '--q', '', 'first', '--q', '', 'last part', 'still last', '');
    const i = ix(raw);
    assert.equal(i.root.children!.length, 2);
    assert.equal(section(raw, i, '2'), 'last part\r\nstill last\r\n');
  });

  it("lets a parent's delimiter end a child multipart that never closes", () => {
    const raw = crlf(
      'Content-Type: multipart/mixed; boundary=P',
      '',
      '--P',
      'Content-Type: multipart/alternative; boundary=C',
      '',
      '--C',
      '',
      'c1',
      '--C',
      '',
      'c2',
      '--P',
      '',
      'p2',
      '--P--',
    );
    const i = ix(raw);
    assert.equal(section(raw, i, '1.1'), 'c1');
    assert.equal(section(raw, i, '1.2'), 'c2');
    assert.equal(section(raw, i, '2'), 'p2');
  });

  it('does not confuse boundaries that share a prefix (either way round)', () => {
    for (const [outer, inner] of [
      ['abc', 'abcdef'],
      ['abcdef', 'abc'],
      ['=_x', '=_x-'],
    ] as const) {
      const raw = crlf(
        `Content-Type: multipart/mixed; boundary="${outer}"`,
        '',
        `--${outer}`,
        `Content-Type: multipart/alternative; boundary="${inner}"`,
        '',
        `--${inner}`,
        '',
        'i1',
        `--${inner}`,
        '',
        'i2',
        `--${inner}--`,
        `--${outer}`,
        '',
        'o2',
        `--${outer}--`,
      );
      const i = ix(raw);
      assert.equal(i.root.children!.length, 2, `${outer}/${inner}`);
      assert.equal(section(raw, i, '1.1'), 'i1');
      assert.equal(section(raw, i, '1.2'), 'i2');
      assert.equal(section(raw, i, '2'), 'o2');
    }
  });

  it('accepts transport padding after a delimiter and ignores lines that only start like one', () => {
    const raw = crlf('Content-Type: multipart/mixed; boundary=b', '', '--b  \t', '', 'x', '--bb', '--b-', ' --b', '--b--  ', 'epilogue');
    const i = ix(raw);
    assert.equal(i.root.children!.length, 1);
    assert.equal(section(raw, i, '1'), 'x\r\n--bb\r\n--b-\r\n --b');
  });

  it('gives empty parts for consecutive delimiters', () => {
    const raw = crlf('Content-Type: multipart/mixed; boundary=e', '', '--e', '--e', '', '', '--e--');
    const i = ix(raw);
    const [a, b] = i.root.children!;
    assert.equal(i.root.children!.length, 2);
    assert.equal(a!.headerStart, a!.bodyEnd);
    assert.equal(a!.size, 0);
    assert.equal(section(raw, i, '2.MIME'), '\r\n');
    assert.equal(section(raw, i, '2'), '');
    assert.equal(b!.size, 0);
  });

  it('handles a part header that runs into the next delimiter', () => {
    const raw = crlf('Content-Type: multipart/mixed; boundary=h', '', '--h', 'Content-Type: text/html', '--h--');
    const i = ix(raw);
    const p = i.root.children![0]!;
    assert.equal(p.type, 'text');
    assert.equal(p.subtype, 'html');
    assert.equal(text(raw, p.headerStart, p.bodyStart), 'Content-Type: text/html');
    assert.equal(p.size, 0);
  });

  it('parses bare-LF multiparts', () => {
    const raw = lf('Content-Type: multipart/mixed; boundary=L', '', 'pre', '--L', 'Content-Type: text/plain', '', 'one', '', '--L', '', 'two', '--L--', '');
    const i = ix(raw);
    assert.equal(section(raw, i, '1'), 'one\n');
    assert.equal(section(raw, i, '1.MIME'), 'Content-Type: text/plain\n\n');
    assert.equal(section(raw, i, '2'), 'two');
    assert.equal(i.root.children![0]!.lines, 1);
  });

  it('indexes a multipart without a boundary, or without delimiters, as one text/plain part', () => {
    for (const ct of ['multipart/mixed', 'multipart/mixed; boundary=""', 'multipart/mixed; boundary=zz']) {
      const raw = crlf(`Content-Type: ${ct}`, '', 'no parts here', '');
      const i = ix(raw);
      assert.equal(i.root.type, 'text', ct);
      assert.equal(i.root.subtype, 'plain');
      assert.equal(i.root.children, undefined);
      assert.equal(i.root.lines, 1);
      assert.equal(section(raw, i, '1'), 'no parts here\r\n');
      assert.equal(i.truncated, false);
    }
    // only a closing delimiter: no part
    const closeOnly = ix(crlf('Content-Type: multipart/mixed; boundary=c', '', '--c--', ''));
    assert.equal(closeOnly.root.type, 'text');
  });

  it('defaults parts of multipart/digest to message/rfc822', () => {
    const raw = crlf(
      'Content-Type: multipart/digest; boundary=d',
      '',
      '--d',
      '',
      'Subject: first',
      '',
      'one',
      '--d',
      'Content-Type: text/plain',
      '',
      'two',
      '--d--',
    );
    const i = ix(raw);
    const [a, b] = i.root.children!;
    assert.equal(a!.type, 'message');
    assert.equal(a!.subtype, 'rfc822');
    assert.deepEqual(a!.params, []);
    assert.equal(a!.message!.envelope.subject, 'first');
    assert.equal(section(raw, i, '1.TEXT'), 'one');
    assert.equal(b!.type, 'text');
  });

  it('parses message/global like message/rfc822', () => {
    const raw = crlf('Content-Type: message/global', '', 'Subject: g', '', 'x');
    const i = ix(raw);
    assert.equal(i.root.message!.envelope.subject, 'g');
    assert.equal(i.root.lines, 2);
  });
});

describe('Content-* fields', () => {
  it('parses Content-Type parameters: quoting, comments, case, sloppy values', () => {
    const i = ix(
      crlf(
        'CONTENT-TYPE: Text/HTML (a comment) ; CharSet="UTF-8" ;',
        '\tname="a \\"quoted\\" (x); y" ; format=flowed (comment) ; bare=my file.txt; empty=""; noval; enc==?utf-8?q?x?=',
        '',
        '',
      ),
    );
    assert.equal(i.root.type, 'text');
    assert.equal(i.root.subtype, 'html');
    assert.deepEqual(i.root.params, [
      ['charset', 'UTF-8'],
      ['name', 'a "quoted" (x); y'],
      ['format', 'flowed'],
      ['bare', 'my file.txt'],
      ['empty', ''],
      ['enc', '=?utf-8?q?x?='],
    ]);
  });

  it('falls back to text/plain; charset=us-ascii for a broken Content-Type', () => {
    for (const ct of ['', 'text', '/plain', 'text/', ';charset=x', '(only a comment)']) {
      const i = ix(crlf(`Content-Type: ${ct}`, '', 'x'));
      assert.deepEqual([i.root.type, i.root.subtype, i.root.params], ['text', 'plain', [['charset', 'us-ascii']]], ct);
    }
  });

  it('joins RFC 2231 continuations and keeps the raw octets', () => {
    const i = ix(
      crlf(
        'Content-Type: application/pdf;',
        " title*0*=utf-8''%E2%82%AC%20rates;",
        ' title*2="and more";',
        ' title*1*=%20for%20;',
        ' other=1;',
        ' plain*0="long ";',
        ' plain*1="name.pdf";',
        " single*=iso-8859-1'en'%A3",
        'Content-Disposition: attachment; filename*0="a"; filename*1="b.txt"',
        '',
        'x',
      ),
    );
    assert.deepEqual(i.root.params, [
      ['title*', "utf-8''%E2%82%AC%20rates%20for%20and%20more"],
      ['other', '1'],
      ['plain', 'long name.pdf'],
      ['single*', "iso-8859-1'en'%A3"],
    ]);
    assert.deepEqual(i.root.disposition, { type: 'attachment', params: [['filename', 'ab.txt']] });
  });

  it('reads Content-Transfer-Encoding, -ID, -Description, -MD5, -Language, -Location', () => {
    const i = ix(
      crlf(
        'Content-Type: text/plain',
        'Content-Transfer-Encoding:  Quoted-Printable (qp)',
        'Content-ID: <part1@example.com>',
        'Content-Description: A description,',
        '  folded',
        'Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==',
        'Content-Language: en-US (English), de ,',
        'Content-Location: https://example.com/x',
        'Content-Disposition: INLINE',
        '',
        'x',
      ),
    );
    const p = i.root;
    assert.equal(p.encoding, 'QUOTED-PRINTABLE');
    assert.equal(p.id, '<part1@example.com>');
    assert.equal(p.description, 'A description,  folded');
    assert.equal(p.md5, 'Q2hlY2sgSW50ZWdyaXR5IQ==');
    assert.deepEqual(p.language, ['en-US', 'de']);
    assert.equal(p.location, 'https://example.com/x');
    assert.deepEqual(p.disposition, { type: 'inline', params: [] });
  });

  it('uses defaults when the fields are absent or empty, and the first occurrence otherwise', () => {
    const i = ix(crlf('Content-Transfer-Encoding:', 'Content-ID:', 'Content-Disposition: ;x=1', 'Content-Type: text/html', 'Content-Type: image/gif', '', ''));
    assert.equal(i.root.encoding, '7BIT');
    assert.equal(i.root.id, null);
    assert.equal(i.root.disposition, null);
    assert.equal(i.root.language, null);
    assert.equal(i.root.subtype, 'html');
  });

  it('matches header names case-insensitively and unfolds values', () => {
    const i = ix(crlf('sUbJeCt: folded', '\tover', '  three lines', 'content-type : text/x-custom;', ' charset=latin1', '', ''));
    assert.equal(i.envelope.subject, 'folded\tover  three lines');
    assert.equal(i.root.subtype, 'x-custom');
    assert.deepEqual(i.root.params, [['charset', 'latin1']]);
  });
});

describe('envelope', () => {
  it('fills every field and defaults sender and reply-to to from', () => {
    const i = ix(
      crlf(
        'Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)',
        'From: Fred Foobar <foobar@Blurdybloop.example>',
        'Subject: afternoon meeting',
        'To: mooch@owatagu.siam.edu.example',
        'Cc: "Doe, Jane" <jane@x.example>, bob@y.example',
        'Bcc: hidden@z.example',
        'In-Reply-To: <parent@x.example>',
        'Message-Id: <B27397-0100000@Blurdybloop.example>',
        '',
        'x',
      ),
    );
    const e = i.envelope;
    assert.equal(e.date, 'Mon, 7 Feb 1994 21:52:25 -0800 (PST)');
    assert.equal(e.subject, 'afternoon meeting');
    const fred = [addr('Fred Foobar', 'foobar', 'Blurdybloop.example')];
    assert.deepEqual(e.from, fred);
    assert.deepEqual(e.sender, fred);
    assert.deepEqual(e.replyTo, fred);
    assert.deepEqual(e.to, [addr(null, 'mooch', 'owatagu.siam.edu.example')]);
    assert.deepEqual(e.cc, [addr('Doe, Jane', 'jane', 'x.example'), addr(null, 'bob', 'y.example')]);
    assert.deepEqual(e.bcc, [addr(null, 'hidden', 'z.example')]);
    assert.equal(e.inReplyTo, '<parent@x.example>');
    assert.equal(e.messageId, '<B27397-0100000@Blurdybloop.example>');
  });

  it('leaves absent fields null and treats empty Sender/Reply-To as absent', () => {
    const i = ix(crlf('From: a@b.example', 'Sender:', 'Reply-To:   ', 'To:', '', ''));
    assert.deepEqual(i.envelope.sender, [addr(null, 'a', 'b.example')]);
    assert.deepEqual(i.envelope.replyTo, [addr(null, 'a', 'b.example')]);
    assert.equal(i.envelope.to, null);
    assert.equal(i.envelope.date, null);
    assert.equal(i.envelope.messageId, null);
    const none = ix(crlf('X: y', '', ''));
    assert.deepEqual(Object.values(none.envelope), Array(10).fill(null));
  });

  it('uses Sender and Reply-To when present', () => {
    const i = ix(crlf('From: a@b.example', 'Sender: s@b.example', 'Reply-To: r@b.example, <r2@b.example>', '', ''));
    assert.deepEqual(i.envelope.sender, [addr(null, 's', 'b.example')]);
    assert.deepEqual(i.envelope.replyTo, [addr(null, 'r', 'b.example'), addr(null, 'r2', 'b.example')]);
  });

  it('takes the first of repeated fields', () => {
    const i = ix(crlf('Subject: first', 'Subject: second', 'To: one@x.example', 'To: two@x.example', '', ''));
    assert.equal(i.envelope.subject, 'first');
    assert.deepEqual(i.envelope.to, [addr(null, 'one', 'x.example')]);
  });

  it('parses display names, quoted strings, comments and encoded words (kept raw)', () => {
    const i = ix(
      crlf(
        'To: "Joe Q. Public" <john.q.public@example.com>, Mary Smith <mary@x.test>,',
        ' jdoe@one.test (John Doe), "Giant; \\"Big\\" Box" <sysservices@example.net>,',
        ' =?UTF-8?B?w4RsZm/DnyBLw7xobg==?= <ak@example.de>, John Q. Public <jqp@example.org>,',
        ' <bare@example.org>, pete(his account)@silly.test(his host), "quoted local"@example.com,',
        ' first.last@[192.0.2.1], john@example.com <john@example.com>',
        '',
        '',
      ),
    );
    assert.deepEqual(i.envelope.to, [
      addr('Joe Q. Public', 'john.q.public', 'example.com'),
      addr('Mary Smith', 'mary', 'x.test'),
      addr('John Doe', 'jdoe', 'one.test'),
      addr('Giant; "Big" Box', 'sysservices', 'example.net'),
      addr('=?UTF-8?B?w4RsZm/DnyBLw7xobg==?=', 'ak', 'example.de'),
      addr('John Q. Public', 'jqp', 'example.org'),
      addr(null, 'bare', 'example.org'),
      addr('his account', 'pete', 'silly.test'),
      addr(null, '"quoted local"', 'example.com'),
      addr(null, 'first.last', '[192.0.2.1]'),
      addr('john@example.com', 'john', 'example.com'),
    ]);
  });

  it('marks groups with start and end entries', () => {
    const i = ix(
      crlf('To: A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;, solo@x.test', 'Cc: undisclosed-recipients:;', 'Bcc: "Quoted Group": a@b.test (no end)', '', ''),
    );
    assert.deepEqual(i.envelope.to, [
      addr(null, 'A Group', null),
      addr('Ed Jones', 'c', 'a.test'),
      addr(null, 'joe', 'where.test'),
      addr('John', 'jdoe', 'one.test'),
      addr(null, null, null),
      addr(null, 'solo', 'x.test'),
    ]);
    assert.deepEqual(i.envelope.cc, [addr(null, 'undisclosed-recipients', null), addr(null, null, null)]);
    assert.deepEqual(i.envelope.bcc, [addr(null, 'Quoted Group', null), addr('no end', 'a', 'b.test'), addr(null, null, null)]);
  });

  it('handles missing domains, empty addresses and obsolete routes', () => {
    const i = ix(
      crlf('From: root', 'To: <@relay1.test,@relay2.test:user@final.test>, Name <local>, <>, ,, @only.test', 'Cc: "Just A Name"', '', ''),
    );
    assert.deepEqual(i.envelope.from, [addr(null, 'root', '')]);
    assert.deepEqual(i.envelope.to, [
      addr(null, 'user', 'final.test', '@relay1.test,@relay2.test'),
      addr('Name', 'local', ''),
      addr(null, '', ''),
      addr(null, '', 'only.test'),
    ]);
    assert.deepEqual(i.envelope.cc, [addr(null, '"Just A Name"', '')]);
  });

  it('never yields a null host outside group markers, whatever the junk', () => {
    const junk = ['<<<>>>', ':::;;;', '"unterminated', '(unterminated comment', 'a@b@c', '@', '<a@b', 'g: <x@y', 'x\\y@z', ';;a@b;;', '[lit', 'a:b:c@d;e'];
    for (const j of junk) {
      const list = ix(crlf(`To: ${j}`, '', '')).envelope.to ?? [];
      let depth = 0;
      for (const a of list) {
        if (a.host === null) {
          if (a.mailbox === null) depth--;
          else depth++;
          assert.ok(depth === 0 || depth === 1, j);
        }
      }
      assert.equal(depth, 0, j);
    }
  });
});

describe('bounds and adversarial input', () => {
  it('caps 1,000-deep multipart nesting without recursion', () => {
    const depth = 1000;
    let head = '';
    let tail = '';
    for (let d = 0; d < depth; d++) {
      head += `Content-Type: multipart/mixed; boundary="b${d}"\r\n\r\n--b${d}\r\n`;
      tail = `\r\n--b${d}--\r\n` + tail;
    }
    const raw = Buffer.from(head + 'Content-Type: text/plain\r\n\r\ninnermost' + tail);
    const i = timed('1000-deep multipart', () => ix(raw));
    assert.equal(i.truncated, true);
    assert.equal(depthOf(i.root), DEFAULT_MIME_LIMITS.maxDepth + 1);
    // Without a depth cap the iterative indexer still copes (no stack overflow).
    const deep = timed('1000-deep multipart, no depth cap', () => indexMessageStrict(raw, { ...DEFAULT_MIME_LIMITS, maxDepth: 1e9, maxParts: 1e9 }), 10_000);
    assert.equal(deep.truncated, false);
    assert.equal(depthOf(deep.root), depth + 1);
    let p = deep.root;
    while (p.children) p = p.children[0]!;
    assert.equal(text(raw, p.bodyStart, p.bodyEnd), 'innermost');
  });

  it('caps 1,000-deep message/rfc822 nesting', () => {
    const raw = Buffer.from('Subject: s\r\nContent-Type: message/rfc822\r\n\r\n'.repeat(1000) + 'Subject: last\r\n\r\nbody');
    const i = timed('1000-deep rfc822', () => ix(raw));
    assert.equal(i.truncated, true);
    assert.equal(depthOf(i.root), DEFAULT_MIME_LIMITS.maxDepth + 1);
    let p = i.root;
    while (p.message) p = p.message.root;
    assert.equal(p.type, 'application'); // the capped message/rfc822, degraded
    assert.equal(p.subtype, 'octet-stream');
    const deep = timed('1000-deep rfc822, no cap', () => indexMessageStrict(raw, { ...DEFAULT_MIME_LIMITS, maxDepth: 1e9, maxParts: 1e9 }), 10_000);
    assert.equal(deep.truncated, false);
    assert.equal(depthOf(deep.root), 1001);
  });

  it('caps 10,000 parts', () => {
    let body = '';
    for (let k = 0; k < 10_000; k++) body += `--p\r\nContent-Type: text/plain\r\n\r\npart ${k}\r\n`;
    const raw = Buffer.from('Content-Type: multipart/mixed; boundary=p\r\n\r\n' + body + '--p--\r\n');
    const i = timed('10,000 parts', () => ix(raw));
    assert.equal(i.truncated, true);
    assert.equal(i.root.children!.length, DEFAULT_MIME_LIMITS.maxParts - 1);
    assert.equal(section(raw, i, '999'), 'part 998');
    const full = timed('10,000 parts, raised cap', () => indexMessageStrict(raw, { ...DEFAULT_MIME_LIMITS, maxParts: 20_000 }));
    assert.equal(full.truncated, false);
    assert.equal(full.root.children!.length, 10_000);
    assert.equal(section(raw, full, '10000'), 'part 9999');
  });

  it('caps 100,000 address header fields', () => {
    let h = 'From: a@b.example\r\n';
    for (let k = 0; k < 100_000; k++) h += `To: user${k}@example.com\r\n`;
    const raw = Buffer.from(h + '\r\nbody');
    const i = timed('100,000 address headers', () => ix(raw));
    assert.equal(i.truncated, true);
    assert.deepEqual(i.envelope.to, [addr(null, 'user0', 'example.com')]);
    assert.equal(i.headerSize, h.length + 2);
    assert.equal(i.header, null);
  });

  it('caps 100,000 addresses in one field', () => {
    const list = Array.from({ length: 100_000 }, (_, k) => `"User ${k}" <u${k}@example.com>`).join(',\r\n ');
    const raw = Buffer.from(`To: ${list}\r\nCc: ${list}\r\n\r\nbody`);
    const i = timed('100,000 addresses in a field', () => ix(raw));
    assert.equal(i.truncated, true);
    assert.ok(i.envelope.to!.length <= DEFAULT_MIME_LIMITS.maxAddresses);
    assert.deepEqual(i.envelope.to![0], addr('User 0', 'u0', 'example.com'));
    const wide = timed('100,000 addresses, raised caps', () =>
      indexMessageStrict(raw, { ...DEFAULT_MIME_LIMITS, maxHeaderLength: 1e9, maxAddresses: 1e9 }),
      3000, // 200,000 addresses parsed in full: linear, but not free
    );
    assert.equal(wide.envelope.to!.length, 100_000);
    assert.equal(wide.envelope.cc!.length, 100_000);
    assert.deepEqual(wide.envelope.to![99_999], addr('User 99999', 'u99999', 'example.com'));
  });

  it('caps 10,000 MIME parameters, and joins 10,000 RFC 2231 segments in linear time', () => {
    const params = Array.from({ length: 10_000 }, (_, k) => `p${k}=v${k}`).join(';\r\n ');
    const raw = Buffer.from(`Content-Type: text/plain; ${params}\r\nContent-Disposition: attachment; ${params}\r\n\r\nx`);
    const i = timed('10,000 params', () => ix(raw));
    assert.equal(i.truncated, true);
    assert.equal(i.root.params.length, DEFAULT_MIME_LIMITS.maxParams);
    assert.equal(i.root.disposition!.params.length, DEFAULT_MIME_LIMITS.maxParams);
    const segs = Array.from({ length: 10_000 }, (_, k) => `name*${9_999 - k}*=%4${k % 10}`).join('; ');
    const r2 = Buffer.from(`Content-Type: application/x; ${segs}\r\n\r\nx`);
    const j = timed('10,000 RFC 2231 segments', () => indexMessageStrict(r2, { ...DEFAULT_MIME_LIMITS, maxParams: 1e9, maxHeaderLength: 1e9 }));
    assert.equal(j.root.params.length, 1);
    assert.equal(j.root.params[0]![0], 'name*');
    assert.equal(j.root.params[0]![1].length, 30_000);
  });

  it('indexes a 1 MB message without any line end', () => {
    const raw = Buffer.alloc(1 << 20, 'a');
    const i = timed('1 MB, no CRLF', () => ix(raw));
    assert.equal(i.headerSize, raw.length);
    assert.equal(i.header, null);
    assert.equal(i.root.size, 0);
    const colon = Buffer.alloc(1 << 20, 'b:');
    timed('1 MB of b:b:b:', () => ix(colon));
  });

  it('indexes a 1 MB single header line, parsing only its first maxHeaderLength octets', () => {
    const raw = Buffer.from('Subject: ' + 's'.repeat(1 << 20) + '\r\nFrom: x@y.example\r\n\r\nbody');
    const i = timed('1 MB header line', () => ix(raw));
    assert.equal(i.truncated, true);
    assert.equal(i.envelope.subject!.length, DEFAULT_MIME_LIMITS.maxHeaderLength - 1);
    assert.deepEqual(i.envelope.from, [addr(null, 'x', 'y.example')]);
    assert.equal(section(raw, i, 'TEXT'), 'body');
  });

  it('stays linear on other pathological shapes', () => {
    // 200,000 header lines without a colon; 100,000 nested comment parens; near-boundaries.
    timed('200,000 junk header lines', () => ix(Buffer.from('junk line\r\n'.repeat(200_000) + '\r\nb')));
    timed('nested comments', () => ix(Buffer.from('From: ' + '('.repeat(100_000) + 'x@y\r\nContent-Type: text/plain; a=' + '('.repeat(50_000) + '\r\n\r\n')));
    const near = 'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n' + '--bx\r\n'.repeat(150_000) + 'x--b--b--b'.repeat(50_000) + '\r\n--b--';
    const i = timed('near-boundaries', () => ix(Buffer.from(near)));
    assert.equal(i.root.children!.length, 1);
    let multi = 'Content-Type: multipart/mixed; boundary=m\r\n\r\n';
    for (let k = 0; k < 900; k++) multi += `--m\r\nContent-Type: multipart/mixed; boundary=n${k}\r\n\r\n` + `--n${k}\r\n\r\nx\r\n`.repeat(1) + '\r\n';
    timed('many sibling multiparts', () => ix(Buffer.from(multi)));
    const lines = Buffer.from('Content-Type: text/plain\r\n\r\n' + '\n'.repeat(5 << 20));
    assert.equal(timed('5 MB of empty lines', () => ix(lines)).root.lines, 5 << 20);
  });

  it('honours custom limits', () => {
    const raw = crlf('To: a@x.test, b@x.test, c@x.test', 'Content-Type: text/plain; a=1; b=2; c=3', 'X: 1', 'Subject: late', '', '');
    const i = indexMessageStrict(raw, { ...DEFAULT_MIME_LIMITS, maxAddresses: 2, maxParams: 2, maxHeaders: 3 });
    assert.equal(i.truncated, true);
    assert.equal(i.envelope.to!.length, 2);
    assert.equal(i.root.params.length, 2);
    assert.equal(i.envelope.subject, null); // the 4th field was not parsed
    assert.equal(indexMessageStrict(raw).truncated, false);
  });

  it('never throws, even with nonsense limits', () => {
    const raw = crlf('Content-Type: multipart/mixed; boundary=b', '', '--b', '', 'x', '--b--');
    for (const limits of [
      { maxDepth: -1, maxParts: 0, maxHeaders: 0, maxHeaderLength: 0, maxAddresses: 0, maxParams: 0 },
      { maxDepth: NaN, maxParts: NaN, maxHeaders: NaN, maxHeaderLength: NaN, maxAddresses: NaN, maxParams: NaN },
    ]) {
      checkInvariants(indexMessage(raw, limits));
    }
  });

  it('falls back to one opaque part if the parser ever fails', () => {
    const raw = crlf('Subject: x', '', 'a', 'b');
    const broken = { ...DEFAULT_MIME_LIMITS } as Record<string, number>;
    Object.defineProperty(broken, 'maxDepth', {
      get() {
        throw new Error('boom');
      },
    });
    assert.throws(() => indexMessageStrict(raw, broken as never), /boom/);
    const i = indexMessage(raw, broken as never);
    checkInvariants(i);
    assert.equal(i.truncated, true);
    assert.deepEqual([i.root.bodyStart, i.root.bodyEnd, i.root.type, i.root.lines], [0, raw.length, 'text', 3]); // the whole message is the body
  });
});

describe('demo samples', () => {
  const now = new Date('2026-03-10T12:00:00Z');
  const msgs = demoMessages('demo@example.test', now);

  it('gives 6 to 8 CRLF messages that index without truncation', () => {
    assert.ok(msgs.length >= 6 && msgs.length <= 8);
    const ids = new Set<string>();
    let last = 0;
    for (const m of msgs) {
      const i = ix(m.raw);
      assert.equal(i.truncated, false);
      assert.ok(i.envelope.messageId);
      ids.add(i.envelope.messageId);
      assert.ok(i.envelope.date && i.envelope.from && i.envelope.to);
      assert.equal(m.raw.toString('latin1').replace(/\r\n/g, '').includes('\n'), false, 'CRLF only');
      assert.ok(m.internalDate.getTime() <= now.getTime() && m.internalDate.getTime() > now.getTime() - 8 * 86400_000);
      assert.ok(m.internalDate.getTime() >= last, 'oldest first');
      last = m.internalDate.getTime();
      assert.ok(m.raw.every((b) => b < 128), '7-bit clean');
    }
    assert.equal(ids.size, msgs.length);
    assert.ok(msgs.some((m) => m.flags.includes('\\Seen')));
    assert.deepEqual(demoMessages('demo@example.test', now).map((m) => m.raw), msgs.map((m) => m.raw), 'deterministic');
  });

  it('covers the shapes the demo promises', () => {
    const idx = msgs.map((m) => ix(m.raw));
    const find = (pred: (i: MessageIndex) => boolean): MessageIndex => {
      const f = idx.find(pred);
      assert.ok(f);
      return f;
    };
    find((i) => i.root.type === 'text' && i.root.subtype === 'plain');
    const alt = find((i) => i.root.subtype === 'alternative');
    assert.deepEqual(alt.root.children!.map((c) => c.subtype), ['plain', 'html']);
    find((i) => /^=\?UTF-8\?[BQ]\?/i.test(i.envelope.subject ?? '') && /^=\?UTF-8\?/i.test(i.envelope.from![0]!.name ?? ''));
    const reply = find((i) => i.envelope.inReplyTo !== null);
    assert.ok(idx.some((i) => i.envelope.messageId === reply.envelope.inReplyTo));
    assert.match(reply.header!, /^References: <[^>]+>\r$/m);
    const fwd = find((i) => i.root.children?.some((c) => c.message) ?? false);
    const inner = fwd.root.children!.find((c) => c.message)!;
    assert.ok(inner.message!.envelope.subject);
  });

  it('decodes the non-ASCII headers to the intended text', () => {
    const i = ix(msgs.find((m) => m.raw.includes('=?UTF-8?B?'))!.raw);
    const decode = (s: string): string =>
      s.replace(/=\?UTF-8\?B\?([^?]*)\?=\s*/gi, (_, b: string) => Buffer.from(b, 'base64').toString('utf8'));
    assert.match(decode(i.envelope.subject!), /Grüße aus München/);
    assert.match(decode(i.envelope.from![0]!.name!), /山田/);
  });

  it('carries a PNG attachment that decodes', () => {
    const m = msgs.find((x) => x.raw.includes('image/png'))!;
    const i = ix(m.raw);
    const att = i.root.children!.find((c) => c.type === 'image')!;
    assert.equal(att.subtype, 'png');
    assert.equal(att.encoding, 'BASE64');
    assert.equal(att.disposition?.type, 'attachment');
    const bytes = Buffer.from(text(m.raw, att.bodyStart, att.bodyEnd), 'base64');
    assert.deepEqual(bytes, demoPng());
    assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    // IHDR says 32x32 truecolour; IDAT inflates to 32 rows of 1 + 32*3 octets.
    assert.equal(bytes.toString('latin1', 12, 16), 'IHDR');
    assert.equal(bytes.readUInt32BE(16), 32);
    const idatLen = bytes.readUInt32BE(33);
    assert.equal(bytes.toString('latin1', 37, 41), 'IDAT');
    assert.equal(inflateSync(bytes.subarray(41, 41 + idatLen)).length, 32 * (1 + 32 * 3));
  });
});
