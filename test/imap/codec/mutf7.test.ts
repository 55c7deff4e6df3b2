import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeMailboxName, encodeMailboxName, isValidMailboxName, MailboxNameError } from '../../../protocol-tasks/imap/codec/mutf7.js';
import { bad, ok } from './helpers.js';
import type { CreateCommand, ListCommand, StatusCommand } from '../../../protocol-tasks/imap/codec/commands/types.js';

describe('modified UTF-7 (checklist B16)', () => {
  it('encodes and decodes the RFC 3501 example and common names', () => {
    assert.equal(encodeMailboxName('~peter/mail/台北/日本語'), '~peter/mail/&U,BTFw-/&ZeVnLIqe-');
    assert.equal(decodeMailboxName('~peter/mail/&U,BTFw-/&ZeVnLIqe-'), '~peter/mail/台北/日本語');
    assert.equal(encodeMailboxName('A&B'), 'A&-B');
    assert.equal(decodeMailboxName('A&-B'), 'A&B');
    assert.equal(encodeMailboxName('Entwürfe'), 'Entw&APw-rfe');
    assert.equal(decodeMailboxName('&Jjo-!'), '☺!');
    assert.equal(encodeMailboxName('😀'), '&2D3eAA-');
    assert.equal(decodeMailboxName('&2D3eAA-'), '😀');
    assert.equal(decodeMailboxName('&AKM-&-'), '£&');
  });

  for (const name of ['&', '&Jjo', '&Jjo!', '&AGE-', '&-&', 'a&b', '&Jj-', '&JjoB-', '&AKM-&AKM-', '&2D0-', '&3gA-', '&,,,,-', '&-A&', 'caf\xe9', 'tab\there', '&Jjo=-']) {
    it(`refuses ${JSON.stringify(name)}`, () => {
      assert.throws(() => decodeMailboxName(name), MailboxNameError);
      assert.equal(isValidMailboxName(name), false);
    });
  }

  it('refuses encoding an unpaired surrogate', () => {
    assert.throws(() => encodeMailboxName('a\ud800b'), MailboxNameError);
  });

  it('property: every well-formed Unicode name round-trips, and the encoding is ASCII', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 30 }), (s) => {
        const wire = encodeMailboxName(s);
        assert.match(wire, /^[\x20-\x7e]*$/);
        assert.equal(decodeMailboxName(wire), s);
      }),
      { numRuns: 1000 },
    );
  });

  it('property: a valid wire name re-encodes to itself (strictness)', () => {
    const ch = fc.constantFrom(...'AB&-,+/az09 ~!'.split(''));
    fc.assert(
      fc.property(fc.array(ch, { maxLength: 16 }).map((a) => a.join('')), (wire) => {
        let decoded: string;
        try {
          decoded = decodeMailboxName(wire);
        } catch (e) {
          assert.ok(e instanceof MailboxNameError);
          return;
        }
        assert.equal(encodeMailboxName(decoded), wire);
      }),
      { numRuns: 2000 },
    );
  });

  it('commands refuse invalid names (BAD) and decode valid ones', () => {
    for (const n of ['"&"', '"&Jjo"', '"&Jjo!"', '"&AGE-"']) {
      bad(`A CREATE ${n}`);
      bad(`A SELECT ${n}`);
      bad(`A STATUS ${n} (MESSAGES)`);
      bad(`A LIST "" ${n}`);
      bad(`A RENAME INBOX ${n}`);
    }
    bad(Buffer.concat([Buffer.from('A CREATE "caf'), Buffer.from([0xe9]), Buffer.from('"')]));
    bad(Buffer.concat([Buffer.from('A CREATE {4}\r\ncaf'), Buffer.from([0xe9])]));
    assert.equal(ok<CreateCommand>('A CREATE "Entw&APw-rfe"').mailbox, 'Entwürfe');
    assert.equal(ok<ListCommand>('A LIST "" "Entw&APw-rfe/*"').patterns[0], 'Entwürfe/*');
    assert.equal(ok<StatusCommand>('A STATUS Entw&APw-rfe (UNSEEN)').mailbox, 'Entwürfe');
  });

  it('with UTF8=ACCEPT, names are UTF-8 and & is literal', () => {
    const c = ok<CreateCommand>(Buffer.concat([Buffer.from('A CREATE "'), Buffer.from('Entwürfe&', 'utf8'), Buffer.from('"')]), { utf8: true });
    assert.equal(c.mailbox, 'Entwürfe&');
    bad(Buffer.concat([Buffer.from('A CREATE "'), Buffer.from([0xff, 0xfe]), Buffer.from('"')]), 'BAD', { utf8: true });
  });
});
