/** Reading all of stdin, with a size limit. */
import { ErrorCode, PlexusError } from '../index.js';

/** Read stdin to the end; refuse more than `limit` bytes. */
export async function readStdin(limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) throw new PlexusError(ErrorCode.PAYLOAD_TOO_LARGE, `stdin holds more than ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
