// Joule account card page: saves the driver's card through the gateway's
// hosted fields (Stripe Elements, confirmCardSetup) or the labelled demo
// buttons of the simulated gateway, then asks Joule to record it. Plain
// ES2017, no build step. The card number never reaches Joule.
(function () {
  'use strict';

  var data = JSON.parse(document.getElementById('card-data').textContent);
  var L = data.labels;
  var base = '/accounts/card/' + encodeURIComponent(data.token);
  var message = document.getElementById('message');

  function say(text, isError) {
    message.textContent = text || '';
    message.className = isError ? 'error' : '';
  }

  function busy(on) {
    document.querySelectorAll('#pay button').forEach(function (b) { b.disabled = on; });
    if (on) { say(L.working, false); }
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

  function done(res) {
    busy(false);
    if (!res.ok) {
      say(res.status === 402 ? L.error_declined : L.error_generic, true);
      return;
    }
    say(L.saved + ' ' + res.body.brand + ' \u2022\u2022\u2022\u2022 ' + res.body.last4, false);
    document.getElementById('card-area').hidden = true;
    document.getElementById('demo').hidden = true;
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

  async function mountStripe() {
    await loadScript(data.stripe_js_url);
    var stripe = window.Stripe(data.publishable_key);
    var card = stripe.elements().create('card');
    card.mount('#card-element');
    document.getElementById('card-area').hidden = false;
    document.getElementById('save-button').addEventListener('click', async function () {
      busy(true);
      var result = await stripe.confirmCardSetup(data.client_secret, {
        payment_method: { card: card }
      });
      if (result.error) {
        busy(false);
        say(result.error.message || L.error_declined, true);
        return;
      }
      done(await post(base + '/complete'));
    });
  }

  function showDemo() {
    var demo = document.getElementById('demo');
    demo.hidden = false;
    demo.querySelectorAll('button[data-card]').forEach(function (button) {
      button.addEventListener('click', async function () {
        busy(true);
        done(await post(base + '/simulated-card', { card: button.getAttribute('data-card') }));
      });
    });
  }

  (data.gateway === 'stripe' ? mountStripe() : Promise.resolve(showDemo())).catch(function () {
    busy(false);
    say(L.error_generic, true);
  });
}());
