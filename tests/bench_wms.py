"""Deliveries per second: the warehouse's shipment confirmations → validated
deliveries through the job queue, against validating the same kind of
deliveries through Odoo's XML-RPC API, in the same run.

    python3 -m tests.bench_wms [--deliveries 300] [--rpc-deliveries 100]
                               [--rounds 3] [--template dsync_test] [--keep]

Self-contained, like ``tests.bench_orders`` (whose server and XML-RPC
helpers it uses): copies the template database (the one ``tools/test.sh``
built), starts Odoo on a free port with Odoo's guideline of 2 × CPUs + 1
HTTP workers and queue_job's runner (``root:2,root.dsync:2``: two jobs at a
time, as on 2 cores) and a warehouse simulator (``tests/simulators/wms.py``)
in this process, then:

1. creates a warehouse run by a new WMS backend (released as soon as
   confirmed) and ``--skus`` products with stock in it (XML-RPC);
2. runs ``--rounds`` rounds, each of the two paths in turn:

   * confirmations: ``--deliveries`` deliveries of 1 to 3 lines are created
     and confirmed in one XML-RPC call each, and released to the simulator
     (not timed: the release waits until the simulator has every order);
     then the simulator ships each of them in full, in one package with a
     tracking number: a signed ``shipment.confirmed`` webhook per delivery,
     posted from ``--senders`` threads. The time runs from the first post to
     the last delivery done (watched with SQL on a connection of its own,
     not through the server);
   * XML-RPC: ``--rpc-deliveries`` other deliveries, created and released
     the same way, validated the way an integration calling Odoo's API does
     with the same shipment, from ``--clients`` threads: find the delivery
     by its reference, read its move lines (what Odoo reserved, the whole
     delivery), create the package with the tracking number, put the lines
     in it and mark them picked, write the tracking number on the delivery,
     and call ``button_validate``;

3. prints each round's rates and ratio, then each path's rate over all
   rounds and their ratio (goals: ≥ 30 deliveries/s, ≥ 5×), and how the job
   queue batched the confirmations.
"""

import argparse
import os
import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from tests.bench_orders import ROOT, Rpc, Server, Watcher, warm_workers
from tests.simulators.webhook_sender import WmsSender
from tests.simulators.wms import DEFAULT_API_KEY, WmsSimulator

SECRET = "bench-wms-secret"
CHANNELS = "root:2,root.dsync:2"


class WmsServer(Server):
    """bench_orders' server on a database and files of this benchmark."""

    def __init__(self, template, run_dir, workers, keep=False):
        super().__init__(template, run_dir, workers, keep=keep)
        self.db = f"{template}_bench_wms"
        self.conf = self.run_dir / "bench-wms.conf"
        self.log = self.run_dir / "bench-wms-server.log"


class DoneWatcher(Watcher):
    def done(self, picking_ids):
        with self.connection.cursor() as cr:
            cr.execute(
                """SELECT count(*) FROM stock_picking
                    WHERE id = ANY(%s) AND state = 'done'""",
                (list(picking_ids),),
            )
            return cr.fetchone()[0]

    def released(self, picking_ids):
        with self.connection.cursor() as cr:
            cr.execute(
                """SELECT count(*) FROM stock_picking
                    WHERE id = ANY(%s) AND wms_state = 'released'""",
                (list(picking_ids),),
            )
            return cr.fetchone()[0]

    def batching(self, event_ids):
        """(jobs, batch jobs) that processed these events."""
        with self.connection.cursor() as cr:
            cr.execute(
                """SELECT count(DISTINCT job_id),
                          count(DISTINCT job_id) FILTER (
                              WHERE job_id IN (SELECT id FROM queue_job
                                                WHERE method_name = '_dsync_run_batch'))
                     FROM dsync_event WHERE id = ANY(%s)""",
                (list(event_ids),),
            )
            return cr.fetchone()


