// Real POP3 clients against a real server on the embedded store (the scenarios: client-scenarios.ts).
import { startTestServer } from '../helpers/server.js';
import { pop3ClientTests } from './client-scenarios.js';

pop3ClientTests('real POP3 clients', () => startTestServer({ user: false }));
