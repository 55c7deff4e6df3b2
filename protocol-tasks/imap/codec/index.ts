// The IMAP codec: bytes <-> commands / responses. Pure (no sockets, no store); imports
// nothing but the language and node builtins.

export * from './tokens.js';
export * from './receiver.js';
export * from './sequence.js';
export * from './mutf7.js';
export * from './dates.js';
export * from './serialize.js';
export * from './commands/index.js';