def setup(rpc, sim, skus):
    """A warehouse run by a new WMS backend, and stocked products."""
    tag = uuid.uuid4().hex[:4].upper()
    warehouse_id = rpc(
        "stock.warehouse", "create", {"name": f"Bench 3PL {tag}", "code": f"B{tag}"}
    )
    warehouse = rpc(
        "stock.warehouse",
        "read",
        [warehouse_id],
        ["lot_stock_id", "out_type_id", "code"],
    )[0]
    sim.sites = [warehouse["code"]]
    backend_id = rpc(
        "dsync.backend",
        "create",
        {
            "name": f"Bench WMS {tag}",
            "backend_type": "wms",
            "api_url": sim.url,
            "inbound_rate_limit": 0,
            "wms_warehouse_ids": [(6, 0, [warehouse_id])],
            "wms_stock_owner": "wms",
        },
    )
    rpc(
        "dsync.backend",
        "write",
        [backend_id],
        {"webhook_secret": SECRET, "api_secret": DEFAULT_API_KEY},
    )
    token = rpc("dsync.backend", "read", [backend_id], ["token"])[0]["token"]
    products = [
        rpc(
            "product.product",
            "create",
            {
                "name": f"Bench WMS {tag} {n}",
                "default_code": f"BW{tag}-{n}",
                "is_storable": True,
            },
        )
        for n in range(skus)
    ]
    stock = warehouse["lot_stock_id"][0]
    suppliers = rpc(
        "ir.model.data", "check_object_reference", "stock", "stock_location_suppliers"
    )[1]
    receipt = rpc(
        "stock.picking",
        "create",
        {
            "picking_type_id": rpc(
                "stock.warehouse", "read", [warehouse_id], ["in_type_id"]
            )[0]["in_type_id"][0],
            "location_id": suppliers,
            "location_dest_id": stock,
            "move_ids": [
                (
                    0,
                    0,
                    {
                        "name": "stock",
                        "product_id": p,
                        "product_uom_qty": 100_000,
                        "location_id": suppliers,
                        "location_dest_id": stock,
                    },
                )
                for p in products
            ],
        },
    )
    # not released: the stock arrives before the warehouse runs the warehouse
    rpc("dsync.backend", "write", [backend_id], {"wms_release_policy": "manual"})
    rpc("stock.picking", "button_validate", [receipt])
    rpc("dsync.backend", "write", [backend_id], {"wms_release_policy": "on_confirm"})
    skus_of = {
        p["id"]: p["default_code"]
        for p in rpc("product.product", "read", products, ["default_code"])
    }
    return {
        "backend_id": backend_id,
        "token": token,
        "stock": stock,
        "out_type": warehouse["out_type_id"][0],
        "customers": rpc(
            "ir.model.data",
            "check_object_reference",
            "stock",
            "stock_location_customers",
        )[1],
        "partner": rpc("res.partner", "create", {"name": f"Bench customer {tag}"}),
        "products": products,
        "skus": skus_of,
    }


def make_deliveries(rpc, setup_, count, rng):
    """``count`` confirmed deliveries of 1-3 lines, one XML-RPC call each
    way; returns their ids."""
    vals = []
    for _n in range(count):
        lines = rng.sample(setup_["products"], rng.randint(1, 3))
        vals.append(
            {
                "picking_type_id": setup_["out_type"],
                "location_id": setup_["stock"],
                "location_dest_id": setup_["customers"],
                "partner_id": setup_["partner"],
                "move_ids": [
                    (
                        0,
                        0,
                        {
                            "name": "bench",
                            "product_id": product,
                            "product_uom_qty": rng.randint(1, 4),
                            "location_id": setup_["stock"],
                            "location_dest_id": setup_["customers"],
                        },
                    )
                    for product in lines
                ],
            }
        )
    ids = rpc("stock.picking", "create", vals)
    rpc("stock.picking", "action_confirm", ids)
    return ids


def run_confirmations(rpc, watcher, sim, url, setup_, count, senders, rng, timeout):
    picking_ids = make_deliveries(rpc, setup_, count, rng)
    deadline = time.time() + timeout
    while watcher.released(picking_ids) < count and time.time() < deadline:
        time.sleep(0.2)
    names = {
        p["id"]: p["name"] for p in rpc("stock.picking", "read", picking_ids, ["name"])
    }
    docs = [sim.shipment(names[pid], carrier="ups") for pid in picking_ids]

    def post(doc):
        sender = WmsSender(url, setup_["token"], SECRET, timeout=30)
        return sender.deliver(doc, attempts=5).status_code

    t0 = time.perf_counter()
    with ThreadPoolExecutor(senders) as pool:
        statuses = list(pool.map(post, docs))
    posted = time.perf_counter() - t0
    done = 0
    while time.time() < deadline:
        done = watcher.done(picking_ids)
        if done == count:
            break
        time.sleep(0.05)
    elapsed = time.perf_counter() - t0
    event_ids = rpc(
        "dsync.event",
        "search",
        [
            ["backend_id", "=", setup_["backend_id"]],
            ["dedup_key", "in", [d["id"] for d in docs]],
        ],
    )
    jobs, batch_jobs = watcher.batching(event_ids)
    failed = rpc(
        "dsync.event",
        "search_count",
        [["id", "in", event_ids], ["state", "!=", "done"]],
    )
    return {
        "deliveries": count,
        "done": done,
        "accepted": statuses.count(202),
        "post_seconds": posted,
        "seconds": elapsed,
        "not_done_events": failed,
        "jobs": jobs,
        "batch_jobs": batch_jobs,
    }


