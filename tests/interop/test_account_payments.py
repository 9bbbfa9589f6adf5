"""Driver accounts end to end (docs/payments.md, "Accounts") with localstripe
as the gateway and a real OCPP 1.6 charger (the `ocpp` library): an account
saves a card through a SetupIntent (confirmed at localstripe as Stripe.js's
confirmCardSetup would), its RFID tag charges at the charger, and Joule
charges the priced amount off-session once the session ends. A card that
declines turns the charge into debt: the tag is Blocked until the debt is
settled against a good card."""

import asyncio
import time
import uuid

import pytest
import requests
from ocpp.v16 import call

from charger import available_charger, connected, now_iso
from crash_points import crashing, crashing_after, died_at, restarted, tolerate_crash
from joule_server import JouleServer, database_url
from test_web_payments import (  # noqa: F401  (localstripe is a fixture)
    SECRET_KEY,
    available,
    card_numbers,
    localstripe,
    poll,
    stripe_env,
    tariff_for,
)

AUTH = {"Authorization": f"Bearer {SECRET_KEY}"}
GOOD_CARD = "4242424242424242"
# Saved fine, declined when charged (localstripe's "charging is declined").
DECLINING_CARD = "4000000000000341"


def save_card(server, localstripe_url, account_id, number):
    """The card page: Joule creates the SetupIntent; the browser (here, the
    same calls Stripe.js makes) creates a card payment method at the fake
    Stripe and confirms the setup with it; the page then calls Joule back.
    The card number goes to localstripe only."""
    r = server.api("POST", f"/accounts/{account_id}/card-setup")
    assert r.status_code == 201, r.text
    setup = r.json()
    assert setup["gateway"] == "stripe"
    assert setup["setup_id"].startswith("seti_")
    token = setup["page_url"].rsplit("/", 1)[1]
    page = requests.get(setup["page_url"], timeout=30)
    assert page.status_code == 200, page.text
    assert "account-card.js" in page.text and setup["client_secret"] in page.text
    assert page.headers["cache-control"].startswith("private, no-store") or "no-store" in page.headers["cache-control"]
    # Not saved yet: the callback says so.
    early = requests.post(f"http://{server.api_host}/accounts/card/{token}/complete", timeout=30)
    assert early.status_code == 409, early.text
    pm = requests.post(f"{localstripe_url}/v1/payment_methods", headers=AUTH, data={
        "type": "card", "card[number]": number, "card[exp_month]": "12",
        "card[exp_year]": "2031", "card[cvc]": "123"}, timeout=10)
    assert pm.status_code == 200, pm.text
    confirmed = requests.post(f"{localstripe_url}/v1/setup_intents/{setup['setup_id']}/confirm",
                              headers=AUTH, data={"client_secret": setup["client_secret"],
                                                  "payment_method": pm.json()["id"]}, timeout=10)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "succeeded"
    done = requests.post(f"http://{server.api_host}/accounts/card/{token}/complete", timeout=30)
    assert done.status_code == 200, done.text
    card = done.json()
    assert (card["brand"], card["last4"], card["exp_month"], card["exp_year"]) == ("visa", number[-4:], 12, 2031)
    return pm.json()["id"]


def account_with_card(server, localstripe_url, account, number):
    """A new RFID token linked to a new account (`account`: its JSON body,
    where "{tag}" in the email stands for the token in lower case), the
    card `number` saved; returns (token, account id)."""
    tag = f"RF{uuid.uuid4().hex[:10].upper()}"
    server.create_token(tag)
    body = {**account, "email": account["email"].format(tag=tag.lower())}
    r = server.api("POST", "/accounts", json=body)
    assert r.status_code == 201, r.text
    aid = r.json()["id"]
    assert server.api("PUT", f"/accounts/{aid}/id-tokens/{tag}").status_code == 200
    save_card(server, localstripe_url, aid, number)
    return tag, aid


async def authorize(cp, tag):
    r = await cp.call(call.Authorize(id_tag=tag), suppress=False)
    return r.id_tag_info["status"]


