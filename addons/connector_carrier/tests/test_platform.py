# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The EasyPost adapter against the simulator, and the webhook signature
and event checks (plain Python: no ORM)."""

import json
import unicodedata

from odoo.tests import BaseCase

from odoo.addons.distribution_sync_core.errors import TransientError
from odoo.addons.distribution_sync_core.intake import InvalidDelivery

from tests.simulators.easypost import DEFAULT_KEY, EasyPostSimulator, signature

from ..platforms import base, easypost, make_platform
from .common import keep_client_timeouts

FROM = base.Address(
    name="Shop",
    street1="388 Townsend St",
    city="San Francisco",
    state="CA",
    zip="94107",
    country="US",
)
TO = base.Address(
    name="Jane",
    street1="179 N Harbor Dr",
    city="Redondo Beach",
    state="CA",
    zip="90277",
    country="US",
)


class TestEasyPostPlatform(BaseCase):
    _request_handler = classmethod(keep_client_timeouts)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sim = EasyPostSimulator().start()
        cls.addClassCleanup(cls.sim.stop)

    def setUp(self):
        super().setUp()
        self.sim.clear_outage()
        self.platform = make_platform(
            "easypost", self.sim.api_url, DEFAULT_KEY, timeout=1
        )

    def request(self, **kw):
        return base.ShipmentRequest(
            "WH/OUT/00001", FROM, kw.pop("to", TO), base.Parcel(24.0), **kw
        )

    def test_shipment_rates_buy_document_refund(self):
        shipment = self.platform.create_shipment(self.request())
        self.assertTrue(shipment.id.startswith("shp_"))
        self.assertFalse(shipment.bought)
        rate = base.select_rate(shipment.rates, ["Priority"])
        self.assertEqual((rate.carrier, rate.amount), ("USPS", 7.42))
        bought = self.platform.buy(shipment.id, rate.id, insurance="50.00")
        self.assertTrue(bought.bought)
        self.assertTrue(bought.tracker_id.startswith("trk_"))
        self.assertEqual(bought.selected_rate.id, rate.id)
        document = self.platform.fetch_document(bought.label_urls["PDF"])
        base.check_document(document, "PDF")
        self.assertEqual(self.sim.shipments[shipment.id]["insurance"], "50.00")
        with self.assertRaises(base.AlreadyBought):
            self.platform.buy(shipment.id, rate.id)
        self.assertEqual(self.platform.refund(shipment.id), "submitted")
        sent = self.sim.shipments[shipment.id]
        self.assertEqual(sent["parcel"]["weight"], 24.0)
        self.assertEqual(sent["options"]["label_format"], "PDF")

    def test_address_error_names_the_fields(self):
        bad = base.Address(name="Jane", street1="1 Nowhere", zip="99999", country="US")
        with self.assertRaises(base.AddressError) as caught:
            self.platform.create_shipment(self.request(to=bad))
        self.assertEqual(
            caught.exception.fields, [("street1", "House number is missing")]
        )
        self.assertEqual(caught.exception.category, "invalid_address")

    def test_transient_answers(self):
        self.sim.set_outage(429, count=1, retry_after=9)
        with self.assertRaises(TransientError) as caught:
            self.platform.create_shipment(self.request())
        self.assertEqual(caught.exception.retry_after, 9)
        self.sim.set_outage(503, count=1)
        with self.assertRaises(TransientError):
            self.platform.create_shipment(self.request())
        shipment = self.platform.create_shipment(self.request())
        self.sim.hang_next_buys(1, seconds=2)
        with self.assertRaises(base.PlatformTimeout):
            self.platform.buy(shipment.id, shipment.rates[0].id)
        self.assertTrue(self.platform.get_shipment(shipment.id).bought)

    def test_wrong_key(self):
        platform = make_platform("easypost", self.sim.api_url, "EZTK_wrong")
        with self.assertRaises(base.PlatformAuthError):
            platform.create_shipment(self.request())

    def test_select_rate(self):
        rates = [
            base.Rate("r1", "USPS", "Priority", 7.42, "USD"),
            base.Rate("r2", "USPS", "GroundAdvantage", 6.07, "USD"),
            base.Rate("r3", "UPS", "Ground", 9.90, "USD"),
        ]
        self.assertEqual(base.select_rate(rates, ["Ground"]).id, "r3")
        self.assertEqual(base.select_rate(rates, [], cheapest=True).id, "r2")
        self.assertEqual(
            base.select_rate(rates, ["Priority", "Ground"], cheapest=True).id, "r1"
        )
        self.assertEqual(base.select_rate(rates, [], carrier="UPS").id, "r3")
        self.assertIsNone(base.select_rate(rates, ["Overnight"]))

    def test_documents_are_checked(self):
        base.check_document(b"%PDF-1.4\n...\n%%EOF\n", "PDF")
        base.check_document(b"^XA^FDx^FS^XZ", "ZPL")
        for content, fmt in (
            (b"<html>oops</html>", "PDF"),
            (b"", "PDF"),
            (b"%PDF-1.4 truncated", "PDF"),
            (b"\xff\xfe^XA", "ZPL"),
            (b"hello", "ZPL"),
        ):
            with self.assertRaises(base.LabelDocumentError):
                base.check_document(content, fmt)


class TestEasyPostWebhooks(BaseCase):
    def event(self, **overrides):
        doc = {
            "object": "Event",
            "id": "evt_1",
            "description": "tracker.updated",
            "created_at": "2024-08-02T19:26:52.000Z",
            "result": {
                "object": "Tracker",
                "id": "trk_1",
                "tracking_code": "9400100000000000001",
                "status": "in_transit",
                "status_detail": "arrived_at_facility",
                "updated_at": "2024-08-02T19:26:51Z",
                "signed_by": None,
                "carrier": "FedEx",
                "tracking_details": [
                    {
                        "object": "TrackingDetail",
                        "message": "Picked up",
                        "status": "in_transit",
                        "status_detail": "arrived_at_facility",
                        "datetime": "2024-07-31T19:27:00Z",
                        "tracking_location": {
                            "object": "TrackingLocation",
                            "city": "ORLANDO",
                            "state": "FL",
                            "country": "US",
                            "zip": "32809",
                        },
                    }
                ],
            },
        }
        doc.update(overrides)
        return doc

    def test_signature_with_the_secret_normalised_to_nfkd(self):
        raw = json.dumps(self.event(), separators=(",", ":")).encode()
        composed = "s\u00e9cret"
        decomposed = unicodedata.normalize("NFKD", composed)
        self.assertNotEqual(composed, decomposed)
        header = signature(decomposed, raw)
        self.assertTrue(header.startswith("hmac-sha256-hex="))
        self.assertTrue(easypost.verify_signature(composed, raw, header))
        self.assertTrue(easypost.verify_signature(decomposed, raw, header))
        self.assertFalse(easypost.verify_signature("secret", raw, header))
        self.assertFalse(easypost.verify_signature(composed, raw + b" ", header))
        self.assertFalse(easypost.verify_signature(composed, raw, header.upper()))
        self.assertFalse(easypost.verify_signature(composed, raw, None))
        self.assertFalse(easypost.verify_signature("", raw, header))

    def test_event_shapes(self):
        topics = (
            easypost.TRACKER_TOPICS + easypost.ACCOUNT_TOPICS + easypost.REFUND_TOPICS
        )
        event_id, topic, stamp = easypost.describe_event(self.event(), topics)
        self.assertEqual((event_id, topic), ("evt_1", "tracker.updated"))
        self.assertEqual(str(stamp), "2024-08-02 19:26:51")
        update = easypost.parse_tracker(self.event()["result"])
        self.assertEqual(update.details[0].place, "ORLANDO, FL 32809, US")
        self.assertEqual(update.details[0].status, "in_transit")
        # an account event: any result object
        describe = easypost.describe_event
        self.assertEqual(
            describe(
                self.event(description="batch.updated", result={"object": "Batch"}),
                topics,
            )[1],
            "batch.updated",
        )
        bad = (
            self.event(object="Tracker"),
            self.event(description="tracker.deleted"),
            self.event(result="x"),
            self.event(result={"object": "Batch"}),
            self.event(result=dict(self.event()["result"], id=None)),
            self.event(result=dict(self.event()["result"], tracking_details="x")),
            self.event(
                result=dict(self.event()["result"], tracking_details=[{"status": "x"}])
            ),
            self.event(description="refund.successful", result={"object": "Refund"}),
        )
        for doc in bad:
            with self.assertRaises(InvalidDelivery):
                describe(doc, topics)

    def test_statuses(self):
        self.assertEqual(easypost.canonical_status("error"), "unknown")
        self.assertEqual(easypost.canonical_status("failure"), "failure")
        self.assertEqual(
            easypost.canonical_status("in_transit", "failed_attempt"),
            "attempted_delivery",
        )
        self.assertEqual(easypost.canonical_status("weird"), "unknown")
