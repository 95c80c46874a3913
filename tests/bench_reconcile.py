"""Reconciliation of a 100,000-SKU warehouse snapshot: compare and write the
drift lines, against the same comparison done the way an integration would
(one ``stock.quant`` read per SKU), in the same run.

    python3 -m tests.bench_reconcile [--skus 100000] [--drift 1000]
                                     [--baseline-skus 10000] [--runs 2]
                                     [--template dsync_test] [--keep]

Self-contained: copies the template database (the one ``tools/test.sh``
built) to ``<template>_bench_recon`` and seeds it, in Odoo's own process
(``--config``, default ``.run/odoo.conf``): a warehouse run by a WMS backend
that owns stock quantities (tolerance 2 units and 100 at cost), and
``--skus`` storable products with a SKU and stock in it (cloned from one
product created with the ORM, with SQL: creating 100,000 products through
the ORM would take longer than everything measured). The snapshot reports
every SKU, ``--drift`` of them off: half by one unit (within tolerance:
repaired automatically), half by twenty (waiting for approval).

Each run, in a transaction rolled back afterwards:

1. the connector's reconciliation (``_wms_reconcile``): one query for the
   quants, one for what is in flight, one for the products, then the drift
   lines written (goal: < 10 s for 100,000 SKUs); the automatic repair of
   the lines within tolerance (inventory moves) is timed apart;
2. the baseline: for ``--baseline-skus`` SKUs, the quantity read per SKU
   with ``stock.quant.search_read`` (SKU and location), compared, and the
   drift lines written with the same API; its time for all the SKUs is
   extrapolated from that sample (printed as such).

The copy is dropped at the end (``--keep`` keeps it).
"""

