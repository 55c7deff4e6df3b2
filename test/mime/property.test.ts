// Property tests: random MIME trees are built together with the offsets each part must get,
// then indexed; and arbitrary or mutated bytes never make the indexer throw.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { indexMessageStrict } from '../../core/mime/indexer.js';
import type { MimePart } from '../../core/mime/types.js';
import { checkInvariants } from './invariants.js';

type Node =
  | { kind: 'leaf'; headers: string[]; ctype: string | null; body: string[]; lastEol: boolean }
  | { kind: 'multipart'; headers: string[]; subtype: string; children: Node[]; preamble: string[]; epilogue: string[]; close: boolean; nest: boolean }
  | { kind: 'message'; headers: string[]; inner: Node };

interface Expected {
  kind: Node['kind'];
  headerStart: number;
  bodyStart: number;
  bodyEnd: number;
  type: string;
  subtype: string;
  body?: string;
  lines?: number;
  children?: Expected[];
  inner?: Expected;
}

// Text that can never look like a delimiter or a header end: no '-' and no line breaks.
const word = fc.stringMatching(/^[a-z0-9]{1,8}$/);
const textLine = fc.array(fc.oneof(word, fc.constant(' ')), { maxLength: 6 }).map((a) => a.join(''));
const headerLine = fc
  .tuple(fc.stringMatching(/^X-[A-Za-z]{1,6}$/), word, fc.option(word, { nil: null }))
  .map(([n, v, fold]) => (fold === null ? `${n}: ${v}` : `${n}: ${v}\u0000 ${fold}`)); // \u0000 marks a fold

const tree = fc.letrec<{ node: Node; leaf: Node; multipart: Node; message: Node }>((tie) => ({
  node: fc.oneof({ maxDepth: 4, depthIdentifier: 'mime' }, tie('leaf'), tie('multipart'), tie('message')),
  leaf: fc.record({
    kind: fc.constant('leaf' as const),
    headers: fc.array(headerLine, { maxLength: 3 }),
    ctype: fc.constantFrom(null, 'text/plain', 'text/html; charset=utf-8', 'application/octet-stream', 'image/png'),
    body: fc.array(textLine, { maxLength: 5 }),
    lastEol: fc.boolean(),
  }),
  multipart: fc.record({
    kind: fc.constant('multipart' as const),
    headers: fc.array(headerLine, { maxLength: 2 }),
    subtype: fc.constantFrom('mixed', 'alternative', 'related'),
    children: fc.array(tie('node'), { minLength: 1, maxLength: 4, depthIdentifier: 'mime' }),
    preamble: fc.array(textLine, { maxLength: 2 }),
    epilogue: fc.array(textLine, { maxLength: 2 }),
    close: fc.boolean(),
    nest: fc.boolean(),
  }),
  message: fc.record({
    kind: fc.constant('message' as const),
    headers: fc.array(headerLine, { maxLength: 2 }),
    inner: tie('node'),
  }),
}));

type EolMode = 'crlf' | 'lf' | 'mixed';

class Builder {
  s = '';
  private n = 0;
  constructor(
    private readonly mode: EolMode,
    private readonly coin: () => boolean,
  ) {}

  eol(): string {
    return this.mode === 'crlf' ? '\r\n' : this.mode === 'lf' ? '\n' : this.coin() ? '\r\n' : '\n';
  }

  private put(x: string): void {
    this.s += x;
  }

  private headers(lines: string[]): void {
    for (const l of lines) this.put(l.replace('\u0000', this.eol()) + this.eol());
  }

  /** Writes an entity (header, blank line, body) and returns where its parts must be. */
  entity(node: Node, parentBoundary: string | null): Expected {
    const headerStart = this.s.length;
    let type: string;
    let subtype: string;
    let boundary = '';
    if (node.kind === 'leaf') {
      [type, subtype] = node.ctype === null ? ['text', 'plain'] : node.ctype.split(';')[0]!.split('/') as [string, string];
      if (node.ctype !== null) this.put(`Content-Type: ${node.ctype}${this.eol()}`);
    } else if (node.kind === 'multipart') {
      [type, subtype] = ['multipart', node.subtype];
      // Sometimes extend the parent's boundary, so boundaries share prefixes.
      boundary = node.nest && parentBoundary ? `${parentBoundary}_${this.n++}` : `=_b${this.n++}`;
      this.put(`Content-Type: multipart/${node.subtype};${this.eol()} boundary="${boundary}"${this.eol()}`);
    } else {
      [type, subtype] = ['message', 'rfc822'];
      this.put(`Content-Type: message/rfc822${this.eol()}`);
    }
    this.headers(node.headers);
    this.put(this.eol());
    const bodyStart = this.s.length;
    const exp: Expected = { kind: node.kind, headerStart, bodyStart, bodyEnd: 0, type, subtype };
    if (node.kind === 'leaf') {
      let lines = 0;
      node.body.forEach((l, k) => {
        this.put(l);
        if (k < node.body.length - 1 || node.lastEol) {
          this.put(this.eol());
          lines++;
        }
      });
      exp.body = this.s.slice(bodyStart);
      if (type === 'text') exp.lines = lines;
    } else if (node.kind === 'message') {
      exp.inner = this.entity(node.inner, parentBoundary);
    } else {
      for (const l of node.preamble) this.put(l + this.eol());
      exp.children = [];
      node.children.forEach((c, k) => {
        this.put(`--${boundary}${this.eol()}`);
        exp.children!.push(this.entity(c, boundary));
        if (k < node.children.length - 1 || node.close) this.put(this.eol()); // belongs to the next delimiter
      });
      if (node.close) {
        this.put(`--${boundary}--${this.eol()}`);
        for (const l of node.epilogue) this.put(l + this.eol());
      }
    }
    exp.bodyEnd = this.s.length;
    return exp;
  }
}

