"""Conformance test: the real PyPI client `cardlinky` 1.7 against a live paylink server.

The session fixture builds a fresh database (PostgreSQL from PAYLINK_TEST_DATABASE_URL, else a
temp SQLite file), creates two verified merchants with `paylink merchant create`, starts
`paylink serve` on a free loopback port and waits for GET /health. Every Cardlink endpoint that
cardlinky has a working method for (bills, payments, merchant/balance, payout/status) is then
driven through cardlinky itself and the parsed values are checked. Payments are made through
paylink's sandbox helper (`POST /sandbox/pay`), which is not part of cardlinky, with plain
`requests`; so are payouts (cardlinky's payout create/search methods cannot parse any answer),
the SBP banks dictionary and refunds (no cardlinky methods). The money tests use fresh merchants
made during the run and end with `paylink ledger check` on the test database.

Where `requests` is used against the API itself, a comment says why (cardlinky cannot express
the call, or the check is about the raw wire shape cardlinky hides).

See CARDLINKY_NOTES.md for what cardlinky sends and requires.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Optional
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

import pytest
import requests

from cardlinky import Cardlinky
from cardlinky.types.enums.bill_type import BillType
from cardlinky.types.enums.currency import Currency
from cardlinky.types.enums.status import Status
from cardlinky.types.models.balance import Balance
from cardlinky.types.models.bill import Bill, BillCreate, BillStatus, BillToggleActivity
from cardlinky.types.models.payment import Payment, PaymentStatus
from cardlinky.types.models.payout import PayoutStatus

REPO = Path(__file__).resolve().parents[2]
GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000002"
HTTP_TIMEOUT = 30
# The money worker's settings for the server under test (run.sh exports the same values):
# received money is available at once (no 24 h hold), and the sandbox payout provider answers
# a payout PROCESS_SECONDS after taking it, so a payout is seen in flight before it ends.
PAYOUT_PROCESS_SECONDS = 3
SERVER_MONEY_ENV = {
    "PAYLINK_MONEY_SETTLE_AFTER": "0",
    "PAYLINK_MONEY_SANDBOX_PAYOUT_DELAY": f"{PAYOUT_PROCESS_SECONDS}s",
}

# The server is on loopback: never route it through a proxy from the environment (cardlinky
# uses requests, which honours *_proxy variables).
for _var in ("NO_PROXY", "no_proxy"):
    os.environ[_var] = ",".join(filter(None, ["127.0.0.1,localhost", os.environ.get(_var)]))


# --------------------------------------------------------------------------------------------
# Live server fixtures
# --------------------------------------------------------------------------------------------


@dataclass
class Merchant:
    merchant_id: str
    shop_id: str
    api_token: str


@dataclass
class Server:
    base_url: str  # http://127.0.0.1:PORT
    api: str  # http://127.0.0.1:PORT/api/v1/  (trailing slash: cardlinky concatenates)
    log_path: Path
    main: Merchant  # most tests
    other: Merchant  # a second merchant with few bills: searches, cross-merchant checks
    binary: Path  # the paylink binary: operator commands against the same database
    database_url: str

    def client(self, merchant: Optional[Merchant] = None) -> Cardlinky:
        return Cardlinky((merchant or self.main).api_token, base_url=self.api)

    def new_merchant(self, name: str) -> Merchant:
        """A fresh verified merchant (one RUB shop, no money), made with `paylink merchant create`."""
        return _create_merchant(self.binary, self.database_url, unique(name))

    def paylink(self, *args: str, check: bool = True) -> tuple[int, dict]:
        """An operator command on the test database: `paylink ARGS --database-url URL --json`."""
        return _paylink_json(self.binary, self.database_url, *args, check=check)


def _paylink_bin() -> Path:
    path = Path(os.environ.get("PAYLINK_BIN") or REPO / "target" / "debug" / "paylink")
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(
            f"paylink binary not found at {path}: build it (cargo build) or set PAYLINK_BIN",
            pytrace=False,
        )
    return path


def _psql(admin: SplitResult, sql: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if admin.password:
        env["PGPASSWORD"] = unquote(admin.password)
    cmd = [
        "psql",
        "-h", admin.hostname or "127.0.0.1",
        "-p", str(admin.port or 5432),
        "-U", unquote(admin.username or "postgres"),
        "-d", admin.path.lstrip("/") or "postgres",
        "-v", "ON_ERROR_STOP=1", "-q", "-X",
        "-c", sql,
    ]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    admin_url = os.environ.get("PAYLINK_TEST_DATABASE_URL")
    if not admin_url:
        db_dir = tmp_path_factory.mktemp("paylink-db")
        yield f"sqlite://{db_dir}/paylink.db?mode=rwc"
        return

    if shutil.which("psql") is None:
        pytest.fail("PAYLINK_TEST_DATABASE_URL is set but the psql CLI is not installed", pytrace=False)
    admin = urlsplit(admin_url)
    name = "paylink_compat_" + secrets.token_hex(6)
    created = _psql(admin, f'CREATE DATABASE "{name}"')
    if created.returncode != 0:
        pytest.fail(f"psql CREATE DATABASE {name} failed: {created.stderr.strip()}", pytrace=False)
    try:
        yield urlunsplit((admin.scheme, admin.netloc, "/" + name, admin.query, ""))
    finally:
        dropped = _psql(admin, f'DROP DATABASE IF EXISTS "{name}"')
        if dropped.returncode != 0:  # a lingering connection: PostgreSQL >= 13 can force it
            _psql(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _paylink_json(binary: Path, db_url: str, *args: str, check: bool = True) -> tuple[int, dict]:
    """Runs `paylink ARGS --database-url URL --json`; returns its exit code and JSON object."""
    proc = subprocess.run(
        [str(binary), *args, "--database-url", db_url, "--json"],
        capture_output=True, text=True, timeout=180,
    )
    what = f"`paylink {' '.join(args)} --json`"
    if check and proc.returncode != 0:
        pytest.fail(
            f"{what} exited {proc.returncode}\nstdout:\n{proc.stdout}\n"
            f"stderr:\n{proc.stderr}", pytrace=False,
        )
    obj = None
    try:
        obj = json.loads(proc.stdout)
    except json.JSONDecodeError:  # tolerate log lines around the one JSON object
        for line in reversed(proc.stdout.splitlines()):
            if line.strip().startswith("{"):
                obj = json.loads(line)
                break
    if not isinstance(obj, dict):
        pytest.fail(f"{what} printed no JSON object (exit {proc.returncode}):\n{proc.stdout}\n"
                    f"stderr:\n{proc.stderr}", pytrace=False)
    return proc.returncode, obj


def _create_merchant(binary: Path, db_url: str, name: str) -> Merchant:
    _, obj = _paylink_json(binary, db_url, "merchant", "create", "--name", name, "--verified")
    return Merchant(str(obj["merchant_id"]), str(obj["shop_id"]), str(obj["api_token"]))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _log_tail(path: Path, n: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


@pytest.fixture(scope="session")
def server(database_url, tmp_path_factory) -> Server:
    binary = _paylink_bin()
    main = _create_merchant(binary, database_url, "cardlinky-compat-main")
    other = _create_merchant(binary, database_url, "cardlinky-compat-other")

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("paylink-log") / "serve.log"
    log = open(log_path, "wb")
    env = dict(os.environ)
    for var, value in SERVER_MONEY_ENV.items():  # run.sh exports them; a bare pytest run too
        env.setdefault(var, value)
    proc = subprocess.Popen(
        [str(binary), "serve", "--database-url", database_url,
         "--listen", f"127.0.0.1:{port}", "--public-url", base],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
    )
    try:
        deadline = time.monotonic() + 90  # generous: CI machines are small and loaded
        while True:
            if proc.poll() is not None:
                pytest.fail(f"`paylink serve` exited with {proc.returncode}:\n{_log_tail(log_path)}", pytrace=False)
            try:
                if requests.get(base + "/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"`paylink serve` not healthy within 90 s:\n{_log_tail(log_path)}", pytrace=False)
            time.sleep(0.2)
        yield Server(base, base + "/api/v1/", log_path, main, other, binary, database_url)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()
    # Every panic is a bug, even one the server caught and answered with a 500.
    logged = log_path.read_text(errors="replace")
    if "panicked" in logged:
        pytest.fail(f"`paylink serve` logged a panic:\n{_log_tail(log_path)}", pytrace=False)


@pytest.fixture(scope="session")
def client(server) -> Cardlinky:
    return server.client(server.main)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def sandbox_pay(server: Server, bill_id: str, method: str = "BANK_CARD", card: Optional[str] = GOOD_CARD,
                amount: Optional[str] = None, merchant: Optional[Merchant] = None) -> requests.Response:
    """paylink's sandbox payment helper (not a Cardlink endpoint, so not in cardlinky)."""
    body = {"bill_id": bill_id, "method": method}
    if method == "BANK_CARD" and card is not None:
        body["card_number"] = card
    if amount is not None:
        body["amount"] = amount
    return requests.post(
        server.base_url + "/sandbox/pay",
        headers={"Authorization": f"Bearer {(merchant or server.main).api_token}"},
        json=body, timeout=HTTP_TIMEOUT,
    )


