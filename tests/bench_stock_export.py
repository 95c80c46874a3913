"""Stock export of 10,000 SKUs × 1 location to the Shopify simulator.

    python3 -m tests.bench_stock_export --db dsync_test --config .run/odoo.conf

(from the repository root, against a database with the addons installed, for
example the one ``tools/test.sh`` leaves behind). Everything the benchmark
creates is rolled back at the end.

It creates N products with SKUs and stock in one mapped location, then
measures, with the connector's own methods:

1. compute: the published quantity of every SKU (search, one grouped quant
   read, the channel's stock rule) — goal < 2 s for 10,000 SKUs;
2. post: the coalesced outbox upserts of those messages;
3. first send (cold): the outbox drained through the real client into the
   simulator, inventory items looked up by SKU (ProductVariantsBySku, 50 SKUs
   per query) and bound;
4. next send (warm): every level changed and exported again, inventory items
   known from the bindings: only ``inventorySetQuantities`` calls.

For each send it prints the API calls, the batch size, the throttled calls
(goal 0), the client's waits, the send time and the points used against the
bucket. The simulator's bucket defaults to 2,000 points restored at 100/s.
"""

import argparse
import time

SKU_PREFIX = "BENCH-"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--skus", type=int, default=10_000)
    parser.add_argument("--bucket", type=float, default=2000)
    parser.add_argument("--restore-rate", type=float, default=100)
    parser.add_argument(
        "--skip-cold", action="store_true", help="bind inventory items up front"
    )
    return parser.parse_args()


def timed(func, *args, **kw):
    start = time.perf_counter()
    result = func(*args, **kw)
    return result, time.perf_counter() - start


def setup(env, sim, count):
    """A Shopify backend, one mapped location and ``count`` stocked products
    (the other products with a SKU are archived, in this transaction only)."""
    from tests.simulators.shopify import DEFAULT_TOKEN

    env["product.product"].search([("default_code", "!=", False)]).active = False
    warehouse = env["stock.warehouse"].search(
        [("company_id", "=", env.company.id)], limit=1
    )
    location = env["stock.location"].create(
        {
            "name": "Bench",
            "usage": "internal",
            "location_id": warehouse.view_location_id.id,
        }
    )
    location_gid = sim.add_location("Bench warehouse")
    backend = env["dsync.backend"].create(
        {
            "name": "Bench Shopify",
            "backend_type": "shopify",
            "api_url": sim.url,
            "inbound_rate_limit": 0,
        }
    )
    backend._dsync_set_secret("api_secret", DEFAULT_TOKEN)
    env["dsync.value.map"].create(
        {
            "backend_id": backend.id,
            "map_type": "location",
            "external_code": location_gid,
            "target_ref": f"stock.location,{location.id}",
        }
    )
    products = env["product.product"]
    for start in range(0, count, 1000):
        products |= env["product.product"].create(
            [
                {
                    "name": f"Bench product {n}",
                    "default_code": f"{SKU_PREFIX}{n:05d}",
                    "is_storable": True,
                }
                for n in range(start, min(count, start + 1000))
            ]
        )
    env["stock.quant"].sudo().create(
        [
            {"product_id": p.id, "location_id": location.id, "quantity": 5 + i % 50}
            for i, p in enumerate(products)
        ]
    )
    sim.add_variants(products.mapped("default_code"), locations=[location_gid])
    env.flush_all()
    return backend, location_gid, location, products


def compute(backend, location_gid, location):
    products = backend._shopify_stock_products()
    return list(backend._shopify_stock_messages(location_gid, location, products))


def post(backend, location_gid, location):
    products = backend._shopify_stock_products()
    count = backend._shopify_post_stock(location_gid, location, products)
    backend.env.flush_all()
    return count


def drain(backend):
    """Drain the stock_export outbox the way the queued jobs do, batch by
    batch (in this process, without the job runner)."""
    Outbox = backend.env["dsync.outbox"]
    flow = backend._dsync_flow("stock_export")
    rounds = 0
    while Outbox._dsync_next_due(backend, flow)[0]:
        backend._dsync_drain_outbox("stock_export")
        rounds += 1
    return rounds


