// Bounded fuzz run of the codec: random and mutated command bytes, fed in random chunk splits,
// with a small session model on top (AUTHENTICATE/IDLE switch to line mode, STARTTLS resets,
// a fatal error closes). Checks: nothing throws; every event is a command, a continuation,
// a line or an error whose tag is null or a valid tag; the same input gives the same events
// whatever the chunk split; memory held stays within the configured limits.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Receiver, type ReceiverEvent, type ReceiverOptions } from '../../../protocol-tasks/imap/codec/receiver.js';
import { parseCommand } from '../../../protocol-tasks/imap/codec/commands/index.js';

const OPTS: ReceiverOptions = {
  maxCommandSize: 2048,
  maxLiteralSize: 4096,
  maxArgLiteralSize: 512,
  maxLiterals: 20,
  maxTotalSize: 8192,
  maxDepth: 16,
  maxSkipSize: 16384,
};
const MEMORY_BOUND = OPTS.maxCommandSize! + OPTS.maxTotalSize!;

const SEEDS = [
  'a1 capability\r\n',
  'A STARTTLS\r\n',
  '3.853 AUTHENTICATE PLAIN\r\nAHVzZXIAcGFzcw==\r\n',
  'A AUTHENTICATE PLAIN AHVzZXIAcGFzcw==\r\n',
  'A LOGIN "user" {4}\r\npass\r\n',
  'A ID ("name" "Thunderbird" "version" "128.0")\r\n',
  'A list (subscribed) "" "*" return (special-use)\r\n',
  'A4 LIST "" "*" RETURN (SPECIAL-USE STATUS (MESSAGES UNSEEN))\r\n',
  'A select "INBOX" (CONDSTORE)\r\n',
  'A SELECT INBOX (QRESYNC (1 2 1:5 (1:2 3:4)))\r\n',
  'A UID fetch 1:* (FLAGS) (CHANGEDSINCE 1433050)\r\n',
  'A UID fetch 1:5,7 (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Subject Date)])\r\n',
  'A UID fetch 96 (UID RFC822.SIZE BODY.PEEK[]<99614720.65536>)\r\n',
  'A FETCH 1:50 (INTERNALDATE UID BODY.PEEK[1.2.MIME] BINARY.PEEK[1]<0.10> BODYSTRUCTURE)\r\n',
  'A append "Sent" (\\Seen) "05-Mar-2026 10:00:00 +0100" {12}\r\nHello\r\nWorld\r\n',
  'A APPEND x (\\Draft) {3+}\r\nabc UTF8 (~{2}\r\n\0b)\r\n',
  'A uid store 1:3 +FLAGS.SILENT (\\Deleted \\Seen)\r\n',
  'A STORE 1 (UNCHANGEDSINCE 5) FLAGS \\Seen $Junk\r\n',
  'A UID SEARCH UNDELETED HEADER Message-ID <id@x> OR (FROM a SUBJECT "b c") NOT SINCE 1-Feb-1994\r\n',
  'A SEARCH RETURN (MIN MAX) CHARSET UTF-8 TEXT {3}\r\nabc UID 1:*\r\n',
  'A uid move 1:3 "Trash"\r\n',
  'A uid expunge 1:3\r\n',
  'A CREATE "Entw&APw-rfe" (USE (\\Drafts))\r\n',
  'A RENAME "a" "b"\r\nA STATUS "x" (UIDNEXT SIZE)\r\n',
  '8.569 IDLE\r\nDONE\r\n',
  'A ENABLE UTF8=ACCEPT\r\nA NAMESPACE\r\nA LOGOUT\r\n',
];

const SPECIAL = [0x7b, 0x7d, 0x22, 0x5c, 0x28, 0x29, 0x5b, 0x5d, 0x0d, 0x0a, 0x00, 0x7e, 0x2b, 0x20, 0x2a, 0x3a, 0x2c, 0x3c, 0x3e, 0x2e, 0x31, 0x39, 0x30, 0xff, 0x26, 0x2d];

