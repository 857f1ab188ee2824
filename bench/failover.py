#!/usr/bin/env python3
"""PostgreSQL failover under load, checked for lost and doubled writes.

Sets up a replicated PostgreSQL with pg_auto_failover (a monitor, a primary and a synchronous
standby, on this machine, on their own ports), runs `paylink serve` on the manager's
multi-host URL, and drives it from several clients: bills (bill/create with an
Idempotency-Key), payments (a NORMAL bill paid by the sandbox card) and payouts (with an
order_id and an Idempotency-Key). Each round SIGKILLs the primary (its pg_autoctl keeper first,
so that nothing restarts it in place: the machine is gone), waits for the standby to be
promoted, keeps the load going, then lets the killed node rejoin as the new standby.

At the end it checks that every answered write is in the database, that no write was done
twice, that `paylink ledger check` passes and that every payment's postback reached its
receiver; it prints per round how long writes were refused, and exits non-zero on any failure.

    python3 bench/failover.py --rounds 10        # the full run (docs/reliability.md)
    python3 bench/failover.py --rounds 2         # what CI runs

Needs: Debian's pg-auto-failover-cli and postgresql-<v>-auto-failover, psql, a paylink binary
(--paylink, $PAYLINK_BIN, else target/release/paylink, else target/debug/paylink). Run as root
it runs PostgreSQL as the `postgres` user.
"""

import argparse
import glob
import http.server
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def die(msg):
    log("FAILED:", msg)
    sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, check, timeout, every=0.5):
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            die(f"{what}: not within {timeout} s")
        time.sleep(every)


