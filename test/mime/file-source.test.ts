// Indexing from a file (FileSource, used for messages too big to hold in memory) gives the
// very index that indexing the same bytes from a Buffer gives: for the sample messages, for
// random MIME-ish bytes with windows small enough that every structure crosses window edges,
// and for a large multipart message.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { FileSource } from '../../core/mime/file-source.js';
import { indexMessage } from '../../core/mime/indexer.js';
import { demoMessages } from '../../core/mime/samples.js';

const dir = mkdtempSync(join(tmpdir(), 'mab-filesource-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

function viaFile(raw: Buffer, window?: number) {
  const path = join(dir, `m${n++}`);
  writeFileSync(path, raw);
  try {
    return FileSource.with(path, (src) => indexMessage(src), window);
  } finally {
    rmSync(path);
  }
}

// Fragments that make structure: header fields, blank lines with either line end, boundary
// lines of two nested boundaries (closing or not, with trailing blanks), message/rfc822 parts.
const fragment = fc.constantFrom(
  'From: a@example.org\r\n',
  'Subject: hi\n',
  'Content-Type: multipart/mixed; boundary="b1"\r\n',
  'Content-Type: multipart/alternative; boundary=b1x\r\n',
  'Content-Type: message/rfc822\r\n',
  'Content-Type: text/plain\r\n',
  ' folded\r\n',
  '\r\n',
  '\n',
  '--b1\r\n',
  '--b1--\r\n',
  '--b1 \t\n',
  '--b1x\r\n',
  '--b1x--',
  'text line\r\n',
  'x',
  '\r',
  '--',
);
const message = fc.array(fc.oneof(fragment, fc.stringMatching(/^[a-z \r\n-]{0,12}$/)), { maxLength: 40 }).map((a) => Buffer.from(a.join(''), 'latin1'));

describe('indexing from a file', () => {
  it('matches the in-memory index for the sample messages, with any window size', () => {
    for (const m of demoMessages('demo@example.test', new Date('2026-03-01T00:00:00Z'))) {
      const expected = indexMessage(m.raw);
      for (const w of [1, 7, 64, 4096, 1 << 20]) assert.deepEqual(viaFile(m.raw, w), expected, `window ${w}`);
    }
  });

  it('matches the in-memory index for random MIME-shaped bytes and small windows', () => {
    fc.assert(
      fc.property(message, fc.integer({ min: 1, max: 33 }), (raw, w) => {
        assert.deepEqual(viaFile(raw, w), indexMessage(raw));
      }),
      { numRuns: 400 },
    );
  });

  it('matches for a 24 MB multipart message with a base64 attachment and a text part', () => {
    const b64 = randomBytes(17 * 1024 * 1024).toString('base64').replace(/(.{76})/g, '$1\r\n');
    const raw = Buffer.from(
      'From: a@example.org\r\nTo: b@example.test\r\nSubject: big\r\nMIME-Version: 1.0\r\n' +
        'Content-Type: multipart/mixed; boundary="==big=="\r\n\r\npreamble\r\n--==big==\r\n' +
        'Content-Type: text/plain; charset=us-ascii\r\n\r\n' +
        'line\r\n'.repeat(1000) +
        '--==big==\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n' +
        'Content-Disposition: attachment; filename="big.bin"\r\n\r\n' +
        b64 +
        '\r\n--==big==--\r\nepilogue\r\n',
      'latin1',
    );
    const expected = indexMessage(raw);
    assert.equal(expected.root.children?.length, 2);
    assert.deepEqual(viaFile(raw), expected);
  });
});
