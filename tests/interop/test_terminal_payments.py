"""Terminal payments end to end (docs/terminals.md): the test plays a payment
terminal vendor's cloud. It places a manual-capture hold directly at the
gateway (localstripe: a PaymentIntent with capture_method=manual, confirmed
with card 4242 4242 4242 4242), reports it to Joule with the terminal's own
key, and a real OCPP 1.6 charger (the `ocpp` library) gets the remote start,
charges and stops. Joule captures the priced amount exactly once at
localstripe, read back from localstripe itself, and the receipt is there. A
charger that refuses the remote start gets the hold cancelled at localstripe
at once."""

import asyncio
import uuid

import requests

from charger import TestCharger, available_charger
from joule_server import JouleServer, database_url
from test_web_payments import (  # noqa: F401  (localstripe is a fixture)
    SECRET_KEY,
    captured_at_stripe,
    card_numbers,
    charge_with,
    localstripe,
    poll,
    remote_start,
    stripe_env,
    tariff_for,
)

STRIPE = {"Authorization": f"Bearer {SECRET_KEY}"}


def new_terminal(server, charger_id):
    """A terminal that may start connector 1 of the charger, and its key."""
    r = server.api("POST", "/terminals", json={
        "name": "Car park entrance", "scope": "chargers",
        "chargers": [{"charger_id": charger_id, "connector_id": 1}],
    })
    assert r.status_code == 201, r.text
    terminal = r.json()
    assert terminal["gateway"] == "stripe"
    r = server.api("POST", f"/terminals/{terminal['id']}/key")
    assert r.status_code == 201, r.text
    key = r.json()["key"]
    assert key.startswith("jt_")
    return terminal, key


