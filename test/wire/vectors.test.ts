/**
 * The published test vectors (docs/protocol-vectors.json) against the code and the
 * spec text (docs/protocol.md), so neither can drift from the implementation.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  Flag,
  FrameType,
  decodeHeaders,
  encodeFrame,
  encodeHeaders,
  frameTypeName,
  type FrameInit,
} from '../../src/wire/index.js';
import { isErrorCode } from '../../src/errors/index.js';
import { feed, fromHex, toHex } from './helpers.js';

interface VectorFrame {
  type: string;
  flags: number;
  id: number;
  aux: number;
  subject: string;
  reply: string;
  headers: [string, string][] | null;
  payloadHex: string;
  payloadText?: string;
}

interface ValidVector {
  name: string;
  description: string;
  hex: string;
  frame: VectorFrame;
}

interface InvalidVector {
  name: string;
  description: string;
  hex: string;
  error: string;
  maxFrameBytes?: number;
}

interface VectorFile {
  protocolVersion: number;
  maxFrameBytes: number;
  frameTypes: Record<string, number>;
  flags: Record<string, number>;
  valid: ValidVector[];
  invalid: InvalidVector[];
}

// Compiled to dist/test/wire/: the repository root is three levels up.
const root = new URL('../../../', import.meta.url);
const vectors = JSON.parse(readFileSync(new URL('docs/protocol-vectors.json', root), 'utf8')) as VectorFile;
const spec = readFileSync(new URL('docs/protocol.md', root), 'utf8');

/** The header block a vector's `headers` stands for: null = none, [] = a block of zero entries. */
function headerBlock(pairs: [string, string][] | null): Uint8Array | undefined {
  if (pairs === null) return undefined;
  if (pairs.length === 0) return new Uint8Array([0, 0]);
  const record = Object.create(null) as Record<string, string>;
  for (const [k, v] of pairs) record[k] = v;
  const block = encodeHeaders(record)!;
  // Guard against JS reordering integer-like keys: the vector's order is the wire order.
  assert.deepEqual(Object.entries(decodeHeaders(block)!), pairs, 'header order must be preserved');
  return block;
}

function typeOf(name: string): FrameType {
  const t = vectors.frameTypes[name];
  assert.ok(t !== undefined, `unknown frame type name ${name}`);
  return t as FrameType;
}

void describe('protocol vectors: file', () => {
  void it('lists the same frame types and flags as the code', () => {
    assert.equal(vectors.protocolVersion, 1);
    assert.deepEqual(vectors.frameTypes, { ...FrameType });
    assert.deepEqual(vectors.flags, { ...Flag });
  });

  void it('covers every frame type, headers, UTF-8, an empty payload and every error class', () => {
    const types = new Set(vectors.valid.map((v) => v.frame.type));
    for (const name of Object.keys(FrameType)) assert.ok(types.has(name), `no valid vector for ${name}`);
    assert.ok(vectors.valid.some((v) => v.frame.headers !== null && v.frame.headers.length > 0));
    assert.ok(vectors.valid.some((v) => [...v.frame.subject].some((ch) => ch.codePointAt(0)! > 0x7f)));
    assert.ok(vectors.valid.some((v) => v.frame.payloadHex === ''));
    for (const bit of Object.values(Flag)) {
      assert.ok(vectors.valid.some((v) => (v.frame.flags & bit) !== 0), `no vector sets flag 0x${bit.toString(16)}`);
    }
    const codes = new Set(vectors.invalid.map((v) => v.error));
    for (const c of ['PLEXUS_ERR_MALFORMED_FRAME', 'PLEXUS_ERR_FRAME_TOO_LARGE', 'PLEXUS_ERR_UNKNOWN_FRAME_TYPE']) {
      assert.ok(codes.has(c), `no invalid vector for ${c}`);
    }
    assert.ok(vectors.valid.length >= 10 && vectors.invalid.length >= 4);
  });

  void it('has unique names and lower-case hex', () => {
    const names = [...vectors.valid, ...vectors.invalid].map((v) => v.name);
    assert.equal(new Set(names).size, names.length);
    for (const v of [...vectors.valid, ...vectors.invalid]) assert.match(v.hex, /^(?:[0-9a-f]{2})+$/, v.name);
  });
});

void describe('protocol vectors: valid frames', () => {
  for (const v of vectors.valid) {
    void it(`${v.name}: decodes to the stated fields`, () => {
      const bytes = fromHex(v.hex);
      for (const chunks of [[bytes], Array.from(bytes, (_, i) => bytes.subarray(i, i + 1))]) {
        const r = feed(chunks, vectors.maxFrameBytes);
        assert.equal(r.error, undefined, r.error?.message);
        assert.equal(r.frames.length, 1);
        const f = r.frames[0]!;
        assert.equal(frameTypeName(f.type), v.frame.type);
        assert.equal(f.flags, v.frame.flags);
        assert.equal(f.id, v.frame.id);
        assert.equal(f.aux, v.frame.aux);
        assert.equal(f.subject, v.frame.subject);
        assert.equal(f.reply, v.frame.reply);
        const wantBlock = headerBlock(v.frame.headers);
        assert.equal(f.headers === undefined ? undefined : toHex(f.headers), wantBlock === undefined ? undefined : toHex(wantBlock));
        if (v.frame.headers !== null) assert.deepEqual(Object.entries(decodeHeaders(f.headers)!), v.frame.headers);
        assert.equal(toHex(f.payload), v.frame.payloadHex);
        if (v.frame.payloadText !== undefined) assert.equal(new TextDecoder().decode(f.payload), v.frame.payloadText);
      }
    });

    void it(`${v.name}: encoding the stated fields gives the same bytes`, () => {
      const init: FrameInit = {
        type: typeOf(v.frame.type),
        flags: v.frame.flags,
        id: v.frame.id,
        aux: v.frame.aux,
        subject: v.frame.subject,
        reply: v.frame.reply,
        payload: fromHex(v.frame.payloadHex),
      };
      const block = headerBlock(v.frame.headers);
      if (block) init.headers = block;
      assert.equal(toHex(encodeFrame(init)), v.hex);
    });
  }
});

void describe('protocol vectors: invalid input', () => {
  for (const v of vectors.invalid) {
    void it(`${v.name}: ${v.error}`, () => {
      assert.ok(isErrorCode(v.error), `${v.error} is not a known code`);
      const bytes = fromHex(v.hex);
      const max = v.maxFrameBytes ?? vectors.maxFrameBytes;
      for (const chunks of [[bytes], Array.from(bytes, (_, i) => bytes.subarray(i, i + 1))]) {
        const r = feed(chunks, max);
        assert.equal(r.error?.code, v.error);
        assert.equal(r.frames.length, 0);
      }
    });
  }
});

void describe('protocol vectors: the spec shows them', () => {
  void it('docs/protocol.md contains every vector hex verbatim', () => {
    const missing = [...vectors.valid, ...vectors.invalid].filter((v) => !spec.includes(v.hex)).map((v) => v.name);
    assert.deepEqual(missing, []);
  });

  void it('docs/protocol.md names every vector', () => {
    const missing = [...vectors.valid, ...vectors.invalid].filter((v) => !spec.includes(`\`${v.name}\``)).map((v) => v.name);
    assert.deepEqual(missing, []);
  });
});