function compare(raw: Buffer, exp: Expected, act: MimePart, where: string): void {
  assert.deepEqual([act.headerStart, act.bodyStart, act.bodyEnd], [exp.headerStart, exp.bodyStart, exp.bodyEnd], `${where}: offsets`);
  assert.equal(act.type, exp.type, `${where}: type`);
  assert.equal(act.subtype, exp.subtype, `${where}: subtype`);
  if (exp.body !== undefined) assert.equal(raw.toString('latin1', act.bodyStart, act.bodyEnd), exp.body, `${where}: body bytes`);
  if (exp.lines !== undefined) assert.equal(act.lines, exp.lines, `${where}: lines`);
  if (exp.children) {
    assert.equal(act.children?.length, exp.children.length, `${where}: child count`);
    exp.children.forEach((c, k) => compare(raw, c, act.children![k]!, `${where}.${k + 1}`));
  }
  if (exp.inner) {
    assert.ok(act.message, `${where}: encapsulated message`);
    compare(raw, exp.inner, act.message.root, `${where}/msg`);
  }
}

const message = fc.record({
  root: tree.node,
  topHeaders: fc.array(headerLine, { maxLength: 3 }),
  mode: fc.constantFrom<EolMode>('crlf', 'lf', 'mixed'),
  seed: fc.array(fc.boolean(), { minLength: 1, maxLength: 16 }),
});

function build(m: { root: Node; topHeaders: string[]; mode: EolMode; seed: boolean[] }): { raw: Buffer; exp: Expected } {
  let k = 0;
  const b = new Builder(m.mode, () => m.seed[k++ % m.seed.length]!);
  const root = { ...m.root, headers: [...m.topHeaders, ...m.root.headers] } as Node;
  const exp = b.entity(root, null);
  return { raw: Buffer.from(b.s, 'latin1'), exp };
}

describe('indexer properties', () => {
  it('indexes generated MIME trees to offsets that slice back to the generated parts', () => {
    fc.assert(
      fc.property(message, (m) => {
        const { raw, exp } = build(m);
        const ix = indexMessageStrict(raw);
        checkInvariants(ix);
        assert.equal(ix.truncated, false);
        assert.equal(ix.headerSize, exp.bodyStart);
        compare(raw, exp, ix.root, 'root');
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), (bytes) => {
        checkInvariants(indexMessageStrict(Buffer.from(bytes)));
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on MIME-flavoured junk', () => {
    const token = fc.constantFrom(
      '\r\n', '\n', '\r', ' ', '\t', ':', ';', ',', '"', '(', ')', '<', '>', '@', '=', '*', '--', '--b', '--b--', '--c',
      'Content-Type: multipart/mixed; boundary=b', 'Content-Type: multipart/digest; boundary=c', 'Content-Type: message/rfc822',
      'Content-Type: text/plain; name*0*=x; name*1=y', 'Content-Disposition: attachment; filename="', 'To: g: a@b, <c@d>;',
      'From: "x" <@r:y@z>', 'Subject: =?utf-8?q?x?=', '\u00ff', '\u0000', 'a', 'body',
    );
    fc.assert(
      fc.property(fc.array(token, { maxLength: 200 }), fc.integer({ min: 0, max: 40 }), (toks, depth) => {
        const raw = Buffer.from(toks.join(''), 'latin1');
        checkInvariants(indexMessageStrict(raw));
        checkInvariants(indexMessageStrict(raw, { maxDepth: depth, maxParts: depth + 1, maxHeaders: depth, maxHeaderLength: depth * 10, maxAddresses: depth, maxParams: depth }));
      }),
      { numRuns: 1000 },
    );
  });

  it('never throws on mutated and truncated generated messages', () => {
    fc.assert(
      fc.property(message, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.nat(), (m, edits, cut) => {
        const { raw } = build(m);
        for (const [pos, byte] of edits) if (raw.length > 0) raw[pos % raw.length] = byte;
        const ix = indexMessageStrict(raw.subarray(0, raw.length === 0 ? 0 : cut % (raw.length + 1)));
        checkInvariants(ix);
      }),
      { numRuns: 300 },
    );
  });
});
