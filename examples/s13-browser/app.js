/* global document, window, location, navigator, crypto, URLSearchParams */
// The page's side of S13: connect to the broker's ws:// listener with the browser build,
// subscribe, publish (text and binary), call a service answered by a Node process, see a
// coded error cross the wire, then close. The result lands in window.plexusResult (the
// test reads it) and in the page.
import { connect, ErrorCode } from './plexus.js';

const lines = [];
const log = (line) => {
  lines.push(line);
  const li = document.createElement('li');
  li.textContent = line;
  document.getElementById('log').append(li);
};
const setStatus = (s) => (document.getElementById('status').textContent = s);

async function sha256Hex(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
}

async function main() {
  const brokerUrl = new URLSearchParams(location.search).get('broker');
  if (!brokerUrl) throw new Error('open this page with ?broker=ws://host:port/');
  const bus = await connect(brokerUrl, { name: 'browser-page', timeoutMs: 5000 });
  log(`connected to ${bus.url} as ${bus.server.identity || '(anonymous)'}`);

  // Subscribe first, and flush so the broker has the subscription before anyone publishes.
  const news = bus.subscribe('news.>');
  await bus.flush();
  // The Node side answers page.hello by publishing three news items.
  bus.publish('page.hello', JSON.stringify({ agent: navigator.userAgent.includes('Chrome') ? 'chromium' : 'other' }));
  const items = [];
  for await (const m of news) {
    items.push(`${m.subject}=${m.string()}`);
    if (items.length === 3) break; // break unsubscribes
  }
  log(`news: ${items.join(' ')}`);

  // Binary: 256 KiB crosses as binary WebSocket messages; the Node side checks the hash.
  const bytes = new Uint8Array(256 * 1024);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + 7) & 0xff;
  const hash = await sha256Hex(bytes);
  const ack = await bus.request('page.bytes', bytes, { timeout: 5000 });
  log(`bytes: sent sha256 ${hash.slice(0, 16)}, node saw ${ack.string().slice(0, 16)}`);

  const reply = await bus.request('greet', 'browser', { timeout: 5000 });
  log(`greet: ${reply.string()}`);

  try {
    await bus.request('nobody.home', 'hi', { timeout: 2000 });
    log('error: none');
  } catch (err) {
    log(`error: ${err.code === ErrorCode.NO_RESPONDERS ? 'NO_RESPONDERS' : err.code}`);
  }

  await bus.close();
  log(`closed: ${bus.status}`);
  return { lines, hash };
}

main().then(
  (result) => {
    setStatus('done');
    window.plexusResult = { ok: true, ...result };
  },
  (err) => {
    setStatus('failed');
    log(`failed: ${err && err.code ? `${err.code} ` : ''}${err && err.message}`);
    window.plexusResult = { ok: false, lines, error: String(err && err.message) };
  },
);
