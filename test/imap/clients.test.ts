// Real IMAP clients against a real server on the embedded store: imapflow and Python's imaplib
// each run a full mail-client day (the scenarios: client-day.ts).
import { startTestServer } from '../helpers/server.js';
import { imapClientDayTests } from './client-day.js';

imapClientDayTests('real IMAP clients: a full mail-client day', () => startTestServer({ user: false }));
