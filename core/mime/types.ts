// The message index computed once at delivery (core/mime/indexer.ts) and stored with the
// metadata, so ENVELOPE, BODYSTRUCTURE, RFC822.SIZE and header fetches never read the blob,
// and body sections are served by ranged reads of the blob at exact octet offsets.
//
// Strings taken from headers are "binary strings": each char code is one octet of the raw
// message (latin1 decoding), so they round-trip byte-exact through JSON and back to the wire.
// Encoded words (RFC 2047) are kept as they are, as IMAP requires for ENVELOPE.

export interface Address {
  /** Display name (phrase), raw; null when absent. */
  name: string | null;
  /** Source route (obsolete); always null in practice. */
  adl: string | null;
  /** Local part; for group syntax: the group name at the start, null at the end. */
  mailbox: string | null;
  /** Domain; null marks group start/end per RFC 3501. */
  host: string | null;
}

export interface Envelope {
  date: string | null;
  subject: string | null;
  from: Address[] | null;
  sender: Address[] | null;
  replyTo: Address[] | null;
  to: Address[] | null;
  cc: Address[] | null;
  bcc: Address[] | null;
  inReplyTo: string | null;
  messageId: string | null;
}

export interface Disposition {
  type: string;
  params: Array<[string, string]>;
}

export interface MimePart {
  /** Octet offsets into the raw message. headerStart <= bodyStart <= bodyEnd. */
  headerStart: number;
  bodyStart: number;
  bodyEnd: number;
  /** Lower-cased media type and subtype, e.g. 'text', 'plain'. Defaults per RFC 2045. */
  type: string;
  subtype: string;
  /** Content-Type parameters in order, names lower-cased, values unquoted (raw octets). */
  params: Array<[string, string]>;
  id: string | null;
  description: string | null;
  /** Content-Transfer-Encoding, upper-cased; '7BIT' when absent. */
  encoding: string;
  /** Body size in octets (bodyEnd - bodyStart). */
  size: number;
  /** Number of lines of the body (text/* and message/rfc822 only, else null). */
  lines: number | null;
  md5: string | null;
  disposition: Disposition | null;
  language: string[] | null;
  location: string | null;
  /** multipart/*: the sub-parts, in order (possibly capped: see MessageIndex.truncated). */
  children?: MimePart[];
  /** message/rfc822 (and message/global): the encapsulated message. */
  message?: { envelope: Envelope; root: MimePart };
}

export interface MessageIndex {
  /** Total size of the raw message in octets. */
  size: number;
  /** Octet length of the top-level header block including the blank line that ends it. */
  headerSize: number;
  /**
   * The top-level header block as a binary string (ends with the blank line), kept when it is
   * at most MAX_STORED_HEADER octets, else null (then it is read from the blob).
   */
  header: string | null;
  envelope: Envelope;
  root: MimePart;
  /** True when a limit (depth, parts, headers, line length) capped the structure. */
  truncated: boolean;
}

export interface MimeLimits {
  /** Maximum multipart / message nesting depth. */
  maxDepth: number;
  /** Maximum number of MIME parts in one message. */
  maxParts: number;
  /** Maximum number of header fields parsed per part. */
  maxHeaders: number;
  /** Maximum length of one header field (unfolded) that is parsed. */
  maxHeaderLength: number;
  /** Maximum number of addresses kept per address header, and parameters per field. */
  maxAddresses: number;
  maxParams: number;
}

export const DEFAULT_MIME_LIMITS: MimeLimits = {
  maxDepth: 32,
  maxParts: 1000,
  maxHeaders: 1000,
  maxHeaderLength: 64 * 1024,
  maxAddresses: 1000,
  maxParams: 100,
};

export const MAX_STORED_HEADER = 64 * 1024;
