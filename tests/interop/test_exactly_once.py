"""Exactly once (issue 4, point 6; docs/payments.md "Exactly once, proven"):
every gateway step of the web and terminal flows is interrupted by SIGKILL once stored
as intended and once the gateway has answered, then Joule is restarted;
the gateway fails with 5xx before or after applying a call, or times out;
webhooks arrive twice; the charger sends StopTransaction twice. (The
account flow's off-session charge is killed the same way in
test_account_payments.py.) After every
scenario: at most one capture, of the right amount, agreed on by Joule and
localstripe, no step left open, and no hold left open at the gateway.

The charger is the Python `ocpp` library, the gateway localstripe (through
a fault-injecting proxy where the scenario needs one: localstripe itself
ignores idempotency keys, which is what makes these scenarios sharp)."""

import asyncio
import json
import re
import time

import pytest
import requests
from ocpp.v16 import call

from charger import available_charger, connected, now_iso
from gateway_faults import GatewayFaults, applied, wait_until
from joule_server import JouleServer, database_url
import crash_points
from crash_points import died_at, restarted, tolerate_crash
from payment_flows import AUTH, CARD, NO_RATE_LIMITS, money_at_stripe, stripe_intents
from test_hold_limits import finish, hold_tariff, meter, pay, start
from test_terminal_payments import new_terminal, report, vendor_hold
from test_web_payments import (  # noqa: F401  (localstripe is a fixture)
    available,
    browser_confirm,
    charge_with,
    intent_of,
    localstripe,
    pay_and_start,
    pay_url,
    payment_detail,
    remote_start,
    signed,
    status_of,
    stripe_env,
    tariff_for,
)

COST = 300  # 10 kWh × 0.30 EUR, the amount every charging scenario owes


def assert_settled(server, charger_id, base, captured):
    """The invariant after every scenario. `captured`: the amount Joule and
    the gateway must both show as captured (0: nothing taken)."""
    detail = payment_detail(server, charger_id)
    open_steps = [s for s in detail["steps"] if s["status"] == "intended"]
    assert open_steps == [], detail["steps"]
    captures = [s for s in detail["steps"] if s["kind"] == "capture" and s["status"] == "succeeded"]
    if captured:
        assert [c["amount_minor"] for c in captures] == [captured], detail["steps"]
        assert detail["state"] == "captured" and detail["captured_minor"] == captured, detail
        pi = intent_of(base, detail)
        assert pi["status"] == "succeeded", pi
        at_stripe, refunded = money_at_stripe(base, pi["id"])
        assert at_stripe == captured, pi
        assert refunded == detail["refunded_minor"], (refunded, detail)
    else:
        assert captures == [], detail["steps"]
        assert detail["state"] in ("voided", "failed"), detail
        assert detail["captured_minor"] == 0
    # No hold left open anywhere at the gateway.
    holds = [pi["id"] for pi in stripe_intents(base) if pi["status"] == "requires_capture"]
    assert holds == [], holds
    return detail


def via(faults):
    """Joule's gateway settings: localstripe behind the fault proxy, whose
    journal records every call Joule makes (the test itself reads
    localstripe directly)."""
    return {**stripe_env(faults.upstream), "JOULE_PAYMENTS__STRIPE_BASE_URL": faults.url, **NO_RATE_LIMITS}


def crashing(tmp_path, faults, point, env=None):
    """A test build of Joule that kills itself at `point`, its gateway
    calls journaled by `faults`."""
    return crash_points.crashing(tmp_path, point, {**via(faults), **(env or {})})


def crashing_with_priced_charger(tmp_path, faults, point, charger_id, password):
    """`crashing`, with the charger registered and priced by tariff_for."""
    server = crashing(tmp_path, faults, point)
    server.create_charger(charger_id, password)
    tariff_for(server, charger_id)
    return server


def terminal_with_hold(server, charger_id, base):
    """A terminal for the charger (its key) and a hold its vendor placed at
    localstripe (the intent)."""
    _, key = new_terminal(server, charger_id)
    return key, vendor_hold(base)


def refund_120(server, detail, idempotency_key):
    """The operator refunds 1.20 EUR of the payment."""
    return server.api("POST", f"/payments/{detail['id']}/refund", json={"amount_minor": 120},
                      headers={"Idempotency-Key": idempotency_key})


