// Joule payment status page: polls the status JSON every 2 s and shows the
// state, energy, cost, card and receipt link; stops once the state is final.
(function () {
  'use strict';

  var root = document.getElementById('status');
  var L = JSON.parse(document.getElementById('status-labels').textContent);
  var token = root.getAttribute('data-token');
  var url = '/pay/payments/' + encodeURIComponent(token) + '/status';
  var language = document.documentElement.lang;
  var STATES = {
    awaiting_card: L.state_awaiting_card, authorized: L.state_authorized,
    starting: L.state_starting, charging: L.state_charging, finished: L.state_finished,
    captured: L.state_captured, voided: L.state_voided, failed: L.state_failed
  };

  // The payment's last states: nothing changes after them. (`final` in the
  // status JSON says the cost is final, which comes before the capture.)
  function isDone(state) {
    return state === 'captured' || state === 'voided' || state === 'failed';
  }

  function number(text) {
    return language === 'en' ? String(text) : String(text).replace('.', ',');
  }

  function set(id, text) {
    var el = document.getElementById(id);
    if (el.textContent !== text) { el.textContent = text; }
  }

  function show(s) {
    root.setAttribute('data-state', s.state);
    set('state', STATES[s.state] || s.state);
    if (s.energy_kwh !== null && s.energy_kwh !== undefined) {
      set('energy', number(s.energy_kwh) + ' kWh');
    }
    if (s.cost) {
      set('cost', number(s.cost.incl_vat) + ' ' + s.currency);
    }
    set('cost-label', s.final ? L.cost_final : L.cost_running);
    if (s.card) { set('card', s.card.brand + ' •••• ' + s.card.last4); }
    set('message', s.message || '');
    if (s.receipt_url) {
      document.getElementById('receipt-link').href = s.receipt_url;
      document.getElementById('receipt-pdf').href = s.receipt_url + '.pdf';
      document.getElementById('receipt').hidden = false;
    }
    if (isDone(s.state)) {
      root.setAttribute('data-final', 'true');
      var updates = document.getElementById('updates');
      if (updates) { updates.hidden = true; }
    }
  }

  async function poll() {
    try {
      var response = await fetch(url, { headers: { accept: 'application/json' } });
      if (response.ok) {
        var s = await response.json();
        show(s);
        if (isDone(s.state)) { return; }
      }
    } catch (e) {
      // A phone may lose its network for a moment: keep polling.
    }
    setTimeout(poll, 2000);
  }

  if (root.getAttribute('data-final') !== 'true') { poll(); }
}());
