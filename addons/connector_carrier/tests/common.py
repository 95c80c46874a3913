# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A carrier backend talking to the EasyPost simulator (a real HTTP server),
a delivery method of its type, a customer in the US and stock to ship."""

from datetime import timedelta

from odoo import fields
from odoo.tests import common as odoo_common

from odoo.addons.distribution_sync_core.tests.common import run_jobs

from tests.simulators.easypost import DEFAULT_KEY, EasyPostSimulator

WEBHOOK_SECRET = "whsec-carrier-0123456789"


def keep_client_timeouts(cls, session, request, **kw):
    """Odoo's test cases raise every HTTP timeout under 10 s to 10 s; the
    simulator is on 127.0.0.1 and the tests of lost answers need the
    client's own timeout."""
    if request.url.startswith("http://127.0.0.1:"):
        return odoo_common._super_send(session, request, **kw)
    return odoo_common.BaseCase._request_handler.__func__(cls, session, request, **kw)


class CarrierSetup:
    """Mixed into a TransactionCase or an HttpCase."""

    label_format = "PDF"
    _request_handler = classmethod(keep_client_timeouts)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.sim = EasyPostSimulator().start()
        cls.addClassCleanup(cls.sim.stop)
        env = cls.env
        cls.backend = env["dsync.backend"].create(
            {
                "name": "EasyPost test",
                "backend_type": "carrier",
                "api_url": cls.sim.api_url,
                "inbound_rate_limit": 0,
                "request_timeout": 2,
                "carrier_environment": "test",
            }
        )
        cls.backend._dsync_set_secret("carrier_test_api_secret", DEFAULT_KEY)
        cls.backend._dsync_set_secret("webhook_secret", WEBHOOK_SECRET)
        us = env.ref("base.us")
        company = env.company
        company.partner_id.write(
            {
                "street": "388 Townsend St",
                "city": "San Francisco",
                "zip": "94107",
                "state_id": env.ref("base.state_us_5").id,
                "country_id": us.id,
            }
        )
        cls.warehouse = env["stock.warehouse"].search(
            [("company_id", "=", company.id)], limit=1
        )
        cls.warehouse.partner_id = company.partner_id
        cls.out_type = cls.warehouse.out_type_id
        cls.out_type.print_label = True
        cls.stock = cls.warehouse.lot_stock_id
        cls.customer = env["res.partner"].create(
            {
                "name": "Jane Carrier",
                "email": "jane.carrier@example.com",
                "street": "179 N Harbor Dr",
                "city": "Redondo Beach",
                "zip": "90277",
                "state_id": env.ref("base.state_us_5").id,
                "country_id": us.id,
            }
        )
        cls.carrier = env["delivery.carrier"].create(
            {
                "name": "Parcel Priority",
                "delivery_type": "dsync_carrier",
                "integration_level": "rate_and_ship",
                "product_id": env["product.product"]
                .create({"name": "Parcel Priority shipping", "type": "service"})
                .id,
                "dsync_backend_id": cls.backend.id,
                "dsync_services": "Priority",
                "dsync_label_format": cls.label_format,
            }
        )
        cls.product_a = cls._storable("CAR-A", 0.5)
        cls.product_b = cls._storable("CAR-B", 1.2)

    @classmethod
    def _storable(cls, sku, weight):
        product = cls.env["product.product"].create(
            {
                "name": f"Product {sku}",
                "default_code": sku,
                "is_storable": True,
                "weight": weight,
                "list_price": 25.0,
            }
        )
        cls.env["stock.quant"]._update_available_quantity(product, cls.stock, 1000)
        return product

    def setUp(self):
        super().setUp()
        self.sim.clear_outage()
        self.sim.bad_documents = False
        self.sim.reset_counters()

    # helpers --------------------------------------------------------------
    def delivery(self, lines=None, packages=None, partner=None, carrier=None):
        """A ready delivery; ``packages``: [[product, ...], ...] puts each
        product's move lines in one new package per list."""
        lines = lines or [(self.product_a, 2)]
        customers = self.env.ref("stock.stock_location_customers")
        picking = self.env["stock.picking"].create(
            {
                "picking_type_id": self.out_type.id,
                "partner_id": (partner or self.customer).id,
                "carrier_id": (carrier or self.carrier).id,
                "location_id": self.stock.id,
                "location_dest_id": customers.id,
                "move_ids": [
                    (
                        0,
                        0,
                        {
                            "name": product.name,
                            "product_id": product.id,
                            "product_uom_qty": quantity,
                            "product_uom": product.uom_id.id,
                            "location_id": self.stock.id,
                            "location_dest_id": customers.id,
                        },
                    )
                    for product, quantity in lines
                ],
            }
        )
        picking.action_confirm()
        picking.action_assign()
        for products in packages or []:
            package = self.env["stock.quant.package"].create({})
            picking.move_line_ids.filtered(
                lambda ml, ps=products: ml.product_id in ps
            ).result_package_id = package
        return picking

    def validate(self, picking, quantities=None):
        for move in picking.move_ids:
            if quantities is not None:
                move.quantity = quantities.get(move.product_id, 0)
            move.picked = bool(move.quantity)
        result = picking.button_validate()
        if isinstance(result, dict) and result.get("res_model"):
            wizard = (
                self.env[result["res_model"]]
                .with_context(**result["context"])
                .create({})
            )
            wizard.process()
        self.assertEqual(picking.state, "done")
        return picking

    def drain(self):
        return run_jobs(self.env, ignore_eta=False)

    def retry_now(self, messages=None):
        """Make the due retries of the labels flows due now (the test does
        not wait for the backoff) and run the jobs."""
        messages = messages or self.env["dsync.outbox"].search(
            [("backend_id", "=", self.backend.id), ("state", "=", "pending")]
        )
        messages.write({"next_attempt_at": False})
        self.backend.action_reset_circuit()
        self.env["queue.job"].search(
            [("state", "=", "pending"), ("channel", "=like", "root.dsync.carrier_%")]
        ).write({"eta": False})
        for flow in self.backend.flow_ids.filtered(lambda f: f.direction == "out"):
            flow._enqueue_drain()
        return self.drain()

    def label_messages(self, picking):
        return picking.dsync_label_ids.outbox_id

    def exceptions(self, category=None):
        domain = [("backend_id", "=", self.backend.id)]
        if category:
            domain.append(("category", "=", category))
        return self.env["dsync.exception"].search(domain)

    def ago(self, **delta):
        return fields.Datetime.now() - timedelta(**delta)