# The gateway call that applies each kind of step. A call the gateway did
# not apply may be repeated (recovery repeats it with the same key); once
# one was applied, no other call of that kind may reach the same intent:
# recovery reads the intent (or finds the refund by its key) first.
APPLIES = {
    "capture": ("POST", r"^/v1/payment_intents/([^/]+)/capture$"),
    "void": ("POST", r"^/v1/payment_intents/([^/]+)/cancel$"),
    "confirm": ("POST", r"^/v1/payment_intents/([^/]+)/confirm$"),
    "increment_authorization": ("POST", r"^/v1/payment_intents/([^/]+)/increment_authorization$"),
    "refund": ("POST", r"^/v1/refunds$"),
}
ONCE_PER_INTENT = ("capture", "void", "confirm")


def applied_calls(faults):
    """{step kind: [(intent, journal entry) of every call the gateway applied]},
    and the journal, for the failure message."""
    with faults.lock:
        journal = [dict(e) for e in faults.journal]
    out = {kind: [] for kind in APPLIES}
    for e in journal:
        for kind, (method, rx) in APPLIES.items():
            m = re.search(rx, e["path"])
            if e["method"] == method and m:
                intent = e.get("payment_intent") if kind == "refund" else m.group(1)
                out[kind].append((intent, e))
    return out, journal


def assert_gateway_calls(faults, details):
    """Gateway call counts for every step kind, not capture alone: what
    localstripe applied (seen at the proxy) is what Joule recorded as
    succeeded, and no call was made again after the gateway applied it."""
    calls, journal = applied_calls(faults)
    report = "\n".join(json.dumps(e) for e in journal)
    for kind in ONCE_PER_INTENT:
        done = set()
        for intent, e in calls[kind]:
            assert intent not in done, f"{kind} on {intent} called again after the gateway applied it:\n{report}"
            if applied(e):
                done.add(intent)
    for detail in details:
        intent = detail["gateway_payment_ref"]
        for kind in APPLIES:
            if kind == "confirm":
                continue  # the browser confirms on most paths, not Joule
            made = sum(1 for i, e in calls[kind] if i == intent and applied(e))
            recorded = [s for s in detail["steps"] if s["kind"] == kind and s["status"] == "succeeded"]
            assert made == len(recorded), (kind, intent, detail["steps"], report)
    return calls


# --- SIGKILL between every pair of steps of the web flow -------------------


@pytest.mark.parametrize("point", ["capture_intended", "capture_called"])
def test_sigkill_around_the_capture_leaves_one_capture(tmp_path, charger_id, password, localstripe, faults, point):
    first = crashing_with_priced_charger(tmp_path, faults, point, charger_id, password)

    async def scenario():
        async with available_charger(first, charger_id, password) as cp:
            created, confirmed = await pay_and_start(first, cp, confirm=browser_confirm(localstripe))
            assert confirmed.status_code == 200, confirmed.text
            payload = await remote_start(cp)
            await tolerate_crash(charge_with(cp, payload["id_tag"]))
            return created

    created = asyncio.run(scenario())
    died_at(first, point)
    with restarted(first, via(faults)) as second:
        st = wait_until(lambda: status_of(second, created["token"])["state"] == "captured")
        assert st, status_of(second, created["token"])
        assert_gateway_calls(faults, [assert_settled(second, charger_id, localstripe, COST)])


def test_sigkill_before_the_hold_is_created_holds_nothing(tmp_path, charger_id, password, localstripe, faults):
    first = crashing_with_priced_charger(tmp_path, faults, "authorize_intended", charger_id, password)

    async def scenario():
        async with available_charger(first, charger_id, password) as cp:
            with pytest.raises(requests.RequestException):
                await asyncio.to_thread(requests.post, pay_url(first, f"/pay/{cp.id}/1/payments"), timeout=30)

    asyncio.run(scenario())
    died_at(first, "authorize_intended")
    # The driver's page never got a card form; the payment is abandoned at
    # the card time-out.
    with restarted(first, {**via(faults), "JOULE_PAYMENTS__CARD_TIMEOUT_S": "2"}) as second:
        assert wait_until(lambda: payment_detail(second, charger_id)["state"] == "failed")
        detail = assert_settled(second, charger_id, localstripe, 0)
        assert_gateway_calls(faults, [detail])
        assert detail["gateway_payment_ref"] is None
        assert [(s["kind"], s["status"]) for s in detail["steps"]] == [("authorize", "failed")]
        assert stripe_intents(localstripe) == []


