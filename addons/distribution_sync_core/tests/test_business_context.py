# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The business context contract (reference, customer, amount, SKUs, Odoo
record) on events and exceptions; a person's retry and its answer; the
security exception of refused deliveries."""

from contextlib import contextmanager
from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.exceptions import UserError, ValidationError
from odoo.tests import Form
from odoo.tools import mute_logger

from ..errors import BusinessError
from ..models.dsync_exception import SECURITY_CURSOR
from .common import DsyncCase, run_jobs


def order_context(backend, event, data):
    """A connector's context hook: what the payload says, cheaply."""
    return {
        "ref": data.get("number"),
        "partner_name": data.get("customer"),
        "amount": data.get("total"),
        "currency": data.get("currency"),
        "skus": [line["sku"] for line in data.get("lines", [])],
    }


def create_partner(backend, event):
    data = event._dsync_data()
    return backend.env["res.partner"].create({"name": data["customer"]})


def unknown_sku(backend, event):
    raise BusinessError(
        "unknown_product",
        "SKU B-2 unknown",
        kind_key="sku:B-2",
        context={"skus": ["B-2"]},
        fix={"products": [{"sku": "B-2", "name": "Bolt", "price": "2.50"}]},
    )


ORDER = {
    "number": "#1001",
    "customer": "Ada Lovelace",
    "total": "12.50",
    "currency": "EUR",
    "lines": [{"sku": "A-1"}, {"sku": "B-2"}, {"sku": "A-1"}],
}