def validate_by_xmlrpc(rpc, name, tracking):
    """What an integration calling Odoo's API does with one shipment
    confirmation of the warehouse (the same work the connector does): find
    the delivery by its reference, put what Odoo reserved in a package with
    the tracking number, mark it picked, set the tracking on the delivery,
    validate it (as the warehouse's confirmation: ``dsync_wms_apply``, else
    Odoo refuses to validate by hand a delivery released to the warehouse)."""
    (picking_id,) = rpc("stock.picking", "search", [["name", "=", name]], limit=1)
    lines = rpc(
        "stock.move.line",
        "search_read",
        [["picking_id", "=", picking_id]],
        fields=["quantity"],
    )
    package = rpc(
        "stock.quant.package",
        "create",
        {"name": "PKG-1", "shipping_weight": 1.0, "wms_tracking_ref": tracking},
    )
    rpc(
        "stock.move.line",
        "write",
        [line["id"] for line in lines],
        {"picked": True, "result_package_id": package},
    )
    rpc("stock.picking", "write", [picking_id], {"carrier_tracking_ref": tracking})
    return rpc(
        "stock.picking",
        "button_validate",
        [picking_id],
        context={"dsync_wms_apply": True},
    )


def run_xmlrpc(rpc, watcher, setup_, count, clients, rng, timeout):
    picking_ids = make_deliveries(rpc, setup_, count, rng)
    deadline = time.time() + timeout
    while watcher.released(picking_ids) < count and time.time() < deadline:
        time.sleep(0.2)  # the same state as the other path's deliveries
    names = [p["name"] for p in rpc("stock.picking", "read", picking_ids, ["name"])]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(lambda name: validate_by_xmlrpc(rpc, name, f"1Z{name}"), names))
    elapsed = time.perf_counter() - t0
    return {"deliveries": count, "done": watcher.done(picking_ids), "seconds": elapsed}


def rate(runs):
    return sum(r["done"] for r in runs) / sum(r["seconds"] for r in runs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=300)
    parser.add_argument("--rpc-deliveries", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skus", type=int, default=40)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1)
    parser.add_argument("--timeout", type=int, default=900)
    parser.add_argument(
        "--template", default=os.environ.get("DSYNC_TEST_DB", "dsync_test")
    )
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    run_dir = os.environ.get("DSYNC_RUN_DIR", str(ROOT / ".run"))
    rng = random.Random(18)

    server = WmsServer(args.template, run_dir, args.workers, keep=args.keep)
    print(f"copying {args.template} to {server.db}; Odoo on {server.url}")
    server.prepare()
    hooks, apis = [], []
    with WmsSimulator() as sim:
        try:
            server.start()
            rpc = Rpc(server.url, server.db)
            watcher = DoneWatcher(server.db)
            setup_ = setup(rpc, sim, args.skus)
            run_confirmations(
                rpc,
                watcher,
                sim,
                server.url,
                setup_,
                6,
                args.senders,
                rng,
                args.timeout,
            )
            run_xmlrpc(rpc, watcher, setup_, 6, 1, rng, args.timeout)
            warm_workers(rpc, args.workers)
            print(
                f"{os.cpu_count()} CPUs; Odoo: {args.workers} HTTP workers, "
                "job channels "
                f"{CHANNELS}; deliveries of 1-3 lines; {args.rounds} rounds of "
                f"{args.deliveries} shipment confirmations, then {args.rpc_deliveries} "
                f"XML-RPC validations ({args.clients} clients)"
            )
            for number in range(args.rounds):
                hook = run_confirmations(
                    rpc,
                    watcher,
                    sim,
                    server.url,
                    setup_,
                    args.deliveries,
                    args.senders,
                    rng,
                    args.timeout,
                )
                api = run_xmlrpc(
                    rpc,
                    watcher,
                    setup_,
                    args.rpc_deliveries,
                    args.clients,
                    rng,
                    args.timeout,
                )
                hooks.append(hook)
                apis.append(api)
                hook_rate, api_rate = rate([hook]), rate([api])
                print(
                    f"round {number + 1}: confirmations -> validated deliveries "
                    f"{hook['done']}/{hook['deliveries']} in {hook['seconds']:.2f} s = "
                    f"{hook_rate:.1f}/s (posting {hook['post_seconds']:.2f} s, "
                    f"{hook['accepted']} x 202, "
                    f"{hook['not_done_events']} events not done; "
                    f"{hook['jobs']} jobs, {hook['batch_jobs']} of them batches)"
                )
                print(
                    "         XML-RPC button_validate "
                    f"{api['done']}/{api['deliveries']} "
                    f"in {api['seconds']:.2f} s = {api_rate:.1f}/s; "
                    f"ratio {hook_rate / api_rate:.2f}x"
                )
            watcher.close()
        finally:
            server.stop()
    hook_rate, api_rate = rate(hooks), rate(apis)
    print(
        f"confirmations -> validated deliveries, all rounds: {hook_rate:.1f}/s "
        f"(goal >= 30/s); XML-RPC: {api_rate:.1f}/s; ratio {hook_rate / api_rate:.2f}x "
        f"(goal >= 5x)"
    )
    if sim.contract_violations:
        print(
            f"contract violations seen by the simulator: {sim.contract_violations[:3]}"
        )


if __name__ == "__main__":
    main()
