# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import hashlib
import threading
from collections import OrderedDict

from odoo import _, api, fields, models

from ..platforms import make_platform
from ..platforms.base import PlatformAuthError
from ..platforms.easypost import ACCOUNT_TOPICS, REFUND_TOPICS, TRACKER_TOPICS

# The platform's event descriptions a carrier backend accepts, and the method
# that processes each. Any other is rejected (400) and kept as such. EasyPost
# sends every event of the account to each webhook: its account events
# (batches, reports, payments...) are declared, acknowledged and kept, and
# their processor records that Odoo does not use them.
TOPIC_PROCESSORS = dict(
    {topic: "_carrier_process_tracker" for topic in TRACKER_TOPICS},
    **{topic: "_carrier_process_refund" for topic in REFUND_TOPICS},
    **{topic: "_carrier_process_account_event" for topic in ACCOUNT_TOPICS},
)
PLATFORM_URLS = {"easypost": "https://api.easypost.com/v2"}

# One platform adapter per API key and process: a pooled session.
_PLATFORMS = OrderedDict()
_PLATFORMS_LOCK = threading.Lock()
_MAX_PLATFORMS = 32


class DsyncBackend(models.Model):
    _inherit = "dsync.backend"

    backend_type = fields.Selection(
        selection_add=[("carrier", "Carrier platform")], ondelete={"carrier": "cascade"}
    )
    carrier_platform = fields.Selection(
        [("easypost", "EasyPost")],
        string="Carrier Platform",
        default="easypost",
        help="The multi-carrier platform this backend talks to.",
    )
    carrier_environment = fields.Selection(
        [("test", "Test"), ("production", "Production")],
        string="Environment",
        default="test",
        help="Test: labels are bought with the test API key (free, not "
        "valid for shipping). Production: with the production API key.",
    )
    carrier_test_api_secret = fields.Char(
        string="Test API Key",
        compute="_compute_carrier_test_api_secret",
        inverse="_inverse_carrier_test_api_secret",
        groups="distribution_sync_core.group_dsync_manager",
        help="The platform's test API key. Write-only.",
    )
    carrier_test_api_secret_set = fields.Boolean(
        compute="_compute_carrier_test_api_secret"
    )
    carrier_label_pending_minutes = fields.Integer(
        string="Label Overdue After (minutes)",
        default=30,
        help="A label still not bought this long after its delivery was "
        "validated opens an exception for the warehouse.",
    )
    carrier_stuck_transit_days = fields.Integer(
        string="In Transit For Too Long (days)",
        default=7,
        help="A parcel in transit for longer opens an exception for customer "
        "service (once). 0: never.",
    )
    carrier_stuck_problem_hours = fields.Integer(
        string="Failure Or Return Open After (hours)",
        default=0,
        help="A parcel whose carrier reports a failure or a return to the "
        "sender opens an exception for customer service after this many hours "
        "in that state (0: at once).",
    )
    carrier_poll_quiet_hours = fields.Integer(
        string="Poll Trackers Quiet For (hours)",
        default=12,
        help="Parcels on their way whose tracking has not changed for this "
        "long are asked for at the platform (webhooks may have been lost).",
    )

    def _compute_carrier_test_api_secret(self):
        present = set(
            self.env["dsync.secret"]
            .sudo()
            .search(
                [
                    ("backend_id", "in", self.ids),
                    ("key", "=", "carrier_test_api_secret"),
                ]
            )
            .mapped("backend_id")
            .ids
        )
        for backend in self:
            backend.carrier_test_api_secret = False
            backend.carrier_test_api_secret_set = backend.id in present

    def _inverse_carrier_test_api_secret(self):
        self._dsync_store_secret_field("carrier_test_api_secret")

    @api.onchange("backend_type", "carrier_platform")
    def _onchange_carrier_platform(self):
        if self.backend_type == "carrier" and not self.api_url:
            self.api_url = PLATFORM_URLS.get(self.carrier_platform)

    # ------------------------------------------------------------------
    # contract with the core
    # ------------------------------------------------------------------
    def _carrier_topic_processors(self):
        return TOPIC_PROCESSORS

    def _carrier_topic_labels(self):
        return {
            "tracker.created": _("Tracking started"),
            "tracker.updated": _("Tracking update"),
            "refund.successful": _("Label refund"),
        }

    def _carrier_webhook_path(self):
        return f"/dsync/carrier/{self.sudo().token}/tracking"

    def _carrier_flow_specs(self):
        return [
            {
                "code": "tracking",
                "name": "Tracking updates",
                "direction": "in",
                "topics": list(TRACKER_TOPICS),
                # tracker updates are applied together: larger batches
                "defaults": {"batch_size": 50},
            },
            {
                "code": "account_events",
                "name": "Refunds and account events",
                "direction": "in",
                "topics": list(REFUND_TOPICS + ACCOUNT_TOPICS),
            },
            {
                "code": "labels",
                "name": "Label purchases",
                "direction": "out",
                # a platform down for hours: retries for about 3 hours
                "defaults": {
                    "batch_size": 10,
                    "max_retries": 12,
                    "retry_base_seconds": 20,
                    "retry_max_seconds": 1800,
                },
            },
            {"code": "label_refunds", "name": "Label refunds", "direction": "out"},
        ]

    def _carrier_event_context(self, event, data):
        """Business context of a carrier event: the tracking number, and the
        delivery it is about, its customer and SKUs. The labels of the
        events processed together are looked up at once (one indexed search
        for the batch, kept for the transaction)."""
        result = data.get("result") if isinstance(data, dict) else None
        if not isinstance(result, dict) or result.get("object") not in (
            "Tracker",
            "Refund",
        ):
            return {}
        key = (
            ("tracker", str(result.get("id") or ""))
            if result.get("object") == "Tracker"
            else ("shipment", str(result.get("shipment_id") or ""))
        )
        labels = self._carrier_context_labels(event)
        label = labels.get(key)
        code = result.get("tracking_code")
        context = {"ref": str(code or "")[:64] or None}
        if label:
            picking = label.picking_id
            context.update(
                record=picking,
                partner=picking.partner_id,
                skus=picking.move_ids.product_id.mapped("default_code"),
            )
        return {name: value for name, value in context.items() if value}

    def _carrier_context_labels(self, event):
        """{("tracker", ref) | ("shipment", ref): label} of ``event`` and the
        events fetched with it (its batch), cached for the transaction."""
        cache = self.env.cr.cache.setdefault("dsync_carrier_context_labels", {})
        if event.id in cache:
            return cache[event.id]
        events = (
            event.browse(event._prefetch_ids).filtered(
                lambda e: e.backend_id == self and e.id not in cache
            )
            | event
        )
        refs = {"tracker": set(), "shipment": set()}
        for other in events:
            data = other._dsync_context_data()
            result = data.get("result") if isinstance(data, dict) else None
            if isinstance(result, dict):
                if result.get("object") == "Tracker" and result.get("id"):
                    refs["tracker"].add(str(result["id"]))
                elif result.get("object") == "Refund" and result.get("shipment_id"):
                    refs["shipment"].add(str(result["shipment_id"]))
        found = {}
        if refs["tracker"] or refs["shipment"]:
            labels = (
                self.env["dsync.carrier.label"]
                .sudo()
                .search(
                    [
                        ("backend_id", "=", self.id),
                        "|",
                        ("tracker_ref", "in", list(refs["tracker"])),
                        ("shipment_ref", "in", list(refs["shipment"])),
                    ]
                )
            )
            for label in labels:
                found[("tracker", label.tracker_ref)] = label
                found[("shipment", label.shipment_ref)] = label
        for other in events:
            cache[other.id] = found
        return found

    # ------------------------------------------------------------------
    # the platform
    # ------------------------------------------------------------------
    def _carrier_api_key(self):
        self.ensure_one()
        key = (
            "api_secret"
            if self.carrier_environment == "production"
            else "carrier_test_api_secret"
        )
        return self._dsync_get_secret(key)

    def _carrier_platform(self):
        """The adapter of this backend's platform (cached per process and
        API key: one pooled HTTP session)."""
        self.ensure_one()
        api_key = self._carrier_api_key()
        if not api_key:
            raise PlatformAuthError(
                _(
                    "No %(env)s API key is set on %(backend)s.",
                    env=dict(self._fields["carrier_environment"].selection).get(
                        self.carrier_environment
                    ),
                    backend=self.name,
                )
            )
        url = self.api_url or PLATFORM_URLS.get(self.carrier_platform)
        key = (
            self.env.cr.dbname,
            self.id,
            self.carrier_platform,
            url,
            hashlib.sha256(api_key.encode()).hexdigest(),
            self.request_timeout,
        )
        with _PLATFORMS_LOCK:
            platform = _PLATFORMS.pop(key, None)
            if platform is None:
                platform = make_platform(
                    self.carrier_platform,
                    url,
                    api_key,
                    timeout=self.request_timeout or 20,
                )
            _PLATFORMS[key] = platform
            while len(_PLATFORMS) > _MAX_PLATFORMS:
                _PLATFORMS.popitem(last=False)
        return platform

    def _carrier_can_send(self):
        self.ensure_one()
        return self.backend_type == "carrier" and self.active