class TestBusinessContext(DsyncCase):
    @contextmanager
    def context_hook(self, func=order_context):
        def method(backend, event, data):
            return func(backend, event, data)

        with patch.object(self.Backend, "_generic_event_context", method, create=True):
            yield

    def test_context_filled_before_processing_and_kept_on_failure(self):
        event = self.make_event("order", ORDER)
        with self.context_hook(), self.processor("order", unknown_sku):
            event._dsync_enqueue()
            run_jobs(self.env)
        self.assertEqual(event.state, "failed")
        self.assertEqual(event.doc_ref, "#1001")
        self.assertEqual(event.partner_name, "Ada Lovelace")
        self.assertEqual(event.amount, 12.5)
        self.assertEqual(event.currency_id, self.env.ref("base.EUR"))
        self.assertEqual(event.skus, "A-1, B-2", "each SKU once, in order")
        self.assertTrue(event.context_filled)
        self.assertEqual(event.display_name, "order #1001")
        exc = event.exception_ids
        # the exception takes the event's context, then the error's own
        self.assertEqual(
            (exc.doc_ref, exc.partner_name, exc.amount, exc.currency_id.name),
            ("#1001", "Ada Lovelace", 12.5, "EUR"),
        )
        self.assertEqual(exc.skus, "B-2", "the unknown SKU, not the whole order")
        self.assertEqual(exc.name, "#1001 · Unknown product")
        self.assertEqual(exc.problem, "Unknown product")
        self.assertEqual(exc.fix_kind, "product")
        self.assertEqual(exc.fix_data["products"][0]["name"], "Bolt")
        self.assertIn("Create the product", exc.next_step)
        self.assertTrue(exc.last_seen_at)

    def test_searchable_by_reference_customer_and_sku(self):
        with self.context_hook(), self.processor("order", unknown_sku):
            event = self.make_event("order", ORDER)
            other = self.make_event(
                "order", dict(ORDER, number="#1002", customer="Bob")
            )
            (event | other)._dsync_enqueue()
            run_jobs(self.env)
        Event, Exception = self.env["dsync.event"], self.env["dsync.exception"]
        mine = [("backend_id", "=", self.backend.id)]
        self.assertEqual(Event.search(mine + [("doc_ref", "ilike", "1001")]), event)
        self.assertEqual(
            Event.search(mine + [("partner_name", "ilike", "lovelace")]), event
        )
        self.assertEqual(len(Event.search(mine + [("skus", "ilike", "B-2")])), 2)
        self.assertEqual(
            Exception.search(mine + [("doc_ref", "ilike", "1002")]),
            other.exception_ids,
        )
        self.assertEqual(
            Exception.search(mine + Exception._dsync_context_search_domain("lovelace")),
            event.exception_ids,
        )
        self.assertEqual(Event.name_search("#1001", args=mine)[0][0], event.id)

    def test_result_record_fills_the_rest_and_links_the_exception(self):
        event = self.make_event("order", ORDER)
        with self.context_hook(), self.processor("order", unknown_sku):
            event._dsync_enqueue()
            run_jobs(self.env)
        exc = event.exception_ids
        with self.context_hook(), self.processor("order", create_partner):
            result = exc.action_retry()
        partner = self.env["res.partner"].search([("name", "=", "Ada Lovelace")])
        self.assertEqual(event.state, "done")
        self.assertEqual((event.res_model, event.res_id), ("res.partner", partner.id))
        self.assertEqual(event.record_name, "Ada Lovelace")
        self.assertEqual(event.doc_ref, "#1001", "the channel's words are kept")
        # the resolved exception links to the record it produced
        self.assertEqual(exc.state, "resolved")
        self.assertEqual((exc.res_model, exc.res_id), ("res.partner", partner.id))
        self.assertEqual(exc.record_name, "Ada Lovelace")
        # and the person who retried is told, and taken to it
        self.assertEqual(result["tag"], "display_notification")
        self.assertEqual(result["params"]["type"], "success")
        self.assertIn("Ada Lovelace", result["params"]["message"])
        self.assertEqual(
            (result["params"]["next"]["res_model"], result["params"]["next"]["res_id"]),
            ("res.partner", partner.id),
        )

    def test_retry_that_fails_again_says_why(self):
        event = self.make_event("order", ORDER)
        with self.context_hook(), self.processor("order", unknown_sku):
            event._dsync_enqueue()
            run_jobs(self.env)
            exc = event.exception_ids
            result = exc.action_retry()
        self.assertEqual(result["params"]["type"], "danger")
        self.assertIn("SKU B-2 unknown", result["params"]["message"])
        self.assertEqual(result["params"]["next"]["tag"], "soft_reload")
        self.assertEqual(exc.occurrences, 2)
        self.assertEqual(exc.state, "in_progress")

    def test_another_problem_supersedes_the_first(self):
        event = self.make_event("order", ORDER)
        with self.context_hook(), self.processor("order", unknown_sku):
            event._dsync_enqueue()
            run_jobs(self.env)
        first = event.exception_ids

        def mapping_missing(backend, event):
            backend.env["dsync.value.map"]._lookup(backend, "tax_code", "VAT 21")

        with self.processor("order", mapping_missing):
            first.action_retry()
        second = event.exception_ids - first
        self.assertEqual(first.state, "resolved", "its product problem is behind it")
        self.assertEqual(second.category, "missing_mapping")
        self.assertEqual(second.name, "#1001 · Missing mapping: Tax code VAT 21")
        self.assertEqual(second.fix_kind, "mapping")
        self.assertEqual(second._dsync_mapping_key(), ("tax_code", "VAT 21"))
        action = second.action_open_mapping()
        self.assertEqual(action["res_model"], "dsync.value.map")
        self.assertEqual(action["context"]["default_external_code"], "VAT 21")
        self.assertEqual(action["context"]["default_map_type"], "tax_code")

    def test_retry_all_of_a_kind_runs_now_and_counts(self):
        events = self.make_event("order", ORDER) | self.make_event(
            "order", dict(ORDER, number="#1002")
        )
        with self.context_hook(), self.processor("order", unknown_sku):
            events._dsync_enqueue()
            run_jobs(self.env)
        exceptions = events.exception_ids
        self.assertEqual(exceptions.mapped("same_kind_count"), [2, 2])
        with self.processor("order", create_partner):
            result = exceptions[0].action_retry_same_kind()
        self.assertEqual(set(events.mapped("state")), {"done"})
        self.assertEqual(set(exceptions.mapped("state")), {"resolved"})
        self.assertIn("2 done", result["params"]["message"])
        self.assertFalse(run_jobs(self.env), "nothing left for the job runner")

    def test_context_hook_failure_never_fails_the_event(self):
        def broken(backend, event, data):
            raise KeyError("total")

        event = self.make_event("order", ORDER)
        with (
            self.context_hook(broken),
            self.processor("order", create_partner),
            mute_logger("odoo.addons.distribution_sync_core.models.dsync_event"),
        ):
            event._dsync_enqueue()
            run_jobs(self.env)
        self.assertEqual(event.state, "done")
        self.assertTrue(event.context_filled)
        self.assertFalse(event.doc_ref)
        self.assertEqual(event.partner_name, "Ada Lovelace", "from the result record")

    def test_rejected_deliveries_get_no_context(self):
        """Nobody vouched for a rejected body: it names no customer."""
        event = self.make_event(
            "order", ORDER, state="rejected", dedup_key=False, http_status=401
        )
        with self.context_hook():
            event._dsync_fill_context()
        self.assertFalse(event.doc_ref or event.partner_name)

    def test_masking_the_payload_masks_the_customer_name(self):
        event = self.make_event("order", ORDER)
        with self.context_hook(), self.processor("order", unknown_sku):
            event._dsync_enqueue()
            run_jobs(self.env)
        self.env["dsync.event"]._dsync_mask_before(
            self.backend, fields.Datetime.now() + timedelta(seconds=1)
        )
        self.assertEqual(event.partner_name, "***")
        self.assertEqual(event.exception_ids.partner_name, "***")
        self.assertEqual(event.doc_ref, "#1001", "the order number is no personal data")

    def test_purging_the_payload_masks_the_customer_name(self):
        event = self.make_event("order", ORDER)
        with self.context_hook():
            event._dsync_fill_context()
        self.env["dsync.event"]._dsync_purge_before(
            self.backend, fields.Datetime.now() + timedelta(seconds=1)
        )
        self.assertTrue(event.payload_purged)
        self.assertEqual(event.partner_name, "***")

    def test_unknown_context_keys_are_reported(self):
        def typo(backend, event, data):
            return {"ref": "#9", "sku": "A-1"}

        event = self.make_event("order", ORDER)
        with (
            self.context_hook(typo),
            self.assertLogs(
                "odoo.addons.distribution_sync_core.models.dsync_business_context",
                "WARNING",
            ),
        ):
            event._dsync_fill_context()
        self.assertEqual(event.doc_ref, "#9")

    def test_event_retry_button_processes_now(self):
        event = self.make_event("order", ORDER)
        with self.context_hook(), self.processor("order", unknown_sku):
            event._dsync_enqueue()
            run_jobs(self.env)
        with self.processor("order", create_partner):
            result = event.action_retry()
        self.assertEqual(event.state, "done")
        self.assertEqual(result["params"]["next"]["res_model"], "res.partner")
        with self.assertRaises(UserError):
            event.action_retry()


