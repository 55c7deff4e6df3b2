// Typed command objects produced by the parsers in this folder (see index.ts: parseCommand).
//
// Mailbox names are Unicode: decoded from modified UTF-7 (or taken as UTF-8 when the client
// enabled UTF8=ACCEPT), and "INBOX" in any case is normalized to "INBOX". The session
// encodes them back with encodeMailboxName() for responses.

import type { LiteralSinkRef } from '../tokens.js';
import type { ImapDate } from '../dates.js';
import type { SequenceSet } from '../sequence.js';

export interface CapabilityCommand {
  name: 'CAPABILITY';
}
export interface NoopCommand {
  name: 'NOOP';
}
export interface LogoutCommand {
  name: 'LOGOUT';
}
export interface StartTlsCommand {
  name: 'STARTTLS';
}
export interface CheckCommand {
  name: 'CHECK';
}
export interface CloseCommand {
  name: 'CLOSE';
}
export interface UnselectCommand {
  name: 'UNSELECT';
}
export interface IdleCommand {
  name: 'IDLE';
}
export interface NamespaceCommand {
  name: 'NAMESPACE';
}

export interface AuthenticateCommand {
  name: 'AUTHENTICATE';
  /** Upper-cased mechanism name, e.g. 'PLAIN'. */
  mechanism: string;
  /**
   * SASL-IR initial response (RFC 4959), decoded from base64; an empty Buffer for "=";
   * null when absent (then the server sends "+ " and reads a line).
   */
  initialResponse: Buffer | null;
}

export interface LoginCommand {
  name: 'LOGIN';
  username: string;
  password: string;
}

export interface QresyncParams {
  uidValidity: number;
  modseq: number;
  knownUids: SequenceSet | null;
  seqMatch: { seqs: SequenceSet; uids: SequenceSet } | null;
}

export interface SelectCommand {
  name: 'SELECT' | 'EXAMINE';
  mailbox: string;
  condstore: boolean;
  qresync: QresyncParams | null;
}

export interface CreateCommand {
  name: 'CREATE';
  mailbox: string;
  /** RFC 6154 CREATE-SPECIAL-USE: (USE (\Drafts ...)); [] when absent. */
  specialUse: string[];
}

export interface DeleteCommand {
  name: 'DELETE';
  mailbox: string;
}
export interface RenameCommand {
  name: 'RENAME';
  from: string;
  to: string;
}
export interface SubscribeCommand {
  name: 'SUBSCRIBE' | 'UNSUBSCRIBE';
  mailbox: string;
}

export type StatusItem = 'MESSAGES' | 'RECENT' | 'UIDNEXT' | 'UIDVALIDITY' | 'UNSEEN' | 'SIZE' | 'HIGHESTMODSEQ' | 'APPENDLIMIT' | 'DELETED';

export interface ListCommand {
  name: 'LIST';
  /** Reference name (Unicode), '' for none. */
  reference: string;
  /** Patterns (Unicode, with % and * wildcards); several with LIST-EXTENDED. */
  patterns: string[];
  selection: { subscribed: boolean; remote: boolean; recursiveMatch: boolean; specialUse: boolean };
  returns: { subscribed: boolean; children: boolean; specialUse: boolean; status: StatusItem[] | null };
  /** True when any LIST-EXTENDED syntax was used (selection options, RETURN, pattern list). */
  extended: boolean;
}

export interface LsubCommand {
  name: 'LSUB';
  reference: string;
  pattern: string;
}

export interface StatusCommand {
  name: 'STATUS';
  mailbox: string;
  items: StatusItem[];
}

export interface AppendMessage {
  /** Normalized flags (system flags with canonical case, keywords as sent). */
  flags: string[];
  /** Internal date, or null for "now". */
  date: Date | null;
  /** Zone offset of the date as sent (minutes east of UTC), 0 when no date. */
  dateOffsetMinutes: number;
  /** The message; empty when it was streamed to `sink` as it arrived. */
  data: Buffer;
  /** The receiver's sink that took the message's octets (a streamed literal), else null. */
  sink: LiteralSinkRef | null;
  /** The literal's size in octets (data.length, or what went to the sink). */
  size: number;
  /** Sent as literal8 (RFC 3516 BINARY / RFC 6855 UTF8 ~{n}). */
  binary: boolean;
  /** Sent with the UTF8 (...) wrapper of RFC 6855. */
  utf8: boolean;
}

export interface AppendCommand {
  name: 'APPEND';
  mailbox: string;
  /** One message, or several with MULTIAPPEND (RFC 3502). */
  messages: AppendMessage[];
}

export interface ExpungeCommand {
  name: 'EXPUNGE';
  /** UID EXPUNGE (RFC 4315): the UIDs to expunge; null for plain EXPUNGE. */
  uids: SequenceSet | null;
}

