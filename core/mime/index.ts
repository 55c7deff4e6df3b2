// The MIME module: index a message once at delivery, then serve IMAP from the index.
export * from './types.js';
export { indexMessage, indexMessageStrict, findHeaderEnd, countLines } from './indexer.js';
export { parseHeaderFields, selectHeaderFields, scanHeaderFields, unfoldValue, type HeaderField } from './header.js';
export { findSection, sectionRange, type SectionKind } from './sections.js';
export { parseAddressList } from './address.js';
export { parseContentType, parseDisposition, parseEncoding, parseLanguage, joinRfc2231 } from './content.js';