async def charge_session(cp, tag):
    """An RFID session at the charger: Authorize, StartTransaction,
    MeterValues, StopTransaction (10 kWh)."""
    assert await authorize(cp, tag) == "Accepted"
    await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Preparing", timestamp=now_iso()), suppress=False)
    start = await cp.call(call.StartTransaction(connector_id=1, id_tag=tag, meter_start=1000, timestamp=now_iso()), suppress=False)
    assert start.id_tag_info["status"] == "Accepted"
    await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Charging", timestamp=now_iso()), suppress=False)
    await cp.call(call.MeterValues(connector_id=1, transaction_id=start.transaction_id, meter_value=[
        {"timestamp": now_iso(), "sampledValue": [{"value": "6000"}]}]), suppress=False)
    await cp.call(call.StopTransaction(transaction_id=start.transaction_id, meter_stop=11_000, timestamp=now_iso(), id_tag=tag), suppress=False)
    await available(cp)


def account_payments(server):
    r = server.api("GET", "/payments?channel=account")
    assert r.status_code == 200, r.text
    return r.json()["items"]


def stripe_charges(localstripe_url, customer_filter):
    """Succeeded PaymentIntents at localstripe for Joule's payments."""
    r = requests.get(f"{localstripe_url}/v1/payment_intents?limit=100", headers=AUTH, timeout=10)
    assert r.status_code == 200, r.text
    return [pi for pi in r.json()["data"]
            if pi.get("metadata", {}).get("joule_payment") and customer_filter(pi)]


