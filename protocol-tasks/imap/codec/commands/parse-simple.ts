// Commands without arguments: CAPABILITY, NOOP, LOGOUT, STARTTLS, CHECK, CLOSE, UNSELECT,
// IDLE, NAMESPACE, and EXPUNGE (UID EXPUNGE takes a UID set: see parse-expunge.ts).

import { Args } from './reader.js';
import type {
  CapabilityCommand,
  CheckCommand,
  CloseCommand,
  IdleCommand,
  LogoutCommand,
  NamespaceCommand,
  NoopCommand,
  StartTlsCommand,
  UnselectCommand,
} from './types.js';

export type SimpleCommand =
  | CapabilityCommand
  | NoopCommand
  | LogoutCommand
  | StartTlsCommand
  | CheckCommand
  | CloseCommand
  | UnselectCommand
  | IdleCommand
  | NamespaceCommand;

export const SIMPLE_COMMANDS = new Set<SimpleCommand['name']>([
  'CAPABILITY',
  'NOOP',
  'LOGOUT',
  'STARTTLS',
  'CHECK',
  'CLOSE',
  'UNSELECT',
  'IDLE',
  'NAMESPACE',
]);

export function parseSimple(name: SimpleCommand['name'], args: Args): SimpleCommand {
  args.end();
  return { name } as SimpleCommand;
}