class TestSecurityException(DsyncCase):
    def refuse(self, backend=None, status=401, count=1):
        return self.env["dsync.event"].browse(
            [
                self.make_event(
                    "orders/create",
                    {"id": n},
                    backend=backend,
                    state="rejected",
                    dedup_key=False,
                    reject_reason="bad signature",
                    http_status=status,
                ).id
                for n in range(count)
            ]
        )

    def security(self, backend=None):
        return self.env["dsync.exception"].search(
            [
                ("backend_id", "=", (backend or self.backend).id),
                ("category", "=", "security"),
            ]
        )

    def scan(self):
        self.env.flush_all()
        return self.env["dsync.exception"]._cron_dsync_security_scan()

    def setUp(self):
        super().setUp()
        # only what this test refuses counts
        self.env.flush_all()
        self.env.cr.execute("SELECT COALESCE(max(id), 0) FROM dsync_event")
        self.env["ir.config_parameter"].sudo().set_param(
            SECURITY_CURSOR, str(self.env.cr.fetchone()[0])
        )

    def test_one_exception_per_backend_with_count_and_last_time(self):
        other = self.env["dsync.backend"].create({"name": "Other"})
        refused = self.refuse(count=3)
        self.refuse(status=400)  # unparseable: not a security matter
        self.refuse(backend=other)
        self.scan()
        exc = self.security()
        self.assertEqual(len(exc), 1)
        self.assertEqual(
            (exc.team, exc.severity, exc.state, exc.occurrences),
            ("it", "high", "open", 3),
        )
        self.assertEqual(exc.last_seen_at, max(refused.mapped("create_date")))
        self.assertEqual(exc.event_id, refused[-1])
        self.assertIn("3 deliveries", exc.message)
        self.assertIn("webhook secret", exc.message)
        self.assertIn("webhook secret", exc.next_step)
        self.assertEqual(len(self.security(other)), 1)
        # later refusals update it: still one
        self.refuse(count=2)
        self.scan()
        self.assertEqual(self.security(), exc)
        self.assertEqual(exc.occurrences, 5)
        self.assertIn("5 deliveries", exc.message)
        # nothing new: nothing changes
        self.assertEqual(self.scan(), 0)
        self.assertEqual(exc.occurrences, 5)
        # the backend form says it
        self.assertIn("refused", self.backend.config_warning)

    def test_solved_then_refused_again_opens_a_new_one(self):
        self.refuse()
        self.scan()
        first = self.security()
        self.assertFalse(first.can_retry)
        first.action_resolve()
        self.assertEqual(first.state, "resolved")
        self.refuse()
        self.scan()
        self.assertEqual(len(self.security()), 2)
        self.assertEqual((self.security() - first).occurrences, 1)