def pay_ok(server: Server, bill_id: str, **kw) -> dict:
    r = sandbox_pay(server, bill_id, **kw)
    assert r.status_code == 200, f"sandbox/pay answered {r.status_code}: {r.text}"
    p = r.json()
    assert p["bill_id"] == bill_id and isinstance(p["id"], str) and p["id"]
    return p


def raw_get(server: Server, path: str, params: dict, merchant: Optional[Merchant] = None) -> requests.Response:
    return requests.get(
        server.api + path, params=params, timeout=HTTP_TIMEOUT,
        headers={"Authorization": f"Bearer {(merchant or server.main).api_token}"},
    )


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def assert_recent(created_at: dt.datetime) -> None:
    # The server's clock zone is not part of the contract: accept UTC or local time.
    now_utc = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    now_local = dt.datetime.now()
    skew = min(abs(created_at - now_utc), abs(created_at - now_local))
    assert skew < dt.timedelta(minutes=10), f"created_at {created_at} is not now"


def assert_payment_matches(p, sandbox: dict) -> None:
    """A cardlinky Payment/PaymentStatus against the payment object the sandbox answered."""
    assert p.id == sandbox["id"]
    assert p.bill_id == sandbox["bill_id"]
    assert p.status == Status.from_value(sandbox["status"])
    assert p.amount == pytest.approx(float(sandbox["amount"]))
    assert p.commission == pytest.approx(float(sandbox["commission"]))
    assert p.commission >= 0
    assert p.currency_in == Currency.from_value(sandbox["currency_in"])
    assert p.from_card == sandbox["from_card"]
    if "account_amount" in sandbox:
        assert p.account_amount == pytest.approx(float(sandbox["account_amount"]))
    if "account_currency_code" in sandbox:
        assert p.account_currency_code == Currency.from_value(sandbox["account_currency_code"])
    assert p.created_at == dt.datetime.strptime(sandbox["created_at"], "%Y-%m-%d %H:%M:%S")


def assert_masked_card(from_card: str, pan: str) -> None:
    assert from_card != pan, "from_card must be masked"
    assert from_card.startswith(pan[:6]) and from_card.endswith(pan[-4:]), from_card


def api_error(excinfo) -> str:
    """cardlinky surfaces errors as requests.exceptions.HTTPError(<message>), without .response."""
    return str(excinfo.value)


# --------------------------------------------------------------------------------------------
# bill/create + bill/status
# --------------------------------------------------------------------------------------------


def test_create_normal_bill_with_all_fields(server, client):
    order_id = unique("ord")
    created = client.create_bill(
        123.45, server.main.shop_id, order_id=order_id, description="Order via cardlinky",
        bill_type=BillType.NORMAL, currency_in=Currency.RUB, custom="custom-payload",
        name="Compat test",
    )
    assert isinstance(created, BillCreate)
    assert created.success is True
    assert created.bill_id
    for url in (created.link_url, created.link_page_url):
        assert url.startswith(server.base_url + "/"), url
        assert created.bill_id in url

    st = client.get_bill_status(created.bill_id)
    assert isinstance(st, BillStatus)
    assert st.success is True
    assert st.id == created.bill_id
    assert st.status == Status.NEW
    assert st.active is True
    assert st.amount == pytest.approx(123.45)
    assert st.type == BillType.NORMAL
    assert st.currency_in == Currency.RUB
    assert_recent(st.created_at)

    # cardlinky's BillStatus model drops order_id; check it on the raw answer (query-string form).
    raw = raw_get(server, "bill/status", {"id": created.bill_id})
    assert raw.status_code == 200
    assert raw.json()["order_id"] == order_id


def test_create_multi_bill_usd_integer_amount(server, client):
    # An int amount goes on the wire as `10`; MULTI goes as lower-case "multi".
    created = client.create_bill(10, server.main.shop_id, order_id=unique("multi"),
                                 bill_type=BillType.MULTI, currency_in=Currency.USD,
                                 description="multi", custom="m")
    st = client.get_bill_status(created.bill_id)
    assert (st.id, st.status, st.type, st.currency_in, st.active) == (
        created.bill_id, Status.NEW, BillType.MULTI, Currency.USD, True)
    assert st.amount == pytest.approx(10.0)


def test_create_bill_minimal_sends_nulls(server, client):
    # cardlinky sends "order_id": null, "description": null, "custom": null, "name": null and
    # "payer_pays_commission": false: nulls must read as absent.
    created = client.create_bill(77.5, server.main.shop_id)
    st = client.get_bill_status(created.bill_id)
    assert st.type == BillType.NORMAL  # the documented default
    assert st.status == Status.NEW
    assert st.amount == pytest.approx(77.5)
    assert st.currency_in in (Currency.RUB, Currency.USD, Currency.EUR)


