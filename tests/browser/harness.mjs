// Test harness for the driver pages in headless Chromium: starts the real
// `joule` binary (temporary database, port 0 for both listeners, a known
// admin key; the ready banner tells the ports), Debian's Chromium through
// playwright-core, and the Python `ocpp` charger peer. Nothing waits on
// fixed sleeps: every wait is for an event or a page state.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');

export const CHROMIUM = process.env.JOULE_CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--no-first-run',
];

/** Why the browser tests cannot run here, or null. CI must run them. */
export function unavailable() {
  if (!existsSync(CHROMIUM)) { return `Chromium not found at ${CHROMIUM} (apt-get install -y chromium)`; }
  if (!process.env.JOULE_BROWSER_NODE_MODULES) {
    return 'JOULE_BROWSER_NODE_MODULES is not set (scripts/test installs playwright-core)';
  }
  return null;
}

function playwright() {
  const require = createRequire(join(process.env.JOULE_BROWSER_NODE_MODULES, 'noop.js'));
  return require('playwright-core');
}

export async function launch() {
  return playwright().chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

function jouleBinary() {
  if (process.env.JOULE_BIN) { return process.env.JOULE_BIN; }
  const target = process.env.CARGO_TARGET_DIR || join(root, 'target');
  return join(target, 'debug', 'joule');
}

/** Lines of a child's stdout, with a wait for the first line matching. */
class Lines {
  constructor(stream) {
    this.lines = [];
    this.waiters = [];
    createInterface({ input: stream }).on('line', (line) => {
      this.lines.push(line);
      this.waiters = this.waiters.filter((w) => !w(line));
    });
  }

  /** The first line (seen or to come) matching `re`; rejects after `ms`. */
  wait(re, ms = 60000, what = String(re)) {
    const seen = this.lines.find((l) => re.test(l));
    if (seen) { return Promise.resolve(seen.match(re)); }
    return new Promise((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`timed out waiting for ${what}:\n${this.lines.slice(-40).join('\n')}`)), ms);
      this.waiters.push((line) => {
        const m = line.match(re);
        if (m) { clearTimeout(timer); ok(m); return true; }
        return false;
      });
    });
  }
}

/** A running `joule serve`. `env`: extra environment (settings as JOULE_SECTION__KEY). */
export async function startJoule({ env = {}, args = [] } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'joule-browser-'));
  const adminKey = `jk_${randomBytes(6).toString('hex')}_${randomBytes(24).toString('base64url')}`;
  const child = spawn(jouleBinary(), [
    'serve', '--database', `sqlite://${dir}/joule.db`,
    '--ocpp-listen', '127.0.0.1:0', '--api-listen', '127.0.0.1:0', ...args,
  ], {
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'info', JOULE_ADMIN_KEY: adminKey, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const out = new Lines(child.stdout);
  const [, ocpp] = await out.wait(/OCPP: ws:\/\/([^/\s]+)\/ocpp\//, 60000, 'the OCPP banner');
  const [, api] = await out.wait(/API: +http:\/\/([^/\s]+)\/api\/v1/, 60000, 'the API banner');
  const base = `http://${api}`;
  return {
    base,
    ocppUrl: `ws://${ocpp}/ocpp`,
    output: out.lines,
    async api(method, path, body) {
      const r = await fetch(`${base}/api/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await r.text();
      return { status: r.status, body: text ? JSON.parse(text) : null };
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((ok) => child.once('exit', ok));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** 0.30 EUR/kWh, idle 6.00 EUR/h after 10 min, 0.50 EUR per session, + 21 % VAT; hold 50.00 EUR. */
export const TARIFF = {
  tariff: {
    country_code: 'ES', party_id: 'JOU', id: 'WEB', currency: 'EUR',
    tariff_alt_text: [
      { language: 'en', text: '0.363 EUR/kWh incl. VAT, idle fee after 10 min' },
      { language: 'es', text: '0,363 EUR/kWh IVA incluido, tarifa de inactividad tras 10 min' },
    ],
    elements: [
      { price_components: [
        { type: 'ENERGY', price: 0.30, vat: 21.0, step_size: 1 },
        { type: 'PARKING_TIME', price: 6.00, vat: 21.0, step_size: 60 },
      ] },
      { price_components: [{ type: 'FLAT', price: 0.50, vat: 21.0, step_size: 0 }] },
    ],
    last_updated: '2026-02-01T00:00:00Z',
  },
  extensions: { idle_grace_period_s: 600, hold_amount_minor: 5000 },
};

/** Registers `id` and makes TARIFF the default tariff. */
export async function pricedCharger(joule, id) {
  let r = await joule.api('POST', '/chargers', { id });
  if (r.status !== 201) { throw new Error(`create charger: ${r.status} ${JSON.stringify(r.body)}`); }
  r = await joule.api('POST', '/tariffs', TARIFF);
  if (r.status !== 201 && r.status !== 409) { throw new Error(`create tariff: ${r.status} ${JSON.stringify(r.body)}`); }
  r = await joule.api('PUT', '/tariffs/default', { tariff_id: 'WEB' });
  if (r.status !== 200) { throw new Error(`default tariff: ${r.status} ${JSON.stringify(r.body)}`); }
}

/** The Python venv with the `ocpp` library (scripts/test makes it). */
function python() {
  return process.env.JOULE_TEST_PYTHON || join(process.env.CARGO_TARGET_DIR || join(root, 'target'), 'interop-venv', 'bin', 'python');
}

/**
 * An OCPP 1.6 charger played by the Python `ocpp` library
 * (charger_peer.py): boots, reports Available, accepts a remote start and
 * starts a transaction, stops it when told.
 */
export async function startCharger(ocppUrl, id) {
  const child = spawn(python(), [join(here, 'charger_peer.py'), ocppUrl, id], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const out = new Lines(child.stdout);
  await out.wait(/^ready$/, 60000, 'the charger to boot');
  return {
    out,
    started: () => out.wait(/^started (\d+)$/, 60000, 'StartTransaction'),
    async stop() {
      child.stdin.write('stop\n');
      await out.wait(/^stopped$/, 60000, 'StopTransaction');
    },
    async close() {
      if (child.exitCode === null) {
        const exited = new Promise((ok) => child.once('exit', ok));
        child.stdin.end();
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

/** localstripe on a free port, for the Stripe variant; null when not installed. */
export async function startLocalstripe() {
  const bin = process.env.JOULE_TEST_LOCALSTRIPE;
  if (!bin || !existsSync(bin)) { return null; }
  const net = await import('node:net');
  const port = await new Promise((ok) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => ok(p)); });
  });
  const home = mkdtempSync(join(tmpdir(), 'localstripe-'));
  const child = spawn(bin, ['--port', String(port), '--from-scratch'], {
    stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: home },
  });
  const out = new Lines(child.stdout);
  new Lines(child.stderr);
  await out.wait(/Running on/, 30000, 'localstripe to listen');
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    /** A GET of localstripe's API with the tests' secret key. */
    async get(path) {
      const r = await fetch(`${url}${path}`, { headers: { authorization: 'Bearer sk_test_joule_browser' } });
      if (r.status !== 200) { throw new Error(`localstripe GET ${path}: ${r.status} ${await r.text()}`); }
      return r.json();
    },
    async stop() {
      const exited = new Promise((ok) => child.once('exit', ok));
      child.kill('SIGTERM');
      await exited;
      rmSync(home, { recursive: true, force: true });
    },
  };
}
