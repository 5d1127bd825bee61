import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { within } from '../helpers/wait.js';
import { describeRun, runExample } from './run-example.js';

/** `curl` with a hard time limit; resolves with what it printed (-w adds the status). */
function curl(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile('curl', ['--silent', '--show-error', '--max-time', '10', ...args], { timeout: 15_000 }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') return reject(new Error('the S2 test needs curl on PATH'));
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Split curl output written with `-w '\n%{http_code}'` into the JSON body and the status. */
function bodyAndStatus(out: string): { status: number; body: Record<string, unknown> } {
  const i = out.lastIndexOf('\n');
  return { status: Number(out.slice(i + 1)), body: JSON.parse(out.slice(0, i)) as Record<string, unknown> };
}

describe('example s2-http-users', { timeout: 60_000 }, () => {
  it('plain fetch calls GET /users and the other methods through the gateway', async (t) => {
    const run = await runExample(t, 's2-http-users', [], 20_000);
    const why = describeRun(run);
    assert.equal(run.code, 0, why);
    assert.equal(run.stderr, '', why);
    const line = (prefix: string): { status: number; body: Record<string, unknown> } => {
      const l = run.lines.find((x) => x.startsWith(`${prefix} -> `));
      assert.ok(l, `${prefix}\n${why}`);
      const m = /-> (\d{3}) (.*)$/.exec(l)!;
      return { status: Number(m[1]), body: JSON.parse(m[2]!) as Record<string, unknown> };
    };
    const all = line('GET /users');
    assert.equal(all.status, 200);
    assert.deepEqual((all.body['users'] as { name: string }[]).map((u) => u.name), ['Ada Lovelace', 'Grace Hopper', 'Linus Torvalds']);
    assert.deepEqual(line('GET /users?role=member&limit=1').body, { users: [{ id: 2, name: 'Grace Hopper', email: 'grace@example.org', role: 'member' }] });
    assert.equal(line('GET /api/users/get?id=2').body['name'], 'Grace Hopper');

    const creates = run.lines.filter((l) => l.startsWith('POST /api/users/create -> '));
    assert.equal(creates.length, 3, why);
    assert.match(creates[0]!, /-> 200 \{"id":4,"name":"Barbara Liskov","email":"barbara@example.org","role":"member"\}$/);
    assert.match(creates[1]!, /-> 409 \{"code":"EMAIL_ALREADY_EXISTS"/);
    assert.match(creates[2]!, /-> 400 \{"code":"PLEXUS_ERR_VALIDATION"/);
    assert.match(creates[2]!, /"path":\["name"\]/);
    assert.match(creates[2]!, /"path":\["email"\]/);
    assert.deepEqual(line('GET /api/users/get?id=99'), { status: 404, body: { code: 'USER_NOT_FOUND', message: 'no user 99', details: { id: 99 } } });

    assert.ok(run.lines.includes('openapi 3.1.0: POST,GET /users'), why);
    assert.ok(run.lines.includes('openapi 3.1.0: POST /api/users/create'), why);
    assert.equal(run.lines.at(-1), 'OK', why);
  });

  it('curl talks to the same gateway (GET, POST, errors, OpenAPI)', async (t) => {
    const main = fileURLToPath(new URL('../../examples/s2-http-users/main.js', import.meta.url));
    const proc = spawn(process.execPath, [main, '--serve'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = once(proc, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    t.after(async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        process.kill(proc.pid!, 'SIGKILL');
        await within(exited, 5000, 'example exit');
      }
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    proc.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const started = Date.now();
    let url: string | undefined;
    while (url === undefined) {
      url = /gateway listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1];
      if (proc.exitCode !== null) throw new Error(`example exited early: ${stdout} ${stderr}`);
      if (Date.now() - started > 15_000) throw new Error(`example did not start: ${stdout} ${stderr}`);
      await new Promise((r) => setTimeout(r, 25));
    }

    const list = bodyAndStatus((await curl(['-w', '\n%{http_code}', `${url}/users?role=admin`])).stdout);
    assert.deepEqual(list, { status: 200, body: { users: [{ id: 1, name: 'Ada Lovelace', email: 'ada@example.org', role: 'admin' }] } });

    const created = await curl(['-w', '\n%{http_code}', '-H', 'content-type: application/json', '-d', '{"name":"Ken Thompson","email":"ken@example.org","role":"admin"}', `${url}/api/users/create`]);
    assert.deepEqual(bodyAndStatus(created.stdout), { status: 200, body: { id: 4, name: 'Ken Thompson', email: 'ken@example.org', role: 'admin' } });

    // curl -d without a content type sends a form: refused with 415, not misread.
    const form = bodyAndStatus((await curl(['-w', '\n%{http_code}', '-d', 'name=x', `${url}/api/users/create`])).stdout);
    assert.equal(form.status, 415);
    assert.equal(form.body['code'], 'PLEXUS_ERR_UNSUPPORTED_MEDIA_TYPE');

    const notSafe = await curl(['-i', `${url}/api/users/create`]);
    assert.match(notSafe.stdout, /^HTTP\/1\.1 405 /);
    assert.match(notSafe.stdout, /^allow: POST\r$/im);

    const timeout = bodyAndStatus((await curl(['-w', '\n%{http_code}', '-H', 'x-plexus-timeout-ms: soon', `${url}/users`])).stdout);
    assert.equal(timeout.status, 400);

    const doc = bodyAndStatus((await curl(['-w', '\n%{http_code}', `${url}/openapi.json`])).stdout);
    assert.equal(doc.status, 200);
    assert.equal(doc.body['openapi'], '3.1.0');
    const getUsers = (doc.body['paths'] as Record<string, Record<string, { parameters: { name?: string; $ref?: string }[] }>>)['/users']!['get']!;
    assert.deepEqual(getUsers.parameters.flatMap((p) => (p.name ? [p.name] : [])).sort(), ['limit', 'role']);
    assert.ok(getUsers.parameters.some((p) => p.$ref === '#/components/parameters/Timeout'));

    proc.kill('SIGTERM');
    const [code] = await within(exited, 10_000, 'example exit after SIGTERM');
    assert.equal(code, 0, `${stdout}\n${stderr}`);
    assert.match(stdout, /^stopping$/m);
    assert.match(stdout, /^OK$/m);
  });
});
