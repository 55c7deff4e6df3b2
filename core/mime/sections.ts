// IMAP section numbers (RFC 3501 section 6.4.5) resolved against a MessageIndex, so FETCH
// BODY[...] can be served as a ranged read of the blob.
//
//   BODY[]            [0, size)
//   BODY[HEADER]      [0, headerSize)              BODY[TEXT]   [headerSize, size)
//   BODY[1.2]         the body of part 1.2         BODY[1.2.MIME] its MIME header
//   BODY[2.HEADER]    header of the message encapsulated in message/rfc822 part 2
//   BODY[2.TEXT]      body of that message
//
// A non-multipart message (top level, or inside message/rfc822) has a single part, 1: its
// body. Part n of a message/rfc822 part is part n of the message it encapsulates.

import type { MessageIndex, MimePart } from './types.js';

/** Part n (1-based) of a message whose root entity is `root`. */
function partOf(root: MimePart, n: number): MimePart | null {
  if (root.children) return root.children[n - 1] ?? null;
  return n === 1 ? root : null;
}

/** The part a section number path designates ([1, 2] for "1.2"); null when there is none. */
export function findSection(root: MimePart, path: readonly number[]): MimePart | null {
  if (path.length === 0) return null;
  let part = partOf(root, path[0]!);
  for (let i = 1; i < path.length && part; i++) {
    const n = path[i]!;
    if (part.children) part = part.children[n - 1] ?? null;
    else if (part.message) part = partOf(part.message.root, n);
    else part = null;
  }
  return part;
}

export type SectionKind = '' | 'MIME' | 'HEADER' | 'TEXT';

/**
 * The octet range of a section: `path` is the numeric part ([] for the top level), `kind` the
 * text after it ('' for the part's body; 'HEADER' also serves HEADER.FIELDS[.NOT], whose
 * subset is then taken from that range). Null when the section does not exist, or HEADER /
 * TEXT is asked of a part that is not message/rfc822, or MIME of the top level.
 */
export function sectionRange(index: MessageIndex, path: readonly number[], kind: SectionKind): { start: number; end: number } | null {
  if (path.length === 0) {
    if (kind === '') return { start: 0, end: index.size };
    if (kind === 'HEADER') return { start: 0, end: index.headerSize };
    if (kind === 'TEXT') return { start: index.headerSize, end: index.size };
    return null;
  }
  const part = findSection(index.root, path);
  if (!part) return null;
  switch (kind) {
    case '':
      return { start: part.bodyStart, end: part.bodyEnd };
    case 'MIME':
      return { start: part.headerStart, end: part.bodyStart };
    case 'HEADER':
      return part.message ? { start: part.message.root.headerStart, end: part.message.root.bodyStart } : null;
    case 'TEXT':
      return part.message ? { start: part.message.root.bodyStart, end: part.message.root.bodyEnd } : null;
  }
}