def test_account_card_off_session_charge_debt_and_settlement(tmp_path, charger_id, password, localstripe):
    server = JouleServer(data_dir=tmp_path, database_url=database_url(tmp_path), env=stripe_env(localstripe)).start()
    try:
        server.create_charger(charger_id, password)
        tariff_for(server, charger_id)
        tag = f"RF{uuid.uuid4().hex[:10].upper()}"
        server.create_token(tag)

        r = server.api("POST", "/accounts", json={"email": f"{tag.lower()}@example.com", "name": "Ana",
                                                   "language": "es", "currency": "EUR"})
        assert r.status_code == 201, r.text
        account = r.json()
        aid = account["id"]
        assert account["card"] is None and account["debts"] == [] and account["in_debt"] is False
        bad = server.api("POST", "/accounts", json={"email": "not-an-email", "name": ""})
        assert bad.status_code == 422 and {e["field"] for e in bad.json()["errors"]} == {"email", "name"}
        r = server.api("PUT", f"/accounts/{aid}/id-tokens/{tag}")
        assert r.status_code == 200 and r.json()["id_tokens"] == [tag], r.text

        async def before_card():
            async with available_charger(server, charger_id, password) as cp:
                # No card yet: refused.
                return await authorize(cp, tag)

        assert asyncio.run(before_card()) == "Blocked"

        save_card(server, localstripe, aid, GOOD_CARD)
        got = server.api("GET", f"/accounts/{aid}").json()
        assert got["card"]["brand"] == "visa" and got["card"]["last4"] == "4242"
        customer = None

        async def first_session():
            async with available_charger(server, charger_id, password) as cp:
                await charge_session(cp, tag)

        asyncio.run(first_session())
        paid = poll(lambda: account_payments(server), lambda p: len(p) == 1 and p[0]["state"] == "captured")
        assert len(paid) == 1 and paid[0]["state"] == "captured", paid
        assert paid[0]["captured_minor"] == 300  # 10 kWh × 0.30 EUR
        assert paid[0]["account_id"] == aid
        detail = server.api("GET", f"/payments/{paid[0]['id']}").json()
        assert [(s["kind"], s["status"], s["amount_minor"]) for s in detail["steps"]] == [
            ("charge_off_session", "succeeded", 300)]
        pi = requests.get(f"{localstripe}/v1/payment_intents/{detail['gateway_payment_ref']}", headers=AUTH, timeout=10).json()
        assert pi["status"] == "succeeded" and pi["amount"] == 300
        customer = pi["customer"]
        assert customer and customer.startswith("cus_")
        charged = stripe_charges(localstripe, lambda p: p["customer"] == customer)
        assert [(p["status"], p["amount"]) for p in charged] == [("succeeded", 300)]

        # A card that declines when charged: the next session becomes debt.
        save_card(server, localstripe, aid, DECLINING_CARD)

        async def declined_session():
            async with available_charger(server, charger_id, password) as cp:
                await charge_session(cp, tag)

        asyncio.run(declined_session())
        got = poll(lambda: server.api("GET", f"/accounts/{aid}").json(), lambda a: a["in_debt"])
        assert got["in_debt"] is True, got
        assert [(d["amount_minor"], d["currency"], d["status"]) for d in got["debts"]] == [(300, "EUR", "debt")]
        assert got["debt_total"] == [{"currency": "EUR", "amount_minor": 300}]
        failed = [p for p in account_payments(server) if p["state"] == "failed"]
        assert len(failed) == 1 and failed[0]["id"] == got["debts"][0]["payment_id"]

        async def blocked():
            async with connected(server, charger_id, password) as cp:
                await cp.boot()
                return await authorize(cp, tag)

        assert asyncio.run(blocked()) == "Blocked"

        # Settling needs an Idempotency-Key; with the same declining card it
        # is declined again, and a repeat returns the stored answer.
        assert server.api("POST", f"/accounts/{aid}/settle-debt").status_code == 400
        h = {"Idempotency-Key": f"settle-{uuid.uuid4().hex}"}
        declined = server.api("POST", f"/accounts/{aid}/settle-debt", headers=h)
        assert declined.status_code == 402 and declined.json()["code"] == "payment_declined", declined.text
        repeat = server.api("POST", f"/accounts/{aid}/settle-debt", headers=h)
        assert repeat.status_code == 402 and repeat.json() == declined.json()
        assert server.api("GET", f"/accounts/{aid}").json()["in_debt"] is True

        # The driver saves a good card; the debt is settled and the tag works.
        save_card(server, localstripe, aid, GOOD_CARD)
        settled = server.api("POST", f"/accounts/{aid}/settle-debt", headers={"Idempotency-Key": f"settle-{uuid.uuid4().hex}"})
        assert settled.status_code == 200, settled.text
        body = settled.json()
        assert body["in_debt"] is False and body["debts"] == [] and body["card"]["last4"] == "4242"

        async def accepted_again():
            async with connected(server, charger_id, password) as cp:
                await cp.boot()
                return await authorize(cp, tag)

        assert asyncio.run(accepted_again()) == "Accepted"
        # Exactly two charges taken at the gateway, one per session.
        charged = stripe_charges(localstripe, lambda p: p["customer"] == customer and p["status"] == "succeeded")
        assert sorted(p["amount"] for p in charged) == [300, 300]
        states = sorted(p["state"] for p in account_payments(server))
        assert states == ["captured", "captured", "failed", "failed"], states
    finally:
        assert server.stop() == 0
    # PCI: neither Joule's output nor its database holds a card number.
    assert card_numbers("\n".join(server.output)) == []
    for f in tmp_path.rglob("*.db*"):
        assert card_numbers(f.read_bytes().decode("latin-1")) == [], f


@pytest.mark.parametrize("point", ["charge_off_session_intended", "charge_off_session_called"])
def test_sigkill_around_the_off_session_charge_charges_once(tmp_path, charger_id, password, localstripe, point):
    """The process is SIGKILLed once the charge is intended, and once
    localstripe took the charge but before Joule recorded it
    (JOULE_FAULT=crash_after:<point>). localstripe ignores idempotency keys,
    so a blind repeat would charge twice: after the restart the recovery
    worker looks the charge up at the gateway by the payment's reference,
    records it if it was made and makes it otherwise; exactly one charge is
    taken."""
    first = crashing(tmp_path, point, stripe_env(localstripe))
    first.create_charger(charger_id, password)
    tariff_for(first, charger_id)
    tag, aid = account_with_card(first, localstripe, {"email": "{tag}@example.com", "name": "Bo"}, GOOD_CARD)

    async def scenario():
        async with available_charger(first, charger_id, password) as cp:
            await tolerate_crash(charge_session(cp, tag))

    asyncio.run(scenario())
    died_at(first, point)
    with restarted(first, stripe_env(localstripe)) as second:
        paid = poll(lambda: account_payments(second), lambda p: len(p) == 1 and p[0]["state"] == "captured")
        assert len(paid) == 1 and paid[0]["state"] == "captured", paid
        detail = second.api("GET", f"/payments/{paid[0]['id']}").json()
        assert [(s["kind"], s["status"], s["amount_minor"]) for s in detail["steps"]] == [
            ("charge_off_session", "succeeded", 300)]
        account = poll(lambda: second.api("GET", f"/accounts/{aid}").json(), lambda a: not a["in_debt"])
        assert account["debts"] == []
        taken = stripe_charges(localstripe, lambda p: p["status"] == "succeeded")
        assert [p["amount"] for p in taken] == [300], taken
        assert taken[0]["id"] == detail["gateway_payment_ref"]


