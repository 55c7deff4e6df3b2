// What the admin operations need from where they run. The local server (npm start), the
// admin Lambda and the tests each build one; the operations never look at the transport.
import type { ProtocolName } from '../settings/schema.js';
import type { Store } from '../store/port.js';

/** The local admin API's token, in DATA_DIR (mode 0600), where mailctl finds it. */
export const ADMIN_TOKEN_FILE = 'admin-token.txt';
/** Where the running local server says its admin API listens (ADMIN_PORT may be 0). */
export const ADMIN_URL_FILE = 'admin-url.txt';

/** A front-end endpoint clients connect to: what a connectivity test logs in through. */
export interface FrontEnd {
  /** Name reported in connectivity results (Exchange: the Client Access server). */
  server: string;
  site: string;
  host: string;
  /** Plain port (STARTTLS/STLS available), or null when there is none. */
  plainPort: number | null;
  /** Implicit-TLS port, or null. */
  tlsPort: number | null;
  /** Accept any certificate by default (a self-signed local one); a request may override. */
  trustAnyCertificate: boolean;
}

export interface AdminContext {
  /** The store; locally the notifying store, so running sessions and settings follow changes. */
  store: Store;
  /** This site's name: the home site of new mailboxes. */
  site: string;
  /** The front-ends a connectivity test goes through, per protocol. */
  frontEnds(protocol: ProtocolName): Promise<FrontEnd[]> | FrontEnd[];
  /**
   * Connection settings to report when the service's are still the schema defaults (which name
   * standard ports on `localhost`): locally, the server's real listeners. Absent: report the
   * stored settings as they are.
   */
  listenerConnectionSettings?(protocol: ProtocolName): string[] | null;
  /**
   * External connection settings to report while none are stored (the deployment's public
   * hostnames, from the CDK context). Absent: report the stored ones (empty by default).
   */
  externalConnectionDefaults?(protocol: ProtocolName): string[];
  /** Awaited after a settings change, so it has taken effect before the reply (local server). */
  settingsChanged?(protocol: ProtocolName): Promise<void>;
}
