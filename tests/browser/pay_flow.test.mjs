// The whole pay flow in headless Chromium: open the pay page, pay (the
// simulated gateway's demo card, or a test card in localstripe's fake
// Stripe.js), watch the status page show charging once the Python `ocpp`
// charger accepts the remote start, stop, and open the receipt.
//
// The server runs with the simulated gateway, or with the Stripe adapter
// pointed at a localstripe started by the test (the page then loads
// localstripe's fake Stripe.js).

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';

import {
  launch, pricedCharger, startCharger, startJoule, startLocalstripe, unavailable,
} from './harness.mjs';

const skip = unavailable();
if (skip && process.env.CI === 'true') { throw new Error(`browser tests required in CI: ${skip}`); }

const SIMULATED = { JOULE_PAYMENTS__GATEWAY: 'simulated' };

function stripeSettings(localstripeUrl) {
  return {
    JOULE_PAYMENTS__GATEWAY: 'stripe',
    JOULE_PAYMENTS__STRIPE_BASE_URL: localstripeUrl,
    JOULE_PAYMENTS__STRIPE_SECRET_KEY: 'sk_test_joule_browser',
    JOULE_PAYMENTS__STRIPE_PUBLISHABLE_KEY: 'pk_test_joule_browser',
    JOULE_PAYMENTS__STRIPE_WEBHOOK_SECRET: 'whsec_joule_browser',
    JOULE_API__STRIPE_JS_URL: `${localstripeUrl}/js.stripe.com/v3/`,
  };
}

/** Null when the payment routes answer; else what is wrong. */
async function paymentRoutesMissing(joule) {
  // Probed with an unknown charger, so no payment is created: the route
  // answers `charger_not_found`, the API's fallback `not_found`.
  const r = await fetch(`${joule.base}/pay/NO-SUCH-CHARGER/1/payments`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}',
  });
  const body = await r.json().catch(() => ({}));
  if (r.status === 405 || (r.status === 404 && body.code !== 'charger_not_found')) {
    return `POST /pay/{charger}/{connector}/payments answers ${r.status}`;
  }
  return null;
}

