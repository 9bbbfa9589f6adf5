// Joule pay page: creates the payment, takes the card through the gateway's
// hosted fields (Stripe Elements) or the labelled demo buttons of the
// simulated gateway, confirms the hold with Joule, then opens the status page.
// Plain ES2017, no build step. The card number never reaches Joule.
(function () {
  'use strict';

  var data = JSON.parse(document.getElementById('pay-data').textContent);
  var L = data.labels;
  var base = '/pay/' + encodeURIComponent(data.charger_id) + '/' + data.connector_id;
  var startButton = document.getElementById('start');
  var payButton = document.getElementById('pay-button');
  var message = document.getElementById('message');
  var emailInput = document.getElementById('email');
  var payment = null;
  var stripe = null;
  var card = null;

  function say(text, isError) {
    message.textContent = text || '';
    message.className = isError ? 'error' : '';
  }

  function busy(on) {
    document.querySelectorAll('#pay button').forEach(function (b) { b.disabled = on; });
    if (on) { say(L.working, false); }
  }

  function problemText(status, body) {
    var code = body && body.code;
    if (code === 'connector_busy') { return L.error_busy; }
    if (code === 'validation_failed' && body.errors &&
        body.errors.some(function (e) { return e.field === 'email'; })) {
      return L.error_email;
    }
    if (code === 'payment_declined' || status === 402) { return L.error_declined; }
    if (code === 'gateway_unavailable' || code === 'no_tariff' || code === 'charger_not_found') {
      return L.error_unavailable;
    }
    return L.error_generic;
  }

  async function post(url, body) {
    var response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body || {}),
      credentials: 'same-origin'
    });
    var json = null;
    try { json = await response.json(); } catch (e) { json = null; }
    return { ok: response.ok, status: response.status, body: json };
  }

  function formatAmount(amount, currency) {
    var text = String(amount);
    if (data.language !== 'en') { text = text.replace('.', ','); }
    return text + ' ' + currency;
  }

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      if (window.Stripe) { resolve(); return; }
      var s = document.createElement('script');
      s.src = src;
      s.onload = function () { resolve(); };
      s.onerror = function () { reject(new Error('Stripe.js did not load')); };
      document.head.appendChild(s);
    });
  }

  function isBusy(res) {
    return res.status === 409 && res.body && res.body.code === 'payment_busy';
  }

  // Asks Joule to confirm the hold (`body.card_entry`: the card entry the
  // browser just confirmed at Stripe) and, on success, opens the status page.
  async function confirm(body) {
    var url = '/pay/payments/' + encodeURIComponent(payment.token) + '/confirm';
    var res = await post(url, body);
    // Joule's recovery worker may be looking at this payment right now
    // (`payment_busy`): nothing was done, so the same request is sent again.
    for (var tries = 0; tries < 10 && isBusy(res); tries++) {
      // Jittered, so the retry does not keep meeting the same worker pass.
      await new Promise(function (r) { setTimeout(r, 500 + Math.random() * 1000); });
      res = await post(url, body);
    }
    if (res.status === 409 && body && body.card_entry) {
      // The card needs 3-D Secure: Stripe.js shows the bank's step for the
      // hold Joule confirmed, then Joule reads the hold again.
      var auth = await stripe.confirmCardPayment(payment.client_secret);
      if (auth.error) {
        busy(false);
        say(auth.error.message || L.error_declined, true);
        return;
      }
      res = await post(url);
    }
    if (!res.ok) {
      busy(false);
      say(problemText(res.status, res.body), true);
      return;
    }
    // The driver's status page (`status_url` is its JSON feed).
    window.location.assign('/pay/payments/' + encodeURIComponent(payment.token));
  }

  // Stripe: the card Element hands the card to Stripe (confirmCardSetup on
  // the payment's card entry); Joule then attaches it to the hold and
  // confirms the hold on its server. The card never reaches Joule.
  async function payWithStripe() {
    busy(true);
    if (!payment.card_entry_client_secret) {
      var paid = await stripe.confirmCardPayment(payment.client_secret, {
        payment_method: { card: card }
      });
      if (paid.error) {
        busy(false);
        say(paid.error.message || L.error_declined, true);
        return;
      }
      await confirm();
      return;
    }
    var entered = await stripe.confirmCardSetup(payment.card_entry_client_secret, {
      payment_method: { card: card }
    });
    if (entered.error) {
      busy(false);
      say(entered.error.message || L.error_declined, true);
      return;
    }
    await confirm({ card_entry: entered.setupIntent.id });
  }

  async function mountStripe() {
    await loadScript(data.stripe_js_url);
    stripe = window.Stripe(payment.publishable_key);
    card = stripe.elements().create('card');
    card.mount('#card-element');
    document.getElementById('card-area').hidden = false;
    payButton.addEventListener('click', function () {
      payWithStripe().catch(function () {
        busy(false);
        say(L.error_generic, true);
      });
    });
  }

  function showDemo() {
    var demo = document.getElementById('demo');
    demo.hidden = false;
    demo.querySelectorAll('button[data-card]').forEach(function (button) {
      button.addEventListener('click', async function () {
        busy(true);
        var res = await post('/pay/payments/' + encodeURIComponent(payment.token) + '/simulated-card',
          { card: button.getAttribute('data-card') });
        if (!res.ok) {
          busy(false);
          say(problemText(res.status, res.body), true);
          return;
        }
        await confirm();
      });
    });
  }

  startButton.addEventListener('click', async function () {
    busy(true);
    try {
      // The receipt email is optional: sent only when the driver typed one.
      var email = emailInput ? emailInput.value.trim() : '';
      var request = { language: data.language };
      if (email) { request.email = email; }
      var res = await post(base + '/payments', request);
      if (!res.ok) {
        busy(false);
        say(problemText(res.status, res.body), true);
        return;
      }
      payment = res.body;
      if (payment.amount && payment.currency) {
        document.getElementById('hold-text').textContent =
          L.hold_text.replace('{}', formatAmount(payment.amount, payment.currency));
      }
      startButton.hidden = true;
      if (payment.gateway === 'stripe') {
        await mountStripe();
      } else {
        showDemo();
      }
      busy(false);
      say('', false);
    } catch (e) {
      busy(false);
      say(L.error_generic, true);
    }
  });
}());