export type SearchKey =
  | { type: 'all' }
  | { type: 'and'; keys: SearchKey[] }
  | { type: 'or'; left: SearchKey; right: SearchKey }
  | { type: 'not'; key: SearchKey }
  | { type: 'seq'; set: SequenceSet }
  | { type: 'uid'; set: SequenceSet }
  /** A flag is set (not: false) or not set (not: true). System flags as \Seen etc., \Recent included. */
  | { type: 'flag'; flag: string; not: boolean }
  /** Header field contains value (case-insensitive substring); FROM/TO/CC/BCC/SUBJECT become this. */
  | { type: 'header'; field: string; value: string }
  | { type: 'body'; value: string }
  | { type: 'text'; value: string }
  /** BEFORE/ON/SINCE (internal date) and SENTBEFORE/SENTON/SENTSINCE (Date header). */
  | { type: 'date'; field: 'internal' | 'sent'; op: 'before' | 'on' | 'since'; date: ImapDate }
  | { type: 'size'; op: 'larger' | 'smaller'; size: number }
  /** RFC 7162 MODSEQ [entry-name entry-type] n: modseq >= n. */
  | { type: 'modseq'; modseq: number; entry: { name: string; kind: 'priv' | 'shared' | 'all' } | null }
  /** RFC 5032 OLDER/YOUNGER n (seconds). */
  | { type: 'age'; op: 'older' | 'younger'; seconds: number };

export type SearchReturnOption = 'MIN' | 'MAX' | 'ALL' | 'COUNT' | 'SAVE';

export interface SearchCommand {
  name: 'SEARCH';
  uid: boolean;
  /** Upper-cased CHARSET argument, null when absent. */
  charset: string | null;
  /** The search program: an AND of its keys. */
  criteria: SearchKey;
  /** ESEARCH RETURN (...) options (RFC 4731); null when no RETURN; [] means RETURN (). */
  returnOptions: SearchReturnOption[] | null;
}

export interface PartialRange {
  offset: number;
  length: number;
}

export type BodySectionText = 'HEADER' | 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT' | 'TEXT' | 'MIME';

export interface BodySection {
  /** Part path, e.g. [1, 2] for "1.2"; [] for the whole message. */
  part: number[];
  /** null for the part's full content (BODY[] or BODY[1]). */
  text: BodySectionText | null;
  /** HEADER.FIELDS (.NOT): field names as sent. */
  fields: string[] | null;
}

export type SimpleFetchItem =
  | 'FLAGS'
  | 'UID'
  | 'INTERNALDATE'
  | 'RFC822.SIZE'
  | 'ENVELOPE'
  | 'BODYSTRUCTURE'
  /** The non-extensible body structure (FETCH BODY without a section). */
  | 'BODY'
  | 'MODSEQ';

export type FetchItem =
  | { type: SimpleFetchItem }
  /**
   * BODY[section]<partial>, BODY.PEEK[...], and the RFC822, RFC822.HEADER, RFC822.TEXT and
   * RFC822.PEEK forms mapped onto it. `peek` false means \Seen is set. `label` is the item
   * name for the reply: BODY[<section as sent>] plus <origin> for a partial, or RFC822...;
   * it repeats the client's section text byte for byte (Apple Mail needs that).
   */
  | { type: 'section'; peek: boolean; section: BodySection; partial: PartialRange | null; label: string }
  /** RFC 3516 BINARY[part]<partial> and BINARY.PEEK. */
  | { type: 'binary'; peek: boolean; part: number[]; partial: PartialRange | null; label: string }
  /** RFC 3516 BINARY.SIZE[part]. */
  | { type: 'binary.size'; part: number[]; label: string };

export interface FetchCommand {
  name: 'FETCH';
  uid: boolean;
  set: SequenceSet;
  items: FetchItem[];
  /** ALL / FAST / FULL when a macro was used (items holds its expansion). */
  macro: 'ALL' | 'FAST' | 'FULL' | null;
  /** RFC 7162 (CHANGEDSINCE n); 0 is accepted (iOS sends it). */
  changedSince: number | null;
  /** RFC 7162 QRESYNC VANISHED modifier (UID FETCH only). */
  vanished: boolean;
}

export interface StoreCommand {
  name: 'STORE';
  uid: boolean;
  set: SequenceSet;
  /** FLAGS = replace, +FLAGS = add, -FLAGS = remove. */
  operation: 'replace' | 'add' | 'remove';
  silent: boolean;
  flags: string[];
  /** RFC 7162 (UNCHANGEDSINCE n). */
  unchangedSince: number | null;
}

export interface CopyCommand {
  name: 'COPY' | 'MOVE';
  uid: boolean;
  set: SequenceSet;
  mailbox: string;
}

export interface EnableCommand {
  name: 'ENABLE';
  /** Upper-cased capability names. */
  capabilities: string[];
}

export interface IdCommand {
  name: 'ID';
  /** Field/value pairs in order; null for ID NIL. */
  params: Array<[string, string | null]> | null;
}

export type Command =
  | CapabilityCommand
  | NoopCommand
  | LogoutCommand
  | StartTlsCommand
  | CheckCommand
  | CloseCommand
  | UnselectCommand
  | IdleCommand
  | NamespaceCommand
  | AuthenticateCommand
  | LoginCommand
  | SelectCommand
  | CreateCommand
  | DeleteCommand
  | RenameCommand
  | SubscribeCommand
  | ListCommand
  | LsubCommand
  | StatusCommand
  | AppendCommand
  | ExpungeCommand
  | SearchCommand
  | FetchCommand
  | StoreCommand
  | CopyCommand
  | EnableCommand
  | IdCommand;

export type CommandName = Command['name'];

/** Parser context: what the session has enabled. */
export interface ParseContext {
  /** UTF8=ACCEPT enabled (RFC 6855): mailbox names are UTF-8, not modified UTF-7. */
  utf8?: boolean;
}