class TestValueMapTargets(DsyncCase):
    def test_record_picker_limited_to_the_type(self):
        Map = self.env["dsync.value.map"]
        mapping = Map.new({"backend_id": self.backend.id, "map_type": "tax_code"})
        self.assertEqual(mapping.allowed_model_ids.mapped("model"), ["account.tax"])
        self.assertEqual(mapping.target_model_id.model, "account.tax")
        location = Map.new({"backend_id": self.backend.id, "map_type": "location"})
        self.assertEqual(
            set(location.allowed_model_ids.mapped("model")),
            {"stock.warehouse", "stock.location"},
        )
        selection = {model for model, _label in Map._selection_target_model()}
        self.assertIn("account.tax", selection)
        self.assertNotIn("res.users", selection, "not every model of the database")
        tax = self.env["account.tax"].search([], limit=1)
        with self.assertRaises(ValidationError):
            Map.create(
                {
                    "backend_id": self.backend.id,
                    "map_type": "location",
                    "external_code": "gid://shopify/Location/1",
                    "target_ref": f"account.tax,{tax.id}",
                }
            )

    def test_value_map_form_as_a_person_fills_it(self):
        """The form's record-type picker and reference, saved as the web
        client saves them."""
        warehouse = self.env["stock.warehouse"].search([], limit=1)
        form = Form(
            self.env["dsync.value.map"],
            view="distribution_sync_core.dsync_value_map_view_form",
        )
        form.backend_id = self.backend
        form.map_type = "location"
        form.external_code = "gid://shopify/Location/7"
        self.assertEqual(form.target_model_id.model, "stock.warehouse")
        form.target_ref = f"stock.warehouse,{warehouse.id}"
        mapping = form.save()
        self.assertEqual(mapping.target_ref, warehouse)
        self.assertEqual(mapping.display_name, "gid://shopify/Location/7")
        mapping.external_label = "Main warehouse"
        self.assertEqual(mapping.display_name, "Main warehouse")