def test_sigkill_after_the_card_is_confirmed_releases_the_hold(tmp_path, charger_id, password, localstripe, faults):
    """The driver's card is authorized at the gateway; Joule dies before
    recording it. On restart the recovery worker records the hold and tries
    the remote start; the charger has not reconnected, so the hold is
    released at once rather than left open (the driver pays again)."""
    first = crashing_with_priced_charger(tmp_path, faults, "authorize_called", charger_id, password)

    async def scenario():
        async with available_charger(first, charger_id, password) as cp:
            r = await asyncio.to_thread(requests.post, pay_url(first, f"/pay/{cp.id}/1/payments"), timeout=30)
            assert r.status_code == 201, r.text
            created = r.json()
            await browser_confirm(localstripe)(created)
            with pytest.raises(requests.RequestException):
                await asyncio.to_thread(requests.post, pay_url(first, f"/pay/payments/{created['token']}/confirm"), timeout=30)
            return created

    created = asyncio.run(scenario())
    died_at(first, "authorize_called")
    with restarted(first, via(faults)) as second:
        assert wait_until(lambda: status_of(second, created["token"])["state"] == "voided"), status_of(second, created["token"])
        detail = assert_settled(second, charger_id, localstripe, 0)
        assert_gateway_calls(faults, [detail])
        assert [(s["kind"], s["status"]) for s in detail["steps"]] == [("authorize", "succeeded"), ("void", "succeeded")]
        assert intent_of(localstripe, detail)["status"] == "canceled"


@pytest.mark.parametrize("point", ["void_intended", "void_called"])
def test_sigkill_around_the_void_releases_the_hold_once(tmp_path, charger_id, password, localstripe, faults, point):
    """No cable: the sweeper voids the hold after the start time-out, and
    Joule dies around that void."""
    first = crashing_with_priced_charger(tmp_path, faults, point, charger_id, password)

    async def scenario():
        async with available_charger(first, charger_id, password) as cp:
            created, confirmed = await pay_and_start(first, cp, confirm=browser_confirm(localstripe))
            assert confirmed.status_code == 200, confirmed.text
            await remote_start(cp)
            return created

    created = asyncio.run(scenario())
    died_at(first, point)
    with restarted(first, via(faults)) as second:
        assert wait_until(lambda: status_of(second, created["token"])["state"] == "voided")
        detail = assert_settled(second, charger_id, localstripe, 0)
        assert_gateway_calls(faults, [detail])
        assert [(s["kind"], s["status"]) for s in detail["steps"]] == [("authorize", "succeeded"), ("void", "succeeded")]
        assert intent_of(localstripe, detail)["status"] == "canceled"


def card_entry(base, created):
    """What the real pay page does (pay.js, stripe.confirmCardSetup): the
    card is saved with the card-entry SetupIntent at the gateway, never
    Joule; the confirm body for Joule names the SetupIntent, and Joule
    attaches the card and confirms the hold itself."""
    secret = created["card_entry_client_secret"]
    setup = secret.split("_secret_")[0]
    pm = requests.post(f"{base}/v1/payment_methods", headers=AUTH, data=CARD, timeout=10)
    assert pm.status_code == 200, pm.text
    r = requests.post(f"{base}/v1/setup_intents/{setup}/confirm", headers=AUTH,
                      data={"client_secret": secret, "payment_method": pm.json()["id"]}, timeout=10)
    assert r.status_code == 200 and r.json()["status"] == "succeeded", r.text
    return {"card_entry": setup}