def vendor_hold(base, amount=3000):
    """What the terminal vendor's cloud does with a tapped card: a
    manual-capture PaymentIntent, confirmed with the card at the gateway.
    The card number goes to the (fake) gateway only, never to Joule."""
    pi = requests.post(f"{base}/v1/payment_intents", headers=STRIPE, data={
        "amount": str(amount), "currency": "eur", "capture_method": "manual",
        "payment_method_types[]": "card"}, timeout=10)
    assert pi.status_code == 200, pi.text
    intent = pi.json()["id"]
    pm = requests.post(f"{base}/v1/payment_methods", headers=STRIPE, data={
        "type": "card", "card[number]": "4242424242424242", "card[exp_month]": "12",
        "card[exp_year]": "2030", "card[cvc]": "123"}, timeout=10)
    assert pm.status_code == 200, pm.text
    r = requests.post(f"{base}/v1/payment_intents/{intent}", headers=STRIPE,
                      data={"payment_method": pm.json()["id"]}, timeout=10)
    assert r.status_code == 200, r.text
    r = requests.post(f"{base}/v1/payment_intents/{intent}/confirm", headers=STRIPE, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "requires_capture", r.json()
    return intent


def intent_at_stripe(base, intent):
    r = requests.get(f"{base}/v1/payment_intents/{intent}", headers=STRIPE, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def report(server, key, intent, charger_id, idempotency_key, amount=3000):
    return requests.post(f"{server.api_url}/terminal/payments", timeout=60, headers={
        "Authorization": f"Bearer {key}", "Idempotency-Key": idempotency_key,
    }, json={
        "gateway_payment_ref": intent, "amount_minor": amount, "currency": "EUR",
        "card": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030},
        "charger_id": charger_id, "connector_id": 1, "language": "es",
    })


def terminal_payment(server, key, payment_id):
    r = requests.get(f"{server.api_url}/terminal/payments/{payment_id}",
                     headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def test_terminal_hold_starts_the_charger_and_is_captured_once(tmp_path, charger_id, password, localstripe):
    server = JouleServer(data_dir=tmp_path, database_url=database_url(tmp_path),
                         env={**stripe_env(localstripe), "RUST_LOG": "debug"}).start()
    try:
        server.create_charger(charger_id, password)
        tariff_for(server, charger_id)  # 0.30 EUR/kWh, hold 30.00 EUR
        terminal, key = new_terminal(server, charger_id)
        intent = vendor_hold(localstripe)
        idem = str(uuid.uuid4())

        async def scenario():
            async with available_charger(server, charger_id, password) as cp:
                r = await asyncio.to_thread(report, server, key, intent, charger_id, idem)
                assert r.status_code == 201, r.text
                first = r.json()
                assert first["state"] in ("starting", "charging"), first
                assert first["gateway"] == "stripe" and first["gateway_payment_ref"] == intent
                assert first["authorized_minor"] == 3000 and first["captured_minor"] == 0
                assert first["card"] == {"brand": "visa", "last4": "4242"}
                payload = await remote_start(cp)
                assert payload["connector_id"] == 1
                tag = payload["id_tag"]
                assert tag.startswith("PAY") and len(tag) <= 20
                # A repeat of the report (lost answer): the stored answer,
                # and no second remote start.
                again = await asyncio.to_thread(report, server, key, intent, charger_id, idem)
                assert again.status_code == 201 and again.json() == first, again.text
                await charge_with(cp, tag)
                starts = [a for a, _ in cp.received if a == "RemoteStartTransaction"]
                assert starts == ["RemoteStartTransaction"], cp.received
                return first

        first = asyncio.run(scenario())
        pid = first["payment_id"]
        st = poll(lambda: terminal_payment(server, key, pid), lambda s: s["state"] == "captured")
        assert st["state"] == "captured", st
        assert st["final"] is True
        assert st["captured_minor"] == 300  # 10 kWh × 0.30 EUR
        assert st["energy_kwh"] == "10.000"
        assert st["cost"]["minor_incl_vat"] == 300
        assert st["session_id"]

        # Exactly one capture of the right amount, read back at the gateway.
        pi = intent_at_stripe(localstripe, intent)
        assert pi["status"] == "succeeded", pi
        assert captured_at_stripe(pi) == 300, pi
        detail = server.api("GET", f"/payments/{pid}").json()
        assert detail["channel"] == "terminal"
        assert [(s["kind"], s["status"], s["amount_minor"]) for s in detail["steps"]] == [
            ("authorize", "succeeded", 3000), ("capture", "succeeded", 300)]

        # The receipt the terminal prints (or shows as a QR code).
        receipt = requests.get(st["receipt_url"], timeout=30)
        assert receipt.status_code == 200, receipt.text
        assert "4242" in receipt.text and "3,00" in receipt.text  # Spanish: decimal comma
        pdf = requests.get(st["receipt_url"] + ".pdf", timeout=30)
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

        # Reported again with a new key after the end: the payment as it is.
        late = report(server, key, intent, charger_id, str(uuid.uuid4()))
        assert late.status_code == 200 and late.json()["state"] == "captured", late.text
        # Another terminal can neither reuse the hold nor read the payment.
        _, other_key = new_terminal(server, charger_id)
        stolen = report(server, other_key, intent, charger_id, str(uuid.uuid4()))
        assert stolen.status_code == 409 and stolen.json()["code"] == "hold_already_used", stolen.text
        r = requests.get(f"{server.api_url}/terminal/payments/{pid}",
                         headers={"Authorization": f"Bearer {other_key}"}, timeout=30)
        assert r.status_code == 404 and r.json()["code"] == "payment_not_found"
        pi = intent_at_stripe(localstripe, intent)
        assert captured_at_stripe(pi) == 300, pi
    finally:
        assert server.stop() == 0
    # PCI: the card number was entered at the gateway only.
    assert card_numbers("\n".join(server.output)) == []
    for f in tmp_path.rglob("joule.db*"):
        assert "4242424242424242" not in f.read_bytes().decode("latin-1"), f


class RefusingCharger(TestCharger):
    """A charger that says no to every remote start."""

    __test__ = False
    refuse_remote_start = True


def test_refused_remote_start_cancels_the_hold_at_the_gateway(tmp_path, charger_id, password, localstripe):
    server = JouleServer(data_dir=tmp_path, database_url=database_url(tmp_path),
                         env=stripe_env(localstripe)).start()
    try:
        server.create_charger(charger_id, password)
        tariff_for(server, charger_id)
        _, key = new_terminal(server, charger_id)
        intent = vendor_hold(localstripe)

        async def scenario():
            async with available_charger(server, charger_id, password, charger_class=RefusingCharger) as cp:
                r = await asyncio.to_thread(report, server, key, intent, charger_id, "refused-1")
                assert (await remote_start(cp))["status"] == "Rejected"
                return r

        r = asyncio.run(scenario())
        # Recorded (Joule owned the hold), and released at once.
        assert r.status_code == 201, r.text
        answer = r.json()
        assert answer["state"] == "voided", answer
        assert answer["final"] is True
        assert "no comenzó" in answer["message"]
        pi = intent_at_stripe(localstripe, intent)
        assert pi["status"] == "canceled", pi
        detail = server.api("GET", f"/payments/{answer['payment_id']}").json()
        assert [(s["kind"], s["status"]) for s in detail["steps"]] == [
            ("authorize", "succeeded"), ("void", "succeeded")]
        assert detail["captured_minor"] == 0
    finally:
        assert server.stop() == 0