type Mutation =
  | { kind: 'flip'; at: number; value: number }
  | { kind: 'insert'; at: number; value: number }
  | { kind: 'delete'; at: number; len: number }
  | { kind: 'dup'; at: number; len: number }
  | { kind: 'literal'; at: number; size: number; plus: boolean; eight: boolean };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.oneof(fc.constantFrom(...SPECIAL), fc.integer({ min: 0, max: 255 })) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), value: fc.oneof(fc.constantFrom(...SPECIAL), fc.integer({ min: 0, max: 255 })) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('dup' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 40 }) }),
  fc.record({
    kind: fc.constant('literal' as const),
    at: fc.nat(),
    size: fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 500, max: 20000 }), fc.constant(4294967296)),
    plus: fc.boolean(),
    eight: fc.boolean(),
  }),
);

function mutate(input: Buffer, muts: Mutation[]): Buffer {
  let b = input;
  for (const m of muts) {
    const at = b.length === 0 ? 0 : m.at % (b.length + 1);
    switch (m.kind) {
      case 'flip':
        if (at < b.length) {
          b = Buffer.from(b);
          b[at] = m.value;
        }
        break;
      case 'insert':
        b = Buffer.concat([b.subarray(0, at), Buffer.from([m.value]), b.subarray(at)]);
        break;
      case 'delete':
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.len)]);
        break;
      case 'dup':
        b = Buffer.concat([b.subarray(0, at + m.len), b.subarray(at, at + m.len), b.subarray(at + m.len)]);
        break;
      case 'literal':
        b = Buffer.concat([b.subarray(0, at), Buffer.from(`${m.eight ? '~' : ''}{${m.size}${m.plus ? '+' : ''}}\r\n`), b.subarray(at)]);
        break;
    }
  }
  return b;
}