def confirm_until_answered(server, token, body, timeout=30):
    """The pay page presses Pay again while Joule is unreachable, answers
    5xx or 409 payment_busy; the first other answer is final."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            r = requests.post(pay_url(server, f"/pay/payments/{token}/confirm"), json=body, timeout=60)
            busy = r.status_code == 429 or (r.status_code == 409 and r.json().get("code") == "payment_busy")
            if (r.status_code < 500 and not busy) or time.monotonic() > deadline:
                return r
        except requests.RequestException:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.5)


def test_sigkill_after_the_hold_is_confirmed_from_a_card_entry_starts_once(tmp_path, charger_id, password, localstripe, faults):
    """The card-entry path of the real pay page: the card is saved with a
    SetupIntent, the confirm carries it, and Joule confirms the hold at the
    gateway itself; Joule dies once the gateway has confirmed the hold,
    before recording it. (`authorize_intended` on this path is reached
    when the payment is created, before any card: the scenario above.)
    The charger reconnects to the restarted Joule and the driver's page
    presses Pay again: one hold, one remote start, one capture, and the
    hold was confirmed at the gateway once."""
    first = crashing_with_priced_charger(tmp_path, faults, "authorize_called", charger_id, password)

    async def before():
        async with available_charger(first, charger_id, password) as cp:
            r = await asyncio.to_thread(requests.post, pay_url(first, f"/pay/{cp.id}/1/payments"), json={"language": "en"}, timeout=30)
            assert r.status_code == 201, r.text
            created = r.json()
            body = await asyncio.to_thread(card_entry, localstripe, created)
            with pytest.raises(requests.RequestException):
                await asyncio.to_thread(requests.post, pay_url(first, f"/pay/payments/{created['token']}/confirm"), json=body, timeout=30)
            return created, body

    created, body = asyncio.run(before())
    died_at(first, "authorize_called")
    with restarted(first, via(faults)) as second:
        async def after():
            async with available_charger(second, charger_id, password) as cp:
                answer = await asyncio.to_thread(confirm_until_answered, second, created["token"], body)
                tag = (await remote_start(cp))["id_tag"]
                await charge_with(cp, tag)
                return answer, [a for a, _ in cp.received].count("RemoteStartTransaction")

        answer, starts = asyncio.run(after())
        assert wait_until(lambda: status_of(second, created["token"])["state"] == "captured"), status_of(second, created["token"])
        detail = assert_settled(second, charger_id, localstripe, COST)
        assert_gateway_calls(faults, [detail])
        assert starts == 1, starts
        assert [(s["kind"], s["status"]) for s in detail["steps"]] == [("authorize", "succeeded"), ("capture", "succeeded")]
        assert len(stripe_intents(localstripe)) == 1  # one hold for the driver's one attempt
        assert answer.status_code == 200, answer.text


def charged_and_captured(server, charger_id, password, base):
    """A whole paid session, captured; returns the payment's detail."""

    async def scenario():
        async with available_charger(server, charger_id, password) as cp:
            created, confirmed = await pay_and_start(server, cp, confirm=browser_confirm(base))
            assert confirmed.status_code == 200, confirmed.text
            payload = await remote_start(cp)
            await charge_with(cp, payload["id_tag"])
            return created

    created = asyncio.run(scenario())
    assert wait_until(lambda: status_of(server, created["token"])["state"] == "captured")
    return payment_detail(server, charger_id)


def refunded_at_stripe(base, detail):
    return money_at_stripe(base, detail["gateway_payment_ref"])[1]


@pytest.mark.parametrize("point", ["refund_intended", "refund_called"])
def test_sigkill_around_a_refund_refunds_once(tmp_path, charger_id, password, localstripe, faults, point):
    first = crashing_with_priced_charger(tmp_path, faults, point, charger_id, password)
    detail = charged_and_captured(first, charger_id, password, localstripe)
    with pytest.raises(requests.RequestException):
        refund_120(first, detail, "refund-crash")
    died_at(first, point)
    with restarted(first, via(faults)) as second:
        done = wait_until(lambda: payment_detail(second, charger_id)["refunded_minor"] == 120)
        assert done, payment_detail(second, charger_id)
        after = assert_settled(second, charger_id, localstripe, COST)
        assert_gateway_calls(faults, [after])
        refunds = [s for s in after["steps"] if s["kind"] == "refund"]
        assert [(s["status"], s["amount_minor"]) for s in refunds] == [("succeeded", 120)]
        assert refunded_at_stripe(localstripe, after) == 120
        # The client's repeat of the interrupted request (its claim lapsed
        # long ago) answers with the refund that request made: no second one.
        again = refund_120(second, detail, "refund-crash")
        assert again.status_code == 200 and again.json()["refunded_minor"] == 120, again.text
        assert refunded_at_stripe(localstripe, after) == 120
        # And from then on the stored answer.
        stored = refund_120(second, detail, "refund-crash")
        assert stored.status_code == 200 and stored.json() == again.json(), stored.text
        assert refunded_at_stripe(localstripe, after) == 120
        assert_gateway_calls(faults, [payment_detail(second, charger_id)])


