"""Receipt emails (docs/payments.md, "Receipt emails"): the driver gives an
email address on the pay page; when the payment is captured, Joule emails
the receipt in the driver's language to a real SMTP server run by the test
(aiosmtpd), exactly once, also across a restart, and retries when the SMTP
server is down."""

import asyncio
import email
import email.policy
import threading
import time

import pytest
import requests
from aiosmtpd.controller import Controller

from charger import available_charger
from joule_server import JouleServer, database_url
from test_web_payments import (  # noqa: F401  (localstripe is a fixture)
    FAST,
    browser_confirm,
    charge_with,
    localstripe,
    stripe_env,
    free_port,
    pay_url,
    poll,
    remote_start,
    status_of,
    tariff_for,
)


class Inbox:
    """aiosmtpd handler: every message, parsed by Python's MIME parser."""

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        parts = {p.get_content_type(): p for p in msg.walk() if not p.is_multipart()}
        with self.lock:
            self.messages.append({
                "rcpt": envelope.rcpt_tos,
                "subject": str(msg["Subject"]),
                "text": parts["text/plain"].get_content(),
                "html": parts["text/html"].get_content(),
                "pdf": parts["application/pdf"].get_payload(decode=True),
                "pdf_name": parts["application/pdf"].get_filename(),
            })
        return "250 Message accepted for delivery"

    def wait_for(self, count, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.1)
        with self.lock:
            return list(self.messages)


@pytest.fixture
def smtp_port():
    return free_port()


@pytest.fixture
def inbox(smtp_port):
    box = Inbox()
    controller = Controller(box, hostname="127.0.0.1", port=smtp_port)
    yield box, controller
    try:
        controller.stop()
    except AssertionError:
        pass  # never started


def smtp_env(port, gateway=None):
    return {
        **(gateway or {"JOULE_PAYMENTS__GATEWAY": "simulated", **FAST}),
        "JOULE_RECEIPTS__SMTP_HOST": "127.0.0.1",
        "JOULE_RECEIPTS__SMTP_PORT": str(port),
        "JOULE_RECEIPTS__SMTP_SECURITY": "none",
        "JOULE_RECEIPTS__FROM": "Joule Charging <receipts@joule.example>",
        "JOULE_RECEIPTS__POLL_INTERVAL_S": "1",
        "JOULE_RECEIPTS__RETRY_INITIAL_S": "1",
    }


def pay_charge_capture(server, charger_id, password, language, address, confirm=None):
    """The pay page with an email address, a card (simulated, or `confirm`
    as the browser does at Stripe), a charge of 10 kWh; returns the
    payment's token once captured."""

    async def scenario():
        async with available_charger(server, charger_id, password) as cp:
            r = await asyncio.to_thread(requests.post, pay_url(server, f"/pay/{cp.id}/1/payments"),
                                        json={"language": language, "email": address}, timeout=30)
            assert r.status_code == 201, r.text
            token = r.json()["token"]
            if confirm is None:
                r = await asyncio.to_thread(requests.post, pay_url(server, f"/pay/payments/{token}/simulated-card"),
                                            json={"card": "sim_visa"}, timeout=30)
                assert r.status_code == 204, r.text
            else:
                await confirm(r.json())
            r = await asyncio.to_thread(requests.post, pay_url(server, f"/pay/payments/{token}/confirm"), timeout=60)
            assert r.status_code == 200, r.text
            await charge_with(cp, (await remote_start(cp))["id_tag"])
            return token

    token = asyncio.run(scenario())
    st = poll(lambda: status_of(server, token), lambda s: s["state"] == "captured")
    assert st["state"] == "captured", st
    return token