import argparse
import os
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skus", type=int, default=100_000)
    parser.add_argument("--drift", type=int, default=1000)
    parser.add_argument("--baseline-skus", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument(
        "--template", default=os.environ.get("DSYNC_TEST_DB", "dsync_test")
    )
    parser.add_argument(
        "--config",
        default=str(Path(os.environ.get("DSYNC_RUN_DIR", ROOT / ".run")) / "odoo.conf"),
    )
    parser.add_argument("--keep", action="store_true")
    return parser.parse_args()


def clone_rows(cr, table, seed_id, overrides):
    """Insert one row per ``overrides`` item (a dict of column values),
    copying every other column from row ``seed_id``; returns the new ids."""
    from psycopg2.extras import Json

    cr.execute(f"SELECT * FROM {table} WHERE id = %s", (seed_id,))
    columns = [d.name for d in cr.description]
    seed = dict(zip(columns, cr.fetchone(), strict=True))
    cr.execute(
        f"SELECT nextval('{table}_id_seq') FROM generate_series(1, %s)",
        (len(overrides),),
    )
    ids = [row[0] for row in cr.fetchall()]
    rows = []
    for new_id, values in zip(ids, overrides, strict=True):
        row = dict(seed, id=new_id, **values)
        rows.append(
            tuple(
                Json(value) if isinstance(value, dict | list) else value
                for value in (row[column] for column in columns)
            )
        )
    quoted = ", ".join(f'"{column}"' for column in columns)
    for start in range(0, len(rows), 5000):
        cr.execute_values(
            f"INSERT INTO {table} ({quoted}) VALUES %s",
            rows[start : start + 5000],
            page_size=5000,
        )
    return ids


def seed(env, count):
    """The warehouse, the backend and ``count`` stocked products."""
    from odoo import Command

    warehouse = env["stock.warehouse"].create({"name": "Recon bench", "code": "RBW"})
    backend = env["dsync.backend"].create(
        {
            "name": "Recon bench WMS",
            "backend_type": "wms",
            "api_url": "http://127.0.0.1:9",
            "wms_release_policy": "manual",
            "wms_warehouse_ids": [Command.set(warehouse.ids)],
            "wms_stock_owner": "wms",
            "wms_tolerance_qty": 2,
            "wms_tolerance_value": 100,
        }
    )
    product = env["product.product"].create(
        {
            "name": "Recon seed",
            "default_code": "RB-SEED",
            "is_storable": True,
            "standard_price": 3.0,
        }
    )
    stock = warehouse.lot_stock_id
    env["stock.quant"]._update_available_quantity(product, stock, 10)
    env.flush_all()
    cr = env.cr
    cr.execute(
        "SELECT id FROM stock_quant WHERE product_id = %s AND location_id = %s",
        (product.id, stock.id),
    )
    seed_quant = cr.fetchone()[0]
    templates = clone_rows(
        cr,
        "product_template",
        product.product_tmpl_id.id,
        [{"name": {"en_US": f"Recon product {n}"}} for n in range(count)],
    )
    products = clone_rows(
        cr,
        "product_product",
        product.id,
        [
            {"product_tmpl_id": tmpl, "default_code": f"RB-{n:06d}"}
            for n, tmpl in enumerate(templates)
        ],
    )
    clone_rows(
        cr,
        "stock_quant",
        seed_quant,
        [
            {"product_id": pid, "quantity": float(10 + n % 50)}
            for n, pid in enumerate(products)
        ],
    )
    cr.execute("ANALYZE product_template, product_product, stock_quant")
    env.invalidate_all()
    return backend, warehouse


def snapshot(count, drift):
    items = [{"sku": f"RB-{n:06d}", "on_hand": 10 + n % 50} for n in range(count)]
    items.append({"sku": "RB-SEED", "on_hand": 10})  # the product they were cloned from
    step = max(1, count // max(1, drift))
    off = 0
    for index in range(0, count, step):  # the seed (last) is never off
        if off >= drift:
            break
        items[index]["on_hand"] += 1 if off % 2 == 0 else 20
        off += 1
    return items, off


def baseline(env, backend, warehouse, items, sample):
    """Per-SKU quant reads, as an integration would compare."""
    Quant = env["stock.quant"]
    stock = warehouse.lot_stock_id
    started = time.perf_counter()
    rows = []
    for item in items[:sample]:
        quants = Quant.search_read(
            [
                ("product_id.default_code", "=", item["sku"]),
                ("location_id", "child_of", stock.id),
            ],
            ["quantity", "product_id"],
        )
        quantity = sum(q["quantity"] for q in quants)
        if abs(item["on_hand"] - quantity) > 1e-6:
            rows.append(
                {
                    "sku": item["sku"],
                    "site": warehouse.code,
                    "platform_qty": item["on_hand"],
                    "odoo_qty": quantity,
                    "drift_qty": item["on_hand"] - quantity,
                    "res_model": "product.product",
                    "res_id": quants[0]["product_id"][0] if quants else None,
                }
            )
    run = env["dsync.reconciliation.run"]._dsync_start(backend, "stock", "baseline")
    run._dsync_add_lines(rows)
    return time.perf_counter() - started, len(rows)


def main():
    args = parse_args()
    from odoo import SUPERUSER_ID, api
    from odoo.modules.registry import Registry
    from odoo.tools import config

    db = f"{args.template}_bench_recon"
    subprocess.run(["dropdb", "--if-exists", "--force", db], check=True)
    subprocess.run(["createdb", "-T", args.template, db], check=True)
    try:
        config.parse_config(["-c", args.config, "-d", db])
        os.environ.setdefault("ODOO_QUEUE_JOB_CHANNELS", "root:0")
        registry = Registry(db)
        started = time.perf_counter()
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            backend, warehouse = seed(env, args.skus)
            backend_id, warehouse_id = backend.id, warehouse.id
        print(
            f"seeded {args.skus} products with stock in "
            f"{time.perf_counter() - started:.1f} s"
        )
        items, drifted = snapshot(args.skus, args.drift)
        print(
            f"{os.cpu_count()} CPUs; snapshot of {len(items)} SKUs, {drifted} off "
            f"(half within tolerance); {args.runs} runs, baseline on "
            f"{args.baseline_skus} SKUs"
        )
        for number in range(1, args.runs + 1):
            with registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
                backend = env["dsync.backend"].browse(backend_id)
                warehouse = env["stock.warehouse"].browse(warehouse_id)
                t0 = time.perf_counter()
                run = backend._wms_reconcile(warehouse, f"BENCH-{number}", items)
                total = time.perf_counter() - t0
                lines = len(run.line_ids)
                compared = run.compare_seconds
                print(
                    f"run {number}: compare + {lines} drift lines written in "
                    f"{run.compare_seconds:.3f} s (goal < 10 s); automatic repair of "
                    f"{run.repaired_count} lines within tolerance "
                    f"{run.repair_seconds:.3f} s; {run.to_approve_count} waiting for "
                    f"approval; whole run {total:.3f} s"
                )
                cr.rollback()
            with registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
                backend = env["dsync.backend"].browse(backend_id)
                warehouse = env["stock.warehouse"].browse(warehouse_id)
                seconds, found = baseline(
                    env, backend, warehouse, items, args.baseline_skus
                )
                per_sku = seconds / args.baseline_skus
                print(
                    "       baseline, per-SKU stock.quant reads: "
                    f"{args.baseline_skus} SKUs "
                    f"in {seconds:.2f} s ({per_sku * 1000:.2f} ms a SKU, {found} drift "
                    f"lines); for {len(items)} SKUs: {per_sku * len(items):.0f} s "
                    f"(extrapolated), {per_sku * len(items) / compared:.0f}x "
                    f"the connector's comparison"
                )
                cr.rollback()
    finally:
        if not args.keep:
            subprocess.run(["dropdb", "--if-exists", "--force", db], check=False)


if __name__ == "__main__":
    main()
