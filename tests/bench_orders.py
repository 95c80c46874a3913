"""Orders per second: Shopify webhook → confirmed sale order through the job
queue, against the same orders created through Odoo's XML-RPC API.

    python3 -m tests.bench_orders [--orders 300] [--rpc-orders 100]
                                  [--rounds 3] [--template dsync_test] [--keep]

Self-contained: copies the template database (the one ``tools/test.sh``
built: DSYNC_TEST_DB, default ``dsync_test``) to ``<template>_bench_orders``
with its filestore, writes a server config in DSYNC_RUN_DIR (default
``.run/``) with tools/common.sh, starts Odoo on a free port with
``--workers`` HTTP workers (default: Odoo's guideline of 2 × CPUs + 1; jobs
run inside them, so with as many workers as job slots the webhooks would wait
behind the jobs) and queue_job's runner (channels ``root:2,root.dsync:2``: two
jobs at a time, as on 2 cores), then:

1. creates a Shopify backend, a 5 % tax mapped from ``GST 5.0``, a delivery
   method mapped from ``standard`` and ``--skus`` products (XML-RPC);
2. runs ``--rounds`` rounds, each of the two paths in turn, so that the
   machine's changes of speed (by up to a half between hours on a shared
   machine) fall on both paths alike:

   * webhook path: signs and posts a burst of ``--orders`` orders (new
     customer each, 1 to 3 lines with line and order discounts, shipping,
     tax) with ShopifySender from ``--senders`` threads, and waits until
     every order is a confirmed sale order; the time is from the first post
     to the last confirmation. The benchmark watches for the confirmations
     in the database itself (one SQL count every 50 ms on its own
     connection), not through Odoo's API, whose calls would take the server
     workers and cores the pipeline is measured on;
   * XML-RPC path: ``--rpc-orders`` other orders, created the way an
     external integration would through Odoo's API, from ``--clients``
     threads: find or create the customer, find the products by reference,
     create the order with its lines and taxes, confirm it;

3. prints each round's rates and ratio, then each path's rate over all
   rounds (orders / seconds, summed) and their ratio (goals: ≥ 20 orders/s,
   ≥ 5×), and how the job queue batched the webhook path's events.

A warm-up of a few orders through each path, and of an XML-RPC call
on every worker, is not counted. The server is
stopped and the copy dropped at the end (``--keep`` keeps both for a look).
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
import xmlrpc.client
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg2

from tests.simulators.order_catalog import (
    ensure_order_catalog,
    job_batching,
    make_orders,
)
from tests.simulators.webhook_sender import ShopifySender

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-orders-secret"
CHANNELS = "root:2,root.dsync:2"


# ----------------------------------------------------------------------
# server
# ----------------------------------------------------------------------
def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def common_sh(script, **env):
    """Run bash with tools/common.sh sourced; return its stdout."""
    full_env = dict(os.environ, **{k: str(v) for k, v in env.items()})
    return subprocess.run(
        ["bash", "-c", f'source "{ROOT}/tools/common.sh"; {script}'],
        check=True,
        capture_output=True,
        text=True,
        env=full_env,
    ).stdout


def psql(sql, db="postgres"):
    subprocess.run(["psql", "-X", "-q", "-d", db, "-c", sql], check=True)


class Server:
    """An Odoo server with 2 workers and queue_job's runner on a copy of the
    template database."""

    def __init__(self, template, run_dir, workers, keep=False):
        self.template = template
        self.workers = workers
        self.db = f"{template}_bench_orders"
        self.run_dir = Path(run_dir)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.conf = self.run_dir / "bench-orders.conf"
        self.log = self.run_dir / "bench-orders-server.log"
        self.keep = keep
        self.process = None

    def prepare(self):
        common_sh(
            'dsync_write_config "$CONF" "$DB" '
            '"http_interface = 127.0.0.1" "http_port = $PORT" "workers = $WORKERS" '
            '"max_cron_threads = 0"',
            WORKERS=self.workers,
            DSYNC_RUN_DIR=self.run_dir,
            DSYNC_QUEUE_CHANNELS=CHANNELS,
            CONF=self.conf,
            DB=self.db,
            PORT=self.port,
        )
        subprocess.run(["dropdb", "--if-exists", "--force", self.db], check=True)
        subprocess.run(["createdb", "-T", self.template, self.db], check=True)
        filestore = self.run_dir / "data" / "filestore"
        if (filestore / self.template).is_dir():
            shutil.rmtree(filestore / self.db, ignore_errors=True)
            shutil.copytree(filestore / self.template, filestore / self.db)
        # jobs left by the tests' database (none normally) are not ours
        psql("DELETE FROM queue_job", self.db)

    def start(self, timeout=90):
        launcher = common_sh("dsync_launcher", DSYNC_RUN_DIR=self.run_dir).strip()
        self.process = subprocess.Popen(
            [
                sys.executable,
                launcher,
                "-c",
                str(self.conf),
                "-d",
                self.db,
                f"--workers={self.workers}",
                "--log-level=warn",
                f"--logfile={self.log}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            env=dict(os.environ, ODOO_QUEUE_JOB_CHANNELS=CHANNELS),
        )
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Odoo exited during start-up, see {self.log}")
            try:
                with urllib.request.urlopen(f"{self.url}/dsync/health", timeout=5):
                    return
            except OSError:
                time.sleep(1)
        raise RuntimeError(f"no answer from {self.url}/dsync/health, see {self.log}")

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        if not self.keep:
            subprocess.run(["dropdb", "--if-exists", "--force", self.db], check=False)
            shutil.rmtree(
                self.run_dir / "data" / "filestore" / self.db, ignore_errors=True
            )


# ----------------------------------------------------------------------
# XML-RPC
# ----------------------------------------------------------------------
class Rpc:
    """One XML-RPC connection per thread (ServerProxy is not thread-safe)."""

    def __init__(self, url, db, login="admin", password="admin"):
        self.url, self.db, self.password = url, db, password
        common = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/common")
        self.uid = common.authenticate(db, login, password, {})
        self.local = threading.local()

    def __call__(self, model, method, *args, **kw):
        proxy = getattr(self.local, "proxy", None)
        if proxy is None:
            proxy = self.local.proxy = xmlrpc.client.ServerProxy(
                f"{self.url}/xmlrpc/2/object", allow_none=True
            )
        return proxy.execute_kw(
            self.db, self.uid, self.password, model, method, list(args), kw
        )


def setup_catalog(rpc, skus):
    """A new Shopify backend and what its orders need; returns the ids."""
    backend_id = rpc(
        "dsync.backend",
        "create",
        {
            "name": f"Bench orders {uuid.uuid4().hex[:6]}",
            "backend_type": "shopify",
            "shopify_shop_domain": "demo-store.myshopify.com",
            "inbound_rate_limit": 0,
        },
    )
    rpc("dsync.backend", "write", [backend_id], {"webhook_secret": SECRET})
    token = rpc("dsync.backend", "read", [backend_id], ["token"])[0]["token"]
    return {
        "backend_id": backend_id,
        "token": token,
        **ensure_order_catalog(rpc, backend_id, "BENCH", skus),
    }


# ----------------------------------------------------------------------
# the two paths
# ----------------------------------------------------------------------
class Watcher:
    """Counts confirmed orders in the database on a connection of its own."""

    def __init__(self, db):
        self.connection = psycopg2.connect(dbname=db)
        self.connection.autocommit = True

    def confirmed(self, backend_id, order_ids):
        with self.connection.cursor() as cr:
            cr.execute(
                """SELECT count(*) FROM sale_order
                    WHERE shopify_backend_id = %s
                      AND shopify_order_id = ANY(%s)
                      AND state = 'sale'""",
                (backend_id, [str(i) for i in order_ids]),
            )
            return cr.fetchone()[0]

    def close(self):
        self.connection.close()


def run_webhooks(rpc, watcher, url, setup, orders, senders, timeout):
    """Post every order, wait until each is a confirmed sale order."""
    ids = [o["id"] for o in orders]

    def post(doc):
        sender = ShopifySender(url, setup["token"], SECRET, timeout=30)
        response = sender.deliver(doc, "orders/create", attempts=5)
        return response.status_code

    started_at = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() - 1))
    t0 = time.perf_counter()
    with ThreadPoolExecutor(senders) as pool:
        statuses = list(pool.map(post, orders))
    posted = time.perf_counter() - t0
    done = 0
    deadline = time.time() + timeout
    while time.time() < deadline:
        done = watcher.confirmed(setup["backend_id"], ids)
        if done == len(orders):
            break
        time.sleep(0.05)
    elapsed = time.perf_counter() - t0
    failed = rpc(
        "dsync.event",
        "search_count",
        [["backend_id", "=", setup["backend_id"]], ["state", "=", "failed"]],
    )
    jobs, batch_jobs, together = job_batching(rpc, setup["backend_id"], started_at)
    return {
        "orders": len(orders),
        "confirmed": done,
        "accepted": sum(1 for s in statuses if s == 202),
        "post_seconds": posted,
        "seconds": elapsed,
        "failed_events": failed,
        "jobs": jobs,
        "batch_jobs": batch_jobs,
        "together": together,
    }


def create_by_xmlrpc(rpc, setup, doc):
    """What an integration calling Odoo's external API does for one order."""
    customer = doc["customer"]
    found = rpc("res.partner", "search", [["email", "=ilike", customer["email"]]])
    address = {
        "street": doc["shipping_address"]["address1"],
        "city": doc["shipping_address"]["city"],
        "zip": doc["shipping_address"]["zip"],
    }
    # the same contact as the webhook path: with invoice and delivery addresses
    partner_id = (
        found[0]
        if found
        else rpc(
            "res.partner",
            "create",
            {
                "name": f"{customer['first_name']} {customer['last_name']}",
                "email": customer["email"],
                "phone": customer["phone"],
                **address,
                "child_ids": [
                    (0, 0, dict(address, type=kind, name=customer["first_name"]))
                    for kind in ("invoice", "delivery")
                ],
            },
        )
    )
    skus = [item["sku"] for item in doc["line_items"]]
    products = {
        p["default_code"]: p["id"]
        for p in rpc(
            "product.product",
            "search_read",
            [["default_code", "in", skus]],
            fields=["default_code"],
        )
    }
    lines = []
    for item in doc["line_items"]:
        gross = float(item["price"]) * item["quantity"]
        discount = sum(float(a["amount"]) for a in item["discount_allocations"])
        lines.append(
            (
                0,
                0,
                {
                    "product_id": products[item["sku"]],
                    "product_uom_qty": item["quantity"],
                    "price_unit": float(item["price"]),
                    "discount": round(discount / gross * 100, 2) if gross else 0.0,
                    "tax_id": [(6, 0, [setup["tax_id"]])],
                },
            )
        )
    for ship in doc["shipping_lines"]:
        lines.append(
            (
                0,
                0,
                {
                    "product_id": setup["shipping_product"],
                    "name": ship["title"],
                    "product_uom_qty": 1,
                    "price_unit": float(ship["price"]),
                    "tax_id": [(6, 0, [setup["tax_id"]])],
                    "is_delivery": True,
                },
            )
        )
    order_id = rpc(
        "sale.order",
        "create",
        {
            "partner_id": partner_id,
            "client_order_ref": doc["name"],
            "carrier_id": setup["carrier_id"],
            "order_line": lines,
        },
    )
    rpc("sale.order", "action_confirm", [order_id])
    return order_id