class Cluster:
    """A pg_auto_failover formation: a monitor and two nodes, each run by its own keeper."""

    def __init__(self, root, base_port):
        self.root = root
        self.mon_port = base_port
        self.ports = {"node1": base_port + 1, "node2": base_port + 2}
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not bins or not shutil.which("pg_autoctl"):
            die("pg_autoctl and PostgreSQL server binaries are needed "
                "(apt-get install pg-auto-failover-cli postgresql-15-auto-failover)")
        self.env = dict(os.environ,
                        PATH=os.path.dirname(bins[-1]) + ":/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
                        XDG_CONFIG_HOME=f"{root}/config", XDG_DATA_HOME=f"{root}/data",
                        XDG_RUNTIME_DIR=f"{root}/run")
        self.as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.keepers = {}
        os.makedirs(f"{root}/run", exist_ok=True)
        if self.as_pg:
            shutil.chown(root, "postgres")
            shutil.chown(f"{root}/run", "postgres")

    def autoctl(self, *args, check=True):
        out = subprocess.run(self.as_pg + ["pg_autoctl", *args], env=self.env,
                             capture_output=True, text=True)
        if check and out.returncode != 0:
            die(f"pg_autoctl {' '.join(args)}: {out.stderr[-2000:]}")
        return out.stdout

    def start(self, name, *create):
        """Runs (and first creates, with `create` arguments) the keeper of node `name`."""
        logf = open(f"{self.root}/{name}.log", "a")
        cmd = ["pg_autoctl"] + (list(create) + ["--run"] if create else
                                ["run", "--pgdata", f"{self.root}/{name}"])
        self.keepers[name] = subprocess.Popen(self.as_pg + cmd, env=self.env, stdout=logf,
                                              stderr=subprocess.STDOUT, start_new_session=True)

    def psql(self, port, sql, db="postgres"):
        out = subprocess.run(["psql", "-X", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
                              "-d", db, "-AtF|", "-c", sql], capture_output=True, text=True)
        return out.stdout.strip() if out.returncode == 0 else None

    def nodes(self):
        """{port: (reported state, assigned state)} as the monitor sees them."""
        out = self.psql(self.mon_port, "SELECT nodeport, reportedstate, goalstate "
                        "FROM pgautofailover.node ORDER BY nodeid", db="pg_auto_failover")
        rows = [line.split("|") for line in (out or "").splitlines()]
        return {int(r[0]): (r[1], r[2]) for r in rows if len(r) == 3}

    def primary_port(self):
        for port, (rep, goal) in self.nodes().items():
            if rep == goal and rep in ("primary", "wait_primary", "single"):
                return port
        return None

    def healthy(self):
        """A primary with a synchronous standby streaming to it."""
        states = sorted(s for s in self.nodes().values())
        if states != [("primary", "primary"), ("secondary", "secondary")]:
            # A standby's base backup waits for a checkpoint: ask for one now.
            p = self.primary_port()
            if p and any(x in ("wait_standby", "catchingup") for s in states for x in s):
                self.psql(p, "CHECKPOINT")
            return False
        sync = self.psql(self.primary_port(), "SHOW synchronous_standby_names")
        return bool(sync)

    def create(self, unhealthy_ms, demote_ms):
        mon = f"{self.root}/monitor"
        self.autoctl("create", "monitor", "--pgdata", mon, "--pgport", str(self.mon_port),
                     "--hostname", "127.0.0.1", "--auth", "trust", "--no-ssl")
        self.start("monitor")
        wait_for("the monitor", lambda: self.psql(self.mon_port, "SELECT 1", "pg_auto_failover"),
                 60)
        # Failover in seconds, not the defaults' tens of seconds. A primary cut off from the
        # monitor and its standby demotes itself after its keeper's network_partition_timeout,
        # set below primary_demote_timeout so that two nodes never take writes together.
        for guc, value in [("health_check_period", 1000), ("health_check_timeout", 1000),
                           ("health_check_max_retries", 1), ("health_check_retry_delay", 500),
                           ("node_considered_unhealthy_timeout", unhealthy_ms),
                           ("primary_demote_timeout", demote_ms)]:
            self.psql(self.mon_port, f"ALTER SYSTEM SET pgautofailover.{guc} = {value}",
                      "pg_auto_failover")
        self.psql(self.mon_port, "SELECT pg_reload_conf()", "pg_auto_failover")
        monitor_uri = (f"postgres://autoctl_node@127.0.0.1:{self.mon_port}/pg_auto_failover"
                       "?sslmode=disable")
        for name, port in self.ports.items():
            self.start(name, "create", "postgres", "--pgdata", f"{self.root}/{name}",
                       "--pgport", str(port), "--hostname", "127.0.0.1", "--auth", "trust",
                       "--no-ssl", "--monitor", monitor_uri, "--dbname", "paylink",
                       "--name", name)
            wait_for(f"{name} to register", lambda p=port: p in self.nodes(), 120)
            if name == "node1":
                wait_for("node1 to take writes", self.primary_port, 120)
        wait_for("a primary with a synchronous standby", self.healthy, 240, every=1)
        partition_s = max(1, (demote_ms // 1000) // 2)
        for name in self.ports:
            self.autoctl("config", "set", "--pgdata", f"{self.root}/{name}",
                         "timeout.network_partition_timeout", str(partition_s))

    def uri(self):
        """The formation's multi-host URL, as the manager prints it, with the user added."""
        out = self.autoctl("show", "uri", "--pgdata", f"{self.root}/monitor", "--formation",
                           "default", "--json")
        uri = json.loads(out)["default"]
        return uri.replace("postgres://", "postgres://postgres@", 1)

    def kill(self, port):
        """SIGKILL the node's keeper (the whole process group) and then its postmaster."""
        name = next(n for n, p in self.ports.items() if p == port)
        pid_file = f"{self.root}/{name}/postmaster.pid"
        postmaster = int(open(pid_file).readline()) if os.path.exists(pid_file) else None
        keeper = self.keepers.pop(name)
        try:
            os.killpg(keeper.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if postmaster:
            try:
                os.kill(postmaster, signal.SIGKILL)
            except ProcessLookupError:
                pass
        keeper.wait()
        return name

    def stop(self):
        for k in self.keepers.values():
            try:
                os.killpg(k.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for k in self.keepers.values():
            try:
                k.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(k.pid, signal.SIGKILL)
        for name in list(self.ports) + ["monitor"]:
            pid_file = f"{self.root}/{name}/postmaster.pid"
            if os.path.exists(pid_file):
                try:
                    os.kill(int(open(pid_file).readline()), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass


class Receiver(http.server.BaseHTTPRequestHandler):
    """The shop's result URL: records every postback's TrsId and answers 200."""
    seen = {}
    lock = threading.Lock()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        fields = dict(urllib.parse.parse_qsl(body))
        if not fields and body.startswith("{"):
            fields = json.loads(body)
        with Receiver.lock:
            key = fields.get("TrsId")
            Receiver.seen[key] = Receiver.seen.get(key, 0) + 1
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"OK")

    def log_message(self, *a):
        pass


class Load:
    """Clients writing through paylink, each write retried with its key until answered."""

    def __init__(self, base, token, shop, clients, give_up_s):
        self.base, self.token, self.shop = base, token, shop
        self.clients, self.give_up_s = clients, give_up_s
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.bills = {}       # order_id -> bill id, for every answered bill/create
        self.paid = {}        # bill id -> payment id, for every answered payment
        self.unsure = set()   # bills whose payment answer was lost (paid or not: checked)
        self.payouts = {}     # order_id -> payout id
        self.events = []      # (start, end, ok) of every write attempt
        self.failures = []
        self.refusals = {}    # (status, message) -> count, of the attempts that were retried

    def call(self, path, fields, key=None):
        """One attempt: (status, body as JSON or None); status 0 for no answer."""
        req = urllib.request.Request(self.base + path, data=urllib.parse.urlencode(fields).encode(),
                                     method="POST")
        req.add_header("Authorization", "Bearer " + self.token)
        req.add_header("Accept", "application/json")
        if key:
            req.add_header("Idempotency-Key", key)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            try:
                return e.code, json.loads(e.read() or b"null")
            except ValueError:
                return e.code, None
        except (OSError, ValueError):
            return 0, None

    def write(self, what, path, fields, key=None, lost_ok=None):
        """Retries one write until it is answered. Returns its body, or None when `lost_ok`
        recognised the refusal of a retry whose first attempt took effect unanswered."""
        deadline = time.monotonic() + self.give_up_s
        attempts = 0
        while True:
            started = time.monotonic()
            status, body = self.call(path, fields, key)
            attempts += 1
            ok = status == 200 and isinstance(body, dict) and body.get("success") is not False
            with self.lock:
                self.events.append((started, time.monotonic(), ok))
            if ok:
                return body
            if attempts > 1 and lost_ok and lost_ok(status, body):
                return None
            # No answer (a connection the server dropped) and 503 (the database out of reach,
            # or the request deadline) are to be retried; a 500 is a bug. So is a bill held by
            # a charge whose answer was lost: that charge is still being recorded.
            busy = isinstance(body, dict) and body.get("message") == "api:error.bill_busy"
            if status in (0, 503) or busy:
                why = (status, body.get("message") if isinstance(body, dict) else None)
                with self.lock:
                    self.refusals[why] = self.refusals.get(why, 0) + 1
                if time.monotonic() > deadline:
                    self.fail(f"{what}: no answer in {self.give_up_s} s (last {status} {body})")
                    return None
                time.sleep(0.2)
                continue
            self.fail(f"{what}: refused {status} {body}")
            return None

    def fail(self, msg):
        with self.lock:
            self.failures.append(msg)

    def client(self, n):
        rnd = random.Random(n)
        i = 0
        while not self.stop.is_set():
            i += 1
            tag = f"c{n}-{i}"
            op = rnd.choice(("bill", "pay", "pay", "payout"))
            bill = self.write("bill/create", "/api/v1/bill/create",
                              {"amount": "100", "shop_id": self.shop, "order_id": tag,
                               "type": "normal"}, key="bill-" + tag)
            if bill is None:
                continue
            bill_id = bill.get("bill_id") or (bill.get("data") or {}).get("id") or bill.get("id")
            with self.lock:
                self.bills[tag] = bill_id
            if op == "pay":
                def paid_before(status, body):
                    return status == 403 and isinstance(body, dict) \
                        and body.get("message") == "api:error.bill_is_finished"
                got = self.write("sandbox/pay", "/sandbox/pay",
                                 {"bill_id": bill_id, "method": "BANK_CARD",
                                  "card_number": "4242424242424242"}, lost_ok=paid_before)
                with self.lock:
                    if got is None:
                        self.unsure.add(bill_id)
                    else:
                        if got.get("status") != "SUCCESS":
                            self.failures.append(f"sandbox/pay answered {got}")
                        self.paid[bill_id] = got.get("payment_id") or got.get("id")
            elif op == "payout":
                got = self.write("payout", "/api/v1/payout/regular/create",
                                 {"amount": "10", "currency": "RUB", "account_type": "sbp",
                                  "account_identifier": "+79991234567",
                                  "account_bank": "100000000111", "order_id": "po-" + tag},
                                 key="payout-" + tag)
                if got is not None:
                    data = got.get("data") or {}
                    with self.lock:
                        self.payouts["po-" + tag] = data.get("id") if isinstance(data, dict) \
                            else data[0].get("id")

    def run(self):
        self.threads = [threading.Thread(target=self.client, args=(n,), daemon=True)
                        for n in range(self.clients)]
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(self.give_up_s + 60)

    def first_ok_after(self, t):
        """When the first write started after `t` was answered."""
        with self.lock:
            return min((end for start, end, ok in self.events if start >= t and ok), default=None)

    def longest_silence(self, a, b):
        """The longest time in [a, b] in which no write was answered."""
        with self.lock:
            ends = sorted(end for _, end, ok in self.events if ok and a <= end <= b)
        marks = [a] + ends
        return max((y - x for x, y in zip(marks, marks[1:])), default=b - a)

    def refused_between(self, a, b):
        with self.lock:
            return sum(1 for _, end, ok in self.events if a <= end <= b and not ok)


def paylink_bin(arg):
    for cand in (arg, os.environ.get("PAYLINK_BIN"), f"{REPO}/target/release/paylink",
                 f"{REPO}/target/debug/paylink"):
        if cand and os.access(cand, os.X_OK):
            return cand
    die("no paylink binary: build it (cargo build -p paylink-cli) or pass --paylink")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--clients", type=int, default=6)
    ap.add_argument("--load-between", type=float, default=5.0,
                    help="seconds of load on a healthy pair before each kill and at the end")
    ap.add_argument("--base-port", type=int, default=int(os.environ.get("FAILOVER_PORT", 16400)))
    ap.add_argument("--unhealthy-ms", type=int, default=3000)
    ap.add_argument("--demote-ms", type=int, default=6000)
    ap.add_argument("--paylink")
    ap.add_argument("--keep", action="store_true", help="keep the cluster's directory")
    ap.add_argument("--json", help="write the figures to this file")
    args = ap.parse_args()
    # `timeout` and CI stop with SIGTERM: leave through `finally`, which stops the cluster.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    paylink = paylink_bin(args.paylink)
    log("paylink binary:", paylink)

    root = tempfile.mkdtemp(prefix="paylink-failover-")
    os.chmod(root, 0o755)
    cluster = Cluster(root, args.base_port)
    server = None
    try:
        log(f"cluster in {root}: monitor :{cluster.mon_port}, nodes {list(cluster.ports.values())}")
        t0 = time.monotonic()
        cluster.create(args.unhealthy_ms, args.demote_ms)
        log(f"primary :{cluster.primary_port()} with a synchronous standby "
            f"({time.monotonic() - t0:.0f} s)")
        url = cluster.uri()
        log("paylink's database URL:", url)

        env = dict(os.environ, PAYLINK_KEY_FILE=f"{root}/paylink.key", RUST_LOG="warn",
                   PAYLINK_POSTBACKS_ALLOW_PRIVATE_RECEIVERS="1", PAYLINK_MONEY_SETTLE_AFTER="0",
                   PAYLINK_MONEY_DAILY_PAYOUT_LIMIT="none",
                   PAYLINK_MONEY_MONTHLY_PAYOUT_LIMIT="none")
        run = lambda *a: subprocess.run([paylink, *a], env=env, capture_output=True, text=True)
        out = run("keys", "generate", "--out", env["PAYLINK_KEY_FILE"])
        out.returncode == 0 or die(f"keys generate: {out.stderr}")
        out = run("merchant", "create", "--database-url", url, "--name", "failover", "--verified",
                  "--json")
        out.returncode == 0 or die(f"merchant create: {out.stderr}")
        merchant = json.loads(out.stdout)

        receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        threading.Thread(target=receiver.serve_forever, daemon=True).start()
        out = run("shop", "update", "--database-url", url, "--shop", merchant["shop_id"],
                  "--result-url", f"http://127.0.0.1:{receiver.server_port}/result")
        out.returncode == 0 or die(f"shop update: {out.stderr}")

        port = free_port()
        server_log = open(f"{root}/paylink.log", "w")
        server = subprocess.Popen([paylink, "serve", "--database-url", url, "--listen",
                                   f"127.0.0.1:{port}", "--public-url", f"http://127.0.0.1:{port}"],
                                  env=env, stdout=server_log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"

        def up():
            try:
                return urllib.request.urlopen(base + "/health", timeout=2).status == 200
            except OSError:
                return False
        wait_for("paylink serve", up, 120)

        load = Load(base, merchant["api_token"], merchant["shop_id"], args.clients, 180)
        fund = load.write("bill/create", "/api/v1/bill/create",
                          {"amount": "1000000", "shop_id": merchant["shop_id"]}, key="fund")
        fund_id = fund.get("bill_id") or fund.get("id")
        load.write("sandbox/pay", "/sandbox/pay", {"bill_id": fund_id, "method": "BANK_CARD",
                                                   "card_number": "4242424242424242"})
        load.run()
        rounds = []
        for r in range(1, args.rounds + 1):
            wait_for("the pair to be healthy again", cluster.healthy, 300, every=1)
            time.sleep(args.load_between)
            old = wait_for("a healthy primary to kill",
                           lambda: cluster.healthy() and cluster.primary_port(), 300, every=1)
            killed_at = time.monotonic()
            name = cluster.kill(old)
            log(f"round {r}: SIGKILLed the primary {name} (:{old})")
            new = wait_for("the standby's promotion",
                           lambda: (p := cluster.primary_port()) not in (None, old) and p, 180,
                           every=0.2)
            promoted = time.monotonic() - killed_at
            first = wait_for("a write after the failover", lambda: load.first_ok_after(killed_at),
                             180, every=0.2)
            # Writes already on their way may still commit on the dying primary's backends, and
            # later ones wait in paylink's queue: the outage a client sees is the longest time
            # in which no write was answered.
            time.sleep(3)
            settled = time.monotonic()
            silence = load.longest_silence(killed_at, settled)
            refused = load.refused_between(killed_at, settled)
            rounds.append({"round": r, "promoted_s": round(promoted, 2),
                           "first_write_s": round(first - killed_at, 2),
                           "no_write_answered_s": round(silence, 2), "refused": refused})
            log(f"round {r}: :{new} promoted after {promoted:.1f} s; no write answered for "
                f"{silence:.1f} s; {refused} attempts refused (503 or no answer), each retried")
            cluster.start(name)
        wait_for("the pair to be healthy again", cluster.healthy, 300, every=1)
        time.sleep(args.load_between)
        load.finish()
        log("load stopped; checking")
        if server.poll() is not None:
            die(f"paylink serve exited ({server.returncode}); see {root}/paylink.log")
        with open(f"{root}/paylink.log") as f:
            server_said = f.read()
        if "panicked" in server_said:
            die(f"paylink serve panicked; see {root}/paylink.log")
        # Money taken must be recorded, failover or not: the charge's record waits it out.
        if "the acquirer must give it back" in server_said:
            die(f"an approved charge went unrecorded; see {root}/paylink.log")

        primary = cluster.primary_port()
        def q(sql):
            out = cluster.psql(primary, sql, "paylink")
            if out is None:
                die(f"psql on the primary :{primary} failed: {sql}")
            return out
        problems = list(load.failures)
        bills = dict(line.split("|") for line in q(
            f"SELECT order_id, id FROM bills WHERE shop_id = '{merchant['shop_id']}' "
            "AND order_id IS NOT NULL").splitlines())
        for order, bill_id in load.bills.items():
            if bills.get(order) != bill_id:
                problems.append(f"bill {order}: answered {bill_id}, database has {bills.get(order)}")
        doubled = q(f"SELECT order_id FROM bills WHERE shop_id = '{merchant['shop_id']}' "
                    "GROUP BY order_id HAVING COUNT(*) > 1")
        if doubled:
            problems.append(f"bills made twice: {doubled.split()}")
        payments = {}
        for line in q(f"SELECT bill_id, id FROM payments WHERE shop_id = '{merchant['shop_id']}' "
                      "AND status = 'SUCCESS'").splitlines():
            b, p = line.split("|")
            payments.setdefault(b, []).append(p)
        for b, ps in payments.items():
            if len(ps) > 1:
                problems.append(f"bill {b} paid {len(ps)} times: {ps}")
        for b in load.unsure:
            if len(payments.get(b, [])) != 1:
                problems.append(f"bill {b}: a payment's answer was lost and a retry refused, "
                                f"but the bill has {len(payments.get(b, []))} payments")
        for b, p in load.paid.items():
            if p not in payments.get(b, []):
                problems.append(f"payment {p} of bill {b} answered SUCCESS, not in the database")
        # Every answered payout is in the database under its order id, once (a retry with the
        # same key is answered from the first request; a new request with a used order id is
        # refused), and the money worker sends each, across the failovers, once.
        payouts = {}
        for line in q("SELECT order_id, id FROM payouts WHERE order_id LIKE 'po-%'").splitlines():
            order, pid = line.split("|")
            payouts.setdefault(order, []).append(pid)
        for order, pid in load.payouts.items():
            if pid not in payouts.get(order, []):
                problems.append(f"payout {order} answered as {pid}; the database has "
                                f"{payouts.get(order)}")
        unsent = "SELECT COUNT(*) FROM payouts WHERE order_id LIKE 'po-%' " \
                 "AND status IN ('NEW', 'PROCESS')"
        deadline = time.monotonic() + 180
        while q(unsent) != "0" and time.monotonic() < deadline:
            time.sleep(1)
        statuses = dict(line.split("|") for line in q(
            "SELECT status, COUNT(*) FROM payouts WHERE order_id LIKE 'po-%' "
            "GROUP BY status").splitlines())
        made = sum(len(v) for v in payouts.values())
        if statuses != {"SUCCESS": str(made)} and made > 0:
            problems.append(f"of {made} payouts, not all were sent: {statuses}")
        if len(load.payouts) == 0 or len(load.paid) == 0:
            problems.append("the load made no payouts or no payments: nothing was checked")
        log(f"payouts: {statuses}")
        check = run("ledger", "check", "--database-url", url)
        if check.returncode != 0:
            problems.append(f"paylink ledger check failed: {check.stdout[-1500:]}{check.stderr[-1500:]}")

        log("ledger checked")
        # Every payment's postback reaches the receiver, which answers at once.
        all_paid = [p for ps in payments.values() for p in ps]

        def delivered():
            with Receiver.lock:
                return all(Receiver.seen.get(p) for p in all_paid)
        deadline = time.monotonic() + 180
        while not delivered() and time.monotonic() < deadline:
            time.sleep(1)
        with Receiver.lock:
            missing = [p for p in all_paid if not Receiver.seen.get(p)]
            repeated = sum(1 for p in all_paid if Receiver.seen.get(p, 0) > 1)
        if missing:
            problems.append(f"{len(missing)} payments' postbacks never arrived: {missing[:10]}")

        summary = {"rounds": rounds, "bills": len(load.bills), "payments": len(all_paid),
                   "payments_answer_lost": len(load.unsure), "payouts": len(load.payouts),
                   "postbacks_received_twice": repeated,
                   "write_attempts_refused": sum(1 for *_, ok in load.events if not ok),
                   "refusals": {f"{st} {msg}": n for (st, msg), n in load.refusals.items()},
                   "problems": problems}
        for (st, msg), n in sorted(load.refusals.items(), key=lambda x: -x[1]):
            log(f"retried {n} times after {st or 'no answer'}: {msg or ''}")
        log(f"{len(load.bills)} bills, {len(all_paid)} payments ({len(load.unsure)} whose answer "
            f"was lost), {len(load.payouts)} payouts; {repeated} postbacks delivered twice")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(summary, f, indent=1)
        print("| round | standby promoted after (s) | longest time no write was answered (s) "
              "| attempts refused, then retried |")
        print("|---:|---:|---:|---:|")
        for x in rounds:
            print(f"| {x['round']} | {x['promoted_s']} | {x['no_write_answered_s']} "
                  f"| {x['refused']} |")
        if problems:
            for p in problems[:50]:
                log("PROBLEM:", p)
            die(f"{len(problems)} problems; cluster and logs kept in {root}")
        log("every answered write is in the database, none is doubled, the ledger checks out, "
            "every postback arrived")
    finally:
        if server and server.poll() is None:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
        cluster.stop()
        if not args.keep and sys.exc_info()[0] is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