def send(env, backend, sim, label):
    client = backend._shopify_client()
    before = (client.waits, client.waited_seconds)
    sim.reset_counters()
    groups_before = len(sim.adjustment_groups)
    rounds, seconds = timed(drain, backend)
    states = env["dsync.outbox"].read_group(
        [("backend_id", "=", backend.id)], ["state"], ["state"]
    )
    groups = sim.adjustment_groups[groups_before:]
    calls = sum(sim.calls.values())
    batch_size = backend._dsync_flow("stock_export").batch_size
    largest = max((len(g["changes"]) for g in groups), default=0)
    waits = client.waits - before[0]
    waited = client.waited_seconds - before[1]
    print(f"\n[{label}]")
    print(f"drain batches: {rounds} (flow batch size {batch_size})")
    print(f"API calls: {calls} {dict(sim.calls)}")
    print(f"quantities per inventorySetQuantities: max {largest}")
    print(f"throttled calls: {sim.throttled} (429: {sim.status_429})")
    print(f"client waits: {waits}, {waited:.2f} s waited")
    print(f"send time: {seconds:.2f} s")
    print(
        f"points used: {sim.points_used:.0f} (bucket {sim.bucket.maximum:.0f}, "
        f"restore {sim.bucket.restore_rate:.0f}/s)"
    )
    print(f"outbox: {[(s['state'], s['state_count']) for s in states]}")


def bind_up_front(env, backend, sim, products):
    Binding = env["dsync.binding"].sudo()
    Binding.create(
        [
            {
                "backend_id": backend.id,
                "res_model": "product.product",
                "res_id": product.id,
                "external_id": sim.variant_by_sku(product.default_code)[
                    "inventoryItemId"
                ],
                "external_version": product.default_code,
            }
            for product in products
        ]
    )


def run(env, args):
    from tests.simulators.shopify import ShopifySimulator

    with ShopifySimulator(
        bucket_size=args.bucket, restore_rate=args.restore_rate
    ) as sim:
        (backend, location_gid, location, products), seconds = timed(
            setup, env, sim, args.skus
        )
        print(
            f"setup: {len(products)} products with stock in 1 location, {seconds:.1f} s"
        )
        messages, compute_s = timed(compute, backend, location_gid, location)
        print(
            f"compute: {len(messages)} stock levels in {compute_s:.3f} s (goal < 2 s)"
        )
        count, post_s = timed(post, backend, location_gid, location)
        print(f"post: {count} outbox messages in {post_s:.3f} s")
        if args.skip_cold:
            bind_up_front(env, backend, sim, products)
        else:
            send(env, backend, sim, "first export (inventory items looked up by SKU)")
        env.cr.execute(
            "UPDATE stock_quant SET quantity = quantity + 1 WHERE location_id = %s",
            (location.id,),
        )
        env.invalidate_all()
        count, post_s = timed(post, backend, location_gid, location)
        print(f"\nrepost after every level changed: {count} messages in {post_s:.3f} s")
        send(env, backend, sim, "next export (inventory items bound)")
        sample = products[-1]
        expected = sample.with_context(location=location.id).free_qty
        published = sim.available(sample.default_code, location_gid)
        print(
            f"\ncheck: {sample.default_code} = {published} in the simulator, "
            f"{expected:.0f} free in Odoo"
        )


def main():
    args = parse_args()
    import odoo
    from odoo.tools import config

    config.parse_config(["-c", args.config, "-d", args.db, "--log-level=warn"])
    registry = odoo.modules.registry.Registry(args.db)
    with registry.cursor() as cr:
        env = odoo.api.Environment(
            cr,
            odoo.SUPERUSER_ID,
            {"tracking_disable": True, "mail_create_nolog": True, "mail_notrack": True},
        )
        try:
            run(env, args)
        finally:
            cr.rollback()


if __name__ == "__main__":
    main()