def test_create_bill_eur(server, client):
    created = client.create_bill(0.99, server.main.shop_id, bill_type=BillType.NORMAL,
                                 currency_in=Currency.EUR)
    st = client.get_bill_status(created.bill_id)
    assert st.currency_in == Currency.EUR
    assert st.amount == pytest.approx(0.99)


# --------------------------------------------------------------------------------------------
# bill/toggle_activity
# --------------------------------------------------------------------------------------------


def test_toggle_activity_off_and_on(server, client):
    created = client.create_bill(42.0, server.main.shop_id, bill_type=BillType.MULTI,
                                 currency_in=Currency.RUB, order_id=unique("tgl"))
    before = client.get_bill_status(created.bill_id)

    off = client.toggle_bill_activity(created.bill_id, False)
    assert isinstance(off, BillToggleActivity)
    assert off.success is True
    assert off.id == created.bill_id
    assert off.active is False
    assert off.status == Status.NEW
    assert off.type == BillType.MULTI
    assert off.currency_in == Currency.RUB
    assert off.amount == pytest.approx(42.0)
    assert off.created_at == before.created_at
    assert client.get_bill_status(created.bill_id).active is False

    on = client.toggle_bill_activity(created.bill_id, True)
    assert on.active is True and on.id == created.bill_id and on.status == Status.NEW
    assert client.get_bill_status(created.bill_id).active is True


# --------------------------------------------------------------------------------------------
# A paid NORMAL bill: bill/status, bill/payments, payment/status
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def paid_normal(server, client):
    created = client.create_bill(250.0, server.main.shop_id, bill_type=BillType.NORMAL,
                                 currency_in=Currency.RUB, order_id=unique("paid"),
                                 custom="paid-normal")
    assert client.get_bill_status(created.bill_id).status == Status.NEW
    payment = pay_ok(server, created.bill_id, card=GOOD_CARD)
    assert payment["status"] == "SUCCESS"
    return created.bill_id, payment


def test_bill_status_success_after_payment(client, paid_normal):
    bill_id, _ = paid_normal
    st = client.get_bill_status(bill_id)
    assert st.id == bill_id
    assert st.status == Status.SUCCESS
    assert st.amount == pytest.approx(250.0)
    assert st.type == BillType.NORMAL


def test_bill_payments_of_paid_normal_bill(client, paid_normal):
    bill_id, sandbox = paid_normal
    payments = client.get_bill_payments(bill_id)
    assert len(payments) == 1
    p = payments[0]
    assert isinstance(p, Payment)
    assert_payment_matches(p, sandbox)
    assert p.status == Status.SUCCESS
    assert p.amount == pytest.approx(250.0)
    assert p.currency_in == Currency.RUB
    assert p.account_currency_code in (Currency.RUB, Currency.USD, Currency.EUR)
    assert_masked_card(p.from_card, GOOD_CARD)
    assert p.error_code is None


def test_payment_status_of_successful_payment(client, paid_normal):
    bill_id, sandbox = paid_normal
    ps = client.get_payment_status(sandbox["id"])
    assert isinstance(ps, PaymentStatus)
    assert ps.success is True
    assert_payment_matches(ps, sandbox)
    assert ps.status == Status.SUCCESS
    assert ps.bill_id == bill_id
    assert ps.amount == pytest.approx(250.0)


def test_second_payment_on_normal_bill_is_refused(server, client, paid_normal):
    bill_id, _ = paid_normal
    r = sandbox_pay(server, bill_id, card=GOOD_CARD)
    assert r.status_code == 403, r.text
    body = r.json()
    assert body["success"] is False and body["message"] == "api:error.bill_is_finished"
    assert len(client.get_bill_payments(bill_id)) == 1
    assert client.get_bill_status(bill_id).status == Status.SUCCESS


def test_toggle_finished_bill_is_refused(client, paid_normal):
    # Seed: "403 api:error.bill_is_finished — Bill is paid in case of NORMAL bill".
    bill_id, _ = paid_normal
    with pytest.raises(requests.exceptions.HTTPError) as exc:
        client.toggle_bill_activity(bill_id, False)
    assert api_error(exc) == "api:error.bill_is_finished"


# --------------------------------------------------------------------------------------------
# A MULTI bill with several payments: success x2, a declined card, an underpaid SBP transfer
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def paid_multi(server, client):
    created = client.create_bill(100.0, server.main.shop_id, bill_type=BillType.MULTI,
                                 currency_in=Currency.RUB, order_id=unique("multi"),
                                 description="several payments")
    ok1 = pay_ok(server, created.bill_id, card=GOOD_CARD)
    failed = sandbox_pay(server, created.bill_id, card=DECLINED_CARD)
    # A declined card is a FAIL payment object; its HTTP status is not specified.
    assert failed.status_code < 500, failed.text
    failed = failed.json()
    assert failed["status"] == "FAIL" and failed["id"] and failed["bill_id"] == created.bill_id
    ok2 = pay_ok(server, created.bill_id, card="5555555555554444")
    under = pay_ok(server, created.bill_id, method="SBP", card=None, amount="50.00")
    for p, status in ((ok1, "SUCCESS"), (ok2, "SUCCESS"), (under, "UNDERPAID")):
        assert p["status"] == status, p
    return created.bill_id, {"ok1": ok1, "ok2": ok2, "failed": failed, "under": under}


def test_bill_payments_of_multi_bill(client, paid_multi):
    bill_id, sandbox = paid_multi
    payments = client.get_bill_payments(bill_id)  # parses every item, incl. the FAIL one
    assert all(isinstance(p, Payment) for p in payments)
    by_id = {p.id: p for p in payments}
    assert set(by_id) == {s["id"] for s in sandbox.values()}
    for s in sandbox.values():
        assert_payment_matches(by_id[s["id"]], s)

    ok1, ok2 = by_id[sandbox["ok1"]["id"]], by_id[sandbox["ok2"]["id"]]
    assert ok1.status == ok2.status == Status.SUCCESS
    assert ok1.amount == ok2.amount == pytest.approx(100.0)
    assert_masked_card(ok1.from_card, GOOD_CARD)
    assert_masked_card(ok2.from_card, "5555555555554444")

    failed = by_id[sandbox["failed"]["id"]]
    assert failed.status == Status.FAIL
    assert_masked_card(failed.from_card, DECLINED_CARD)
    # error_code is Optional[int] in cardlinky (getting here proves it parsed); a failed payment
    # must say why.
    assert failed.error_code is not None or failed.error_message

    under = by_id[sandbox["under"]["id"]]
    assert under.status == Status.UNDERPAID
    assert under.amount == pytest.approx(50.0)  # what the payer actually paid
    assert under.from_card == ""  # SBP: a string, never null


