export { LocalStore, openLocalStore, type LocalStoreOptions } from './store.js';
export { LocalBlobStore, validateBlobKey } from './blobs.js';
