// parseCommand: a received command (tokens) -> a typed command object, or the error to send.
// Command names are case-insensitive (the receiver upper-cases them); UID FETCH / STORE /
// SEARCH / COPY / MOVE / EXPUNGE become the same objects with uid: true.

import type { RawCommand } from '../tokens.js';
import { parseAppend } from './parse-append.js';
import { parseAuthenticate } from './parse-authenticate.js';
import { parseCopy } from './parse-copy.js';
import { parseEnable } from './parse-enable.js';
import { parseExpunge } from './parse-expunge.js';
import { parseFetch } from './parse-fetch.js';
import { parseId } from './parse-id.js';
import { parseList, parseLsub } from './parse-list.js';
import { parseLogin } from './parse-login.js';
import { parseCreate, parseDelete, parseRename, parseSubscribe } from './parse-mailbox.js';
import { parseSearch } from './parse-search.js';
import { parseSelect } from './parse-select.js';
import { SIMPLE_COMMANDS, parseSimple, type SimpleCommand } from './parse-simple.js';
import { parseStatus } from './parse-status.js';
import { parseStore } from './parse-store.js';
import { Args, ParseError } from './reader.js';
import type { Command, ParseContext } from './types.js';

export type ParseResult =
  | { ok: true; tag: string; command: Command }
  | {
      ok: false;
      tag: string;
      /** Upper-cased command name as received (UID FETCH -> 'UID FETCH'). */
      name: string;
      status: 'BAD' | 'NO';
      /** Response code without brackets, or null. */
      code: string | null;
      message: string;
      /** True when the command name is not known at all. */
      unknown: boolean;
    };

const UID_COMMANDS = new Set(['FETCH', 'STORE', 'SEARCH', 'COPY', 'MOVE', 'EXPUNGE']);

function parseUid(raw: RawCommand, ctx: ParseContext): Command {
  const args = new Args(raw.args, 'UID');
  const sub = args.keyword('UID command');
  const a = new Args(raw.args.slice(1), `UID ${sub}`);
  switch (sub) {
    case 'FETCH':
      return parseFetch(a, true);
    case 'STORE':
      return parseStore(a, true);
    case 'SEARCH':
      return parseSearch(a, true);
    case 'COPY':
    case 'MOVE':
      return parseCopy(sub, a, true, ctx);
    case 'EXPUNGE':
      return parseExpunge(a, true);
  }
  throw new ParseError(`UID: unknown command ${sub.slice(0, 40)}`);
}

/** Parses a received command. Never throws for any token tree. */
export function parseCommand(raw: RawCommand, ctx: ParseContext = {}): ParseResult {
  let name = raw.name;
  if (name === 'UID') {
    const sub = raw.args[0];
    if (sub && sub.type === 'atom' && UID_COMMANDS.has(sub.value.toUpperCase())) name = `UID ${sub.value.toUpperCase()}`;
  }
  try {
    const args = new Args(raw.args, raw.name);
    let command: Command;
    if (SIMPLE_COMMANDS.has(raw.name as SimpleCommand['name'])) {
      command = parseSimple(raw.name as SimpleCommand['name'], args);
    } else {
      switch (raw.name) {
        case 'EXPUNGE':
          command = parseExpunge(args, false);
          break;
        case 'AUTHENTICATE':
          command = parseAuthenticate(args);
          break;
        case 'LOGIN':
          command = parseLogin(args);
          break;
        case 'SELECT':
        case 'EXAMINE':
          command = parseSelect(raw.name, args, ctx);
          break;
        case 'CREATE':
          command = parseCreate(args, ctx);
          break;
        case 'DELETE':
          command = parseDelete(args, ctx);
          break;
        case 'RENAME':
          command = parseRename(args, ctx);
          break;
        case 'SUBSCRIBE':
        case 'UNSUBSCRIBE':
          command = parseSubscribe(raw.name, args, ctx);
          break;
        case 'LIST':
          command = parseList(args, ctx);
          break;
        case 'LSUB':
          command = parseLsub(args, ctx);
          break;
        case 'STATUS':
          command = parseStatus(args, ctx);
          break;
        case 'APPEND':
          command = parseAppend(args, ctx);
          break;
        case 'SEARCH':
          command = parseSearch(args, false);
          break;
        case 'FETCH':
          command = parseFetch(args, false);
          break;
        case 'STORE':
          command = parseStore(args, false);
          break;
        case 'COPY':
        case 'MOVE':
          command = parseCopy(raw.name, args, false, ctx);
          break;
        case 'UID':
          command = parseUid(raw, ctx);
          break;
        case 'ENABLE':
          command = parseEnable(args);
          break;
        case 'ID':
          command = parseId(args);
          break;
        default:
          return {
            ok: false,
            tag: raw.tag,
            name,
            status: 'BAD',
            code: null,
            message: `Unknown command ${raw.name.slice(0, 40)}`,
            unknown: true,
          };
      }
    }
    return { ok: true, tag: raw.tag, command };
  } catch (e) {
    if (e instanceof ParseError) {
      return { ok: false, tag: raw.tag, name, status: e.status, code: e.code, message: e.message, unknown: false };
    }
    throw e;
  }
}

export { ParseError } from './reader.js';
export { decodeSaslResponse, decodeBase64Strict, type SaslResponse } from './parse-authenticate.js';
export * from './types.js';