def warm_workers(rpc, workers):
    """Send each HTTP worker, most likely, its first XML-RPC call before the
    timing starts: a worker checks the user's password (PBKDF2; measured,
    2.8-3.7 s for five cold workers at once, 33-45 ms a call once warm) on
    the first call it serves, then remembers it. Calls that arrive
    together go to different workers while the first ones hash."""
    with ThreadPoolExecutor(workers) as pool:
        for _round in range(3):
            list(
                pool.map(
                    lambda _n: rpc("res.users", "search_count", []), range(workers)
                )
            )


def run_xmlrpc(rpc, setup, orders, clients):
    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        created = list(pool.map(lambda doc: create_by_xmlrpc(rpc, setup, doc), orders))
    elapsed = time.perf_counter() - t0
    confirmed = rpc(
        "sale.order", "search_count", [["id", "in", created], ["state", "=", "sale"]]
    )
    return {"orders": len(orders), "confirmed": confirmed, "seconds": elapsed}


# ----------------------------------------------------------------------
def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--orders", type=int, default=300, help="webhook burst of each round"
    )
    parser.add_argument(
        "--rpc-orders", type=int, default=100, help="XML-RPC orders of each round"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skus", type=int, default=50)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument(
        "--workers",
        type=int,
        default=2 * (os.cpu_count() or 1) + 1,
        help="Odoo HTTP workers (default: Odoo's guideline, 2 x CPUs + 1)",
    )
    parser.add_argument("--warmup", type=int, default=6)
    parser.add_argument("--timeout", type=int, default=600)
    parser.add_argument(
        "--template", default=os.environ.get("DSYNC_TEST_DB", "dsync_test")
    )
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    run_dir = os.environ.get("DSYNC_RUN_DIR", str(ROOT / ".run"))

    server = Server(args.template, run_dir, args.workers, keep=args.keep)
    print(f"copying {args.template} to {server.db}; Odoo on {server.url}")
    server.prepare()
    hooks, apis = [], []
    try:
        server.start()
        rpc = Rpc(server.url, server.db)
        watcher = Watcher(server.db)
        setup = setup_catalog(rpc, args.skus)
        run = uuid.uuid4().hex[:6]
        base = 10_000_000
        warm = make_orders(args.warmup, base, args.skus, run)
        run_webhooks(rpc, watcher, server.url, setup, warm, args.senders, args.timeout)
        run_xmlrpc(rpc, setup, make_orders(args.warmup, base + 100, args.skus, run), 1)
        warm_workers(rpc, args.workers)
        print(
            f"{os.cpu_count()} CPUs; Odoo: {args.workers} HTTP workers, job "
            f"channels {CHANNELS}; orders of 1-3 lines each; {args.rounds} rounds "
            f"of a burst of {args.orders} webhooks, then {args.rpc_orders} orders "
            f"through XML-RPC ({args.clients} clients)"
        )
        span = max(args.orders, args.rpc_orders)  # new ids, emails and phones
        for number in range(args.rounds):
            start = base + 1_000 + 2 * span * number
            hook = run_webhooks(
                rpc,
                watcher,
                server.url,
                setup,
                make_orders(args.orders, start, args.skus, run),
                args.senders,
                args.timeout,
            )
            api = run_xmlrpc(
                rpc,
                setup,
                make_orders(args.rpc_orders, start + span, args.skus, run),
                args.clients,
            )
            hooks.append(hook)
            apis.append(api)
            print_round(number + 1, hook, api)
        watcher.close()
    finally:
        server.stop()
    print_totals(hooks, apis)


