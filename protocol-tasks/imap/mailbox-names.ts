// Mailbox-name helpers for the mailbox commands (CREATE, DELETE, RENAME, LIST, LSUB, STATUS,
// SUBSCRIBE): validation of new names, hierarchy walking, LIST wildcard matching, and the
// wire form of names in responses.
//
// Names here are Unicode (the codec decoded them from modified UTF-7, or took them as UTF-8
// under UTF8=ACCEPT), '/' is the hierarchy delimiter, and "INBOX" is case-insensitive as the
// first level. A name is never a path: the store keys folders by account id and folder id, so
// levels such as ".." are just names inside the account (checklist B17).

import { encodeMailboxName } from './codec/mutf7.js';
import { DELIMITER, normalizeName } from './folders.js';

/** Longest name accepted for a new mailbox, in UTF-8 octets (and in modified UTF-7 octets). */
export const MAX_NAME_OCTETS = 1000;
/** Deepest hierarchy accepted for a new mailbox. */
export const MAX_NAME_LEVELS = 50;

/**
 * Why `name` cannot be given to a new mailbox (CREATE, RENAME target), or null when it can.
 * `name` is already normalized (normalizeName) and without a trailing delimiter.
 */
export function invalidNewName(name: string): string | null {
  if (name.length === 0) return 'Mailbox name is empty.';
  // C0 controls, DEL and C1 controls; NUL, CR and LF among them. Modified UTF-7 can encode
  // them (&AAE-), so the codec's check of the wire octets alone is not enough.
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return 'Mailbox name contains a control character.';
  // Wildcards would make the name impossible to LIST on its own.
  if (name.includes('%') || name.includes('*')) return 'Mailbox name must not contain % or *.';
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_OCTETS || encodeMailboxName(name).length > MAX_NAME_OCTETS) {
    return `Mailbox name is longer than ${MAX_NAME_OCTETS} octets.`;
  }
  const levels = name.split(DELIMITER);
  if (levels.length > MAX_NAME_LEVELS) return `Mailbox hierarchy is deeper than ${MAX_NAME_LEVELS} levels.`;
  if (levels.some((l) => l.length === 0)) return 'Mailbox name has an empty hierarchy level.';
  return null;
}

/** The name with "INBOX" normalized and one trailing delimiter dropped (RFC 3501 §6.3.3). */
export function newMailboxName(name: string): string {
  const n = name.endsWith(DELIMITER) ? name.slice(0, -1) : name;
  return normalizeName(n);
}

/** Every superior name of `name`, outermost first: "a/b/c" -> ["a", "a/b"]. */
export function parentNames(name: string): string[] {
  const out: string[] = [];
  let i = name.indexOf(DELIMITER);
  while (i > 0) {
    out.push(name.slice(0, i));
    i = name.indexOf(DELIMITER, i + 1);
  }
  return out;
}

/** True when `name` lies below `ancestor` in the hierarchy. */
export function isInferior(name: string, ancestor: string): boolean {
  return name.length > ancestor.length + 1 && name.startsWith(ancestor) && name[ancestor.length] === DELIMITER;
}

/** The mailbox name as sent in responses: modified UTF-7, or UTF-8 once UTF8=ACCEPT is on. */
export function wireName(name: string, utf8: boolean): string {
  return utf8 ? name : encodeMailboxName(name);
}

/** Orders names level by level, so that a parent comes right before its children. */
export function compareNames(a: string, b: string): number {
  const ia = a === 'INBOX' || a.startsWith('INBOX/');
  const ib = b === 'INBOX' || b.startsWith('INBOX/');
  if (ia !== ib) return ia ? -1 : 1;
  const la = a.split(DELIMITER);
  const lb = b.split(DELIMITER);
  for (let i = 0; i < Math.min(la.length, lb.length); i++) {
    if (la[i] !== lb[i]) return la[i]! < lb[i]! ? -1 : 1;
  }
  return la.length - lb.length;
}

// ---- LIST patterns (RFC 3501 §6.3.8) ----

/**
 * The canonical LIST pattern: the reference name followed by the mailbox pattern. A delimiter
 * at the end of the reference and at the start of the pattern counts once.
 */
export function canonicalPattern(reference: string, pattern: string): string {
  if (reference.length === 0) return pattern;
  if (reference.endsWith(DELIMITER) && pattern.startsWith(DELIMITER)) return reference + pattern.slice(1);
  return reference + pattern;
}

type Token = { kind: 'lit'; code: number } | { kind: 'star' } | { kind: 'pct' };

const SLASH = DELIMITER.charCodeAt(0);

/**
 * Compiles a LIST pattern into a matcher: `*` matches any run of characters, `%` any run
 * without the hierarchy delimiter. The pattern is never turned into a regular expression.
 * Matching is a dynamic program over the name's positions, O(pattern x name) in the worst
 * case with no backtracking, however many wildcards the client sends; a run of wildcards is
 * folded into one first, and a pattern with more literal characters than the name cannot
 * match and is refused at once. The first level "INBOX" of a name matches case-insensitively.
 */
export function compilePattern(pattern: string): (name: string) => boolean {
  const tokens: Token[] = [];
  let literals = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charCodeAt(i);
    if (c === 0x2a || c === 0x25) {
      const prev = tokens[tokens.length - 1];
      if (prev && prev.kind !== 'lit') {
        if (c === 0x2a) tokens[tokens.length - 1] = { kind: 'star' };
        continue;
      }
      tokens.push(c === 0x2a ? { kind: 'star' } : { kind: 'pct' });
    } else {
      tokens.push({ kind: 'lit', code: c });
      literals++;
    }
  }
  return (name: string): boolean => {
    const n = name.length;
    if (literals > n) return false;
    const inbox = n >= 5 && name.startsWith('INBOX') && (n === 5 || name.charCodeAt(5) === SLASH);
    let cur = new Uint8Array(n + 1);
    let next = new Uint8Array(n + 1);
    cur[0] = 1;
    for (const t of tokens) {
      next.fill(0);
      let any = false;
      if (t.kind === 'lit') {
        for (let j = 0; j < n; j++) {
          if (!cur[j]) continue;
          let c = name.charCodeAt(j);
          let p = t.code;
          if (inbox && j < 5) {
            // ASCII case folding for the INBOX level only.
            if (c >= 0x61 && c <= 0x7a) c -= 0x20;
            if (p >= 0x61 && p <= 0x7a) p -= 0x20;
          }
          if (c === p) {
            next[j + 1] = 1;
            any = true;
          }
        }
      } else if (t.kind === 'star') {
        let on = 0;
        for (let j = 0; j <= n; j++) {
          if (cur[j]) on = 1;
          next[j] = on;
          if (on) any = true;
        }
      } else {
        for (let j = 0; j <= n; j++) {
          const v = cur[j] || (j > 0 && next[j - 1] && name.charCodeAt(j - 1) !== SLASH) ? 1 : 0;
          next[j] = v;
          if (v) any = true;
        }
      }
      if (!any) return false;
      const t2 = cur;
      cur = next;
      next = t2;
    }
    return cur[n] === 1;
  };
}

/** A matcher for several patterns (LIST-EXTENDED): true when any of them matches. */
export function compilePatterns(reference: string, patterns: readonly string[]): (name: string) => boolean {
  const ms = patterns.map((p) => compilePattern(canonicalPattern(reference, p)));
  return (name) => ms.some((m) => m(name));
}
