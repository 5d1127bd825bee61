/** Terminal output: colours when writing to a TTY, readable payloads. */

const CODES = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, gray: 90, bold: 1 } as const;
export type Colour = keyof typeof CODES;

/** Whether to colour what goes to `stream` (a TTY, and NO_COLOR unset). */
export function colourful(stream: NodeJS.WriteStream): boolean {
  return stream.isTTY === true && !process.env['NO_COLOR'] && process.env['TERM'] !== 'dumb';
}

/** Wrap `text` in an ANSI colour when `on`. */
export function paint(on: boolean, colour: Colour, text: string): string {
  return on ? `\x1b[${CODES[colour]}m${text}\x1b[0m` : text;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * A payload as one readable line: UTF-8 text with control characters escaped, or a
 * byte count and a hex preview when it is not text.
 */
export function describePayload(data: Uint8Array, maxChars = 400): string {
  let text: string;
  try {
    text = decoder.decode(data);
  } catch {
    const hex = Buffer.from(data.subarray(0, 16)).toString('hex').replace(/(..)/g, '$1 ').trim();
    return `<${data.length} bytes binary: ${hex}${data.length > 16 ? ' …' : ''}>`;
  }
  // eslint-disable-next-line no-control-regex
  const escaped = text.replace(/[\x00-\x1f\x7f]/g, (c) => (c === '\n' ? '\\n' : c === '\t' ? '\\t' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
  return escaped.length > maxChars ? `${escaped.slice(0, maxChars)}… (${data.length} bytes)` : escaped;
}

/** Write and wait until the stream has taken it (so an exit right after loses nothing). */
export function writeAll(stream: NodeJS.WritableStream, chunk: string | Uint8Array): Promise<void> {
  return new Promise((resolve) => {
    if (!stream.write(chunk)) stream.once('drain', () => resolve());
    else resolve();
  });
}

/** Wait until everything written to stdout and stderr has been handed to the OS. */
export async function flushStdio(): Promise<void> {
  await Promise.all(
    [process.stdout, process.stderr].map(
      (s) => new Promise<void>((resolve) => (s.writableLength === 0 ? resolve() : s.write('', () => resolve()))),
    ),
  );
}
