"""Database connections dropped during a burst of Shopify orders: every
order is imported exactly once, without a person's help.

Committed data: the orders arrive through the HTTP route, and two worker
threads run the jobs as queue_job's runner and controller do (each on its
own connection, ``RunJobController._runjob``). The workers' connections are
terminated (``pg_terminate_backend``) inside a batch being applied
together, inside an order processed on its own, and at random moments;
then the runner's dead-job requeue and the sync's safety cron do what they
do on a server, until nothing is left to do."""

import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from unittest.mock import patch

import psycopg2

from odoo import SUPERUSER_ID, api
from odoo.sql_db import connection_info_for
from odoo.tests.common import HOST
from odoo.tools import config

from odoo.addons.queue_job.controllers.main import RunJobController

from tests.committed import SECRET, CommittedBackendCase
from tests.simulators.order_catalog import ensure_order_catalog, make_orders
from tests.simulators.webhook_sender import ShopifySender

ORDERS = 30
SKUS = 6


def env_caller(env):
    """``ensure_order_catalog``'s RPC calls, answered by the ORM."""

    def call(model, method, *args, **kw):
        records = env[model]
        if method == "search":
            return records.search(*args, **kw).ids
        if method == "search_read":
            return records.search_read(*args, **kw)
        if method == "create":
            created = records.create(args[0])
            return created.ids if isinstance(args[0], list) else created.id
        raise NotImplementedError(method)

    return call


