"""Tracking updates per second: signed EasyPost ``tracker.updated`` webhooks
→ shipment milestones on the deliveries, through the job queue.

    python3 -m tests.bench_tracking [--labels 1500] [--updates 3] [--rounds 2]
                                    [--duration 10] [--connections 8]
                                    [--template dsync_test] [--keep]

Self-contained like ``bench_orders``: copies the template database (the one
``tools/test.sh`` built), starts Odoo on a free port with ``--workers`` HTTP
workers and queue_job's runner (channels ``root:2,root.dsync:2``), then:

1. creates (XML-RPC) a carrier backend, a delivery method and ``--labels``
   deliveries, each with a bought label and its tracker;
2. per round, builds ``--updates`` successive tracker versions of every
   label (each with one scan more than the last, as EasyPost sends them),
   signed as EasyPost signs them, and posts them with wrk for ``--duration``
   seconds (every version once, then redeliveries), then waits until every
   stored event is processed (done, or stale for a version overtaken by a
   newer one). The time is from the first post to the last event processed,
   watched with SQL on a connection of its own (no API call takes the
   server's workers);
3. prints the updates and milestones per second of each round and overall
   (goal: >= 200 updates/s on 2 cores), the accept time of the posts, and
   how the queue batched the events.
"""

import argparse
import copy
import json
import os
import subprocess
import tempfile
import time
import uuid
from datetime import datetime, timedelta

import psycopg2

from tests import bench_orders
from tests.bench_orders import Rpc, Server
from tests.simulators.easypost import signature

SECRET = "bench-tracking-secret"
T0 = datetime(2026, 11, 20, 8, 0, 0)
CITIES = (
    ("CHARLOTTE", "NC", "28202"),
    ("ATLANTA", "GA", "30301"),
    ("DALLAS", "TX", "75201"),
)


CHANNELS = bench_orders.CHANNELS


class TrackingServer(Server):
    def __init__(self, template, run_dir, workers, keep=False):
        super().__init__(template, run_dir, workers, keep)
        self.db = f"{template}_bench_tracking"
        self.conf = self.run_dir / "bench-tracking.conf"
        self.log = self.run_dir / "bench-tracking-server.log"

    def stop_keeping(self):
        """Stop the server, keep its database (a restart follows)."""
        keep, self.keep = self.keep, True
        try:
            self.stop()
        finally:
            self.keep = keep


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


LUA = r"""
local bodies = BODIES
local signatures = SIGNATURES
local path = "PATH"
local nthreads = THREADS
local counter = 0
local tid = 0
local threads = 0
function setup(thread)
   thread:set("tid", threads)
   threads = threads + 1
end
function init(args)
   tid = wrk.thread:get("tid")
end
request = function()
   local index = (counter * nthreads + tid) % #bodies + 1
   counter = counter + 1
   return wrk.format("POST", path, {
      ["Content-Type"] = "application/json",
      ["X-Hmac-Signature"] = signatures[index],
   }, bodies[index])
end
local bad = 0
response = function(status, headers, body)
   if status ~= EXPECTED then bad = bad + 1 end
end
done = function(summary, latency, requests)
   io.write(string.format("BAD %d\n", bad))
end
"""


def lua_table(values):
    return "{" + ",".join(json.dumps(value) for value in values) + "}"


def wrk_script(path, events, threads, secret=SECRET, expected=202):
    """A wrk script that posts ``events``, each signed as EasyPost signs,
    in turn from every thread (once each while they last, then again:
    duplicates, answered 200)."""
    raws = [json.dumps(e, separators=(",", ":")) for e in events]
    return (
        LUA.replace("BODIES", lua_table(raws))
        .replace(
            "SIGNATURES", lua_table(signature(secret, raw.encode()) for raw in raws)
        )
        .replace("PATH", path)
        .replace("THREADS", str(threads))
        .replace("EXPECTED", str(expected))
    )