def test_payment_status_of_each_multi_payment(client, paid_multi):
    bill_id, sandbox = paid_multi
    expected = {"ok1": Status.SUCCESS, "ok2": Status.SUCCESS, "failed": Status.FAIL, "under": Status.UNDERPAID}
    for key, status in expected.items():
        ps = client.get_payment_status(sandbox[key]["id"])
        assert ps.success is True
        assert ps.status == status
        assert ps.bill_id == bill_id
        assert_payment_matches(ps, sandbox[key])


def test_multi_bill_stays_open(client, paid_multi):
    bill_id, _ = paid_multi
    st = client.get_bill_status(bill_id)
    assert st.type == BillType.MULTI
    assert st.active is True
    assert st.amount == pytest.approx(100.0)


# --------------------------------------------------------------------------------------------
# bill/search, payment/search — on the second merchant's shop, which holds only these records
# (cardlinky cannot paginate, so the set must fit on the server's first page)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def search_data(server):
    c = server.client(server.other)
    shop = server.other.shop_id
    b1 = c.create_bill(11.11, shop, bill_type=BillType.NORMAL, currency_in=Currency.RUB, order_id=unique("s1"))
    b2 = c.create_bill(22.22, shop, bill_type=BillType.MULTI, currency_in=Currency.USD, order_id=unique("s2"))
    b3 = c.create_bill(33.33, shop, bill_type=BillType.NORMAL, currency_in=Currency.EUR, order_id=unique("s3"))
    p1 = pay_ok(server, b1.bill_id, merchant=server.other)
    p2 = pay_ok(server, b2.bill_id, merchant=server.other)
    p3 = sandbox_pay(server, b2.bill_id, card=DECLINED_CARD, merchant=server.other).json()
    assert p3["status"] == "FAIL"
    bills = {
        b1.bill_id: (11.11, BillType.NORMAL, Currency.RUB, Status.SUCCESS),
        b2.bill_id: (22.22, BillType.MULTI, Currency.USD, None),  # MULTI bill status: unspecified
        b3.bill_id: (33.33, BillType.NORMAL, Currency.EUR, Status.NEW),
    }
    return c, bills, {p["id"]: p for p in (p1, p2, p3)}


def _today_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def test_search_bill(server, search_data):
    c, bills, _ = search_data
    found = c.search_bill(server.other.shop_id)
    assert all(isinstance(b, Bill) for b in found)
    by_id = {b.id: b for b in found}
    assert set(by_id) == set(bills)
    for bill_id, (amount, btype, cur, status) in bills.items():
        b = by_id[bill_id]
        assert b.amount == pytest.approx(amount)
        assert (b.type, b.currency_in, b.active) == (btype, cur, True)
        if status is not None:
            assert b.status == status
        assert_recent(b.created_at)


def test_search_bill_date_filters(server, search_data):
    c, bills, _ = search_data
    today = _today_utc()
    day = dt.timedelta(days=1)
    shop = server.other.shop_id
    around = c.search_bill(shop, start_date=today - day, finish_date=today + day)
    assert {b.id for b in around} == set(bills)
    assert c.search_bill(shop, start_date=today + 2 * day) == []
    assert c.search_bill(shop, finish_date=today - 2 * day) == []


def test_search_payment(server, search_data):
    c, _, payments = search_data
    found = c.search_payment(server.other.shop_id)
    assert all(isinstance(p, Payment) for p in found)
    by_id = {p.id: p for p in found}
    assert set(by_id) == set(payments)
    for pid, sandbox in payments.items():
        assert_payment_matches(by_id[pid], sandbox)


def test_search_payment_date_filters(server, search_data):
    c, _, payments = search_data
    today = _today_utc()
    day = dt.timedelta(days=1)
    shop = server.other.shop_id
    around = c.search_payment(shop, start_date=today - day, finish_date=today + day)
    assert {p.id for p in around} == set(payments)
    assert c.search_payment(shop, start_date=today + 2 * day) == []
    assert c.search_payment(shop, finish_date=today - 2 * day) == []


def test_search_pagination_shape(server, search_data):
    # cardlinky cannot paginate (it sends no per_page/cursor and reads only `data`), so the
    # cursor paginator that other clients use is checked here with plain requests.
    _, bills, _ = search_data
    seen, cursor, pages = [], None, 0
    while True:
        params = {"shop_id": server.other.shop_id, "per_page": 2}
        if cursor:
            params["cursor"] = cursor
        r = raw_get(server, "bill/search", params, merchant=server.other)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["success"] is True
        assert set(body["links"]) >= {"first", "last", "prev", "next"}
        assert set(body["meta"]) >= {"path", "per_page", "next_cursor", "prev_cursor"}
        assert int(body["meta"]["per_page"]) == 2
        assert len(body["data"]) <= 2
        seen += [b["id"] for b in body["data"]]
        pages += 1
        cursor = body["meta"]["next_cursor"]
        if not cursor:
            assert body["links"]["next"] is None
            break
        assert isinstance(body["links"]["next"], str)
        assert pages < 10
    assert pages == 2
    assert sorted(seen) == sorted(bills)


def test_other_merchants_records_do_not_leak(server, client, search_data, paid_normal):
    _, other_bills, _ = search_data
    # Searching another merchant's shop: refused, or an answer without their bills.
    try:
        leaked = {b.id for b in client.search_bill(server.other.shop_id)}
    except requests.exceptions.HTTPError as e:
        assert str(e).startswith("api:error."), str(e)
    else:
        assert not leaked & set(other_bills)
    # Another merchant's bill by id: reported as not found (or access denied), never shown.
    bill_id, _ = paid_normal
    with pytest.raises(requests.exceptions.HTTPError) as exc:
        server.client(server.other).get_bill_status(bill_id)
    assert api_error(exc) in ("api:error.bill_not_found", "api:error.access_denied")


# --------------------------------------------------------------------------------------------
# Errors as cardlinky surfaces them: requests.exceptions.HTTPError(<message>)
# --------------------------------------------------------------------------------------------


def test_unknown_bill_status(server, client):
    with pytest.raises(requests.exceptions.HTTPError) as exc:
        client.get_bill_status("NoSuchBill0")
    assert api_error(exc) == "api:error.bill_not_found"
    # The status code cardlinky ignores: 422 per the seed.
    r = raw_get(server, "bill/status", {"id": "NoSuchBill0"})
    assert r.status_code == 422
    body = r.json()
    assert body["success"] is False and body["message"] == "api:error.bill_not_found"
    assert "errors" not in body  # cardlinky would surface errors[...] instead of the message


def test_unknown_bill_payments(client):
    with pytest.raises(requests.exceptions.HTTPError) as exc:
        client.get_bill_payments("NoSuchBill0")
    assert api_error(exc) == "api:error.bill_not_found"


def test_unknown_bill_toggle(client):
    with pytest.raises(requests.exceptions.HTTPError) as exc:
        client.toggle_bill_activity("NoSuchBill0", True)
    assert api_error(exc) == "api:error.bill_not_found"


