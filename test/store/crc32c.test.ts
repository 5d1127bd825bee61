import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { crc32c } from '../../src/store/crc32c.js';

/** Bit-at-a-time CRC32C: slow, obviously right, the reference for the table version. */
function reference(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of data) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

void describe('crc32c', () => {
  void it('matches the RFC 3720 appendix B.4 vectors', () => {
    assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
    assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
    assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
    assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c);
    // An iSCSI SCSI Read (10) command PDU.
    const pdu = Uint8Array.from([
      0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ]);
    assert.equal(crc32c(pdu), 0xd9963a56);
  });

  void it('matches the common check value and the empty input', () => {
    assert.equal(crc32c(Buffer.from('123456789', 'ascii')), 0xe3069283);
    assert.equal(crc32c(new Uint8Array(0)), 0);
  });

  void it('agrees with a bitwise reference on random input, any alignment and length', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(20), (data, skip) => {
        const start = Math.min(skip, data.length);
        assert.equal(crc32c(data, start), reference(data.subarray(start)));
      }),
      { numRuns: 500 },
    );
  });

  void it('continues across calls like one call over the concatenation', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(), (data, cut) => {
        const k = data.length === 0 ? 0 : cut % (data.length + 1);
        assert.equal(crc32c(data, k, data.length, crc32c(data, 0, k)), crc32c(data));
      }),
      { numRuns: 300 },
    );
  });

  void it('rejects out-of-bounds ranges', () => {
    assert.throws(() => crc32c(new Uint8Array(4), 0, 5), RangeError);
    assert.throws(() => crc32c(new Uint8Array(4), 3, 2), RangeError);
  });
});
