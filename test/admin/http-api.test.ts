// The admin API over local HTTP (npm start's server, bearer token): the shared route tests.
import { routeSuite } from './route-suite.js';
import { httpTransport } from './transports.js';

routeSuite('local HTTP', httpTransport);