def test_unknown_payment_status(server, client):
    with pytest.raises(requests.exceptions.HTTPError) as exc:
        client.get_payment_status("NoSuchPay0")
    assert api_error(exc) == "api:error.payment_not_found"
    assert raw_get(server, "payment/status", {"id": "NoSuchPay0"}).status_code == 422


def test_invalid_amount(server, client):
    # More than two decimals (float arithmetic in callers produces these).
    with pytest.raises(requests.exceptions.HTTPError) as exc:
        client.create_bill(10.123, server.main.shop_id)
    assert api_error(exc) == "api:error.invalid_amount"


def test_unknown_shop(client):
    with pytest.raises(requests.exceptions.HTTPError) as exc:
        client.create_bill(10.0, "NoSuchShop0")
    assert api_error(exc) == "api:error.shop_not_found"


def test_foreign_shop(server, client):
    with pytest.raises(requests.exceptions.HTTPError) as exc:
        client.create_bill(10.0, server.other.shop_id)
    assert api_error(exc) == "api:error.access_denied"


def test_validation_error(server, client):
    # An empty shop_id is a missing required field: 422 with Laravel's `errors` map, from which
    # cardlinky raises the first message of the first field.
    with pytest.raises(requests.exceptions.HTTPError) as exc:
        client.create_bill(10.0, "")
    assert api_error(exc)
    r = requests.post(server.api + "bill/create", json={"amount": 10.0, "shop_id": ""},
                      headers={"Authorization": f"Bearer {server.main.api_token}"}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 422
    body = r.json()
    assert body["success"] is False
    assert isinstance(body["errors"]["shop_id"], list) and body["errors"]["shop_id"]
    assert api_error(exc) == body["errors"]["shop_id"][0]


def test_invalid_token(server):
    # The 401 body needs "success": false, or cardlinky dies with KeyError('success').
    bad = Cardlinky("1|not-a-valid-token", base_url=server.api)
    with pytest.raises(requests.exceptions.HTTPError) as exc:
        bad.get_bill_status("NoSuchBill0")
    assert api_error(exc) == "Unauthenticated."
    assert raw_get(server, "bill/status", {"id": "x"}, merchant=Merchant("", "", "1|nope")).status_code == 401


# --------------------------------------------------------------------------------------------
# Merchant money: merchant/balance and payout/status through cardlinky; payout creation,
# payout/search, the SBP banks dictionary and refunds over plain requests (cardlinky's payout
# create/search methods cannot parse any answer, and it has no dictionary or refund methods —
# see CARDLINKY_NOTES.md). Each story uses its own fresh merchant, so its balance is exact.
# --------------------------------------------------------------------------------------------

CARD_PAYOUT_FAIL = "4000000000000002"  # Luhn-valid, ends 0002: the sandbox provider answers FAIL
CARD_PAYOUT_ERROR = "4000000000000119"  # Luhn-valid, ends 0119: the sandbox provider answers ERROR
REFUND_REFUSED_CARD = "4000000000000259"  # pays normally; the sandbox acquirer refuses its refunds
SBP_PHONE = "+7 999 123-45-67"
FINAL_PAYOUT = {Status.SUCCESS, Status.FAIL, Status.ERROR, Status.DECLINED}
IN_FLIGHT_PAYOUT = {Status.NEW, Status.PROCESS}
PAYOUT_KEYS = {"id", "status", "order_id", "account_identifier", "amount", "account_amount",
               "commission", "account_commission", "currency", "account_currency", "created_at"}
REFUND_KEYS = {"id", "payment_id", "bill_id", "status", "amount", "currency", "account_amount",
               "account_currency", "created_at"}
WIRE_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
WIRE_BALANCE = re.compile(r"^\d+\.\d{2}$")


def raw_post(server: Server, path: str, body: dict, merchant: Optional[Merchant] = None) -> requests.Response:
    return requests.post(
        server.api + path, json=body, timeout=HTTP_TIMEOUT,
        headers={"Authorization": f"Bearer {(merchant or server.main).api_token}"},
    )


def is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def dec(v) -> Decimal:
    return Decimal(str(v))


def fund(server: Server, merchant: Merchant, amount: float = 1000.0, currency: Currency = Currency.RUB,
         card: str = GOOD_CARD) -> dict:
    """Pays a fresh NORMAL bill of the merchant by card; returns the sandbox's payment object."""
    created = server.client(merchant).create_bill(amount, merchant.shop_id, bill_type=BillType.NORMAL,
                                                  currency_in=currency, order_id=unique("fund"))
    payment = pay_ok(server, created.bill_id, card=card, merchant=merchant)
    assert payment["status"] == "SUCCESS", payment
    return payment


def received(payments) -> dict[Currency, Decimal]:
    """What the payments put in the balance, per currency: their account_amount (A - C)."""
    out: dict[Currency, Decimal] = {}
    for p in payments:
        if p["status"] in ("SUCCESS", "UNDERPAID", "OVERPAID"):
            cur = Currency.from_value(p["account_currency_code"])
            out[cur] = out.get(cur, Decimal(0)) + dec(p["account_amount"])
    return out


def client_balances(server: Server, merchant: Merchant) -> dict[Currency, Balance]:
    balances = server.client(merchant).get_balance()
    assert all(isinstance(b, Balance) for b in balances), balances
    by_currency = {b.currency: b for b in balances}
    assert len(by_currency) == len(balances), f"a currency twice: {balances}"
    return by_currency


def assert_balance(b: Balance, available, locked=0, hold=0) -> None:
    got = (b.balance_available, b.balance_locked, b.balance_hold)
    assert got == (pytest.approx(float(available)), pytest.approx(float(locked)),
                   pytest.approx(float(hold))), f"{b.currency}: (available, locked, hold) = {got}"


def assert_wire_payout(p: dict, status_endpoint: bool = False) -> None:
    """Compat items 10-12 and 14: the payout object as it is on the wire."""
    assert set(p) >= PAYOUT_KEYS, f"missing {PAYOUT_KEYS - set(p)}: {p}"
    assert isinstance(p["id"], str) and p["id"]
    assert Status.from_value(p["status"]) is not None and p["status"] == p["status"].upper(), p
    assert p["order_id"] is None or isinstance(p["order_id"], str)
    assert isinstance(p["account_identifier"], str) and p["account_identifier"]
    for key in ("amount", "account_amount", "commission", "account_commission"):
        assert is_number(p[key]), f"{key} is not a JSON number: {p}"
    assert p["currency"] == p["account_currency"] == "RUB", p
    assert WIRE_DATETIME.match(p["created_at"]), p["created_at"]
    if p["status"] in ("FAIL", "ERROR", "DECLINED"):
        assert isinstance(p.get("error_message"), str) and p["error_message"], p
    else:
        assert "error_message" not in p, f"error_message without an error: {p}"
    if status_endpoint:
        assert p["success"] is True
        assert p["currency_in"] == p["currency"]  # cardlinky reads the currency from currency_in


def assert_cursor_page(body: dict, path: str, per_page: int) -> None:
    """Compat item 15: Laravel's cursor paginator."""
    assert body["success"] is True
    assert isinstance(body["data"], list) and len(body["data"]) <= per_page
    assert set(body["links"]) >= {"first", "last", "prev", "next"}
    assert set(body["meta"]) >= {"path", "per_page", "next_cursor", "prev_cursor"}
    assert body["meta"]["path"].endswith("/api/v1/" + path), body["meta"]
    assert int(body["meta"]["per_page"]) == per_page


def walk_pages(server: Server, path: str, merchant: Merchant, per_page: int, **filters) -> tuple[list, int]:
    """Follows next_cursor to the end; returns every item and the number of pages."""
    items, cursor, pages = [], None, 0
    while True:
        params = {"per_page": per_page, **filters}
        if cursor:
            params["cursor"] = cursor
        r = raw_get(server, path, params, merchant=merchant)
        assert r.status_code == 200, r.text
        body = r.json()
        assert_cursor_page(body, path, per_page)
        items += body["data"]
        pages += 1
        cursor = body["meta"]["next_cursor"]
        if not cursor:
            assert body["links"]["next"] is None
            return items, pages
        assert isinstance(body["links"]["next"], str)
        assert pages < 20


def create_payout(server: Server, merchant: Merchant, amount, identifier: str, order_id: str,
                  account_type: str = "credit_card", **extra) -> dict:
    """payout/regular/create over requests (cardlinky's create_regular_payout dies on any answer,
    after the server has made the payout). Checks the answer's wire shape; returns the payout."""
    body = {"amount": amount, "currency": "RUB", "account_type": account_type,
            "account_identifier": identifier, "order_id": order_id, **extra}
    if account_type == "credit_card":
        body.setdefault("card_holder", "Ivan Petrov")
    r = raw_post(server, "payout/regular/create", body, merchant)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert set(answer) == {"success", "data"}, answer  # compat item 15: a plain list, no pages
    assert answer["success"] is True  # compat item 8: boolean here
    assert len(answer["data"]) == 1, answer  # well below the largest single payout
    payout = answer["data"][0]
    assert_wire_payout(payout)
    assert payout["order_id"] == order_id
    assert dec(payout["amount"]) == dec(amount)
    assert dec(payout["commission"]) > 0  # charged on top of the amount
    return payout


def client_payout_status_by_order_id(client: Cardlinky, order_id: str) -> PayoutStatus:
    """cardlinky's get_payout_status sends only `id`: this is the same call — its own `_get`
    (HTTP and error handling) and the same parsing (cardlinky.py lines 336-343) — by `order_id`."""
    response = client._get("payout/status", {"order_id": order_id})
    response["status"] = Status.from_value(response["status"])
    response["currency"] = Currency.from_value(response["currency_in"])
    response["created_at"] = dt.datetime.strptime(response["created_at"], "%Y-%m-%d %H:%M:%S")
    return PayoutStatus(**response)


def assert_payout_status_matches(st: PayoutStatus, wire: dict) -> None:
    """cardlinky's PayoutStatus against the payout object payout/*/create answered."""
    assert isinstance(st, PayoutStatus)
    assert st.success is True
    assert st.id == wire["id"]
    assert st.amount == pytest.approx(float(wire["amount"]))
    assert st.commission == pytest.approx(float(wire["commission"]))
    assert st.account_identifier == wire["account_identifier"]
    assert st.currency == Currency.RUB
    assert st.created_at == dt.datetime.strptime(wire["created_at"], "%Y-%m-%d %H:%M:%S")


def poll_payout(client: Cardlinky, payout_id: str, until=FINAL_PAYOUT, timeout: float = 30.0):
    """Reads the payout with cardlinky until its status is in `until`; every answer on the way
    must parse. Returns the last PayoutStatus and every status seen."""
    deadline = time.monotonic() + timeout
    seen = []
    while True:
        st = client.get_payout_status(payout_id)
        if not seen or seen[-1] != st.status:
            seen.append(st.status)
        if st.status in until:
            return st, seen
        assert time.monotonic() < deadline, f"payout {payout_id} still {st.status} after {timeout} s: {seen}"
        time.sleep(0.2)


# ---- merchant/balance ----------------------------------------------------------------------


def test_balance_of_fresh_merchant(server):
    m = server.new_merchant("no-money")
    assert server.client(m).get_balance() == []
    r = raw_get(server, "merchant/balance", {}, merchant=m)
    assert r.status_code == 200
    assert r.json() == {"success": "true", "balances": []}  # compat items 8 and 15


@pytest.fixture(scope="module")
def funded(server):
    """A fresh merchant paid in RUB (two cards, an underpaid SBP transfer, a declined card that
    books nothing), USD and EUR — one balance per currency, no conversion."""
    m = server.new_merchant("balance")
    c = server.client(m)
    payments = [fund(server, m, 1000.0), fund(server, m, 123.45, card="5555555555554444"),
                fund(server, m, 10.0, Currency.USD), fund(server, m, 7.5, Currency.EUR)]
    multi = c.create_bill(300.0, m.shop_id, bill_type=BillType.MULTI, currency_in=Currency.RUB)
    payments.append(pay_ok(server, multi.bill_id, method="SBP", card=None, amount="120.00", merchant=m))
    assert payments[-1]["status"] == "UNDERPAID"
    declined = sandbox_pay(server, multi.bill_id, card=DECLINED_CARD, merchant=m)
    assert declined.status_code < 500 and declined.json()["status"] == "FAIL", declined.text
    payments.append(declined.json())
    return m, payments


def test_balance_after_payments(server, funded):
    m, payments = funded
    expected = received(payments)
    assert set(expected) == {Currency.RUB, Currency.USD, Currency.EUR}
    for p in payments:  # no conversion: what landed is the amount less the commission
        if p["status"] != "FAIL":
            assert dec(p["account_amount"]) == dec(p["amount"]) - dec(p["commission"]), p
    balances = client_balances(server, m)
    assert set(balances) == set(expected)
    for cur, amount in expected.items():
        # PAYLINK_MONEY_SETTLE_AFTER=0: all of it available at once, nothing in hold
        assert_balance(balances[cur], available=amount)

    # The wire form cardlinky hides: success is the string "true", balances are decimal strings
    # with two places (compat items 8, 11, 15).
    r = raw_get(server, "merchant/balance", {}, merchant=m)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"success", "balances"} and body["success"] == "true"
    for b in body["balances"]:
        assert set(b) == {"currency", "balance_available", "balance_locked", "balance_hold"}
        for key in ("balance_available", "balance_locked", "balance_hold"):
            assert isinstance(b[key], str) and WIRE_BALANCE.match(b[key]), b
        assert b["balance_available"] == f"{expected[Currency.from_value(b['currency'])]:.2f}"
        assert b["balance_locked"] == b["balance_hold"] == "0.00"


