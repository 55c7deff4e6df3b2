// ENABLE capability... (RFC 5161).

import { ParseError, type Args } from './reader.js';
import type { EnableCommand } from './types.js';

export function parseEnable(args: Args): EnableCommand {
  const capabilities: string[] = [];
  if (args.done) throw new ParseError('ENABLE: missing capability');
  while (!args.done) {
    const c = args.keyword('capability');
    if (!/^[A-Z0-9=+._-]+$/.test(c)) throw new ParseError('ENABLE: invalid capability name');
    if (!capabilities.includes(c)) capabilities.push(c);
  }
  return { name: 'ENABLE', capabilities };
}
