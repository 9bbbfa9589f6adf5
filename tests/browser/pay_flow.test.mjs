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

/** Types a test card into localstripe's card Element and pays. */
async function enterCard(page, number) {
  // localstripe's card Element: plain inputs named by placeholder.
  const card = page.locator('#card-element');
  await card.locator('input[placeholder="number"]').fill(number);
  await card.locator('input[placeholder="exp_month"]').fill('12');
  await card.locator('input[placeholder="exp_year"]').fill('30');
  await card.locator('input[placeholder="cvc"]').fill('123');
  await card.locator('input[placeholder="postal_code"]').fill('28001');
  await page.getByRole('button', { name: 'Pay and start charging' }).click();
}

/** The one payment at `charger`, with its steps (admin API). */
async function onlyPayment(joule, charger) {
  const list = await joule.api('GET', `/payments?charger_id=${charger}`);
  assert.equal(list.status, 200);
  assert.equal(list.body.items.length, 1, JSON.stringify(list.body));
  const detail = await joule.api('GET', `/payments/${list.body.items[0].id}`);
  assert.equal(detail.status, 200);
  return detail.body;
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
async function payAndCharge(t, joule, { pay, gateway, paid }) {
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
    assert.equal(await page.textContent('#cost-label'), 'Final cost');
    const finalCost = (await page.textContent('#cost')).trim();
    assert.match(finalCost, /^\d+\.\d{2} EUR$/);
    if (paid) { await paid(finalCost); }
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

  // The card is typed into localstripe's card Element; the page hands it
  // to localstripe with confirmCardSetup (the payment's card entry) and
  // Joule confirms the hold on its server (docs/payments.md, "Card entry
  // in the browser"). localstripe's confirmCardPayment ignores the card
  // Element, which is why the page does not use it for the card itself.
  test('Stripe gateway with localstripe and its fake Stripe.js', async (t) => {
    const localstripe = await startLocalstripe();
    if (!localstripe) {
      if (process.env.CI === 'true') { throw new Error('localstripe is required in CI (JOULE_TEST_LOCALSTRIPE)'); }
      t.skip('localstripe not installed (JOULE_TEST_LOCALSTRIPE)');
      return;
    }
    stops.push(() => localstripe.stop());
    const joule = await startJoule({ env: stripeSettings(localstripe.url) });
    stops.push(() => joule.stop());
    await payAndCharge(t, joule, {
      gateway: 'stripe',
      pay: (page) => enterCard(page, '4242424242424242'),
      async paid(finalCost) {
        const payment = await onlyPayment(joule, 'CP-FLOW');
        assert.equal(payment.state, 'captured');
        assert.deepEqual(payment.card, { brand: 'visa', last4: '4242' });
        // The page's final cost is what was captured.
        assert.equal(finalCost, `${(payment.captured_minor / 100).toFixed(2)} EUR`);
        const captures = payment.steps.filter((s) => s.kind === 'capture');
        assert.equal(captures.length, 1);
        assert.equal(captures[0].status, 'succeeded');
        // localstripe holds exactly one charge for the intent, captured
        // once for the final cost (the rest of the hold released).
        const pi = await localstripe.get(`/v1/payment_intents/${payment.gateway_payment_ref}`);
        assert.equal(pi.status, 'succeeded');
        assert.equal(pi.charges.data.length, 1);
        const charge = pi.charges.data[0];
        assert.equal(charge.captured, true);
        assert.equal(charge.amount - charge.amount_refunded, payment.captured_minor);
      },
    });
  });

  test('Stripe gateway: a 3-D Secure card is authenticated in the browser, then held', async (t) => {
    const localstripe = await startLocalstripe();
    if (!localstripe) {
      if (process.env.CI === 'true') { throw new Error('localstripe is required in CI (JOULE_TEST_LOCALSTRIPE)'); }
      t.skip('localstripe not installed (JOULE_TEST_LOCALSTRIPE)');
      return;
    }
    stops.push(() => localstripe.stop());
    const joule = await startJoule({ env: stripeSettings(localstripe.url) });
    stops.push(() => joule.stop());
    await pricedCharger(joule, 'CP-3DS');
    const charger = await startCharger(joule.ocppUrl, 'CP-3DS');
    stops.push(() => charger.close());
    const browser = await launch();
    try {
      const page = await browser.newPage({ viewport: { width: 360, height: 640 }, locale: 'en-US' });
      const errors = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(`${joule.base}/pay/CP-3DS/1`);
      await page.getByRole('button', { name: 'Continue to payment' }).click();
      // localstripe asks for 3-D Secure with this card: once when the card
      // is saved (confirmCardSetup), once for the hold Joule confirmed (409,
      // then confirmCardPayment on the hold's client secret).
      await enterCard(page, '4000002500003155');
      await page.getByRole('button', { name: 'Complete authentication' }).click();
      await page.getByRole('button', { name: 'Complete authentication' }).click();
      await page.waitForURL(/\/pay\/payments\/[0-9a-f]{32}$/);
      await charger.started();
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
    }
    const payment = await onlyPayment(joule, 'CP-3DS');
    assert.equal(payment.state, 'authorized');
    assert.equal(payment.authorized_minor, 5000);
    assert.equal(payment.card.last4, '3155');
    const pi = await localstripe.get(`/v1/payment_intents/${payment.gateway_payment_ref}`);
    assert.equal(pi.status, 'requires_capture');
  });

  test("Stripe gateway: localstripe's declined card says so and holds nothing", async (t) => {
    const localstripe = await startLocalstripe();
    if (!localstripe) {
      if (process.env.CI === 'true') { throw new Error('localstripe is required in CI (JOULE_TEST_LOCALSTRIPE)'); }
      t.skip('localstripe not installed (JOULE_TEST_LOCALSTRIPE)');
      return;
    }
    stops.push(() => localstripe.stop());
    const joule = await startJoule({ env: stripeSettings(localstripe.url) });
    stops.push(() => joule.stop());
    await pricedCharger(joule, 'CP-SDECL');
    const charger = await startCharger(joule.ocppUrl, 'CP-SDECL');
    stops.push(() => charger.close());
    const browser = await launch();
    try {
      const page = await browser.newPage({ viewport: { width: 360, height: 640 }, locale: 'en-US' });
      const errors = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(`${joule.base}/pay/CP-SDECL/1`);
      await page.getByRole('button', { name: 'Continue to payment' }).click();
      // localstripe declines this card when it is charged.
      await enterCard(page, '4000000000000341');
      await page.locator('#message.error').waitFor();
      assert.equal(await page.textContent('#message'), 'Your card was declined. Please try another card.');
      assert.match(page.url(), /\/pay\/CP-SDECL\/1$/);
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
    }
    const payment = await onlyPayment(joule, 'CP-SDECL');
    assert.equal(payment.state, 'failed');
    assert.equal(payment.authorized_minor, 0);
    const authorize = payment.steps.filter((s) => s.kind === 'authorize');
    assert.equal(authorize.length, 1);
    assert.equal(authorize[0].status, 'failed');
    assert.equal(authorize[0].failure_code, 'card_declined');
    // Nothing held at localstripe: the intent wants another card and its
    // one (failed) charge was never captured.
    const pi = await localstripe.get(`/v1/payment_intents/${payment.gateway_payment_ref}`);
    assert.equal(pi.status, 'requires_payment_method');
    assert.ok(pi.charges.data.every((c) => c.status === 'failed' && !c.captured), JSON.stringify(pi.charges.data));
  });
});