# ---- payouts: created over requests, read with cardlinky -------------------------------------


@pytest.fixture(scope="module")
def payouts(server):
    """A fresh merchant with 1000.00 RUB paid in, then four payouts: cards the sandbox provider
    pays (SUCCESS), declines (FAIL) and errs on (ERROR), and an SBP transfer (SUCCESS). Each is
    read with cardlinky by id and by order_id right after it is created, while the provider
    still holds it (it answers PAYOUT_PROCESS_SECONDS later)."""
    m = server.new_merchant("payouts")
    payment = fund(server, m, 1000.0)
    c = server.client(m)
    banks = raw_get(server, "payout/dictionaries/sbp_banks", {}, merchant=m).json()["data"]
    plan = {
        "success": (Status.SUCCESS, dict(amount=100, identifier=GOOD_CARD)),
        "fail": (Status.FAIL, dict(amount=100.0, identifier=CARD_PAYOUT_FAIL)),
        "error": (Status.ERROR, dict(amount="100.00", identifier=CARD_PAYOUT_ERROR)),
        "sbp": (Status.SUCCESS, dict(amount=50, identifier=SBP_PHONE, account_type="sbp",
                                     account_bank=banks[0]["member_id"])),
    }
    made = {}
    for key, (final, args) in plan.items():
        order_id = unique(f"po-{key}")
        wire = create_payout(server, m, order_id=order_id, **args)
        made[key] = {"wire": wire, "order_id": order_id, "final": final, "to": args["identifier"],
                     "in_flight": (c.get_payout_status(wire["id"]),
                                   client_payout_status_by_order_id(c, order_id))}
    return m, payment, made


