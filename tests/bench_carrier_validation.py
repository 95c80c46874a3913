"""Validating deliveries whatever the carrier platform does: time per
validation with the platform up, slow (every answer 2 s late) and down,
against Odoo's stock behaviour (the label bought inside the validation, as
``stock_delivery``'s providers do) with the same platform.

    python3 -m tests.bench_carrier_validation --config .run/odoo.conf \\
        --template dsync_test [--count 10] [--rounds 3] [--delay 2]

Copies the template database (the one ``tools/test.sh`` built) to
``<template>_bench_validation``, runs in this process against the EasyPost
simulator (a real HTTP server on 127.0.0.1), and drops the copy. Each
validation is ``button_validate()`` and the commit, timed on its own; the
rounds alternate the platform's states so that the machine's changes of
speed fall on all alike. The label jobs are not run: what is measured is the
time a warehouse worker waits. The baseline replaces this connector's
``send_shipping`` by a synchronous one (create the shipment, buy its rate:
two calls, inside the validation) and restores Odoo's ``send_to_shipper``.
"""

import argparse
import statistics
import subprocess
import time
from contextlib import contextmanager

STATES = ("up", "slow", "down")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--template", default="dsync_test")
    parser.add_argument("--count", type=int, default=10, help="deliveries per run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--delay", type=float, default=2.0)
    parser.add_argument("--baseline-count", type=int, default=3)
    return parser.parse_args()


def setup(env, sim):
    from tests.simulators.easypost import DEFAULT_KEY

    us = env.ref("base.us")
    state = env.ref("base.state_us_5")
    company = env.company
    company.partner_id.write(
        {
            "street": "388 Townsend St",
            "city": "San Francisco",
            "zip": "94107",
            "state_id": state.id,
            "country_id": us.id,
        }
    )
    warehouse = env["stock.warehouse"].search(
        [("company_id", "=", company.id)], limit=1
    )
    warehouse.partner_id = company.partner_id
    warehouse.out_type_id.print_label = True
    backend = env["dsync.backend"].create(
        {
            "name": "Bench EasyPost",
            "backend_type": "carrier",
            "api_url": sim.api_url,
            "request_timeout": 30,
            "carrier_environment": "test",
        }
    )
    backend._dsync_set_secret("carrier_test_api_secret", DEFAULT_KEY)
    carrier = env["delivery.carrier"].create(
        {
            "name": "Bench Priority",
            "delivery_type": "dsync_carrier",
            "product_id": env["product.product"]
            .create({"name": "Bench shipping", "type": "service"})
            .id,
            "dsync_backend_id": backend.id,
            "dsync_services": "Priority",
        }
    )
    customer = env["res.partner"].create(
        {
            "name": "Bench Customer",
            "street": "179 N Harbor Dr",
            "city": "Redondo Beach",
            "zip": "90277",
            "state_id": state.id,
            "country_id": us.id,
        }
    )
    product = env["product.product"].create(
        {"name": "Bench parcel item", "is_storable": True, "weight": 0.8}
    )
    env["stock.quant"]._update_available_quantity(
        product, warehouse.lot_stock_id, 100000
    )
    env.cr.commit()
    return warehouse, carrier, customer, product


def ready_pickings(env, warehouse, carrier, customer, product, count):
    customers = env.ref("stock.stock_location_customers")
    pickings = env["stock.picking"].create(
        [
            {
                "picking_type_id": warehouse.out_type_id.id,
                "partner_id": customer.id,
                "carrier_id": carrier.id,
                "location_id": warehouse.lot_stock_id.id,
                "location_dest_id": customers.id,
                "move_ids": [
                    (
                        0,
                        0,
                        {
                            "name": product.name,
                            "product_id": product.id,
                            "product_uom_qty": 2,
                            "product_uom": product.uom_id.id,
                            "location_id": warehouse.lot_stock_id.id,
                            "location_dest_id": customers.id,
                        },
                    )
                ],
            }
            for _n in range(count)
        ]
    )
    pickings.action_confirm()
    pickings.action_assign()
    pickings.move_ids.picked = True
    env.cr.commit()
    return pickings


def validate_each(env, pickings):
    """Seconds of each validation (button_validate and its commit); a
    validation that fails is rolled back and counted as failed."""
    times, failed = [], 0
    for picking in pickings:
        start = time.perf_counter()
        try:
            picking.button_validate()
            env.cr.commit()
        except Exception:  # noqa: BLE001 - the stock behaviour fails here
            env.cr.rollback()
            failed += 1
            continue
        finally:
            env.invalidate_all()
        times.append(time.perf_counter() - start)
    return times, failed


