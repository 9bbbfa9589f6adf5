// The account card page in headless Chromium (docs/payments.md,
// "Accounts"): the operator starts a card setup, the driver opens the page,
// enters a card in the gateway's hosted fields (localstripe's fake Stripe.js:
// Stripe Elements and confirmCardSetup, which sends the card to the fake
// Stripe, never to Joule) or picks a demo card of the simulated gateway, and
// Joule records the card's brand and last 4.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';

import { launch, startJoule, startLocalstripe, unavailable } from './harness.mjs';

const skip = unavailable();
if (skip && process.env.CI === 'true') { throw new Error(`browser tests required in CI: ${skip}`); }

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

/** An account and the page URL of a new card setup for it. */
async function setup(joule, language) {
  let r = await joule.api('POST', '/accounts', { email: `driver-${Date.now()}@example.com`, name: 'Ana', language });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const id = r.body.id;
  r = await joule.api('POST', `/accounts/${id}/card-setup`);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return { id, pageUrl: r.body.page_url };
}

describe('account card page', { skip: skip ? `skipped: ${skip}` : false }, () => {
  const stops = [];
  after(async () => { for (const s of stops.reverse()) { await s(); } });

  test('Stripe gateway: the card entered in localstripe\'s Elements is saved', async (t) => {
    const localstripe = await startLocalstripe();
    if (!localstripe) {
      if (process.env.CI === 'true') { throw new Error('localstripe is required in CI (JOULE_TEST_LOCALSTRIPE)'); }
      t.skip('localstripe not installed (JOULE_TEST_LOCALSTRIPE)');
      return;
    }
    stops.push(() => localstripe.stop());
    const joule = await startJoule({ env: stripeSettings(localstripe.url) });
    stops.push(() => joule.stop());
    const { id, pageUrl } = await setup(joule, 'en');
    const browser = await launch();
    try {
      const page = await browser.newPage({ viewport: { width: 360, height: 640 } });
      const errors = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(pageUrl);
      assert.equal(await page.textContent('h1'), 'Save your card');
      const card = page.locator('#card-element');
      await card.locator('input[placeholder="number"]').fill('4242424242424242');
      await card.locator('input[placeholder="exp_month"]').fill('12');
      await card.locator('input[placeholder="exp_year"]').fill('31');
      await card.locator('input[placeholder="cvc"]').fill('123');
      await card.locator('input[placeholder="postal_code"]').fill('28001');
      await page.getByRole('button', { name: 'Save card' }).click();
      await page.locator('#message', { hasText: 'Card saved' }).waitFor({ timeout: 30000 });
      assert.match(await page.textContent('#message'), /visa •••• 4242/);
      const r = await joule.api('GET', `/accounts/${id}`);
      assert.equal(r.body.card.last4, '4242');
      assert.equal(r.body.card.exp_year, 2031);
      assert.deepEqual(errors, []);
      // The card number went to the fake Stripe only.
      assert.equal(joule.output.some((l) => l.includes('4242424242424242')), false);
    } finally {
      await browser.close();
    }
  });

  test('simulated gateway: a demo card, in the account\'s language', async () => {
    const joule = await startJoule({ env: { JOULE_PAYMENTS__GATEWAY: 'simulated' } });
    stops.push(() => joule.stop());
    const { id, pageUrl } = await setup(joule, 'es');
    const browser = await launch();
    try {
      const page = await browser.newPage({ viewport: { width: 360, height: 640 } });
      const errors = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(pageUrl);
      assert.equal(await page.textContent('h1'), 'Guardar su tarjeta');
      await page.getByRole('button', { name: 'Tarjeta de prueba Visa' }).click();
      await page.locator('#message', { hasText: 'Tarjeta guardada' }).waitFor({ timeout: 30000 });
      const r = await joule.api('GET', `/accounts/${id}`);
      assert.equal(r.body.card.brand, 'visa');
      assert.equal(r.body.card.gateway, 'simulated');
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
    }
  });
});