/** Pays at the page with `pay`, then drives the charger through a session. */
async function payAndCharge(t, joule, { pay, gateway }) {
  await pricedCharger(joule, 'CP-FLOW');
  const missing = await paymentRoutesMissing(joule);
  assert.equal(missing, null);
  const charger = await startCharger(joule.ocppUrl, 'CP-FLOW');
  const browser = await launch();
  try {
    const context = await browser.newContext({ viewport: { width: 360, height: 640 }, locale: 'en-US' });
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${joule.base}/pay/CP-FLOW/1`);
    // The optional receipt email: a typo is refused before anything is held.
    const email = page.getByLabel('Email for your receipt (optional)');
    await email.fill('driver@');
    await page.getByRole('button', { name: 'Continue to payment' }).click();
    await page.locator('#message.error', { hasText: 'valid email address' }).waitFor();
    await email.fill('driver@example.org');
    await page.getByRole('button', { name: 'Continue to payment' }).click();
    if (gateway === 'simulated') {
      const demo = page.locator('#demo');
      await demo.waitFor({ state: 'visible' });
      // The simulated gateway is labelled as such.
      assert.match(await demo.textContent(), /no real card is charged/);
    }
    await pay(page);
    await page.waitForURL(/\/pay\/payments\/[0-9a-f]{32}$/);
    await charger.started();
    await page.locator('#status[data-state="charging"]').waitFor({ timeout: 30000 });
    assert.equal(await page.textContent('#state'), 'Charging');
    await page.locator('#energy', { hasText: 'kWh' }).waitFor({ timeout: 30000 });
    await charger.stop();
    await page.locator('#receipt').waitFor({ state: 'visible', timeout: 60000 });
    assert.equal(await page.textContent('#state'), 'Paid');
    await page.getByRole('link', { name: 'View your receipt' }).click();
    await page.waitForURL(/\/receipts\/[0-9a-f]{32}$/);
    const receipt = await page.textContent('body');
    assert.match(receipt, /CP-FLOW/);
    assert.match(receipt, /7(\.0+)?[\s\u00a0\u202f]kWh/);
    assert.deepEqual(errors, []);
    await context.close();
  } finally {
    await browser.close();
    await charger.close();
  }
}

describe('pay flow', { skip: skip ? `skipped: ${skip}` : false }, () => {
  const stops = [];
  after(async () => { for (const s of stops.reverse()) { await s(); } });

  test('simulated gateway: demo Visa, charge, stop, receipt', async (t) => {
    const joule = await startJoule({ env: SIMULATED });
    stops.push(() => joule.stop());
    await payAndCharge(t, joule, {
      gateway: 'simulated',
      pay: (page) => page.getByRole('button', { name: 'Pay with test Visa card' }).click(),
    });
  });

  test('simulated gateway: a declined card says so and starts nothing', async (t) => {
    const joule = await startJoule({ env: SIMULATED });
    stops.push(() => joule.stop());
    await pricedCharger(joule, 'CP-DECL');
    const missing = await paymentRoutesMissing(joule);
    assert.equal(missing, null);
    // Joule takes payments only for a connector that is online and free.
    const charger = await startCharger(joule.ocppUrl, 'CP-DECL');
    stops.push(() => charger.close());
    const browser = await launch();
    try {
      const page = await browser.newPage({ viewport: { width: 360, height: 640 } });
      await page.goto(`${joule.base}/pay/CP-DECL/1`);
      await page.getByRole('button', { name: 'Continue to payment' }).click();
      await page.getByRole('button', { name: 'Try a declined test card' }).click();
      await page.locator('#message.error').waitFor();
      assert.match(await page.textContent('#message'), /declined/);
      assert.match(page.url(), /\/pay\/CP-DECL\/1$/);
    } finally {
      await browser.close();
    }
  });

  // Skipped: localstripe's fake Stripe.js ignores the card Element in
  // confirmCardPayment (it only calls its private `_authenticate`, which
  // accepts an intent already in `requires_action`), so a browser cannot
  // authorize a hold there the way Stripe.js does. The Stripe hold →
  // capture flow is tested at the API level against localstripe in
  // tests/interop/test_web_payments.py; making this pass needs the page to
  // create a token with `createToken` and Joule to confirm server-side.
  test('Stripe gateway with localstripe and its fake Stripe.js', {
    skip: "localstripe's fake confirmCardPayment does not take the card (see comment)",
  }, async (t) => {
    const localstripe = await startLocalstripe();
    if (!localstripe) {
      if (process.env.CI === 'true') { throw new Error('localstripe is required in CI (JOULE_TEST_LOCALSTRIPE)'); }
      t.skip('localstripe not installed (JOULE_TEST_LOCALSTRIPE)');
      return;
    }
    stops.push(() => localstripe.stop());
    const joule = await startJoule({
      env: stripeSettings(localstripe.url),
    });
    stops.push(() => joule.stop());
    await payAndCharge(t, joule, {
      gateway: 'stripe',
      async pay(page) {
        // localstripe's card Element: plain inputs named by placeholder.
        const card = page.locator('#card-element');
        await card.locator('input[placeholder="number"]').fill('4242424242424242');
        await card.locator('input[placeholder="exp_month"]').fill('12');
        await card.locator('input[placeholder="exp_year"]').fill('30');
        await card.locator('input[placeholder="cvc"]').fill('123');
        await card.locator('input[placeholder="postal_code"]').fill('28001');
        await page.getByRole('button', { name: 'Pay and start charging' }).click();
        // localstripe's fake 3-D Secure dialog.
        await page.getByRole('button', { name: 'Complete authentication' }).click();
      },
    });
  });
});
