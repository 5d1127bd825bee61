import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { ErrorCode, PlexusError, isErrorCode, plexusError } from '../../src/errors/index.js';

// Compiled to dist/test/errors/: the repository root is three levels up.
const root = new URL('../../../', import.meta.url);
const errorsDoc = readFileSync(new URL('docs/errors.md', root), 'utf8');
const protocolDoc = readFileSync(new URL('docs/protocol.md', root), 'utf8');

const codes = Object.values(ErrorCode);

/** The `### \`PLEXUS_ERR_…\`` sections of docs/errors.md, with their text. */
function docSections(md: string): Map<string, string> {
  const out = new Map<string, string>();
  const parts = md.split(/^### /m).slice(1);
  for (const part of parts) {
    const m = /^`(PLEXUS_ERR_[A-Z0-9_]+)`\s*$/m.exec(part.split('\n', 1)[0]!);
    if (!m) continue;
    assert.ok(!out.has(m[1]!), `${m[1]} is documented twice`);
    out.set(m[1]!, part);
  }
  return out;
}

void describe('error codes: registry', () => {
  void it('every code is PLEXUS_ERR_ + its key, and no code is used twice', () => {
    for (const [key, code] of Object.entries(ErrorCode)) assert.equal(code, `PLEXUS_ERR_${key}`);
    assert.equal(new Set(codes).size, codes.length);
  });

  void it('isErrorCode knows exactly the registry', () => {
    for (const c of codes) assert.equal(isErrorCode(c), true);
    for (const c of ['PLEXUS_ERR_NOPE', 'plexus_err_timeout', '', 42, undefined, null, {}]) assert.equal(isErrorCode(c), false);
  });
});

void describe('error codes: docs/errors.md', () => {
  const sections = docSections(errorsDoc);

  void it('documents exactly the codes in codes.ts', () => {
    const documented = [...sections.keys()].sort();
    const registry = [...codes].sort();
    const missing = registry.filter((c) => !sections.has(c));
    const extra = documented.filter((c) => !isErrorCode(c));
    assert.deepEqual({ missing, extra }, { missing: [], extra: [] });
    assert.deepEqual(documented, registry);
  });

  void it('says for every code when it happens and whether it closes the connection', () => {
    for (const [code, text] of sections) {
      assert.match(text, /\*\*When:\*\*/, `${code} has no "When:"`);
      assert.match(text, /\*\*Closes the connection:\*\* \S/, `${code} has no "Closes the connection:"`);
    }
  });

  void it('lists every code once in the summary table', () => {
    for (const code of codes) {
      const rows = errorsDoc.split('\n').filter((l) => l.startsWith(`| \`${code}\` |`));
      assert.equal(rows.length, 1, `${code} summary rows`);
    }
  });

  void it('mentions no unknown code anywhere in the docs', () => {
    for (const [name, text] of [['errors.md', errorsDoc], ['protocol.md', protocolDoc]] as const) {
      const unknown = [...text.matchAll(/PLEXUS_ERR_[A-Z0-9_]+/g)].map((m) => m[0]).filter((c) => !isErrorCode(c));
      assert.deepEqual(unknown, [], `${name} mentions unknown codes`);
    }
  });
});

void describe('PlexusError', () => {
  void it('carries code, message, name, cause and details', () => {
    const cause = new Error('socket reset');
    const e = new PlexusError(ErrorCode.CONNECTION_LOST, 'lost', { cause, details: { attempt: 3 } });
    assert.equal(e.code, 'PLEXUS_ERR_CONNECTION_LOST');
    assert.equal(e.message, 'lost');
    assert.equal(e.name, 'PlexusError');
    assert.equal(e.cause, cause);
    assert.deepEqual(e.details, { attempt: 3 });
    assert.ok(e instanceof Error);
    assert.match(String(e.stack), /^PlexusError: lost/);
    assert.equal(String(e), 'PlexusError: lost');
  });

  void it('has no cause property when none is given', () => {
    const e = new PlexusError(ErrorCode.TIMEOUT, 't');
    assert.equal('cause' in e, false);
    assert.equal(e.details, undefined);
  });

  void it('plexusError() is a shorthand for the constructor', () => {
    const e = plexusError(ErrorCode.CANCELLED, 'c', { details: 1 });
    assert.ok(e instanceof PlexusError);
    assert.equal(e.code, ErrorCode.CANCELLED);
    assert.equal(e.details, 1);
  });
});

void describe('PlexusError: wire form', () => {
  void it('toWire omits details when there are none', () => {
    const w = new PlexusError(ErrorCode.NO_RESPONDERS, 'no responders for a.b').toWire();
    assert.deepEqual(w, { code: 'PLEXUS_ERR_NO_RESPONDERS', message: 'no responders for a.b' });
    assert.equal(Object.hasOwn(w, 'details'), false);
  });

  void it('round-trips through toWire, JSON and fromWire', () => {
    fc.assert(
      fc.property(fc.constantFrom(...codes), fc.string(), fc.option(fc.jsonValue(), { nil: undefined }), (code, message, details) => {
        const e = new PlexusError(code, message, { details });
        const json = JSON.stringify(e.toWire());
        const back = PlexusError.fromWire(JSON.parse(json));
        assert.ok(back instanceof PlexusError);
        assert.equal(back.code, code);
        assert.equal(back.message, message);
        assert.equal(JSON.stringify(back.toWire()), json);
      }),
      { numRuns: 300 },
    );
  });

  void it('maps unknown codes to PLEXUS_ERR_INTERNAL and keeps the message', () => {
    const e = PlexusError.fromWire({ code: 'PLEXUS_ERR_FROM_THE_FUTURE', message: 'new thing', details: [1] });
    assert.equal(e.code, ErrorCode.INTERNAL);
    assert.equal(e.message, 'new thing');
    assert.deepEqual(e.details, [1]);
  });

  void it('never throws on malformed wire forms', () => {
    for (const w of [null, undefined, 'PLEXUS_ERR_TIMEOUT', 7, [], { code: 7 }, { message: 3 }]) {
      const e = PlexusError.fromWire(w);
      assert.ok(e instanceof PlexusError);
      assert.equal(e.code, ErrorCode.INTERNAL);
      assert.equal(typeof e.message, 'string');
    }
    fc.assert(
      fc.property(fc.anything(), (w) => {
        const e = PlexusError.fromWire(w);
        assert.ok(isErrorCode(e.code));
      }),
      { numRuns: 300 },
    );
  });

  void it('does not let a wire form pollute prototypes', () => {
    const w = JSON.parse('{"code":"PLEXUS_ERR_TIMEOUT","message":"m","__proto__":{"polluted":true}}') as unknown;
    const e = PlexusError.fromWire(w);
    assert.equal(e.code, ErrorCode.TIMEOUT);
    assert.equal((Object.prototype as Record<string, unknown>)['polluted'], undefined);
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  });
});

void describe('PlexusError: instanceof', () => {
  const brand = Symbol.for('plexus.error');

  void it('recognises an object carrying the Symbol.for brand (a second copy of the package)', () => {
    const foreign = Object.assign(new Error('from another copy'), { code: ErrorCode.TIMEOUT });
    Object.defineProperty(foreign, brand, { value: true });
    assert.ok(foreign instanceof PlexusError);
    assert.ok({ [brand]: true } instanceof PlexusError);
  });

  void it('works across a real second instance of the module', async () => {
    // A query string makes the ESM loader evaluate the module again: a distinct class.
    const url = new URL('../../src/errors/plexus-error.js?second-copy', import.meta.url).href;
    const copy = (await import(url)) as typeof import('../../src/errors/plexus-error.js');
    assert.notEqual(copy.PlexusError, PlexusError);
    const theirs = new copy.PlexusError(ErrorCode.TIMEOUT, 'theirs');
    const ours = new PlexusError(ErrorCode.TIMEOUT, 'ours');
    assert.ok(theirs instanceof PlexusError);
    assert.ok(ours instanceof copy.PlexusError);
    assert.equal(Object.getPrototypeOf(theirs), copy.PlexusError.prototype);
  });

  void it('rejects everything without the brand', () => {
    for (const v of [new Error('x'), { code: ErrorCode.TIMEOUT }, { [brand]: 'true' }, null, undefined, 1, 'PlexusError']) {
      assert.equal(v instanceof PlexusError, false);
    }
  });

  void it('subclasses keep ordinary instanceof', () => {
    class RideError extends PlexusError {}
    class OtherError extends PlexusError {}
    const r = new RideError(ErrorCode.HANDLER_FAILED, 'no route');
    assert.ok(r instanceof RideError);
    assert.ok(r instanceof PlexusError);
    assert.ok(r instanceof Error);
    assert.equal(r instanceof OtherError, false);
    assert.equal(new PlexusError(ErrorCode.HANDLER_FAILED, 'x') instanceof RideError, false);
    assert.equal({ [brand]: true } instanceof RideError, false);
    assert.equal(r.code, ErrorCode.HANDLER_FAILED);
    assert.deepEqual(r.toWire(), { code: ErrorCode.HANDLER_FAILED, message: 'no route' });
  });
});
