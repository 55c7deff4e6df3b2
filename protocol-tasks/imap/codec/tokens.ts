// Token trees produced by the receiver (receiver.ts) and consumed by the command parsers
// (commands/). Pure data: no I/O.
//
// A command line such as
//   A1 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From Subject)]<0.100>)
// becomes tag "A1", name "UID" and the argument tokens
//   atom "FETCH", atom "1:*", list [atom "FLAGS", atom "BODY.PEEK[HEADER.FIELDS (From Subject)]<0.100>"
//   with section {prefix "BODY.PEEK", raw "HEADER.FIELDS (From Subject)", items [...]}]

/**
 * An atom: a run of atom characters, as sent (case preserved). NIL, numbers, flags (`\Seen`),
 * sequence sets (`1:*`) and unquoted mailbox names all arrive as atoms; the parsers decide.
 *
 * When the atom starts with BODY, BODY.PEEK, BINARY, BINARY.PEEK or BINARY.SIZE followed by
 * `[`, the bracketed part may contain spaces, parentheses and quoted strings (FETCH sections).
 * `value` then holds the whole text exactly as received, and `section` its parts.
 */
export interface AtomToken {
  type: 'atom';
  value: string;
  section?: SectionText;
}

export interface SectionText {
  /** The text before `[`, as sent (e.g. `body.peek`). */
  prefix: string;
  /** The text between `[` and `]`, byte for byte as the client sent it (for echoing). */
  raw: string;
  /** The bracket content tokenized (atoms, quoted strings, lists; never literals). */
  items: Token[];
  /** The text after `]`, e.g. `<0.100>` or ''. */
  suffix: string;
}

/** A quoted string or a literal. The value is the raw octets (escapes removed). */
export interface StringToken {
  type: 'string';
  value: Buffer;
  /** quoted `"..."`, literal `{n}`, non-synchronizing literal `{n+}`, literal8 `~{n}` / `~{n+}`. */
  form: 'quoted' | 'literal' | 'literal+' | 'literal8';
  /**
   * A streamed literal (receiver.ts, ReceiverOptions.literalSink): its octets went to this
   * sink as they arrived and `value` is empty; `size` is the literal's size.
   */
  sink?: LiteralSinkRef;
  size?: number;
}

/** The receiver's LiteralSink, as tokens refer to it (kept structural: tokens are pure data). */
export interface LiteralSinkRef {
  write(chunk: Buffer): void;
  end(): void;
  abort(): void;
}

/** A parenthesized list. */
export interface ListToken {
  type: 'list';
  items: Token[];
}

export type Token = AtomToken | StringToken | ListToken;

/** A complete command as received: tag, upper-cased command name, argument tokens. */
export interface RawCommand {
  tag: string;
  /** Upper-cased command name (e.g. `UID`, `FETCH`). */
  name: string;
  args: Token[];
  /** Octets of command text (all lines, CRLF included, literal bodies excluded). */
  textSize: number;
  /** Octets of literal bodies. */
  literalSize: number;
}

export function describeToken(t: Token | undefined): string {
  if (!t) return 'end of command';
  if (t.type === 'atom') return `atom ${t.value.length > 40 ? t.value.slice(0, 40) + '...' : t.value}`;
  if (t.type === 'list') return 'list';
  return t.form === 'quoted' ? 'quoted string' : 'literal';
}