def set_platform(sim, state, delay):
    sim.clear_outage()
    sim.delay = delay if state == "slow" else 0.0
    if state == "down":
        sim.set_outage(503, count=None)


@contextmanager
def stock_behaviour(env):
    """Odoo's own flow with a synchronous provider: the label bought inside
    the validation (what ``stock_delivery``'s integrations do)."""
    from odoo.addons.connector_carrier.models.delivery_carrier import DeliveryCarrier
    from odoo.addons.connector_carrier.models.stock_picking import StockPicking
    from odoo.addons.connector_carrier.platforms.base import select_rate
    from odoo.addons.stock_delivery.models.stock_picking import (
        StockPicking as OdooPicking,
    )

    def send_shipping(self, pickings):
        platform = self.dsync_backend_id._carrier_platform()
        result = []
        for picking in pickings:
            label = env["dsync.carrier.label"].new(
                {"picking_id": picking.id, "carrier_id": self.id, "name": picking.name}
            )
            shipment = platform.create_shipment(self._dsync_carrier_request(label))
            rate = select_rate(shipment.rates, self._dsync_carrier_services())
            bought = platform.buy(shipment.id, rate.id)
            result.append(
                {"exact_price": rate.amount, "tracking_number": bought.tracking_code}
            )
        return result

    saved = (DeliveryCarrier.dsync_carrier_send_shipping, StockPicking.send_to_shipper)
    DeliveryCarrier.dsync_carrier_send_shipping = send_shipping
    StockPicking.send_to_shipper = OdooPicking.send_to_shipper
    try:
        yield
    finally:
        DeliveryCarrier.dsync_carrier_send_shipping, StockPicking.send_to_shipper = (
            saved
        )


def median_ms(values):
    return statistics.median(values) * 1000 if values else float("nan")


def run(env, args):
    from tests.simulators.easypost import EasyPostSimulator

    with EasyPostSimulator() as sim:
        context = setup(env, sim)
        # warm-up, not counted: caches, the first queued jobs
        validate_each(env, ready_pickings(env, *context, 3))
        ours = {state: [] for state in STATES}
        for _round in range(args.rounds):
            for state in STATES:
                pickings = ready_pickings(env, *context, args.count)
                set_platform(sim, state, args.delay)
                times, failed = validate_each(env, pickings)
                assert not failed, (
                    f"{failed} validations failed with the platform {state}"
                )
                ours[state] += times
        assert not sim.purchases, "the validations bought nothing themselves"
        base = {}
        with stock_behaviour(env):
            for state in STATES:
                pickings = ready_pickings(env, *context, args.baseline_count)
                set_platform(sim, state, args.delay)
                base[state] = validate_each(env, pickings)
        set_platform(sim, "up", 0)
        report(args, ours, base)


def report(args, ours, base):
    print(
        f"{args.rounds} rounds x {args.count} deliveries per platform state "
        f"(slow: every answer {args.delay:.1f} s late; down: 503); "
        f"stock behaviour: {args.baseline_count} deliveries per state"
    )
    print(
        f"{'platform':<10}{'this connector, ms/validation':>32}{'stock behaviour':>20}"
    )
    for state in STATES:
        times, failed = base[state]
        stock = f"{median_ms(times):.0f} ms" if times else "—"
        if failed:
            stock += f" ({failed} of {failed + len(times)} failed)"
        print(
            f"{state:<10}{median_ms(ours[state]):>20.1f} (p90 "
            f"{statistics.quantiles(ours[state], n=10)[-1] * 1000:.1f}){stock:>20}"
        )
    up = median_ms(ours["up"])
    for state in ("slow", "down"):
        print(
            f"ratio {state}/up (this connector, medians): "
            f"{median_ms(ours[state]) / up:.3f} (goal <= 1.1)"
        )
    if base["slow"][0]:
        print(
            f"the stock behaviour with the slow platform waits "
            f"{median_ms(base['slow'][0]) / up:.0f}x this connector's validation"
        )


def main():
    args = parse_args()
    import odoo
    from odoo.tools import config

    db = f"{args.template}_bench_validation"
    subprocess.run(["dropdb", "--if-exists", "--force", db], check=True)
    subprocess.run(["createdb", "-T", args.template, db], check=True)
    try:
        config.parse_config(["-c", args.config, "-d", db, "--log-level=warn"])
        registry = odoo.modules.registry.Registry(db)
        with registry.cursor() as cr:
            env = odoo.api.Environment(
                cr, odoo.SUPERUSER_ID, {"tracking_disable": True, "mail_notrack": True}
            )
            run(env, args)
    finally:
        odoo.sql_db.close_all()
        subprocess.run(["dropdb", "--if-exists", "--force", db], check=True)


if __name__ == "__main__":
    main()
