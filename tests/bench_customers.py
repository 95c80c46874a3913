"""Customer lookup of new Shopify orders on a large contact base.

    python3 -m tests.bench_customers --config .run/odoo.conf \\
        [--template dsync_test] [--contacts 200000] [--orders 20] [--rounds 3]

(from the repository root). It copies the template database (one with the
addons installed, for example the one ``tools/test.sh`` leaves behind) to
``<template>_bench_customers``, adds ``--contacts`` customers (email, phone)
with one SQL insert, committed and analyzed as a live contact base is, then
looks up the customers of batches of ``--orders`` orders, as a batch job does
before creating them:

* ``connector``: ``dsync.backend._shopify_find_partners``, one search for the
  batch's emails on the normalized, indexed email, one for the phones left;
* ``baseline``: what the connector did before, and what an integration does
  with Odoo's search: per order, the email compared with ``=ilike``, then
  the phone or mobile.

Two kinds of batches: orders of customers Odoo does not know yet (every
lookup runs both searches and finds nothing) and orders of known customers
(found by email). Prints milliseconds per order (median of the rounds) and
the ratio, and checks that both ways find the same contacts. The copy is
dropped at the end.
"""

import argparse
import statistics
import subprocess
import time
import uuid

from tests.simulators.order_catalog import make_orders


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--template", default="dsync_test")
    parser.add_argument("--config", required=True)
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--orders", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    return parser.parse_args()


def add_contacts(cr, count):
    """``count`` customers ``customer.<n>@example.com`` / ``+1666<n>``, as
    Odoo stores them (normalized email, commercial partner itself)."""
    cr.execute(
        """INSERT INTO res_partner (name, complete_name, email, email_normalized,
                                    phone, active, type, is_company,
                                    autopost_bills, create_date, write_date)
           SELECT 'Customer ' || n, 'Customer ' || n,
                  'Customer.' || n || '@Example.com',
                  'customer.' || n || '@example.com',
                  '+1666' || lpad(n::text, 7, '0'), true, 'contact', false,
                  'ask', now() at time zone 'UTC', now() at time zone 'UTC'
             FROM generate_series(1, %s) n""",
        (count,),
    )
    cr.execute(
        "UPDATE res_partner SET commercial_partner_id = id"
        " WHERE commercial_partner_id IS NULL"
    )
    cr.commit()
    subprocess.run(
        ["psql", "-X", "-q", "-d", cr.dbname, "-c", "VACUUM ANALYZE res_partner"],
        check=True,
    )


def baseline(backend, orders):
    """Per order: email with ``=ilike``, then phone or mobile."""
    from odoo.addons.connector_shopify.models.shopify_order import (
        customer_email,
        customer_phone,
    )

    Partner = backend.env["res.partner"]
    company = Partner._check_company_domain(backend.company_id)
    found = {}
    for order in orders:
        partner = Partner
        email = customer_email(order)
        if email:
            partner = Partner.search(
                [("email", "=ilike", email), ("parent_id", "=", False), *company],
                limit=1,
            )
        phone = customer_phone(order)
        if not partner and phone:
            partner = Partner.search(
                [
                    "|",
                    ("phone", "=", phone),
                    ("mobile", "=", phone),
                    ("parent_id", "=", False),
                    *company,
                ],
                limit=1,
            )
        if partner:
            found[order.id] = partner
    return found


def batches(args, known, first_id):
    """``args.orders`` parsed orders, of new customers or of known ones."""
    from odoo.addons.connector_shopify.order_payload import parse_order

    docs = make_orders(args.orders, first_id, 5, uuid.uuid4().hex[:6])
    if known:
        step = max(args.contacts // args.orders, 1)
        for index, doc in enumerate(docs):
            n = 1 + index * step
            doc["customer"]["email"] = f"CUSTOMER.{n}@example.com"
    return [parse_order(doc) for doc in docs]


def run(env, args):
    started = time.perf_counter()
    add_contacts(env.cr, args.contacts)
    print(
        f"{args.contacts} contacts added in {time.perf_counter() - started:.1f} s; "
        f"batches of {args.orders} orders, {args.rounds} rounds"
    )
    backend = env["dsync.backend"].create(
        {"name": "Customer lookup benchmark", "backend_type": "shopify"}
    )
    ways = {
        "connector": lambda orders: backend._shopify_find_partners(orders),
        "baseline": lambda orders: baseline(backend, orders),
    }
    first_id = 70_000_000
    for known in (False, True):
        times = {name: [] for name in ways}
        for _round in range(args.rounds):
            orders = batches(args, known, first_id)
            first_id += args.orders
            results = {}
            for name, lookup in ways.items():
                env.invalidate_all()
                start = time.perf_counter()
                results[name] = lookup(orders)
                times[name].append((time.perf_counter() - start) * 1000 / args.orders)
            assert results["connector"] == results["baseline"], "different contacts"
            assert len(results["connector"]) == (args.orders if known else 0)
        rows = {name: statistics.median(values) for name, values in times.items()}
        label = "known customers" if known else "new customers  "
        print(
            f"{label}: connector {rows['connector']:7.2f} ms/order, "
            f"baseline {rows['baseline']:7.2f} ms/order "
            f"({rows['baseline'] / rows['connector']:.0f}x)"
        )


def main():
    args = parse_args()
    import odoo
    from odoo.tools import config

    db = f"{args.template}_bench_customers"
    subprocess.run(["dropdb", "--if-exists", "--force", db], check=True)
    subprocess.run(["createdb", "-T", args.template, db], check=True)
    try:
        config.parse_config(["-c", args.config, "-d", db, "--log-level=warn"])
        registry = odoo.modules.registry.Registry(db)
        with registry.cursor() as cr:
            env = odoo.api.Environment(
                cr, odoo.SUPERUSER_ID, {"tracking_disable": True}
            )
            run(env, args)
    finally:
        odoo.sql_db.close_db(db)
        subprocess.run(["dropdb", "--if-exists", "--force", db], check=True)


if __name__ == "__main__":
    main()
