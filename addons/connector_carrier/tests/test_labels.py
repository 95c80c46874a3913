# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Rates and labels against the EasyPost simulator over real HTTP: the
delivery is validated at once, its labels are bought by the labels flow's
job, once, whatever the platform does meanwhile."""

import base64
import json
import time

from odoo.tests import Form, HttpCase

from .common import CarrierSetup


class TestRates(CarrierSetup, HttpCase):
    def quotation(self):
        return self.env["sale.order"].create(
            {
                "partner_id": self.customer.id,
                "warehouse_id": self.warehouse.id,
                "order_line": [
                    (0, 0, {"product_id": self.product_a.id, "product_uom_qty": 3})
                ],
            }
        )

    def test_get_rate_on_a_quotation(self):
        order = self.quotation()
        result = self.carrier.rate_shipment(order)
        self.assertTrue(result["success"], result)
        self.assertAlmostEqual(result["carrier_price"], 7.42, places=2)
        # Odoo's own wizard, unchanged: the rate becomes the delivery line
        action = order.action_open_delivery_wizard()
        wizard = Form(self.env[action["res_model"]].with_context(**action["context"]))
        wizard.carrier_id = self.carrier
        wizard = wizard.save()
        wizard.update_price()  # "Get rate"
        wizard.button_confirm()
        line = order.order_line.filtered("is_delivery")
        self.assertAlmostEqual(line.price_unit, 7.42, places=2)
        self.assertEqual(self.sim.calls["create"], 2)
        self.assertFalse(self.sim.calls["buy"], "a rate buys nothing")

    def test_cheapest_of_services(self):
        self.carrier.write(
            {
                "dsync_service_choice": "cheapest",
                "dsync_services": "Priority, GroundAdvantage, Express",
            }
        )
        result = self.carrier.rate_shipment(self.quotation())
        self.assertAlmostEqual(result["carrier_price"], 6.07, places=2)
        self.carrier.write(
            {"dsync_service_choice": "service", "dsync_services": "Priority"}
        )

    def test_rate_errors_are_said_in_plain_words(self):
        self.customer.zip = "00000"
        result = self.carrier.rate_shipment(self.quotation())
        self.assertFalse(result["success"])
        self.assertIn("zip", result["error_message"])
        self.customer.zip = "90277"
        self.sim.set_outage(503, count=None)
        result = self.carrier.rate_shipment(self.quotation())
        self.assertFalse(result["success"])
        self.assertIn("not answering", result["error_message"])


class TestLabels(CarrierSetup, HttpCase):
    """An HttpCase: its test cursor is shared with the connection the label
    job records its platform shipment on (committed on its own in
    production)."""

    def test_label_bought_after_validation_with_its_document(self):
        picking = self.delivery()
        started = time.perf_counter()
        self.validate(picking)
        self.assertLess(time.perf_counter() - started, 30)
        self.assertEqual(picking.dsync_label_state, "pending")
        self.assertFalse(picking.carrier_tracking_ref)
        self.assertFalse(self.sim.requests, "validation does not call the platform")
        self.drain()
        label = picking.dsync_label_ids
        self.assertEqual(label.state, "bought")
        self.assertEqual(picking.dsync_label_state, "bought")
        self.assertEqual(picking.carrier_tracking_ref, label.tracking_code)
        self.assertEqual(label.service, "Priority")
        self.assertAlmostEqual(picking.carrier_price, 7.42, places=2)
        document = base64.b64decode(label.attachment_id.datas)
        self.assertTrue(document.startswith(b"%PDF-"))
        self.assertEqual(label.attachment_id.res_id, picking.id)
        self.assertIn(picking.name, label.attachment_id.name)
        self.assertEqual(sum(self.sim.purchases.values()), 1)
        # the tracking link is stored, no call when it is read
        calls = len(self.sim.requests)
        self.assertEqual(picking.carrier_tracking_url, label.public_url)
        self.assertEqual(len(self.sim.requests), calls)
        # the label is a milestone; OCA delivery_state: recorded at the carrier
        self.assertEqual(picking.dsync_shipment_status, "pre_transit")
        self.assertEqual(picking.delivery_state, "shipping_recorded_in_carrier")
        self.assertEqual(self.label_messages(picking).state, "sent")

    def test_two_packages_two_labels(self):
        picking = self.delivery(
            [(self.product_a, 2), (self.product_b, 1)],
            packages=[[self.product_a], [self.product_b]],
        )
        self.validate(picking)
        self.drain()
        labels = picking.dsync_label_ids.sorted("id")
        self.assertEqual(len(labels), 2)
        self.assertEqual(set(labels.mapped("state")), {"bought"})
        self.assertEqual(labels.package_id, picking.move_line_ids.result_package_id)
        codes = labels.mapped("tracking_code")
        self.assertEqual(len(set(codes)), 2)
        self.assertEqual(picking.carrier_tracking_ref, ",".join(codes))
        for label in labels:
            self.assertIn(label.package_id.name, label.attachment_id.name)
            self.assertEqual(label.name, label.package_id.name)
        links = json.loads(picking.carrier_tracking_url)
        self.assertEqual([name for name, _url in links], labels.mapped("name"))
        self.assertEqual(sum(self.sim.purchases.values()), 2)
        # parcel weights: each package its own
        weights = sorted(
            self.sim.shipments[label.shipment_ref]["parcel"]["weight"]
            for label in labels
        )
        self.assertEqual(len(weights), 2)
        self.assertLess(weights[0], weights[1])

    def test_zpl_label(self):
        self.carrier.dsync_label_format = "ZPL"
        try:
            picking = self.delivery()
            self.validate(picking)
            self.drain()
        finally:
            self.carrier.dsync_label_format = "PDF"
        label = picking.dsync_label_ids
        document = base64.b64decode(label.attachment_id.datas).decode()
        self.assertTrue(document.startswith("^XA"))
        self.assertIn(label.tracking_code, document)
        self.assertTrue(label.attachment_id.name.endswith(".zpl"))

    def test_platform_down_during_validation_then_bought_once(self):
        self.sim.set_outage(503, count=None)
        picking = self.delivery()
        self.validate(picking)
        self.assertEqual(picking.state, "done")
        self.assertEqual(picking.dsync_label_state, "pending")
        self.drain()
        message = self.label_messages(picking)
        self.assertEqual(message.state, "pending")
        self.assertEqual(message.attempts, 1)
        self.assertTrue(message.next_attempt_at)
        self.assertEqual(picking.dsync_label_state, "pending")
        self.assertFalse(self.sim.purchases)
        self.assertEqual(self.backend.consecutive_failures, 1)
        self.sim.clear_outage()
        self.retry_now()
        self.assertEqual(picking.dsync_label_state, "bought")
        self.assertEqual(sum(self.sim.purchases.values()), 1)
        self.assertEqual(message.state, "sent")

    def test_timeout_after_the_purchase_buys_no_second_label(self):
        self.backend.request_timeout = 1
        self.sim.hang_next_buys(1, seconds=2.5)
        try:
            picking = self.delivery()
            self.validate(picking)
            self.drain()
            label = picking.dsync_label_ids
            self.assertEqual(label.state, "pending", "the answer was lost")
            self.assertEqual(sum(self.sim.purchases.values()), 1, "but it was bought")
            recorded = self.env["dsync.carrier.shipment"].search(
                [("label_id", "=", label.id)]
            )
            self.assertEqual(len(recorded), 1, "the shipment was recorded before buy")
            self.retry_now()
        finally:
            self.backend.request_timeout = 2
        self.assertEqual(label.state, "bought")
        self.assertEqual(label.shipment_ref, recorded.shipment_ref)
        self.assertEqual(sum(self.sim.purchases.values()), 1)
        self.assertEqual(self.sim.calls["buy"], 1, "read back, not bought again")
        self.assertEqual(self.sim.calls["create"], 1, "no second shipment")
        self.assertTrue(label.attachment_id)

    def test_rate_limited_then_bought(self):
        self.sim.set_outage(429, count=1, retry_after=7)
        picking = self.delivery()
        self.validate(picking)
        self.drain()
        message = self.label_messages(picking)
        self.assertEqual(message.state, "pending")
        self.assertIn("rate limit", message.last_error)
        waited = (message.next_attempt_at - message.write_date).total_seconds()
        self.assertGreaterEqual(waited, 6, "Retry-After is followed")
        self.retry_now()
        self.assertEqual(picking.dsync_label_state, "bought")
        self.assertEqual(self.sim.status_429, 1)

    def test_address_error_names_the_field(self):
        self.customer.zip = "00000"
        try:
            picking = self.delivery()
            self.validate(picking)
            self.drain()
            label = picking.dsync_label_ids
            self.assertEqual(label.state, "failed")
            self.assertEqual(picking.dsync_label_state, "failed")
            exception = self.exceptions("invalid_address")
            self.assertEqual(len(exception), 1)
            self.assertEqual(exception.team, "customer_service")
            self.assertIn("zip: ZIP code not found", exception.message)
            self.assertIn(picking.name, exception.message)
            self.assertEqual(
                (exception.res_model, exception.res_id), ("stock.picking", picking.id)
            )
            self.assertFalse(self.sim.purchases)
            # fixed, retried from the exception
            self.customer.zip = "90277"
            exception.action_retry()
            self.drain()
        finally:
            self.customer.zip = "90277"
        self.assertEqual(label.state, "bought")
        self.assertEqual(exception.state, "resolved")
        self.assertEqual(sum(self.sim.purchases.values()), 1)

    def test_backorder_never_inherits_the_tracking_number(self):
        picking = self.delivery([(self.product_a, 4)])
        self.validate(picking, {self.product_a: 1})
        backorder = picking.backorder_ids
        self.assertTrue(backorder)
        self.drain()
        self.assertTrue(picking.carrier_tracking_ref)
        self.assertFalse(backorder.carrier_tracking_ref)
        self.assertFalse(backorder.dsync_label_ids)
        self.validate(backorder)
        self.drain()
        self.assertTrue(backorder.carrier_tracking_ref)
        self.assertNotEqual(
            backorder.carrier_tracking_ref, picking.carrier_tracking_ref
        )

    def test_label_document_that_is_not_a_pdf(self):
        self.sim.bad_documents = True
        picking = self.delivery()
        self.validate(picking)
        self.drain()
        label = picking.dsync_label_ids
        self.assertEqual(label.state, "bought", "postage was bought: kept")
        self.assertTrue(label.tracking_code)
        self.assertFalse(label.attachment_id)
        exception = self.exceptions("platform_rejected")
        self.assertEqual(len(exception), 1)
        self.assertIn("not a PDF", exception.message)
        self.sim.bad_documents = False
        exception.action_retry()
        self.drain()
        self.assertTrue(label.attachment_id)
        self.assertEqual(
            sum(self.sim.purchases.values()), 1, "fetched, not bought again"
        )
        self.assertEqual(exception.state, "resolved")

    def test_label_overdue_opens_one_exception(self):
        self.sim.set_outage(503, count=None)
        picking = self.delivery()
        self.validate(picking)
        self.drain()
        label = picking.dsync_label_ids
        Backend = self.env["dsync.backend"]
        Backend._cron_carrier_labels_overdue()
        self.assertFalse(self.exceptions("label_pending"), "not overdue yet")
        label.pending_since = self.ago(hours=2)
        Backend._cron_carrier_labels_overdue()
        Backend._cron_carrier_labels_overdue()
        exception = self.exceptions("label_pending")
        self.assertEqual(len(exception), 1)
        self.assertEqual(exception.team, "warehouse")
        self.assertIn(label.name, exception.message)
        self.sim.clear_outage()
        self.retry_now()
        self.assertEqual(label.state, "bought")
        self.assertEqual(exception.state, "resolved")

    def test_cancel_a_label_refund_status(self):
        picking = self.delivery()
        self.validate(picking)
        self.drain()
        label = picking.dsync_label_ids
        picking.cancel_shipment()
        self.assertFalse(picking.carrier_tracking_ref)
        self.assertEqual(label.state, "refund_requested")
        self.assertEqual(picking.delivery_state, "canceled_shipment")
        self.drain()
        self.assertEqual(label.state, "refund_submitted")
        self.assertEqual(label.refund_status, "submitted")
        self.assertEqual(self.sim.calls["refund"], 1)
        self.assertEqual(picking.dsync_shipment_status, "cancelled")
        # the carrier settles it: refund.successful
        event = self.sim.settle_refund(label.shipment_ref, "refunded")
        self.backend._carrier_process_refund(self._event(event))
        self.assertEqual(label.state, "refunded")

    def test_cancel_before_purchase_buys_nothing(self):
        self.sim.set_outage(503, count=None)
        picking = self.delivery()
        self.validate(picking)
        self.drain()
        picking.dsync_label_ids.action_cancel_label()
        self.sim.clear_outage()
        self.retry_now()
        self.assertEqual(picking.dsync_label_ids.state, "cancelled")
        self.assertFalse(self.sim.purchases)

    def test_a_warehouse_user_validates_and_cancels(self):
        user = self.env["res.users"].create(
            {
                "name": "Warehouse worker",
                "login": "carrier-warehouse-worker",
                "email": "worker@example.com",
                "groups_id": [(6, 0, [self.env.ref("stock.group_stock_user").id])],
            }
        )
        picking = self.delivery().with_user(user)
        self.validate(picking)
        self.assertEqual(picking.dsync_label_state, "pending")
        self.drain()
        self.assertEqual(picking.dsync_label_state, "bought")
        picking.cancel_shipment()
        self.assertEqual(picking.sudo().dsync_label_ids.state, "refund_requested")

    def test_send_to_shipper_twice_queues_once(self):
        picking = self.delivery()
        self.validate(picking)
        picking.send_to_shipper()
        self.assertEqual(len(picking.dsync_label_ids), 1)
        self.drain()
        self.assertEqual(sum(self.sim.purchases.values()), 1)

    def _event(self, doc):
        raw = json.dumps(doc)
        return self.env["dsync.event"].create(
            {
                "backend_id": self.backend.id,
                "company_id": self.backend.company_id.id,
                "topic": doc["description"],
                "payload": raw,
                "payload_size": len(raw),
                "dedup_key": doc["id"],
            }
        )