@pytest.fixture(scope="module")
def payouts_done(server, payouts):
    """The same payouts once the provider has answered each (bounded poll through cardlinky)."""
    m, payment, made = payouts
    c = server.client(m)
    for p in made.values():
        p["done"], p["seen"] = poll_payout(c, p["wire"]["id"])
    return m, payment, made


def test_payout_create_answer(payouts):
    _, _, made = payouts
    for key, p in made.items():
        w = p["wire"]
        assert w["status"] == "NEW", w  # no moderation for this merchant
        if key == "sbp":
            assert w["account_identifier"] == "+79991234567"  # the phone, normalized
        else:  # never the whole card number
            assert re.fullmatch(r"\d{6}\*{6}\d{4}", w["account_identifier"]), w
            assert_masked_card(w["account_identifier"], p["to"])


def test_payout_status_in_flight(payouts):
    _, _, made = payouts
    for p in made.values():
        by_id, by_order = p["in_flight"]
        for st in (by_id, by_order):
            assert_payout_status_matches(st, p["wire"])
            assert st.status in IN_FLIGHT_PAYOUT, (p["order_id"], st.status)


def test_payout_status_final(server, payouts_done):
    m, _, made = payouts_done
    c = server.client(m)
    for key, p in made.items():
        done = p["done"]
        assert_payout_status_matches(done, p["wire"])
        assert done.status == p["final"], (key, p["seen"])
        # Every status on the way parsed; none but NEW/PROCESS before the end.
        assert set(p["seen"][:-1]) <= IN_FLIGHT_PAYOUT, (key, p["seen"])
        by_order = client_payout_status_by_order_id(c, p["order_id"])
        assert_payout_status_matches(by_order, p["wire"])
        assert by_order.status == p["final"]

        # The raw answers, by id (query string) and by order_id (JSON body, as cardlinky sends).
        r1 = raw_get(server, "payout/status", {"id": p["wire"]["id"]}, merchant=m)
        r2 = requests.get(server.api + "payout/status", json={"order_id": p["order_id"]},
                          headers={"Authorization": f"Bearer {m.api_token}"}, timeout=HTTP_TIMEOUT)
        assert r1.status_code == r2.status_code == 200, (r1.text, r2.text)
        assert r1.json() == r2.json()
        raw = r1.json()
        assert_wire_payout(raw, status_endpoint=True)
        assert raw["status"] == p["final"].value and raw["order_id"] == p["order_id"]
        assert {k: raw[k] for k in PAYOUT_KEYS - {"status"}} == {k: p["wire"][k] for k in PAYOUT_KEYS - {"status"}}


def test_balance_after_payouts(server, payouts_done):
    m, payment, made = payouts_done
    # What succeeded left with its commission; what failed or erred came back.
    spent = sum(dec(p["wire"]["amount"]) + dec(p["wire"]["commission"])
                for p in made.values() if p["final"] == Status.SUCCESS)
    balances = client_balances(server, m)
    assert set(balances) == {Currency.RUB}
    assert_balance(balances[Currency.RUB], available=dec(payment["account_amount"]) - spent)


def test_payout_search(server, payouts_done):
    # cardlinky's search_payout cannot parse a non-empty answer (test_cardlinky_payout_search_is_broken).
    m, _, made = payouts_done
    items, pages = walk_pages(server, "payout/search", m, per_page=3)
    assert pages == 2
    ids = [p["id"] for p in items]
    assert sorted(ids) == sorted(p["wire"]["id"] for p in made.values())
    by_id = {p["id"]: p for p in items}
    for p in made.values():
        item = by_id[p["wire"]["id"]]
        assert_wire_payout(item)
        assert "success" not in item and "currency_in" not in item
        assert item["status"] == p["final"].value

    def search(**params):
        r = raw_get(server, "payout/search", params, merchant=m)
        assert r.status_code == 200, r.text
        assert_cursor_page(r.json(), "payout/search", 100)  # the default page size
        return {p["id"] for p in r.json()["data"]}

    everything = set(ids)
    assert search() == everything
    assert search(status="FAIL") == {made["fail"]["wire"]["id"]}
    assert search(order_id=made["sbp"]["order_id"]) == {made["sbp"]["wire"]["id"]}
    today, day = _today_utc(), dt.timedelta(days=1)
    assert search(start_date=f"{today - day:%Y-%m-%d}", finish_date=f"{today + day:%Y-%m-%d}") == everything
    assert search(start_date=f"{today + 2 * day:%Y-%m-%d}") == set()


def test_cardlinky_payout_search_is_broken(server, payouts_done):
    # Why payout/search and payout/*/create are tested with requests: cardlinky reads each item's
    # status from a "payout" key (cardlinky.py lines 265, 297, 320), which no answer has.
    m, _, _ = payouts_done
    with pytest.raises(KeyError, match="payout"):
        server.client(m).search_payout()
    # With nothing to parse it works: an empty page is an empty list.
    assert server.client(server.new_merchant("no-payouts")).search_payout() == []


def test_payout_status_errors(server, payouts):
    m, _, made = payouts
    with pytest.raises(requests.exceptions.HTTPError) as exc:
        server.client(m).get_payout_status("NoSuchPayout0")
    assert api_error(exc) == "api:error.payout_not_found"
    r = raw_get(server, "payout/status", {"id": "NoSuchPayout0"}, merchant=m)
    assert r.status_code == 422
    assert r.json() == {"success": False, "message": "api:error.payout_not_found"}
    # Another merchant's payout reads as a missing one.
    with pytest.raises(requests.exceptions.HTTPError) as exc:
        server.client(server.main).get_payout_status(made["success"]["wire"]["id"])
    assert api_error(exc) == "api:error.payout_not_found"


