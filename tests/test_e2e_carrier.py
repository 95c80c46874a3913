"""End to end: a Shopify order shipped with a carrier platform's delivery
method. Validation commits at once while EasyPost is down; the label is
bought once when it is back; Shopify gets the fulfillment, its tracking
number, then the parcel's milestones as fulfillment events, from EasyPost's
signed webhooks delivered out of order."""

from odoo.tests import HttpCase, tagged

from odoo.addons.connector_carrier.tests.common import WEBHOOK_SECRET, CarrierSetup
from odoo.addons.distribution_sync_core.intake import rate_limiter
from odoo.addons.distribution_sync_core.tests.common import run_jobs

from tests.simulators.shopify import DEFAULT_TOKEN, ShopifySimulator


@tagged("post_install", "-at_install")
class TestCarrierToShopify(CarrierSetup, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.shop = ShopifySimulator().start()
        cls.addClassCleanup(cls.shop.stop)
        cls.location_gid = cls.shop.add_location("Main warehouse")
        cls.shopify = cls.env["dsync.backend"].create(
            {
                "name": "Shopify e2e carrier",
                "backend_type": "shopify",
                "api_url": cls.shop.url,
                "inbound_rate_limit": 0,
            }
        )
        cls.shopify._dsync_set_secret("api_secret", DEFAULT_TOKEN)
        cls.env["dsync.value.map"].create(
            {
                "backend_id": cls.shopify.id,
                "map_type": "location",
                "external_code": cls.location_gid,
                "target_ref": f"stock.warehouse,{cls.warehouse.id}",
            }
        )

    def setUp(self):
        super().setUp()
        rate_limiter.reset()

    def shopify_sale(self, order_id, product, quantity):
        sale = self.env["sale.order"].create(
            {
                "partner_id": self.customer.id,
                "warehouse_id": self.warehouse.id,
                "order_line": [
                    (0, 0, {"product_id": product.id, "product_uom_qty": quantity})
                ],
            }
        )
        line_id = order_id * 100
        self.shop.add_variant(product.default_code)
        self.shop.add_order(
            {
                "id": order_id,
                "name": f"#{order_id}",
                "line_items": [
                    {"id": line_id, "sku": product.default_code, "quantity": quantity}
                ],
            },
            location_gid=self.location_gid,
        )
        Binding = self.env["dsync.binding"]
        Binding._bind(self.shopify, sale, str(order_id))
        Binding._bind(self.shopify, sale.order_line, str(line_id))
        sale.action_confirm()
        sale.picking_ids.carrier_id = self.carrier
        return sale

    def post(self, event):
        self.env.flush_all()
        url = self.base_url() + self.backend._carrier_webhook_path()
        return self.sim.deliver(url, WEBHOOK_SECRET, event, session=self.opener)

    def test_outage_label_once_then_milestones_reach_shopify(self):
        sale = self.shopify_sale(8001, self.product_a, 2)
        picking = sale.picking_ids
        self.sim.set_outage(503, count=None)
        self.validate(picking)
        self.assertEqual(picking.dsync_label_state, "pending")
        self.drain()
        # Shopify has its fulfillment already; the label waits for EasyPost
        (fulfillment,) = self.shop.fulfillments_of(8001)
        self.assertFalse(fulfillment["trackingInfo"][0]["number"])
        self.assertEqual(picking.dsync_label_state, "pending")
        self.sim.clear_outage()
        self.retry_now()
        label = picking.dsync_label_ids
        self.assertEqual(label.state, "bought")
        self.assertEqual(sum(self.sim.purchases.values()), 1)
        # the tracking number reached Shopify's fulfillment
        self.retry_now()
        (fulfillment,) = self.shop.fulfillments_of(8001)
        self.assertEqual(fulfillment["trackingInfo"][0]["number"], label.tracking_code)
        # EasyPost's webhooks, shuffled and one duplicated
        tracker = label.tracker_ref
        events = [
            self.sim.advance(tracker, "in_transit", "Accepted at origin"),
            self.sim.advance(tracker, "out_for_delivery", "On the van"),
            self.sim.advance(tracker, "delivered", "Left at door", signed_by="J. C."),
        ]
        for event in (events[1], events[0], events[2], events[1]):
            self.assertIn(self.post(event).status_code, (200, 202))
        run_jobs(self.env, ignore_eta=False)
        self.retry_now()
        self.assertEqual(picking.dsync_shipment_status, "delivered")
        self.assertEqual(picking.dsync_signed_by, "J. C.")
        (fulfillment,) = self.shop.fulfillments_of(8001)
        self.assertEqual(
            [e["status"] for e in fulfillment.get("events", [])],
            ["IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERED"],
        )
        self.assertEqual(sum(self.sim.purchases.values()), 1)
