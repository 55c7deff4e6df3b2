// LOGIN userid password (RFC 3501 §6.2.3). Both are astrings, decoded as UTF-8.

import type { Args } from './reader.js';
import type { LoginCommand } from './types.js';

export function parseLogin(args: Args): LoginCommand {
  const username = args.astringUtf8('user name');
  const password = args.astringUtf8('password');
  args.end();
  return { name: 'LOGIN', username, password };
}
