/**
 * Node's ambient call storage: AsyncLocalStorage, so a service call made anywhere inside
 * a handler inherits its deadline, cancellation and request id. Imported for its effect
 * by the server side (and the Node entry point); the browser bundle never loads it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { setAmbientStorage, type AmbientCall } from './context.js';

setAmbientStorage(new AsyncLocalStorage<AmbientCall>());