@pytest.mark.parametrize("point,captured", [
    ("authorize_intended", 0), ("authorize_called", 0), ("capture_intended", COST), ("capture_called", COST),
])
def test_sigkill_in_the_terminal_flow(tmp_path, charger_id, password, localstripe, faults, point, captured):
    """A terminal's hold (placed at localstripe by the test, as a vendor's
    cloud would) is reported; Joule dies while recording it or while
    capturing. Recording: on restart the hold is recorded and the charger,
    not reconnected yet, cannot start, so the hold is released. Capturing:
    one capture."""
    first = crashing_with_priced_charger(tmp_path, faults, point, charger_id, password)
    key, intent = terminal_with_hold(first, charger_id, localstripe)

    async def scenario():
        async with available_charger(first, charger_id, password) as cp:
            if point.startswith("authorize"):
                with pytest.raises(requests.RequestException):
                    await asyncio.to_thread(report, first, key, intent, charger_id, "report-1")
                return
            r = await asyncio.to_thread(report, first, key, intent, charger_id, "report-1")
            assert r.status_code == 201, r.text
            await tolerate_crash(charge_with(cp, (await remote_start(cp))["id_tag"]))

    asyncio.run(scenario())
    died_at(first, point)
    with restarted(first, via(faults)) as second:
        final = "captured" if captured else "voided"
        assert wait_until(lambda: payment_detail(second, charger_id)["state"] == final), payment_detail(second, charger_id)
        detail = assert_settled(second, charger_id, localstripe, captured)
        assert_gateway_calls(faults, [detail])
        assert detail["channel"] == "terminal" and detail["gateway_payment_ref"] == intent


@pytest.mark.parametrize("point", ["void_intended", "void_called"])
def test_sigkill_around_the_void_of_a_terminal_hold_releases_it_once(tmp_path, charger_id, password, localstripe, faults, point):
    """A terminal's hold is reported and the charger started, but no cable
    follows: the sweeper releases the hold after the start time-out, and
    Joule dies around that void. One release at the gateway."""
    first = crashing_with_priced_charger(tmp_path, faults, point, charger_id, password)
    key, intent = terminal_with_hold(first, charger_id, localstripe)

    async def scenario():
        async with available_charger(first, charger_id, password) as cp:
            r = await asyncio.to_thread(report, first, key, intent, charger_id, "report-1")
            assert r.status_code == 201, r.text
            await remote_start(cp)  # no cable follows

    asyncio.run(scenario())
    died_at(first, point)
    with restarted(first, via(faults)) as second:
        assert wait_until(lambda: payment_detail(second, charger_id)["state"] == "voided"), payment_detail(second, charger_id)
        detail = assert_settled(second, charger_id, localstripe, 0)
        assert_gateway_calls(faults, [detail])
        assert detail["channel"] == "terminal" and detail["gateway_payment_ref"] == intent
        assert [(s["kind"], s["status"]) for s in detail["steps"]] == [("authorize", "succeeded"), ("void", "succeeded")]
        assert intent_of(localstripe, detail)["status"] == "canceled"


@pytest.mark.parametrize("point", ["refund_intended", "refund_called"])
def test_sigkill_around_the_refund_of_a_terminal_payment_refunds_once(tmp_path, charger_id, password, localstripe, faults, point):
    """A terminal payment, captured at the end of its session, is partly
    refunded; Joule dies around the refund. One refund at the gateway; the
    client's repeat (same Idempotency-Key) answers it and refunds nothing
    more."""
    first = crashing_with_priced_charger(tmp_path, faults, point, charger_id, password)
    key, intent = terminal_with_hold(first, charger_id, localstripe)

    async def scenario():
        async with available_charger(first, charger_id, password) as cp:
            r = await asyncio.to_thread(report, first, key, intent, charger_id, "report-1")
            assert r.status_code == 201, r.text
            await charge_with(cp, (await remote_start(cp))["id_tag"])

    asyncio.run(scenario())
    assert wait_until(lambda: payment_detail(first, charger_id)["state"] == "captured"), payment_detail(first, charger_id)
    detail = payment_detail(first, charger_id)
    with pytest.raises(requests.RequestException):
        refund_120(first, detail, "terminal-refund-crash")
    died_at(first, point)
    with restarted(first, via(faults)) as second:
        assert wait_until(lambda: payment_detail(second, charger_id)["refunded_minor"] == 120), payment_detail(second, charger_id)
        after = assert_settled(second, charger_id, localstripe, COST)
        assert after["channel"] == "terminal"
        refunds = [s for s in after["steps"] if s["kind"] == "refund"]
        assert [(s["status"], s["amount_minor"]) for s in refunds] == [("succeeded", 120)]
        assert refunded_at_stripe(localstripe, after) == 120
        again = refund_120(second, detail, "terminal-refund-crash")
        assert again.status_code == 200 and again.json()["refunded_minor"] == 120, again.text
        assert refunded_at_stripe(localstripe, after) == 120
        assert_gateway_calls(faults, [payment_detail(second, charger_id)])


