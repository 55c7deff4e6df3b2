// The access policy's contract (implemented in core/access/authenticator.ts).

import type { Account } from '../store/port.js';
import type { LoginType, ProtocolName } from '../settings/schema.js';

export interface AuthRequest {
  protocol: ProtocolName;
  /** Authentication identity as the client sent it (not yet canonicalized). */
  username: string;
  password: string;
  /** SASL PLAIN authorization identity; must be empty or equal to username. */
  authzid?: string;
  /** Real client IP (after PROXY protocol). */
  clientIp: string;
}

/**
 * Every refusal looks the same to the client and takes the same time; `reason` is for the
 * server's own log only and must never reach the wire.
 */
export type AuthResult =
  | { ok: true; account: Account }
  | { ok: false; reason: 'bad-credentials' | 'unknown-user' | 'disabled' | 'role' | 'throttled' | 'invalid-input' };

/** May this connection carry credentials now? (Exchange's LoginType.) */
export function credentialsAllowed(loginType: LoginType, secure: boolean): boolean {
  // PlainTextAuthentication in Exchange lets integrated Windows auth run in clear; this service
  // has no such mechanism, so for password logins it is as strict as SecureLogin.
  return loginType === 'PlainTextLogin' || secure;
}
