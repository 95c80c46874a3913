# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Shipment milestones (the core's record, written here as any connector
would) reach Shopify as fulfillment events, through the outbox."""

from datetime import datetime, timedelta

from . import test_outbound
from .test_outbound import ShopifyOutboundCase

T0 = datetime(2026, 11, 20, 8, 0, 0)


class TestFulfillmentEvents(ShopifyOutboundCase):
    # the fulfillment tests' helpers (not their tests)
    shopify_sale = test_outbound.TestFulfillmentExport.shopify_sale
    ship = test_outbound.TestFulfillmentExport.ship

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partner = cls.env["res.partner"].create({"name": "Jane Events"})
        cls.carrier = cls.env["delivery.carrier"].create(
            {
                "name": "Parcel Events",
                "delivery_type": "fixed",
                "product_id": cls.env["product.product"]
                .create({"name": "Shipping", "type": "service"})
                .id,
            }
        )

    def shipped(self, order_id, sku):
        item = self.product(sku)
        sale = self.shopify_sale(order_id, [(item, 1)])
        picking = self.ship(sale.picking_ids, {item: 1}, f"TRK-{order_id}")
        return picking

    def milestones(self, picking, *specs):
        return self.env["dsync.shipment.milestone"]._dsync_record(
            [
                {
                    "picking": picking,
                    "status": status,
                    "occurred_at": T0 + timedelta(hours=hours),
                    "detail": f"{status} scan",
                    "place": "CHARLOTTE, NC 28202, US",
                    "source": "carrier",
                    "external_key": f"{status}@{hours}",
                }
                for status, hours in specs
            ]
        )

    def events_of(self, order_id):
        (fulfillment,) = self.sim.fulfillments_of(order_id)
        return fulfillment.get("events", [])

    def test_milestones_become_fulfillment_events_once(self):
        picking = self.shipped(7101, "EVT-A")
        self.drain()  # the fulfillment is made
        self.milestones(
            picking, ("pre_transit", 0), ("in_transit", 2), ("in_transit", 3)
        )
        self.milestones(picking, ("out_for_delivery", 6), ("delivered", 8))
        self.drain()
        events = self.events_of(7101)
        self.assertEqual(
            [e["status"] for e in events],
            ["IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERED"],
        )
        self.assertEqual(events[0]["happenedAt"], "2026-11-20T10:00:00Z")
        self.assertEqual(events[0]["city"], "CHARLOTTE")
        self.assertEqual(events[0]["province"], "NC")
        self.assertEqual(events[0]["zip"], "28202")
        self.assertEqual(events[0]["country"], "US")
        self.assertEqual(events[-1]["message"], "delivered scan")
        messages = self.messages("fulfillment_events")
        self.assertEqual(set(messages.mapped("state")), {"sent"})
        # posted again (a redelivery): nothing sent twice
        self.env["dsync.backend"]._shopify_post_fulfillment_events(
            picking.dsync_milestone_ids.filtered("changed_status")
        )
        self.drain()
        self.assertEqual(len(self.events_of(7101)), 3)
        self.assertEqual(self.sim.calls["FulfillmentEventCreate"], 3)

    def test_events_wait_for_their_fulfillment(self):
        picking = self.shipped(7102, "EVT-B")
        self.milestones(picking, ("in_transit", 2))
        # the fulfillment is not made yet (its message is pending): the event waits
        fulfillment = self.messages("fulfillment_export", res_id=picking.id)
        fulfillment.next_attempt_at = T0 + timedelta(days=3650)
        self.drain()
        event = self.messages("fulfillment_events")
        self.assertEqual(event.state, "pending")
        self.assertIn("no Shopify fulfillment yet", event.last_error)
        (fulfillment | event).write({"next_attempt_at": False})
        self.env["queue.job"].search(
            [("state", "=", "pending"), ("channel", "=like", "root.dsync.shopify_%")]
        ).write({"eta": False})
        self.drain()
        self.assertEqual([e["status"] for e in self.events_of(7102)], ["IN_TRANSIT"])

    def test_unbound_or_unchanged_milestones_send_nothing(self):
        picking = self.shipped(7103, "EVT-C")
        self.drain()
        self.milestones(picking, ("in_transit", 2))
        stale = self.milestones(picking, ("pre_transit", 1))
        self.assertEqual(stale.state, "stale")
        unbound = self.env["stock.picking"].create(
            {
                "picking_type_id": self.warehouse.out_type_id.id,
                "partner_id": self.partner.id,
            }
        )
        self.milestones(unbound, ("in_transit", 2))
        self.drain()
        self.assertEqual(len(self.messages("fulfillment_events")), 1)
        self.assertEqual(len(self.events_of(7103)), 1)