def test_moderated_payouts(server):
    # A merchant under moderation: payouts wait in MODERATING; one is canceled by the merchant
    # (DECLINED), the other approved by the operator (then NEW, PROCESS, SUCCESS).
    m = server.new_merchant("moderated")
    payment = fund(server, m, 1000.0)
    server.paylink("merchant", "update", "--merchant", m.merchant_id, "--payout-moderation", "true")
    c = server.client(m)
    cancel = create_payout(server, m, 100, GOOD_CARD, unique("po-cancel"))
    approve = create_payout(server, m, 150, "5555555555554444", unique("po-approve"))
    for p in (cancel, approve):
        assert p["status"] == "MODERATING"
        for st in (c.get_payout_status(p["id"]), client_payout_status_by_order_id(c, p["order_id"])):
            assert_payout_status_matches(st, p)
            assert st.status == Status.MODERATING
    locked = sum(dec(p["amount"]) + dec(p["commission"]) for p in (cancel, approve))
    assert_balance(client_balances(server, m)[Currency.RUB],
                   available=dec(payment["account_amount"]) - locked, locked=locked)

    r = raw_post(server, "payout/cancel", {"order_id": cancel["order_id"]}, m)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "DECLINED" and r.json()["success"] is True
    assert_wire_payout(r.json())
    st = c.get_payout_status(cancel["id"])
    assert_payout_status_matches(st, cancel)
    assert st.status == Status.DECLINED

    _, approved = server.paylink("payout", "approve", "--id", approve["id"])
    assert approved["status"] == "NEW"
    st, seen = poll_payout(c, approve["id"])
    assert_payout_status_matches(st, approve)
    assert st.status == Status.SUCCESS
    assert set(seen) <= {Status.NEW, Status.PROCESS, Status.SUCCESS}, seen

    spent = dec(approve["amount"]) + dec(approve["commission"])
    assert_balance(client_balances(server, m)[Currency.RUB],
                   available=dec(payment["account_amount"]) - spent)


# ---- payout/dictionaries/sbp_banks -----------------------------------------------------------


def test_sbp_banks_dictionary(server):
    r = raw_get(server, "payout/dictionaries/sbp_banks", {})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"success", "data"} and body["success"] is True  # compat item 15
    assert body["data"], "the dictionary is empty"
    for bank in body["data"]:  # compat item 16
        assert set(bank) >= {"member_id", "bic", "name", "name_en"}, bank
        assert isinstance(bank["member_id"], int) and not isinstance(bank["member_id"], bool), bank
        assert isinstance(bank["bic"], int) and not isinstance(bank["bic"], bool), bank
        assert bank["member_id"] > 0 and bank["bic"] > 0
        assert isinstance(bank["name"], str) and bank["name"].strip()
        assert isinstance(bank["name_en"], str) and bank["name_en"].strip()
    members = [b["member_id"] for b in body["data"]]
    assert len(members) == len(set(members))


# ---- refunds (no cardlinky method) -----------------------------------------------------------


def assert_wire_refund(r: dict, payment: dict) -> None:
    assert set(r) >= REFUND_KEYS, f"missing {REFUND_KEYS - set(r)}: {r}"
    assert isinstance(r["id"], str) and r["id"]
    assert r["payment_id"] == payment["id"] and r["bill_id"] == payment["bill_id"]
    assert r["status"] in ("PROCESS", "SUCCESS", "FAIL")
    assert is_number(r["amount"]) and is_number(r["account_amount"]), r
    assert r["currency"] == payment["currency_in"]
    assert r["account_currency"] == payment["account_currency_code"]
    assert WIRE_DATETIME.match(r["created_at"]), r["created_at"]
    if r["status"] == "FAIL":
        assert isinstance(r.get("error_message"), str) and r["error_message"], r
    else:
        assert "error_message" not in r, r


def test_refunds(server):
    m = server.new_merchant("refunds")
    c = server.client(m)
    p1, p2 = fund(server, m, 1000.0), fund(server, m, 1000.0)
    start = received([p1, p2])[Currency.RUB]

    made = []
    for path, body, amount in (("refund/partial/create", {"payment_id": p1["id"], "amount": "100.00"}, 100),
                               ("refund/full/create", {"payment_id": p1["id"]}, 900)):
        r = raw_post(server, path, body, m)
        assert r.status_code == 200, r.text
        refund = r.json()
        assert refund["success"] is True
        assert_wire_refund(refund, p1)
        assert refund["status"] == "SUCCESS"
        assert dec(refund["amount"]) == dec(refund["account_amount"]) == amount
        made.append(refund)

        st = raw_get(server, "refund/status", {"id": refund["id"]}, merchant=m)
        assert st.status_code == 200 and st.json() == refund

    # refund/search: a cursor page (compat item 15), one refund a page.
    items, pages = walk_pages(server, "refund/search", m, per_page=1, payment_id=p1["id"])
    assert pages == 2
    assert sorted(i["id"] for i in items) == sorted(i["id"] for i in made)
    for item in items:
        assert_wire_refund(item, p1)

    # cardlinky still parses the refunded payment (refunded_amount is an extra field to it).
    ps = c.get_payment_status(p1["id"])
    assert ps.id == p1["id"] and ps.amount == pytest.approx(1000.0)
    assert raw_get(server, "payment/status", {"id": p1["id"]}, merchant=m).json()["refunded_amount"] == 1000
    # The payer got all 1000.00 back, the commission was not returned.
    assert_balance(client_balances(server, m)[Currency.RUB], available=start - 1000)
    assert c.get_payment_status(p2["id"]).status == Status.SUCCESS


def test_refused_refund(server):
    m = server.new_merchant("refund-refused")
    payment = fund(server, m, 500.0, card=REFUND_REFUSED_CARD)
    other = fund(server, m, 500.0)  # the refund takes all 500.00: more than one payment left
    before = received([payment, other])[Currency.RUB]
    r = raw_post(server, "refund/full/create", {"payment_id": payment["id"]}, m)
    assert r.status_code == 200, r.text
    refund = r.json()
    assert_wire_refund(refund, payment)
    assert refund["status"] == "FAIL"
    # The money is back, and the payment still wholly refundable.
    assert_balance(client_balances(server, m)[Currency.RUB], available=before)
    assert raw_get(server, "payment/status", {"id": payment["id"]}, merchant=m).json()["refunded_amount"] == 0


# ---- last: the ledger behind all of the above --------------------------------------------------


def test_ledger_check(server, funded, payouts_done):
    # After every money movement above (run last: pytest keeps the file's order).
    code, report = server.paylink("ledger", "check", check=False)
    assert code == 0 and report["ok"] is True and report["problems"] == [], report
    assert report["transactions"] > 0 and report["balances"] > 0, report
