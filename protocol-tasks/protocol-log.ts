// Exchange-style protocol log (ProtocolLogEnabled): one entry per command, with the fields
// Exchange writes (dateTime, sessionId, seqNumber, serverIp, clientIp, user, duration,
// requestSize, responseSize, command, parameters, context). Callers mask credentials.
import type { Connection } from './net/types.js';

export interface ProtocolLogEntry {
  dateTime: string;
  sessionId: string;
  seqNumber: number;
  serverIp: string;
  serverPort: number;
  clientIp: string;
  user: string;
  command: string;
  parameters: string;
  durationMs: number;
  requestSize: number;
  responseSize: number;
  context: string;
}

export type ProtocolLogSink = (entry: ProtocolLogEntry) => void;

/** Numbers and writes one session's entries, only while the setting is on. */
export class SessionLog {
  private seq = 0;

  constructor(
    private conn: Connection,
    private sink: ProtocolLogSink | undefined,
    private enabled: () => boolean,
  ) {}

  record(e: { command: string; parameters: string; user: string; started: number; requestSize: number; responseSize: number; context: string }): void {
    if (!this.sink || !this.enabled()) return;
    this.sink({
      dateTime: new Date(e.started).toISOString(),
      sessionId: this.conn.id,
      seqNumber: ++this.seq,
      serverIp: this.conn.localAddress,
      serverPort: this.conn.localPort,
      clientIp: this.conn.remoteAddress,
      user: e.user,
      command: e.command,
      parameters: e.parameters,
      durationMs: Date.now() - e.started,
      requestSize: e.requestSize,
      responseSize: e.responseSize,
      context: e.context,
    });
  }
}
