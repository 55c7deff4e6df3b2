// SASL helpers shared by POP3 AUTH and IMAP AUTHENTICATE. Pure.

/** Decodes base64 strictly (RFC 4648 alphabet, padding required); null when invalid. */
export function decodeBase64Strict(s: string): Buffer | null {
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return null;
  return Buffer.from(s, 'base64');
}

/** SASL PLAIN message: authzid NUL authcid NUL passwd (RFC 4616). */
export function parseSaslPlain(msg: Buffer): { authzid: string; username: string; password: string } | null {
  const a = msg.indexOf(0);
  const b = a < 0 ? -1 : msg.indexOf(0, a + 1);
  if (a < 0 || b < 0 || msg.indexOf(0, b + 1) >= 0) return null;
  const dec = new TextDecoder('utf-8', { fatal: true });
  try {
    return {
      authzid: dec.decode(msg.subarray(0, a)),
      username: dec.decode(msg.subarray(a + 1, b)),
      password: dec.decode(msg.subarray(b + 1)),
    };
  } catch {
    return null;
  }
}
