// The pay page in headless Chromium on a 360×640 phone viewport: the price
// in English and Spanish, no horizontal scroll, no console errors, every
// control labelled; a private charger's page is a 404.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { launch, pricedCharger, startJoule, unavailable } from './harness.mjs';

const skip = unavailable();
if (skip && process.env.CI === 'true') { throw new Error(`browser tests required in CI: ${skip}`); }

describe('pay page', { skip: skip ? `skipped: ${skip}` : false }, () => {
  let joule;
  let browser;

  before(async () => {
    joule = await startJoule();
    await pricedCharger(joule, 'CP-WEB');
    browser = await launch();
  });

  after(async () => {
    await browser?.close();
    await joule?.stop();
  });

  /** A phone page that records console errors and failed requests. */
  async function phone(locale) {
    const context = await browser.newContext({ viewport: { width: 360, height: 640 }, locale });
    const page = await context.newPage();
    const errors = [];
    page.on('console', (m) => { if (m.type() === 'error') { errors.push(m.text()); } });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('requestfailed', (r) => errors.push(`${r.url()}: ${r.failure()?.errorText}`));
    return { context, page, errors };
  }

  for (const [lang, energy, hold, button, emailLabel] of [
    ['en', '0.363 EUR/kWh', '50.00 EUR', 'Continue to payment', 'Email for your receipt (optional)'],
    ['es', '0,363 EUR/kWh', '50,00 EUR', 'Continuar al pago', 'Correo electrónico para el recibo (opcional)'],
  ]) {
    test(`renders the price and the hold in ${lang}, fits a 360 px phone`, async () => {
      const { context, page, errors } = await phone(lang === 'es' ? 'es-ES' : 'en-US');
      const response = await page.goto(`${joule.base}/pay/CP-WEB/1`);
      assert.equal(response.status(), 200);
      assert.equal(response.headers()['cache-control'], 'private, no-store');
      assert.equal(await page.getAttribute('html', 'lang'), lang);
      assert.equal((await page.textContent('#price-energy')).trim(), energy);
      assert.match(await page.textContent('#hold-text'), new RegExp(hold.replace('.', '\\.')));
      // No horizontal scroll at 360 px.
      const widths = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
      assert.ok(widths[0] <= widths[1], `page is ${widths[0]} px wide in a ${widths[1]} px viewport`);
      // Accessible: the button by its role and name, a main landmark, headings.
      assert.equal(await page.getByRole('button', { name: button }).count(), 1);
      assert.equal(await page.getByRole('main').count(), 1);
      assert.ok(await page.getByRole('heading', { level: 1 }).count() === 1);
      const unnamed = await page.evaluate(() => [...document.querySelectorAll('button, a, input, select')]
        .filter((el) => !el.hidden && el.offsetParent !== null)
        .filter((el) => !(el.getAttribute('aria-label') || el.textContent.trim() || (el.labels && el.labels.length)))
        .map((el) => el.outerHTML));
      assert.deepEqual(unnamed, []);
      // The optional receipt email field is labelled in the page's language.
      assert.equal(await page.getByLabel(emailLabel).count(), 1);
      // Keyboard: the first Tab reaches the email field, the second the pay
      // button, each with a visible outline.
      const focused = async () => page.evaluate(() => {
        const el = document.activeElement;
        return { id: el && el.id, outline: el && getComputedStyle(el).outlineStyle };
      });
      await page.keyboard.press('Tab');
      const first = await focused();
      assert.equal(first.id, 'email');
      assert.notEqual(first.outline, 'none');
      await page.keyboard.press('Tab');
      const focus = await focused();
      assert.equal(focus.id, 'start');
      assert.notEqual(focus.outline, 'none');
      assert.deepEqual(errors, []);
      await context.close();
    });
  }

  test('a private charger has no pay page and no QR code', async () => {
    let r = await joule.api('POST', '/chargers', { id: 'CP-PRIV' });
    assert.equal(r.status, 201);
    r = await joule.api('POST', '/user-groups', { id: 'staff', name: 'Staff' });
    assert.equal(r.status, 201);
    r = await joule.api('PUT', '/chargers/CP-PRIV/access', { access: 'private', allowed_groups: ['staff'] });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const { context, page, errors } = await phone('en-US');
    const response = await page.goto(`${joule.base}/pay/CP-PRIV/1`);
    assert.equal(response.status(), 404);
    assert.equal(await page.textContent('h1'), 'Charger not found');
    const qr = await fetch(`${joule.base}/pay/CP-PRIV/1/qr.png`);
    assert.equal(qr.status, 404);
    // The 404 itself is the only failed load Chromium reports.
    assert.ok(errors.every((e) => /404/.test(e)), errors.join('\n'));
    await context.close();
  });

  test('the QR code is a PNG and the SVG names the pay page', async () => {
    const png = await fetch(`${joule.base}/pay/CP-WEB/1/qr.png`);
    assert.equal(png.status, 200);
    assert.equal(png.headers.get('content-type'), 'image/png');
    const bytes = Buffer.from(await png.arrayBuffer());
    assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    // Shown in the browser as an image of non-zero size.
    const { context, page } = await phone('en-US');
    await page.goto(`${joule.base}/pay/CP-WEB/1/qr.svg`);
    const box = await page.locator('svg').boundingBox();
    assert.ok(box && box.width > 50 && box.height > 50);
    await context.close();
  });
});