@pytest.mark.parametrize("point", ["increment_authorization_intended", "increment_authorization_called"])
def test_sigkill_around_the_hold_increment_raises_it_once(tmp_path, charger_id, password, localstripe, faults, point):
    """The `increment_authorization` hold-limit policy: a 2.00 EUR hold,
    raised by 2.00 up to 4.00 when the session's cost nears it. Joule dies
    once the increment is intended, and once the gateway raised the hold
    but before Joule recorded it. (localstripe has no incremental
    authorization: the fault proxy plays it, see
    GatewayFaults.emulate_increments; captures stay at localstripe.) After
    the restart the charger reconnects and goes on: one increment step
    finished, the increment applied at the gateway once, and the session
    settled once (183 for 6.1 kWh, within the original hold)."""
    faults.emulate_increments()
    limits = {"JOULE_PAYMENTS__STRIPE_SUPPORTS_INCREMENT": "true", "JOULE_PAYMENTS__HOLD_CHECK_INTERVAL_S": "1"}
    first = crashing(tmp_path, faults, point, env=limits)
    first.create_charger(charger_id, password)
    hold_tariff(first, charger_id, hold_limit_policy="increment_authorization",
                hold_increment_minor=200, hold_max_minor=400)
    seen = {}

    async def before():
        async with available_charger(first, charger_id, password) as cp:
            seen["created"] = await pay(first, cp, confirm=browser_confirm(localstripe))
            seen["tx"] = await start(cp, (await remote_start(cp))["id_tag"])
            # 1.80 EUR + 0.30 reaches the 2.00 hold: the hold watch raises it.
            for wh in [1000, 2000, 3000, 4000, 5000, 6000]:
                await meter(cp, seen["tx"], wh)
            await asyncio.to_thread(first.process.wait, 30)

    asyncio.run(tolerate_crash(before()))
    died_at(first, point)
    created, tx = seen["created"], seen["tx"]
    with restarted(first, {**via(faults), **limits}) as second:
        async def after():
            async with connected(second, charger_id, password) as cp:
                await cp.boot()
                await meter(cp, tx, 6050)
                raised = await asyncio.to_thread(
                    wait_until, lambda: payment_detail(second, charger_id)["authorized_minor"] == 400, 40)
                assert raised, payment_detail(second, charger_id)
                await finish(cp, tx, 6100)

        asyncio.run(after())
        assert wait_until(lambda: status_of(second, created["token"])["state"] == "captured"), status_of(second, created["token"])
        detail = assert_settled(second, charger_id, localstripe, 183)
        assert_gateway_calls(faults, [detail])
        steps = [(s["kind"], s["status"], s["amount_minor"]) for s in detail["steps"]]
        assert steps == [("authorize", "succeeded", 200), ("increment_authorization", "succeeded", 200),
                         ("capture", "succeeded", 183)], steps
        assert detail["authorized_minor"] == 400
        calls, _ = applied_calls(faults)
        assert [(i, e["path"]) for i, e in calls["increment_authorization"] if applied(e)] == [
            (detail["gateway_payment_ref"], f"/v1/payment_intents/{detail['gateway_payment_ref']}/increment_authorization")]


# --- gateway 5xx and time-outs ----------------------------------------------


@pytest.fixture
def faults(localstripe):
    proxy = GatewayFaults(upstream=localstripe).start()
    yield proxy
    proxy.stop()


def proxied_server(tmp_path, base, faults):
    env = {**stripe_env(base), "JOULE_PAYMENTS__STRIPE_BASE_URL": faults.url,
           "JOULE_PAYMENTS__STRIPE_REQUEST_TIMEOUT_S": "2"}
    return JouleServer(data_dir=tmp_path, database_url=database_url(tmp_path), env=env).start()


@pytest.mark.parametrize("action,times", [("error_before", 3), ("error_after", 1), ("hang_after", 1)])
def test_capture_through_gateway_failures_captures_once(tmp_path, charger_id, password, localstripe, faults, action, times):
    faults.add("POST", r"/capture$", action, times=times, hang_s=5)
    server = proxied_server(tmp_path, localstripe, faults)
    try:
        server.create_charger(charger_id, password)
        tariff_for(server, charger_id)
        detail = charged_and_captured(server, charger_id, password, localstripe)
        assert_settled(server, charger_id, localstripe, COST)
        captures = [s for s in detail["steps"] if s["kind"] == "capture"]
        assert [s["status"] for s in captures] == ["succeeded"], captures
        # Only a call the gateway had not applied was repeated.
        applied = 0 if action == "error_before" else 1
        assert faults.count("POST", r"/capture$") == times + (1 - applied), faults.seen
    finally:
        assert server.stop() == 0


