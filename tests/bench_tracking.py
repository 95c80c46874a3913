"""Tracking updates per second: signed EasyPost ``tracker.updated`` webhooks
→ shipment milestones on the deliveries, through the job queue.

    python3 -m tests.bench_tracking [--labels 300] [--updates 4] [--rounds 2]
                                    [--template dsync_test] [--keep]

Self-contained like ``bench_orders``: copies the template database (the one
``tools/test.sh`` built), starts Odoo on a free port with ``--workers`` HTTP
workers and queue_job's runner (channels ``root:2,root.dsync:2``), then:

1. creates (XML-RPC) a carrier backend, a delivery method and ``--labels``
   deliveries, each with a bought label and its tracker;
2. per round, builds ``--updates`` successive tracker versions of every
   label (each with one scan more than the last, as EasyPost sends them),
   signs them as EasyPost does and posts them all from ``--senders``
   threads, then waits until every event is processed (done, or stale for a
   version overtaken by a newer one). The time is from the first post to the
   last event processed, watched with SQL on a connection of its own (no
   API call takes the server's workers);
3. prints the updates and milestones per second of each round and overall
   (goal: >= 200 updates/s on 2 cores), the accept time of the posts, and
   how the queue batched the events.
"""

import argparse
import copy
import json
import os
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import psycopg2
import requests

from tests.bench_orders import Rpc, Server
from tests.simulators.easypost import signature

SECRET = "bench-tracking-secret"
T0 = datetime(2026, 11, 20, 8, 0, 0)
CITIES = (
    ("CHARLOTTE", "NC", "28202"),
    ("ATLANTA", "GA", "30301"),
    ("DALLAS", "TX", "75201"),
)


class TrackingServer(Server):
    def __init__(self, template, run_dir, workers, keep=False):
        super().__init__(template, run_dir, workers, keep)
        self.db = f"{template}_bench_tracking"
        self.conf = self.run_dir / "bench-tracking.conf"
        self.log = self.run_dir / "bench-tracking-server.log"


def setup(rpc, labels):
    backend_id = rpc(
        "dsync.backend",
        "create",
        {
            "name": "Bench EasyPost tracking",
            "backend_type": "carrier",
            "inbound_rate_limit": 0,
            "webhook_secret": SECRET,
        },
    )
    token = rpc("dsync.backend", "read", [backend_id], ["token"])[0]["token"]
    product_id = rpc(
        "product.product", "create", {"name": "Bench tracking", "type": "service"}
    )
    carrier_id = rpc(
        "delivery.carrier",
        "create",
        {
            "name": "Bench tracking",
            "delivery_type": "dsync_carrier",
            "product_id": product_id,
            "dsync_backend_id": backend_id,
        },
    )
    partner_id = rpc("res.partner", "create", {"name": "Bench tracking customer"})
    out_type = rpc(
        "stock.picking.type", "search", [["code", "=", "outgoing"]], limit=1
    )[0]
    picking_ids = rpc(
        "stock.picking",
        "create",
        [
            {"picking_type_id": out_type, "partner_id": partner_id}
            for _n in range(labels)
        ],
    )
    run = uuid.uuid4().hex[:8]
    rpc(
        "dsync.carrier.label",
        "create",
        [
            {
                "name": f"PACK-{n}",
                "picking_id": picking_id,
                "carrier_id": carrier_id,
                "backend_id": backend_id,
                "state": "bought",
                "shipment_ref": f"shp_{run}{n}",
                "tracker_ref": f"trk_{run}{n}",
                "tracking_code": f"EZ{run}{n:06d}",
            }
            for n, picking_id in enumerate(picking_ids)
        ],
    )
    trackers = [(f"trk_{run}{n}", f"EZ{run}{n:06d}") for n in range(labels)]
    return backend_id, token, trackers


def tracker_versions(tracker_id, code, updates, offset):
    """``updates`` successive Tracker objects, each with one scan more."""
    details, versions = [], []
    for step in range(updates):
        at = T0 + timedelta(hours=offset + step)
        city, state, zip_code = CITIES[step % len(CITIES)]
        status = "out_for_delivery" if step == updates - 1 else "in_transit"
        details.append(
            {
                "object": "TrackingDetail",
                "message": f"Scan {offset + step}",
                "status": status,
                "status_detail": "arrived_at_facility",
                "datetime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "source": "USPS",
                "tracking_location": {
                    "object": "TrackingLocation",
                    "city": city,
                    "state": state,
                    "zip": zip_code,
                    "country": "US",
                },
            }
        )
        versions.append(
            {
                "object": "Event",
                "id": f"evt_{uuid.uuid4().hex}",
                "description": "tracker.updated",
                "created_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "result": {
                    "object": "Tracker",
                    "id": tracker_id,
                    "tracking_code": code,
                    "status": status,
                    "status_detail": "arrived_at_facility",
                    "updated_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "carrier": "USPS",
                    "signed_by": None,
                    "public_url": f"https://track.easypost.test/{code}",
                    "tracking_details": copy.deepcopy(details),
                },
            }
        )
    return versions


