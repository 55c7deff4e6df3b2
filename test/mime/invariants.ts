// Structural invariants every MessageIndex must satisfy, whatever the input.
import assert from 'node:assert/strict';
import type { MessageIndex, MimePart } from '../../core/mime/types.js';

export function checkInvariants(ix: MessageIndex): void {
  assert.ok(ix.headerSize >= 0 && ix.headerSize <= ix.size, 'headerSize in range');
  assert.equal(ix.root.headerStart, 0);
  assert.equal(ix.root.bodyStart, ix.headerSize);
  assert.equal(ix.root.bodyEnd, ix.size);
  if (ix.header !== null) assert.equal(ix.header.length, ix.headerSize);
  assert.deepEqual(JSON.parse(JSON.stringify(ix)), ix, 'JSON round trip');
  // Iterative walk: indexes can be deep when limits are raised.
  const stack: Array<{ p: MimePart; lo: number; hi: number }> = [{ p: ix.root, lo: 0, hi: ix.size }];
  while (stack.length > 0) {
    const { p, lo, hi } = stack.pop()!;
    assert.ok(lo <= p.headerStart && p.headerStart <= p.bodyStart && p.bodyStart <= p.bodyEnd && p.bodyEnd <= hi, `offsets ${p.headerStart}/${p.bodyStart}/${p.bodyEnd} in [${lo}, ${hi}]`);
    assert.equal(p.size, p.bodyEnd - p.bodyStart);
    assert.match(p.type, /^[^A-Z]+$/);
    assert.match(p.subtype, /^[^A-Z]+$/);
    assert.equal(p.encoding, p.encoding.toUpperCase());
    const isMessage = p.type === 'message' && (p.subtype === 'rfc822' || p.subtype === 'global');
    assert.equal(p.lines !== null, p.type === 'text' || isMessage, 'lines only for text and message');
    if (p.type === 'multipart') {
      assert.ok(p.children && p.children.length > 0, 'a multipart has children');
      let at = p.bodyStart;
      for (const c of p.children) {
        assert.ok(c.headerStart >= at, 'siblings in order, not overlapping');
        at = c.bodyEnd;
        stack.push({ p: c, lo: p.bodyStart, hi: p.bodyEnd });
      }
    } else {
      assert.equal(p.children, undefined);
    }
    if (isMessage) {
      assert.ok(p.message, 'message/rfc822 has its message');
      assert.equal(p.message.root.headerStart, p.bodyStart);
      assert.equal(p.message.root.bodyEnd, p.bodyEnd);
      for (const list of [p.message.envelope.from, p.message.envelope.to]) checkAddresses(list);
      stack.push({ p: p.message.root, lo: p.bodyStart, hi: p.bodyEnd });
    } else {
      assert.equal(p.message, undefined);
    }
  }
  const e = ix.envelope;
  for (const list of [e.from, e.sender, e.replyTo, e.to, e.cc, e.bcc]) checkAddresses(list);
}

function checkAddresses(list: MessageIndex['envelope']['from']): void {
  if (list === null) return;
  assert.ok(list.length > 0);
  let open = false;
  for (const a of list) {
    if (a.host !== null) continue;
    assert.equal(a.name, null);
    assert.equal(a.adl, null);
    if (a.mailbox !== null) {
      assert.equal(open, false, 'groups do not nest');
      open = true;
    } else {
      assert.equal(open, true, 'group end follows a start');
      open = false;
    }
  }
  assert.equal(open, false, 'groups are closed');
}
