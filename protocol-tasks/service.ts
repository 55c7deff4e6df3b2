// One protocol service (POP3 or IMAP4) on its listeners, following its live settings:
// `enabled` false closes the listeners and ends every session after a short grace period;
// true opens them again. Sessions are created by the protocol module.

import type { LiveSettings } from '../core/settings/live.js';
import type { ProtocolName } from '../core/settings/schema.js';
import { createProtocolServer } from './net/listener.js';
import type { Connection, ListenerSpec, ProtocolServer } from './net/types.js';

export interface ServiceOptions {
  protocol: ProtocolName;
  listeners: ListenerSpec[];
  settings: LiveSettings;
  tls: { cert: string | Buffer; key: string | Buffer } | null;
  trustedProxies: string[];
  /** Starts a session on a new connection (greeting included). */
  startSession: (conn: Connection, server: ProtocolServer) => void;
  /** Line sent to a connection refused by a cap. */
  refusal: (why: 'total' | 'ip') => string;
  /** Line sent to each session when the service stops. */
  stopLine: string;
  /** Grace period between the stop line and closing, ms. */
  graceMs?: number;
}

export interface ProtocolService {
  readonly server: ProtocolServer;
  readonly listening: boolean;
  /** Ends every session with the stop line and closes the listeners for good. */
  close(): Promise<void>;
}

export async function startProtocolService(opts: ServiceOptions): Promise<ProtocolService> {
  const server: ProtocolServer = await createProtocolServer({
    protocol: opts.protocol,
    listeners: opts.listeners,
    settings: () => opts.settings.get(opts.protocol),
    tls: opts.tls,
    trustedProxies: opts.trustedProxies,
    refusal: opts.refusal,
    onConnection: (conn) => opts.startSession(conn, server),
  });
  let listening = true;
  const grace = opts.graceMs ?? 2000;

  const drain = async () => {
    const conns = [...server.connections()];
    await Promise.all(conns.map((c) => c.write(opts.stopLine).catch(() => undefined)));
    await new Promise((r) => setTimeout(r, Math.min(grace, 100)));
    await Promise.all(conns.map((c) => c.end().catch(() => undefined)));
  };

  const apply = async (enabled: boolean) => {
    if (enabled && !listening) {
      await server.startListening();
      listening = true;
    } else if (!enabled && listening) {
      listening = false;
      await server.stopListening();
      await drain();
    }
  };

  let chain = Promise.resolve();
  const off = opts.settings.onChange(opts.protocol, (next) => {
    chain = chain.then(() => apply(next.enabled)).catch(() => undefined);
  });
  await apply(opts.settings.get(opts.protocol).enabled);

  return {
    server,
    get listening() {
      return listening;
    },
    async close() {
      off();
      await chain;
      await server.stopListening().catch(() => undefined);
      await drain();
      await server.close();
    },
  };
}
