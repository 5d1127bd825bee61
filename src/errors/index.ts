export { ErrorCode, isErrorCode } from './codes.js';
export { PlexusError, plexusError, type WireError } from './plexus-error.js';
