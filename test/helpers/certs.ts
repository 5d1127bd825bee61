/**
 * Throwaway TLS material for tests, made at run time with the `openssl` CLI so no key
 * is ever checked in: a CA, a server certificate for 127.0.0.1 / ::1 / localhost and a
 * client certificate for mTLS, all signed by that CA.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** PEM strings from {@link generateTestCerts}. */
export interface TestCerts {
  /** The CA certificate: trust this to accept the server and client certificates. */
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  /** Subject CN of the client certificate. */
  readonly clientCN: string;
}

/** Options for {@link generateTestCerts}. */
export interface TestCertOptions {
  /** Subject CN of the client certificate. @default 'plexus-test-client' */
  readonly clientCN?: string;
  /** Days the certificates stay valid. @default 2 */
  readonly days?: number;
}

// P-256 keys: generation takes milliseconds, where RSA takes a noticeable fraction of a second.
const KEY_ARGS = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function openssl(cwd: string, args: string[]): Promise<void> {
  try {
    await run('openssl', args, { cwd, timeout: 15_000 });
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`openssl ${args[0]} failed: ${e.stderr?.trim() || e.message}`, { cause: err });
  }
}

function serial(): string {
  // Positive, non-zero 64-bit serial.
  const b = randomBytes(8);
  b[0] = (b[0]! & 0x7f) | 0x01;
  return `0x${b.toString('hex')}`;
}

/** Make a CA plus a leaf certificate `name` with the extensions in `ext`, signed by the CA. */
async function leaf(dir: string, name: string, cn: string, ext: string, days: number): Promise<void> {
  await writeFile(join(dir, `${name}.ext`), ext);
  await openssl(dir, ['req', ...KEY_ARGS, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
  await openssl(dir, [
    'x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', serial(),
    '-days', String(days), '-sha256', '-extfile', `${name}.ext`, '-out', `${name}.pem`,
  ]);
}

/**
 * Generate a fresh CA, server and client certificate in a temp dir, read them as PEM
 * strings and remove the dir. Needs `openssl` on the PATH.
 */
export async function generateTestCerts(options: TestCertOptions = {}): Promise<TestCerts> {
  const clientCN = options.clientCN ?? 'plexus-test-client';
  const days = options.days ?? 2;
  const dir = await mkdtemp(join(tmpdir(), 'plexus-certs-'));
  try {
    await openssl(dir, [
      'req', '-x509', ...KEY_ARGS, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', String(days), '-sha256',
      '-subj', '/CN=Plexus Test CA',
      '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    await leaf(
      dir,
      'server',
      '127.0.0.1',
      [
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature,keyEncipherment',
        'extendedKeyUsage=serverAuth',
        'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost',
        '',
      ].join('\n'),
      days,
    );
    await leaf(
      dir,
      'client',
      clientCN,
      ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=clientAuth', ''].join('\n'),
      days,
    );
    const read = (name: string): Promise<string> => readFile(join(dir, name), 'utf8');
    const [ca, serverCert, serverKey, clientCert, clientKey] = await Promise.all(
      ['ca.pem', 'server.pem', 'server.key', 'client.pem', 'client.key'].map(read),
    );
    return { ca: ca!, serverCert: serverCert!, serverKey: serverKey!, clientCert: clientCert!, clientKey: clientKey!, clientCN };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

let shared: Promise<TestCerts> | undefined;

/**
 * One set of {@link generateTestCerts} per test process with the default options,
 * for suites that only need "some valid certificates".
 */
export function sharedTestCerts(): Promise<TestCerts> {
  shared ??= generateTestCerts();
  return shared;
}