function isValidTag(t: string): boolean {
  return /^[\x21-\x7e]+$/.test(t) && !/[(){"\\%*+]/.test(t);
}

/**
 * Runs the session model over `input` split into chunks of the given sizes (cycled; empty
 * = one chunk) and returns a transcript. Asserts the invariants along the way.
 */
function run(input: Buffer, sizes: number[]): string[] {
  const r = new Receiver(OPTS);
  const out: string[] = [];
  let pos = 0;
  let k = 0;
  // After STARTTLS the rest of the stream would be TLS: the model stops feeding plaintext.
  let tls = false;
  const handle = (ev: ReceiverEvent): void => {
    switch (ev.kind) {
      case 'command': {
        const res = parseCommand(ev.command, { utf8: ev.command.tag.length % 2 === 0 });
        out.push(res.ok ? `ok ${res.tag} ${res.command.name}` : `${res.status} ${res.tag} ${res.code ?? ''}`);
        assert.ok(ev.command.textSize <= OPTS.maxCommandSize!);
        if (res.ok && res.command.name === 'STARTTLS') {
          r.reset();
          tls = true;
        }
        else if (res.ok && (res.command.name === 'IDLE' || (res.command.name === 'AUTHENTICATE' && !res.command.initialResponse))) r.expectLine();
        break;
      }
      case 'error':
        assert.ok(ev.tag === null || isValidTag(ev.tag), `bad tag ${ev.tag}`);
        assert.ok(ev.status === 'BAD' || ev.status === 'NO');
        out.push(`err ${ev.tag} ${ev.reason} ${ev.fatal}`);
        break;
      case 'continue':
        out.push(`+ ${ev.tag} ${ev.size}`);
        break;
      case 'line':
        assert.ok(ev.line.length <= OPTS.maxCommandSize!);
        out.push(`line ${ev.line.length}`);
        break;
    }
  };
  while (pos < input.length && !r.isClosed && !tls) {
    const n = sizes.length === 0 ? input.length : Math.max(1, sizes[k++ % sizes.length]!);
    r.push(input.subarray(pos, pos + n));
    pos += n;
    for (let ev = r.next(); ev && !tls; ev = r.next()) {
      handle(ev);
      assert.ok(r.bufferedBytes <= MEMORY_BOUND, `buffered ${r.bufferedBytes}`);
    }
    assert.ok(r.bufferedBytes <= MEMORY_BOUND, `buffered ${r.bufferedBytes}`);
  }
  return out;
}

describe('codec fuzz (bounded)', () => {
  it('mutated client commands: no throw, valid events, chunk-split independent, memory bounded', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...SEEDS), { minLength: 1, maxLength: 6 }),
        fc.array(mutation, { maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 5 }),
        (seeds, muts, sizes) => {
          const input = mutate(Buffer.from(seeds.join(''), 'latin1'), muts);
          const whole = run(input, []);
          const split = run(input, sizes);
          assert.deepEqual(split, whole);
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('random bytes: no throw, valid events, memory bounded', () => {
    const byte = fc.oneof(fc.constantFrom(...SPECIAL), fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0, max: 255 }));
    fc.assert(
      fc.property(fc.array(byte, { maxLength: 3000 }), fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 4 }), (bytes, sizes) => {
        const input = Buffer.from(bytes);
        assert.deepEqual(run(input, sizes), run(input, []));
      }),
      { numRuns: 500 },
    );
  });

  it('random token soup after a valid tag: every command parses or fails cleanly', () => {
    const word = fc.constantFrom(
      'FETCH', 'UID', 'SEARCH', 'STORE', 'LIST', 'APPEND', 'SELECT', 'NOT', 'OR', 'HEADER', 'BODY[]', 'BODY.PEEK[HEADER.FIELDS (a b)]<0.5>',
      'RETURN', 'CHARSET', 'UTF-8', '(', ')', '"x"', '1:*', '*', '0', '4294967296', 'NIL', '\\Seen', '+FLAGS', 'FLAGS.SILENT', 'UNCHANGEDSINCE',
      'CHANGEDSINCE', 'VANISHED', 'QRESYNC', 'CONDSTORE', 'SINCE', '1-Feb-1994', '{3}\r\nabc', '{2+}\r\nab', '~{1}\r\nx', '""', '"&Jjo-"', '&', 'INBOX',
    );
    fc.assert(
      fc.property(fc.constantFrom('FETCH', 'UID', 'SEARCH', 'STORE', 'LIST', 'APPEND', 'SELECT', 'STATUS', 'ID', 'CREATE', 'LSUB', 'COPY', 'ENABLE', 'AUTHENTICATE'), fc.array(word, { maxLength: 25 }), (cmd, words) => {
        const input = Buffer.from(`T1 ${cmd} ${words.join(' ')}\r\n`, 'latin1');
        const events = run(input, []);
        assert.ok(events.length >= 1);
      }),
      { numRuns: 1500 },
    );
  });

  it('10 MB of junk without a line end, in random chunks: cut off, buffer below the limit', () => {
    const r = new Receiver({ maxCommandSize: 10240 });
    const junk = Buffer.alloc(10 * 1024 * 1024);
    for (let i = 0; i < junk.length; i++) junk[i] = 0x21 + ((i * 7919) % 90);
    junk.write('A1 ', 0);
    let pos = 0;
    let fatal = false;
    let maxHeld = 0;
    let seed = 12345;
    while (pos < junk.length) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const n = 1 + (seed % 70000);
      r.push(junk.subarray(pos, pos + n));
      pos += n;
      for (let ev = r.next(); ev; ev = r.next()) if (ev.kind === 'error' && ev.fatal) fatal = true;
      maxHeld = Math.max(maxHeld, r.bufferedBytes);
      assert.equal(r.pendingBytes, 0);
    }
    assert.ok(fatal);
    assert.ok(maxHeld <= 10240, `held ${maxHeld}`);
  });
});