@pytest.mark.parametrize("action", ["error_before", "error_after", "hang_after"])
def test_void_through_gateway_failures_releases_once(tmp_path, charger_id, password, localstripe, faults, action):
    faults.add("POST", r"/cancel$", action, hang_s=5)
    server = proxied_server(tmp_path, localstripe, faults)
    try:
        server.create_charger(charger_id, password)
        tariff_for(server, charger_id)

        async def scenario():
            async with available_charger(server, charger_id, password) as cp:
                created, confirmed = await pay_and_start(server, cp, confirm=browser_confirm(localstripe))
                assert confirmed.status_code == 200, confirmed.text
                await remote_start(cp)  # no cable follows
                return created

        created = asyncio.run(scenario())
        assert wait_until(lambda: status_of(server, created["token"])["state"] == "voided")
        detail = assert_settled(server, charger_id, localstripe, 0)
        voids = [s for s in detail["steps"] if s["kind"] == "void"]
        assert [s["status"] for s in voids] == ["succeeded"], detail["steps"]
    finally:
        assert server.stop() == 0


@pytest.mark.parametrize("action", ["error_before", "error_after", "hang_after"])
def test_refund_through_gateway_failures_refunds_once(tmp_path, charger_id, password, localstripe, faults, action):
    server = proxied_server(tmp_path, localstripe, faults)
    try:
        server.create_charger(charger_id, password)
        tariff_for(server, charger_id)
        detail = charged_and_captured(server, charger_id, password, localstripe)
        faults.add("POST", r"/v1/refunds$", action, hang_s=5)
        r = server.api("POST", f"/payments/{detail['id']}/refund", json={"amount_minor": 100},
                       headers={"Idempotency-Key": "refund-fault"})
        assert r.status_code == 503 and r.json()["code"] == "gateway_unavailable", r.text
        assert wait_until(lambda: payment_detail(server, charger_id)["refunded_minor"] == 100), payment_detail(server, charger_id)
        after = assert_settled(server, charger_id, localstripe, COST)
        refunds = [s for s in after["steps"] if s["kind"] == "refund"]
        assert [(s["status"], s["amount_minor"]) for s in refunds] == [("succeeded", 100)]
        assert refunded_at_stripe(localstripe, after) == 100
        # The repeat answers what the first request answered; the payment
        # shows the refund done.
        again = server.api("POST", f"/payments/{detail['id']}/refund", json={"amount_minor": 100},
                           headers={"Idempotency-Key": "refund-fault"})
        assert again.status_code == 503 and again.json() == r.json()
        assert refunded_at_stripe(localstripe, after) == 100
    finally:
        assert server.stop() == 0


def test_gateway_down_when_the_hold_is_created_fails_cleanly(tmp_path, charger_id, password, localstripe, faults):
    faults.add("POST", r"/v1/payment_intents$", "error_before")
    server = proxied_server(tmp_path, localstripe, faults)
    try:
        server.create_charger(charger_id, password)
        tariff_for(server, charger_id)

        async def scenario():
            async with available_charger(server, charger_id, password) as cp:
                r = await asyncio.to_thread(requests.post, pay_url(server, f"/pay/{cp.id}/1/payments"), timeout=30)
                assert r.status_code == 503 and r.json()["code"] == "gateway_unavailable", r.text
                # The driver tries again; the gateway is back.
                created, confirmed = await pay_and_start(server, cp, confirm=browser_confirm(localstripe))
                assert confirmed.status_code == 200, confirmed.text
                await charge_with(cp, (await remote_start(cp))["id_tag"])
                return created

        created = asyncio.run(scenario())
        assert wait_until(lambda: status_of(server, created["token"])["state"] == "captured")
        items = server.api("GET", f"/payments?charger_id={charger_id}").json()["items"]
        assert sorted(p["state"] for p in items) == ["captured", "failed"], items
        assert len(stripe_intents(localstripe)) == 1
        captured = [p for p in items if p["state"] == "captured"][0]
        assert captured["captured_minor"] == COST
    finally:
        assert server.stop() == 0


