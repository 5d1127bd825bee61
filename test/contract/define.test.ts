import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { cbor, msgpack } from '../../src/codec/index.js';
import { defineService, eventSubject, majorOfRange, methodSubject } from '../../src/contract/index.js';
import { ErrorCode } from '../../src/errors/index.js';
import { thrownCode } from '../helpers/wait.js';
import { calc, rides } from './fixtures.js';

const schema = z.string();

void describe('defineService', () => {
  void it('exposes name, version, major, schemas and subjects for introspection', () => {
    assert.equal(rides.name, 'rides');
    assert.equal(rides.version, '2.1.0');
    assert.equal(rides.major, 2);
    assert.equal(rides.methods.shortestPath.input['~standard'].vendor, 'zod');
    assert.equal(calc.methods.add.input['~standard'].vendor, 'valibot');
    assert.equal(rides.methods.shortestPath.safe, true);
    assert.equal(methodSubject(rides, 'shortestPath'), '$SRV.rides.2.shortestPath');
    assert.equal(eventSubject(rides, 'rideBooked'), '$EVT.rides.2.rideBooked');
    assert.equal(rides.codec.name, 'json');
    assert.equal(calc.codec, msgpack);
    assert.ok(Object.isFrozen(rides));
  });

  void it('takes a codec object', () => {
    assert.equal(defineService('x', { version: '1.0.0', codec: cbor, methods: {} }).codec, cbor);
  });

  void it('refuses bad names, versions, schemas and codecs with INVALID_ARGUMENT', () => {
    const m = { input: schema, output: schema };
    const bad: (() => unknown)[] = [
      () => defineService('', { version: '1.0.0', methods: {} }),
      () => defineService('has.dot', { version: '1.0.0', methods: {} }),
      () => defineService('PING', { version: '1.0.0', methods: {} }),
      () => defineService('ok', { version: '1.0', methods: {} }),
      () => defineService('ok', { version: 'v1.0.0', methods: {} }),
      () => defineService('ok', { version: '1.0.0', methods: { 'bad-name': m } }),
      () => defineService('ok', { version: '1.0.0', methods: { a: { input: {} as never, output: schema } } }),
      () => defineService('ok', { version: '1.0.0', methods: { a: { ...m, stream: 'bidi' as never } } }),
      () => defineService('ok', { version: '1.0.0', methods: { a: { ...m, timeoutMs: -1 } } }),
      () => defineService('ok', { version: '1.0.0', codec: 'yaml' as never, methods: {} }),
      () => defineService('ok', { version: '1.0.0', methods: {}, events: { e: 42 as never } }),
      () => methodSubject(rides, 'nope'),
      () => eventSubject(rides, 'nope'),
    ];
    for (const fn of bad) assert.equal(thrownCode(fn), ErrorCode.INVALID_ARGUMENT, fn.toString());
  });

  void it('maps version ranges that name one major, refuses the others', () => {
    for (const [r, major] of [['^2', 2], ['~2.1', 2], ['2', 2], ['2.x', 2], ['2.1.0', 2], ['=3.0.1', 3], ['0.x', 0]] as const) {
      assert.equal(majorOfRange(r), major, r);
    }
    for (const r of ['>=2', '2 || 3', '*', '', 'latest']) assert.equal(thrownCode(() => majorOfRange(r)), ErrorCode.INVALID_ARGUMENT, r);
  });
});
