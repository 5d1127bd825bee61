/**
 * Headless Chromium for tests, driven by playwright-core: Debian's `chromium` package at
 * /usr/bin/chromium (`.ci/run` installs it), a fresh profile per launch, and teardown
 * that ends the browser's processes by PID even if `close()` hangs. A missing Chromium
 * fails the test with a message saying so; it is never a skip.
 */
import { access, readdir, readFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { chromium, type BrowserContext } from 'playwright-core';
import { Cleanup, tempDir } from '../helpers/plexus.js';
import { within } from '../helpers/wait.js';

/** Where Debian's package puts it. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Launch Chromium with a fresh user-data-dir; everything is torn down by `cleanup`. */
export async function launchChromium(cleanup: Cleanup): Promise<BrowserContext> {
  try {
    await access(CHROMIUM_PATH, constants.X_OK);
  } catch {
    throw new Error(`Chromium is not installed at ${CHROMIUM_PATH}: install Debian's \`chromium\` package (apt-get install -y chromium; .ci/run does this)`);
  }
  const profile = await tempDir(cleanup, 'plexus-chromium-');
  // Registered before launch: the PIDs are found from the unique profile path.
  cleanup.defer(() => killByProfile(profile));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ARGS,
    timeout: 30_000,
  });
  cleanup.defer(() => within(context.close(), 10_000, 'chromium close'));
  return context;
}

/** SIGKILL every process whose command line names `profile` (this launch's browser only). */
async function killByProfile(profile: string): Promise<void> {
  const entries = await readdir('/proc');
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    let cmdline: string;
    try {
      cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    if (!cmdline.includes(profile)) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}