def post_all(url, events, senders):
    """Post every event (signed) from ``senders`` threads; the seconds from
    the first post to the last answer, and the answers' statuses."""
    local = threading.local()
    statuses = []

    def post(event):
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        raw = json.dumps(event, separators=(",", ":")).encode()
        response = session.post(
            url,
            data=raw,
            headers={
                "Content-Type": "application/json",
                "X-Hmac-Signature": signature(SECRET, raw),
            },
            timeout=30,
        )
        statuses.append(response.status_code)

    start = time.perf_counter()
    with ThreadPoolExecutor(senders) as pool:
        list(pool.map(post, events))
    return start, time.perf_counter() - start, statuses


def wait_processed(db, backend_id, count, since_id, timeout):
    connection = psycopg2.connect(dbname=db)
    connection.autocommit = True
    deadline = time.time() + timeout
    try:
        with connection.cursor() as cr:
            while time.time() < deadline:
                cr.execute(
                    """SELECT count(*) FILTER (WHERE state IN ('done', 'stale', 'duplicate',
                                                           'failed')),
                              count(*) FILTER (WHERE state = 'failed')
                         FROM dsync_event WHERE backend_id = %s AND id > %s""",
                    (backend_id, since_id),
                )
                done, failed = cr.fetchone()
                if done >= count:
                    return time.perf_counter(), failed
                time.sleep(0.05)
    finally:
        connection.close()
    raise RuntimeError(f"events not processed within {timeout}s")


def counts(db, backend_id):
    connection = psycopg2.connect(dbname=db)
    try:
        with connection.cursor() as cr:
            cr.execute("SELECT coalesce(max(id), 0) FROM dsync_event")
            last_event = cr.fetchone()[0]
            cr.execute(
                "SELECT count(*) FROM dsync_shipment_milestone WHERE backend_id = %s",
                (backend_id,),
            )
            milestones = cr.fetchone()[0]
            cr.execute(
                """SELECT state, count(*) FROM dsync_event WHERE backend_id = %s
                    GROUP BY state""",
                (backend_id,),
            )
            states = dict(cr.fetchall())
        return last_event, milestones, states
    finally:
        connection.close()


def batching(db, backend_id, since):
    connection = psycopg2.connect(dbname=db)
    try:
        with connection.cursor() as cr:
            cr.execute(
                """SELECT method_name, count(*) FROM queue_job
                    WHERE channel LIKE %s AND date_created >= %s GROUP BY method_name""",
                (f"root.dsync.carrier_{backend_id}.%", since),
            )
            return dict(cr.fetchall())
    finally:
        connection.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--template", default=os.environ.get("DSYNC_TEST_DB", "dsync_test")
    )
    parser.add_argument("--run-dir", default=os.environ.get("DSYNC_RUN_DIR", ".run"))
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1)
    parser.add_argument("--labels", type=int, default=300)
    parser.add_argument("--updates", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    server = TrackingServer(args.template, args.run_dir, args.workers, args.keep)
    server.prepare()
    server.start()
    try:
        run(server, args)
    finally:
        server.stop()


def run(server, args):
    rpc = Rpc(server.url, server.db)
    backend_id, token, trackers = setup(rpc, args.labels * (args.rounds + 1))
    url = f"{server.url}/dsync/carrier/{token}/tracking"
    print(
        f"{server.workers} HTTP workers, job channels root:2,root.dsync:2, "
        f"{os.cpu_count()} cores shared with the senders; {args.labels} labels, "
        f"{args.updates} tracker versions each per round, {args.senders} senders"
    )
    # warm-up, not counted: every worker loads the route and the processor
    warm = [
        e
        for trk, code in trackers[: args.labels // 10 or 1]
        for e in tracker_versions(trk, code, 2, 0)
    ]
    last, _m, _s = counts(server.db, backend_id)
    post_all(url, warm, args.senders)
    wait_processed(server.db, backend_id, len(warm), last, 300)
    totals = {"updates": 0, "milestones": 0, "seconds": 0.0}
    since = datetime.utcnow().strftime("%Y-%m-%d %H:%M:%S")
    for number in range(args.rounds):
        chunk = trackers[args.labels * (number + 1) : args.labels * (number + 2)]
        versions = [tracker_versions(trk, code, args.updates, 0) for trk, code in chunk]
        # EasyPost's order: each tracker's versions in turn, trackers interleaved
        events = [v[step] for step in range(args.updates) for v in versions]
        random.shuffle(events[: len(events) // 10])  # a few out of order
        last, milestones_before, _s = counts(server.db, backend_id)
        start, posting, statuses = post_all(url, events, args.senders)
        end, failed = wait_processed(server.db, backend_id, len(events), last, 900)
        _l, milestones_after, states = counts(server.db, backend_id)
        seconds = end - start
        made = milestones_after - milestones_before
        totals["updates"] += len(events)
        totals["milestones"] += made
        totals["seconds"] += seconds
        bad = sum(1 for status in statuses if status != 202)
        print(
            f"round {number + 1}: {len(events)} updates in {seconds:.2f} s = "
            f"{len(events) / seconds:.0f} updates/s, {made} milestones "
            f"({made / seconds:.0f}/s); posting took {posting:.2f} s "
            f"({len(events) / posting:.0f} accepted/s, {bad} not 202); failed: {failed}"
        )
    print(
        f"overall: {totals['updates'] / totals['seconds']:.0f} updates/s, "
        f"{totals['milestones'] / totals['seconds']:.0f} milestones/s (goal >= 200 "
        "updates/s)"
    )
    print(f"events by state: {states}")
    print(f"jobs: {batching(server.db, backend_id, since)}")


if __name__ == "__main__":
    main()