@pytest.mark.parametrize("point", ["charge_off_session_intended", "charge_off_session_called"])
def test_sigkill_around_the_settle_debt_charge_charges_once(tmp_path, charger_id, password, localstripe, point):
    """A declined off-session charge leaves the account in debt; a good card
    is saved; `POST /accounts/{id}/settle-debt` (with an Idempotency-Key)
    dies once its charge is intended, and once localstripe took it but
    before Joule recorded it. After the restart exactly one settling charge
    is taken at the gateway, the debt is settled, and the client's repeat
    with the same Idempotency-Key, once the dead request's claim has lapsed
    (recovery_after_s), answers the result instead of 409 for ever."""
    url = database_url(tmp_path)
    setup = JouleServer(data_dir=tmp_path, database_url=url, env=stripe_env(localstripe)).start()
    setup.create_charger(charger_id, password)
    tariff_for(setup, charger_id)
    tag, aid = account_with_card(setup, localstripe, {"email": "{tag}@example.com", "name": "Cy"}, DECLINING_CARD)

    async def declined_session():
        async with available_charger(setup, charger_id, password) as cp:
            await charge_session(cp, tag)

    asyncio.run(declined_session())
    got = poll(lambda: setup.api("GET", f"/accounts/{aid}").json(), lambda a: a["in_debt"])
    assert [(d["amount_minor"], d["status"]) for d in got["debts"]] == [(300, "debt")], got
    save_card(setup, localstripe, aid, GOOD_CARD)
    assert setup.stop() == 0
    charged_before = {p["id"] for p in stripe_charges(localstripe, lambda p: p["status"] == "succeeded")}
    assert charged_before == set()

    first = crashing_after(setup, point, stripe_env(localstripe))
    key = {"Idempotency-Key": f"settle-crash-{uuid.uuid4().hex}"}
    with pytest.raises(requests.RequestException):
        first.api("POST", f"/accounts/{aid}/settle-debt", headers=key)
    died_at(first, point)

    with restarted(first, stripe_env(localstripe)) as second:
        account = poll(lambda: second.api("GET", f"/accounts/{aid}").json(), lambda a: not a["in_debt"])
        assert account["in_debt"] is False and account["debts"] == [], account

        # The client repeats the request: while the dead request's claim
        # holds, Joule may answer 409 (in progress / busy); once it lapsed,
        # the settled result.
        def repeat():
            r = second.api("POST", f"/accounts/{aid}/settle-debt", headers=key)
            if r.status_code == 409:
                time.sleep(0.5)
                return None
            return r

        again = poll(repeat, lambda r: r is not None)
        assert again is not None, "the repeat of the crashed settle-debt answered 409 for ever"
        assert again.status_code == 200, again.text
        assert again.json()["in_debt"] is False and again.json()["debts"] == [], again.text
        # One settling charge at the gateway, of the debt's amount, and the
        # repeat took nothing more.
        taken = stripe_charges(localstripe, lambda p: p["status"] == "succeeded")
        assert [p["amount"] for p in taken] == [300], taken
        payments = account_payments(second)
        captured = [p for p in payments if p["state"] == "captured"]
        assert len(captured) == 1 and captured[0]["captured_minor"] == 300, payments
        assert captured[0]["gateway_payment_ref"] == taken[0]["id"]
        detail = second.api("GET", f"/payments/{captured[0]['id']}").json()
        assert [(s["kind"], s["status"], s["amount_minor"]) for s in detail["steps"]] == [
            ("charge_off_session", "succeeded", 300)], detail["steps"]
