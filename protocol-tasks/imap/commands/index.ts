// The IMAP command table: one file per command. Each handler declares its states.
import type { Command } from '../codec/commands/types.js';
import type { ImapCommandHandler } from '../session.js';
import { authenticate } from './authenticate.js';
import { capability } from './capability.js';
import { check } from './check.js';
import { close } from './close.js';
import { enable } from './enable.js';
import { fetch } from './fetch.js';
import { id } from './id.js';
import { idle } from './idle.js';
import { login } from './login.js';
import { logout } from './logout.js';
import { namespace } from './namespace.js';
import { noop } from './noop.js';
import { examine, select } from './select.js';
import { starttls } from './starttls.js';
import { store } from './store.js';
import { unselect } from './unselect.js';
import { create } from './create.js';
import { del } from './delete.js';
import { list } from './list.js';
import { lsub } from './lsub.js';
import { rename } from './rename.js';
import { status } from './status.js';
import { subscribe, unsubscribe } from './subscribe.js';

import { append } from './append.js';
import { copy } from './copy.js';
import { expunge } from './expunge.js';
import { move } from './move.js';
import { search } from './search.js';
const handlers: ImapCommandHandler<any>[] = [
  append,
  copy,
  expunge,
  move,
  search,
  authenticate,
  capability,
  check,
  close,
  enable,
  examine,
  fetch,
  id,
  idle,
  login,
  logout,
  namespace,
  noop,
  select,
  starttls,
  store,
  unselect,
  create,
  del,
  list,
  lsub,
  rename,
  status,
  subscribe,
  unsubscribe,
];

export const COMMANDS: ReadonlyMap<Command['name'], ImapCommandHandler> = new Map(handlers.map((h) => [h.name, h as ImapCommandHandler]));
