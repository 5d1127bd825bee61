/**
 * Node-only adapters for {@link PlexusStream}. Kept out of stream.ts so the browser
 * build (src/browser.ts), which never imports this module, has no `node:stream` in it.
 * Importing it (the Node entry, client/index.ts, does) makes `toDuplex()` work.
 */
import { Duplex } from 'node:stream';
import { setDuplexAdapter, type PlexusStream } from './stream.js';

/** A Node `Duplex` over a Plexus stream (backpressure and EOF carried through). */
export function streamToDuplex(stream: PlexusStream): Duplex {
  let reading = false;
  const duplex: Duplex = new Duplex({
    write: (chunk: Buffer, _enc, cb) => {
      stream.write(chunk).then(() => cb(), cb);
    },
    final: (cb) => {
      stream.end().then(() => cb(), cb);
    },
    read: () => {
      if (reading) return;
      reading = true;
      const pull = (): void => {
        stream.read().then(
          (chunk) => {
            if (chunk === null) {
              reading = false;
              duplex.push(null);
            } else if (duplex.push(chunk)) pull();
            else reading = false;
          },
          (err: unknown) => {
            reading = false;
            duplex.destroy(err as Error);
          },
        );
      };
      pull();
    },
    destroy: (err, cb) => {
      // reset() is a no-op on a stream that has already finished.
      if (err) stream.reset(err.message);
      cb(err);
    },
  });
  return duplex;
}

setDuplexAdapter(streamToDuplex);