def test_receipt_emailed_once_in_the_drivers_language_also_across_a_restart(
        tmp_path, charger_id, password, inbox, smtp_port, localstripe):
    """Through localstripe, whose intents outlive a Joule restart."""
    box, controller = inbox
    controller.start()
    url = database_url(tmp_path)
    env = smtp_env(smtp_port, stripe_env(localstripe))
    card = browser_confirm(localstripe)
    first = JouleServer(data_dir=tmp_path, database_url=url, env=env).start()
    try:
        first.create_charger(charger_id, password)
        tariff_for(first, charger_id)
        # A typo is refused before anything is held.
        bad = requests.post(pay_url(first, f"/pay/{charger_id}/1/payments"), json={"email": "fahrer@"}, timeout=30)
        assert bad.status_code == 422, bad.text
        assert bad.json()["code"] == "validation_failed"
        assert [e["field"] for e in bad.json()["errors"]] == ["email"]

        token = pay_charge_capture(first, charger_id, password, "de", "fahrer@example.org", card)
        msgs = box.wait_for(1)
        assert len(msgs) == 1, msgs
        m = msgs[0]
        assert m["rcpt"] == ["fahrer@example.org"]
        assert m["subject"].startswith("Ladequittung R-"), m["subject"]
        assert "3,00\u00a0EUR" in m["text"], m["text"]
        assert "10,000\u00a0kWh" in m["text"]
        assert "Visa endend auf 4242" in m["text"]
        assert '<html lang="de">' in m["html"]
        assert m["pdf"].startswith(b"%PDF-") and m["pdf_name"].endswith(".pdf")
        # The same receipt as the page behind the link.
        page = requests.get(pay_url(first, f"/receipts/{token}"), timeout=30)
        assert page.status_code == 200
        number = m["subject"].split()[1]
        assert number in page.text
        # The address is not in Joule's logs.
        assert not any("fahrer@example.org" in line for line in first.output)
    finally:
        assert first.stop() == 0

    # After a restart the first receipt is not sent again: a second payment's
    # arrives, and only it.
    second = JouleServer(data_dir=tmp_path, database_url=url, admin_key=first.admin_key,
                         pg_schema=first.pg_schema, env=env).start()
    try:
        pay_charge_capture(second, charger_id, password, "fr", "conductrice@example.org", card)
        msgs = box.wait_for(2)
        assert [m["rcpt"] for m in msgs] == [["fahrer@example.org"], ["conductrice@example.org"]]
        assert msgs[1]["subject"].startswith("Reçu de recharge R-")
        assert msgs[1]["subject"] != msgs[0]["subject"]
    finally:
        assert second.stop() == 0


def test_a_payment_without_an_address_sends_nothing_and_an_smtp_outage_is_retried(tmp_path, charger_id, password, inbox, smtp_port):
    box, controller = inbox
    server = JouleServer(data_dir=tmp_path, database_url=database_url(tmp_path), env=smtp_env(smtp_port)).start()
    try:
        server.create_charger(charger_id, password)
        tariff_for(server, charger_id)
        # The SMTP server is down when the payment is captured.
        pay_charge_capture(server, charger_id, password, "en", "driver@example.org")
        failed = poll(lambda: list(server.output),
                      lambda out: any("receipt email not sent; retrying" in line for line in out))
        assert any("receipt email not sent; retrying" in line for line in failed)
        controller.start()
        msgs = box.wait_for(1)
        assert len(msgs) == 1, msgs
        assert msgs[0]["rcpt"] == ["driver@example.org"]
        assert msgs[0]["subject"].startswith("Charging receipt R-")
        # A driver who gave no address gets no email; the next one still does.
        pay_charge_capture(server, charger_id, password, "en", None)
        pay_charge_capture(server, charger_id, password, "es", "conductor@example.org")
        msgs = box.wait_for(2)
        assert [m["rcpt"] for m in msgs] == [["driver@example.org"], ["conductor@example.org"]]
        assert msgs[1]["subject"].startswith("Recibo de recarga R-")
    finally:
        assert server.stop() == 0


def test_an_account_charge_is_emailed_to_the_accounts_address(tmp_path, charger_id, password, localstripe, inbox, smtp_port):
    """A session charged off-session to a driver account: the receipt goes
    to the account's address, in the account's language, once."""
    from test_account_payments import GOOD_CARD, account_with_card, charge_session

    box, controller = inbox
    controller.start()
    server = JouleServer(data_dir=tmp_path, database_url=database_url(tmp_path),
                         env=smtp_env(smtp_port, stripe_env(localstripe))).start()
    try:
        server.create_charger(charger_id, password)
        tariff_for(server, charger_id)
        tag, _ = account_with_card(server, localstripe, {"email": "fahrer@example.de", "name": "Kim", "language": "de"},
                                   GOOD_CARD)

        async def scenario():
            async with available_charger(server, charger_id, password) as cp:
                await charge_session(cp, tag)

        asyncio.run(scenario())
        messages = box.wait_for(1)
        assert len(messages) == 1, messages
        assert messages[0]["rcpt"] == ["fahrer@example.de"]
        assert messages[0]["subject"].startswith("Ladequittung R-"), messages[0]["subject"]
        assert "3,00" in messages[0]["text"]
        assert messages[0]["pdf"].startswith(b"%PDF")
        assert box.wait_for(2, timeout=3) == messages  # and only once
    finally:
        assert server.stop() == 0
