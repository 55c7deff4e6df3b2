// AUTHENTICATE mechanism [initial-response] (RFC 3501 §6.2.2, SASL-IR RFC 4959), and the
// decoding of the client's continuation lines.

import { ParseError, type Args } from './reader.js';
import type { AuthenticateCommand } from './types.js';

/** Strict base64 (RFC 4648 alphabet, padding required, no whitespace). */
export function decodeBase64Strict(text: string): Buffer | null {
  if (text.length % 4 !== 0) return null;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return null;
  const data = Buffer.from(text, 'base64');
  // Reject non-canonical encodings (non-zero padding bits).
  if (data.toString('base64') !== text) return null;
  return data;
}

export function parseAuthenticate(args: Args): AuthenticateCommand {
  const mechanism = args.keyword('SASL mechanism');
  if (!/^[A-Z0-9_-]{1,20}$/.test(mechanism)) throw new ParseError('AUTHENTICATE: invalid mechanism name');
  let initialResponse: Buffer | null = null;
  if (!args.done) {
    const ir = args.atom('initial response');
    if (ir === '=') initialResponse = Buffer.alloc(0);
    else {
      const data = decodeBase64Strict(ir);
      if (!data) throw new ParseError('AUTHENTICATE: invalid base64 in initial response');
      initialResponse = data;
    }
  }
  args.end();
  return { name: 'AUTHENTICATE', mechanism, initialResponse };
}

export type SaslResponse = { cancel: true } | { cancel: false; data: Buffer };

/**
 * Decodes a client's AUTHENTICATE continuation line (without CRLF): "*" cancels (the
 * server answers BAD), otherwise strict base64 (an empty line is an empty response).
 * Throws ParseError (BAD) when the line is not valid base64.
 */
export function decodeSaslResponse(line: Buffer): SaslResponse {
  const text = line.toString('latin1');
  if (text === '*') return { cancel: true };
  const data = decodeBase64Strict(text);
  if (!data) throw new ParseError('Invalid base64 in AUTHENTICATE response');
  return { cancel: false, data };
}