def test_gateway_down_while_confirming_the_card_is_retried_by_the_page(tmp_path, charger_id, password, localstripe, faults):
    server = proxied_server(tmp_path, localstripe, faults)
    try:
        server.create_charger(charger_id, password)
        tariff_for(server, charger_id)

        async def scenario():
            async with available_charger(server, charger_id, password) as cp:
                r = await asyncio.to_thread(requests.post, pay_url(server, f"/pay/{cp.id}/1/payments"), timeout=30)
                assert r.status_code == 201, r.text
                created = r.json()
                await browser_confirm(localstripe)(created)
                faults.add("GET", r"/v1/payment_intents/pi_", "error_before")
                url = pay_url(server, f"/pay/payments/{created['token']}/confirm")
                down = await asyncio.to_thread(requests.post, url, timeout=30)
                assert down.status_code == 503, down.text
                up = await asyncio.to_thread(requests.post, url, timeout=30)
                assert up.status_code == 200, up.text
                await charge_with(cp, (await remote_start(cp))["id_tag"])
                assert [a for a, _ in cp.received].count("RemoteStartTransaction") == 1
                return created

        created = asyncio.run(scenario())
        assert wait_until(lambda: status_of(server, created["token"])["state"] == "captured")
        assert_settled(server, charger_id, localstripe, COST)
    finally:
        assert server.stop() == 0


# --- duplicates -------------------------------------------------------------


def test_duplicate_webhooks_after_capture_change_nothing(tmp_path, charger_id, password, localstripe):
    server = JouleServer(data_dir=tmp_path, database_url=database_url(tmp_path), env=stripe_env(localstripe)).start()
    try:
        server.create_charger(charger_id, password)
        tariff_for(server, charger_id)
        detail = charged_and_captured(server, charger_id, password, localstripe)
        intent = detail["gateway_payment_ref"]
        events = [
            ("payment_intent.amount_capturable_updated", {"status": "requires_capture", "amount_capturable": 3000}),
            ("payment_intent.succeeded", {"status": "succeeded", "amount_received": COST}),
            ("payment_intent.canceled", {"status": "canceled"}),
        ]
        for n, (kind, fields) in enumerate(events):
            body = json.dumps({"id": f"evt_dup_{n}", "type": kind, "created": int(time.time()),
                               "data": {"object": {"id": intent, "amount": 3000, "currency": "eur", **fields}}}).encode()
            for _ in range(2):
                r = requests.post(pay_url(server, "/webhooks/stripe"), data=body, headers=signed(body), timeout=30)
                assert r.status_code == 204, r.text
        after = assert_settled(server, charger_id, localstripe, COST)
        assert after["steps"] == detail["steps"]
    finally:
        assert server.stop() == 0


def test_duplicated_stop_transaction_captures_once(tmp_path, charger_id, password, localstripe):
    """A charger that did not get the answer to StopTransaction sends it
    again, on the same connection and after a reconnect."""
    server = JouleServer(data_dir=tmp_path, database_url=database_url(tmp_path), env=stripe_env(localstripe)).start()
    try:
        server.create_charger(charger_id, password)
        tariff_for(server, charger_id)

        async def scenario():
            async with available_charger(server, charger_id, password) as cp:
                created, confirmed = await pay_and_start(server, cp, confirm=browser_confirm(localstripe))
                assert confirmed.status_code == 200, confirmed.text
                tag = (await remote_start(cp))["id_tag"]
                start = await cp.call(call.StartTransaction(connector_id=1, id_tag=tag, meter_start=1000, timestamp=now_iso()), suppress=False)
                stop = call.StopTransaction(transaction_id=start.transaction_id, meter_stop=11_000, timestamp=now_iso(), id_tag=tag)
                for _ in range(2):
                    await cp.call(stop, suppress=False)
                await available(cp)
            async with connected(server, charger_id, password) as cp:
                await cp.boot()
                await cp.call(stop, suppress=False)
            return created

        created = asyncio.run(scenario())
        assert wait_until(lambda: status_of(server, created["token"])["state"] == "captured")
        detail = assert_settled(server, charger_id, localstripe, COST)
        assert [s["kind"] for s in detail["steps"]] == ["authorize", "capture"]
        sessions = server.api("GET", f"/sessions?charger_id={charger_id}").json()["items"]
        assert len(sessions) == 1 and sessions[0]["energy_wh"] == 10_000, sessions
    finally:
        assert server.stop() == 0