def run_wrk(
    base_url,
    path,
    events,
    duration,
    connections,
    threads=2,
    secret=SECRET,
    expected=202,
):
    """Post ``events`` with wrk for ``duration`` seconds: (start, summary)."""
    from tests.bench_webhook import parse_wrk

    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(wrk_script(path, events, threads, secret, expected))
    try:
        start = time.perf_counter()
        out = subprocess.run(
            [
                "wrk",
                "--latency",
                "-t",
                str(threads),
                "-c",
                str(connections),
                "-d",
                f"{duration}s",
                "-s",
                handle.name,
                base_url,
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        os.unlink(handle.name)
    return start, parse_wrk(out)


def wait_processed(db, backend_id, count, since_id, timeout):
    connection = psycopg2.connect(dbname=db)
    connection.autocommit = True
    deadline = time.time() + timeout
    try:
        with connection.cursor() as cr:
            while time.time() < deadline:
                cr.execute(
                    """SELECT count(*) FILTER (WHERE state NOT IN ('received',
                                                               'queued')),
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
                    WHERE channel LIKE %s AND date_created >= %s
                    GROUP BY method_name""",
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
    parser.add_argument("--labels", type=int, default=1500)
    parser.add_argument("--updates", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
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
    backend_id, token, trackers = setup(rpc, args.labels * (2 * args.rounds + 1))
    path = f"/dsync/carrier/{token}/tracking"
    print(
        f"{server.workers} HTTP workers, job channels root:2,root.dsync:2, "
        f"{os.cpu_count()} cores shared with wrk; per round: {args.labels} labels "
        f"x {args.updates} tracker versions, posted by wrk ({args.connections} "
        f"connections, {args.duration} s)"
    )
    # warm-up, not counted: every worker loads the route and the processor
    warm = [
        e
        for trk, code in trackers[: args.labels]
        for e in tracker_versions(trk, code, 1, 0)
    ]
    last, _m, _s = counts(server.db, backend_id)
    run_wrk(server.url, path, warm, 3, args.connections)
    warmed = _events_since(server.db, backend_id, last)
    wait_processed(server.db, backend_id, warmed, last, 300)
    totals = {"updates": 0, "milestones": 0, "seconds": 0.0}
    since = datetime.utcnow().strftime("%Y-%m-%d %H:%M:%S")
    for number in range(args.rounds):
        events = round_events(trackers, args, 2 * number + 1)
        last, milestones_before, _s = counts(server.db, backend_id)
        start, summary = run_wrk(
            server.url, path, events, args.duration, args.connections
        )
        new_events = _events_since(server.db, backend_id, last)
        end, failed = wait_processed(server.db, backend_id, new_events, last, 900)
        _l, milestones_after, states = counts(server.db, backend_id)
        seconds = end - start
        made = milestones_after - milestones_before
        totals["updates"] += new_events
        totals["milestones"] += made
        totals["seconds"] += seconds
        print(
            f"round {number + 1}, posting and processing at once: wrk "
            f"{summary['requests']} requests, {summary['rps']:.0f}/s (p99 "
            f"{summary['p99']:.0f} ms); {new_events} updates processed "
            f"{seconds:.1f} s after the first post = {new_events / seconds:.0f} "
            f"updates/s, {made} milestones ({made / seconds:.0f}/s); failed: {failed}"
        )
        backlog = round_events(trackers, args, 2 * number + 2)
        rate, count, made = backlog_round(server, path, backlog, backend_id, args)
        print(
            f"round {number + 1}, a backlog of {count} updates (posted while the "
            f"job runner was off): processed at {rate:.0f} updates/s, "
            f"{made} milestones, from the first job's start to the last one's end"
        )
        totals.setdefault("backlog", []).append(rate)
    print(
        f"overall, posting and processing at once: "
        f"{totals['updates'] / totals['seconds']:.0f} updates/s, "
        f"{totals['milestones'] / totals['seconds']:.0f} milestones/s; "
        f"backlog: {', '.join(f'{r:.0f}' for r in totals['backlog'])} updates/s "
        "(goal >= 200 updates/s through the job queue)"
    )
    print(f"events by state: {states}")
    print(f"jobs: {batching(server.db, backend_id, since)}")


def round_events(trackers, args, number):
    """The tracker versions of round ``number``'s labels, EasyPost's order:
    each tracker's versions in turn, trackers interleaved."""
    chunk = trackers[args.labels * number : args.labels * (number + 1)]
    versions = [tracker_versions(trk, code, args.updates, 0) for trk, code in chunk]
    return [v[step] for step in range(args.updates) for v in versions]


def backlog_round(server, path, events, backend_id, args):
    """Post with the job runner off, then start it: (updates/s from the
    first processing job's start to the last one's end, updates, milestones)."""
    server.stop_keeping()
    bench_orders.CHANNELS = "root:0"
    server.start()
    last, before, _s = counts(server.db, backend_id)
    job_mark = _max_job(server.db)
    run_wrk(server.url, path, events, args.duration, args.connections)
    count = _events_since(server.db, backend_id, last)
    server.stop_keeping()
    bench_orders.CHANNELS = CHANNELS
    server.start()
    wait_processed(server.db, backend_id, count, last, 900)
    _l, after, _s = counts(server.db, backend_id)
    connection = psycopg2.connect(dbname=server.db)
    try:
        with connection.cursor() as cr:
            cr.execute(
                """SELECT extract(epoch FROM max(date_done) - min(date_started))
                     FROM queue_job
                    WHERE id > %s AND channel LIKE %s
                      AND method_name IN ('_dsync_run', '_dsync_run_batch')""",
                (job_mark, f"root.dsync.carrier_{backend_id}.%"),
            )
            seconds = float(cr.fetchone()[0])
    finally:
        connection.close()
    return count / seconds, count, after - before


def _max_job(db):
    connection = psycopg2.connect(dbname=db)
    try:
        with connection.cursor() as cr:
            cr.execute("SELECT coalesce(max(id), 0) FROM queue_job")
            return cr.fetchone()[0]
    finally:
        connection.close()


def _events_since(db, backend_id, last):
    connection = psycopg2.connect(dbname=db)
    try:
        with connection.cursor() as cr:
            cr.execute(
                "SELECT count(*) FROM dsync_event WHERE backend_id = %s AND id > %s",
                (backend_id, last),
            )
            return cr.fetchone()[0]
    finally:
        connection.close()


if __name__ == "__main__":
    main()