def rate(runs):
    return sum(r["confirmed"] for r in runs) / sum(r["seconds"] for r in runs)


def print_round(number, hook, api):
    hook_rate, api_rate = rate([hook]), rate([api])
    print(
        f"round {number}: webhook -> confirmed sale.order "
        f"{hook['confirmed']}/{hook['orders']} in {hook['seconds']:.2f} s "
        f"= {hook_rate:.1f} orders/s (posting took {hook['post_seconds']:.2f} s, "
        f"{hook['accepted']} x 202, {hook['failed_events']} failed events; "
        f"{hook['jobs']} processing jobs, {hook['batch_jobs']} of them batches, "
        f"{hook['orders'] / max(hook['jobs'], 1):.1f} events a job, "
        f"{hook['together']} orders created and confirmed together)"
    )
    print(
        f"         XML-RPC create + confirm {api['confirmed']}/{api['orders']} "
        f"in {api['seconds']:.2f} s = {api_rate:.1f} orders/s; "
        f"ratio {hook_rate / api_rate:.2f}x"
    )


def print_totals(hooks, apis):
    hook_rate, api_rate = rate(hooks), rate(apis)
    print(
        f"webhook -> confirmed sale.order, all rounds: "
        f"{sum(h['confirmed'] for h in hooks)}/{sum(h['orders'] for h in hooks)} "
        f"confirmed in {sum(h['seconds'] for h in hooks):.2f} s "
        f"= {hook_rate:.1f} orders/s (goal >= 20 orders/s)"
    )
    print(
        f"XML-RPC create + confirm, all rounds: "
        f"{sum(a['confirmed'] for a in apis)}/{sum(a['orders'] for a in apis)} "
        f"in {sum(a['seconds'] for a in apis):.2f} s = {api_rate:.1f} orders/s"
    )
    print(f"webhook / XML-RPC: {hook_rate / api_rate:.2f}x (goal >= 5x)")


if __name__ == "__main__":
    main()