class TestConnectionDropDuringBurst(CommittedBackendCase):
    def setUp(self):
        super().setUp()
        self.run_tag = uuid.uuid4().hex[:6].upper()
        self.prefix = f"DROP{self.run_tag}"
        with self.env() as env:
            ensure_order_catalog(env_caller(env), self.backend_id, self.prefix, SKUS)
        self.side = psycopg2.connect(**connection_info_for(self.registry.db_name)[1])
        self.side.autocommit = True
        self.addCleanup(self.side.close)
        self.kills = {"batch": 0, "single": 0, "random": 0}

    # ------------------------------------------------------------------
    # dropping connections
    # ------------------------------------------------------------------
    def terminate(self, pid):
        with self.side.cursor() as cr:
            cr.execute("SELECT pg_terminate_backend(%s)", (pid,))

    def dropping_processors(self):
        """Wrap Shopify's batch hook and order processor: the first batch
        and the third order processed alone lose their connection as they
        start (the code goes on, on a dead connection)."""
        Backend = self.registry["dsync.backend"]
        batch_hook = Backend._shopify_process_batch
        create = Backend._shopify_process_orders_create
        calls = {"batch": 0, "single": 0}
        lock = threading.Lock()

        def drop_at(kind, number, backend):
            with lock:
                calls[kind] += 1
                hit = calls[kind] == number
            if hit:
                self.terminate(backend.env.cr._cnx.get_backend_pid())
                self.kills[kind] += 1

        def batch(backend, events):
            drop_at("batch", 1, backend)
            return batch_hook(backend, events)

        def single(backend, event):
            drop_at("single", 3, backend)
            return create(backend, event)

        return (
            patch.object(Backend, "_shopify_process_batch", batch),
            patch.object(Backend, "_shopify_process_orders_create", single),
        )

    # ------------------------------------------------------------------
    # the runner
    # ------------------------------------------------------------------
    def due_jobs(self):
        """Pending jobs of the backend, made due now (retry delays elapse)."""
        with self.env() as env:
            env.cr.execute(
                """UPDATE queue_job SET eta = NULL
                    WHERE state = 'pending' AND channel LIKE %s
                RETURNING uuid""",
                (f"root.dsync.shopify_{self.backend_id}%",),
            )
            return [row[0] for row in env.cr.fetchall()]

    def perform(self, job_uuid, pids):
        """One job as queue_job's /queue_job/runjob controller runs it."""
        self.runner_db.set_job_enqueued(job_uuid)
        pid = None
        try:
            with self.registry.cursor() as cr:
                pid = cr._cnx.get_backend_pid()
                pids.add(pid)
                env = api.Environment(cr, SUPERUSER_ID, {})
                job = RunJobController._acquire_job(env, job_uuid)
                if job:
                    RunJobController._runjob(env, job)
                pids.discard(pid)
        except Exception:  # noqa: BLE001 - the HTTP layer logs it on a server
            pass  # a worker whose connection was dropped under it
        finally:
            pids.discard(pid)

    def random_drops(self, pids, stop):
        """Terminate a running worker's connection now and then (``pids``:
        the connections of the jobs running now)."""
        rng = random.Random(20)
        while not stop.wait(rng.uniform(0.05, 0.3)):
            if self.kills["random"] >= 3 or not pids:
                continue
            pid = rng.choice(sorted(pids))
            with self.side.cursor() as cr:
                cr.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE pid = %s AND state = 'active'",
                    (pid,),
                )
                if cr.fetchone():
                    self.kills["random"] += 1

    def settle(self, max_rounds=40):
        """Run jobs with two workers until the backend has nothing left to
        do, as a server does: the runner requeues dead jobs, the safety
        cron queues what was left behind."""
        pids, stop = set(), threading.Event()
        chaos = threading.Thread(target=self.random_drops, args=(pids, stop))
        chaos.start()
        try:
            for _round in range(max_rounds):
                with self.env() as env:
                    env.cr.execute(
                        "UPDATE queue_job SET date_enqueued = date_enqueued"
                        " - interval '1 minute' WHERE state IN ('enqueued', 'started')"
                    )
                    env.cr.execute(
                        """UPDATE queue_job SET date_started = date_started
                                - interval '10 minutes'
                            WHERE state IN ('done', 'failed', 'cancelled')
                              AND channel LIKE %s""",
                        (f"root.dsync.shopify_{self.backend_id}%",),
                    )
                self.runner_db.requeue_dead_jobs()
                with self.env() as env:
                    env["dsync.backend"]._cron_dsync_dispatch_received(
                        min_age_seconds=0
                    )
                jobs = self.due_jobs()
                if not jobs and not self.waiting():
                    return _round
                with ThreadPoolExecutor(2) as pool:
                    list(pool.map(lambda u: self.perform(u, pids), jobs))
                time.sleep(0.05)
        finally:
            stop.set()
            chaos.join()
        self.fail(f"still waiting after {max_rounds} rounds: {self.waiting()}")

    def waiting(self):
        with self.env() as env:
            env.cr.execute(
                """SELECT state, count(*) FROM dsync_event
                    WHERE backend_id = %s AND state IN ('received', 'queued')
                    GROUP BY state""",
                (self.backend_id,),
            )
            return dict(env.cr.fetchall())

    # ------------------------------------------------------------------
    def test_every_order_imported_once(self):
        first = int(time.time() * 1000) % 10**9 * 100
        orders = make_orders(ORDERS, first, SKUS, self.run_tag, prefix=self.prefix)
        sender = ShopifySender(
            f"http://{HOST}:{config['http_port']}", self.token, SECRET
        )
        statuses = [sender.deliver(doc, "orders/create").status_code for doc in orders]
        self.assertEqual(statuses, [202] * ORDERS)
        batch_patch, single_patch = self.dropping_processors()
        with batch_patch, single_patch:
            self.settle()
        self.assertEqual(self.kills["batch"], 1, "a batch lost its connection")
        self.assertEqual(self.kills["single"], 1, "an order alone lost its connection")
        with self.env() as env:
            events = env["dsync.event"].search([("backend_id", "=", self.backend_id)])
            self.assertEqual(len(events), ORDERS)
            self.assertEqual(set(events.mapped("state")), {"done"})
            self.assertFalse(events.exception_ids, "nobody had to step in")
            sales = env["sale.order"].search(
                [("shopify_backend_id", "=", self.backend_id)]
            )
            per_order = {}
            for sale in sales:
                per_order.setdefault(sale.shopify_order_id, []).append(sale.state)
            self.assertEqual(
                per_order, {str(doc["id"]): ["sale"] for doc in orders}, "once each"
            )
            lines = sales.order_line.filtered(lambda line: not line.is_delivery)
            moves = sales.picking_ids.move_ids
            self.assertEqual(len(moves), len(lines), "one stock move per line")
            # the dropped runs were handed back and counted, not lost
            jobs = env["queue.job"].search(
                [("channel", "=like", f"root.dsync.shopify_{self.backend_id}%")]
            )
            self.assertTrue(
                any(job.retry > 1 or "dead" in (job.result or "") for job in jobs),
                [(job.method_name, job.state, job.retry) for job in jobs],
            )
