import assert from 'node:assert/strict';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  DEFAULT_PORTS,
  defaultSocketPath,
  defaultUrl,
  hostOf,
  parseAddress,
  portOf,
  toWindowsPipe,
  unixPath,
} from '../../src/transports/index.js';

describe('toWindowsPipe', () => {
  it('maps a POSIX socket path to a named pipe with the separators flattened', () => {
    assert.equal(toWindowsPipe('/tmp/plexus.sock'), '\\\\.\\pipe\\tmp-plexus.sock');
    assert.equal(toWindowsPipe('/run/user/1000/plexus.sock'), '\\\\.\\pipe\\run-user-1000-plexus.sock');
    assert.equal(toWindowsPipe('plexus.sock'), '\\\\.\\pipe\\plexus.sock');
  });

  it('maps a Windows path, drive colon and backslashes included', () => {
    assert.equal(toWindowsPipe('C:\\Users\\me\\plexus.sock'), '\\\\.\\pipe\\C--Users-me-plexus.sock');
    assert.equal(toWindowsPipe('\\\\server\\share\\p.sock'), '\\\\.\\pipe\\server-share-p.sock');
    assert.equal(toWindowsPipe('/C:/data/p.sock'), '\\\\.\\pipe\\C--data-p.sock');
  });

  it('leaves a path that already is a named pipe alone', () => {
    assert.equal(toWindowsPipe('\\\\.\\pipe\\plexus'), '\\\\.\\pipe\\plexus');
    assert.equal(toWindowsPipe('\\\\.\\pipe\\a\\b'), '\\\\.\\pipe\\a\\b');
  });

  it('different paths stay different pipes', () => {
    assert.notEqual(toWindowsPipe('/a/b.sock'), toWindowsPipe('/a/c.sock'));
  });
});

describe('parseAddress', () => {
  it('accepts every shipped scheme', () => {
    assert.equal(parseAddress('tcp://127.0.0.1:4850').protocol, 'tcp:');
    assert.equal(parseAddress('tls://localhost:4853').protocol, 'tls:');
    assert.equal(parseAddress('ws://127.0.0.1:4852/plexus').pathname, '/plexus');
    assert.equal(parseAddress('wss://[::1]:4852/').hostname, '[::1]');
    assert.equal(parseAddress('stdio:').protocol, 'stdio:');
    assert.equal(parseAddress('inproc://broker').host, 'broker');
  });

  it('rejects malformed addresses with PLEXUS_ERR_INVALID_URL', () => {
    for (const bad of ['', 'no scheme here', '127.0.0.1:4850', 'tcp://', 'tls://:4853', 'unix://', 'tcp://[::1']) {
      assert.throws(() => parseAddress(bad), { code: 'PLEXUS_ERR_INVALID_URL' }, JSON.stringify(bad));
    }
  });
});

describe('unixPath', { skip: process.platform === 'win32' && 'POSIX paths' }, () => {
  it('reads the path from unix:///abs/path and decodes escapes', () => {
    assert.equal(unixPath(new URL('unix:///tmp/p.sock')), '/tmp/p.sock');
    assert.equal(unixPath(new URL('unix:///tmp/with%20space.sock')), '/tmp/with space.sock');
  });

  it('treats unix://host/path as the absolute path /host/path', () => {
    assert.equal(unixPath(new URL('unix://tmp/p.sock')), '/tmp/p.sock');
  });
});

describe('hostOf / portOf', () => {
  it('strips IPv6 brackets', () => {
    assert.equal(hostOf(new URL('tcp://[::1]:1')), '::1');
    assert.equal(hostOf(new URL('tcp://127.0.0.1:1')), '127.0.0.1');
  });

  it('uses the given port, port 0 included, else the scheme default', () => {
    assert.equal(portOf(new URL('tcp://h:0')), 0);
    assert.equal(portOf(new URL('ws://h:0/')), 0);
    assert.equal(portOf(new URL('tcp://h:9')), 9);
    assert.equal(portOf(new URL('tcp://h')), DEFAULT_PORTS.tcp);
    assert.equal(portOf(new URL('tls://h')), DEFAULT_PORTS.tls);
    assert.equal(portOf(new URL('ws://h/')), DEFAULT_PORTS.ws);
    assert.equal(portOf(new URL('wss://h/')), DEFAULT_PORTS.ws);
  });
});

describe('defaultUrl', () => {
  const saved: Record<string, string | undefined> = {};
  beforeEach(() => {
    for (const k of ['PLEXUS_URL', 'XDG_RUNTIME_DIR']) saved[k] = process.env[k];
  });
  afterEach(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it('prefers PLEXUS_URL', () => {
    process.env['PLEXUS_URL'] = 'tcp://127.0.0.1:9999';
    assert.equal(defaultUrl(), 'tcp://127.0.0.1:9999');
  });

  it('else a socket in XDG_RUNTIME_DIR', () => {
    delete process.env['PLEXUS_URL'];
    process.env['XDG_RUNTIME_DIR'] = join(tmpdir(), 'runtime-dir');
    assert.equal(defaultSocketPath(), join(tmpdir(), 'runtime-dir', 'plexus.sock'));
    assert.equal(defaultUrl(), `unix://${join(tmpdir(), 'runtime-dir', 'plexus.sock')}`);
    assert.equal(parseAddress(defaultUrl()).protocol, 'unix:');
  });

  it('else ~/.plexus/plexus.sock', () => {
    delete process.env['PLEXUS_URL'];
    delete process.env['XDG_RUNTIME_DIR'];
    assert.equal(defaultSocketPath(), join(homedir(), '.plexus', 'plexus.sock'));
  });
});
