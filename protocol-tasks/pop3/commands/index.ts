// The POP3 command table: one file per command.
import type { Pop3CommandHandler } from '../session.js';
import { auth } from './auth.js';
import { capa } from './capa.js';
import { dele } from './dele.js';
import { list } from './list.js';
import { noop } from './noop.js';
import { pass } from './pass.js';
import { quit } from './quit.js';
import { retr } from './retr.js';
import { rset } from './rset.js';
import { stat } from './stat.js';
import { stls } from './stls.js';
import { top } from './top.js';
import { uidl } from './uidl.js';
import { user } from './user.js';

export const COMMANDS: ReadonlyMap<string, Pop3CommandHandler> = new Map(
  [auth, capa, dele, list, noop, pass, quit, retr, rset, stat, stls, top, uidl, user].map((h) => [h.name, h]),
);
