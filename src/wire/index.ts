/** The wire layer: pure frame encoding and decoding (no host APIs). */
export * from './constants.js';
export * from './frame.js';
export * from './encode.js';
export * from './decode.js';
export * from './headers.js';
export { utf8Length, writeUtf8, readUtf8, encodeUtf8 } from './utf8.js';
export * from './subject.js';
export { copyBytes } from './bytes.js';
