"""Conformance test: the real PyPI client `cardlinky` 1.7 against a live paylink server.

The session fixture builds a fresh database (PostgreSQL from PAYLINK_TEST_DATABASE_URL, else a
temp SQLite file), creates two verified merchants with `paylink merchant create`, starts
`paylink serve` on a free loopback port and waits for GET /health. Every Cardlink endpoint that
cardlinky has a method for (bills and payments) is then driven through cardlinky itself and the
parsed values are checked. Payments are made through paylink's sandbox helper (`POST
/sandbox/pay`), which is not part of cardlinky, with plain `requests`.

Where `requests` is used against the API itself, a comment says why (cardlinky cannot express
the call, or the check is about the raw wire shape cardlinky hides).

See CARDLINKY_NOTES.md for what cardlinky sends and requires.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

import pytest
import requests

from cardlinky import Cardlinky
from cardlinky.types.enums.bill_type import BillType
from cardlinky.types.enums.currency import Currency
from cardlinky.types.enums.status import Status
from cardlinky.types.models.bill import Bill, BillCreate, BillStatus, BillToggleActivity
from cardlinky.types.models.payment import Payment, PaymentStatus

REPO = Path(__file__).resolve().parents[2]
GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000002"
HTTP_TIMEOUT = 30

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

    def client(self, merchant: Optional[Merchant] = None) -> Cardlinky:
        return Cardlinky((merchant or self.main).api_token, base_url=self.api)


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


def _create_merchant(binary: Path, db_url: str, name: str) -> Merchant:
    proc = subprocess.run(
        [str(binary), "merchant", "create", "--database-url", db_url,
         "--name", name, "--verified", "--json"],
        capture_output=True, text=True, timeout=180,
    )
    if proc.returncode != 0:
        pytest.fail(
            f"`paylink merchant create` exited {proc.returncode}\nstdout:\n{proc.stdout}\n"
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
        pytest.fail(f"`paylink merchant create --json` printed no JSON object:\n{proc.stdout}", pytrace=False)
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
    proc = subprocess.Popen(
        [str(binary), "serve", "--database-url", database_url,
         "--listen", f"127.0.0.1:{port}", "--public-url", base],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"`paylink serve` exited with {proc.returncode}:\n{_log_tail(log_path)}", pytrace=False)
            try:
                if requests.get(base + "/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"`paylink serve` not healthy within 30 s:\n{_log_tail(log_path)}", pytrace=False)
            time.sleep(0.2)
        yield Server(base, base + "/api/v1/", log_path, main, other)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


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
