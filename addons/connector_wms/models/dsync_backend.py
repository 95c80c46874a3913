# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""WMS / 3PL backend: configuration, the warehouse client, flows, topics,
and the business context of its events."""

import hashlib
import threading
from collections import OrderedDict

from markupsafe import Markup, escape

from odoo import _, _lt, api, fields, models

from odoo.addons.distribution_sync_core.errors import BusinessError, TransientError

from ..contract import ORDER_EVENT_TYPES
from ..wms_client import ADAPTERS

# The event types a WMS backend accepts (the published contract), and the
# method that processes each. Any other type is rejected (400) and kept as
# such.
TOPIC_PROCESSORS = {
    "shipment.confirmed": "_wms_process_shipment_confirmed",
    "order.short": "_wms_process_order_short",
    "order.on_hold": "_wms_process_order_on_hold",
    "order.cancelled": "_wms_process_order_cancelled",
    "receipt.confirmed": "_wms_process_receipt_confirmed",
    "inventory.adjusted": "_wms_process_inventory_adjusted",
    "inventory.snapshot": "_wms_process_inventory_snapshot",
    "return.received": "_wms_process_return_received",
}
WMS_TOPICS = list(TOPIC_PROCESSORS)
TOPIC_LABELS = {
    "shipment.confirmed": _lt("Shipment confirmed"),
    "order.short": _lt("Short pick"),
    "order.on_hold": _lt("Order on hold"),
    "order.cancelled": _lt("Order cancelled by the warehouse"),
    "receipt.confirmed": _lt("Receipt confirmed"),
    "inventory.adjusted": _lt("Stock adjusted"),
    "inventory.snapshot": _lt("Stock snapshot page"),
    "return.received": _lt("Return received"),
}
RELEASE_FLOW = "picking_release"
EVENTS_FLOW = "wms_events"

# One client per backend and process (a pooled session).
_CLIENTS = OrderedDict()
_CLIENTS_LOCK = threading.Lock()
_MAX_CLIENTS = 32


class DsyncBackend(models.Model):
    _inherit = "dsync.backend"

    backend_type = fields.Selection(
        selection_add=[("wms", "WMS / 3PL")], ondelete={"wms": "cascade"}
    )
    wms_adapter = fields.Selection(
        [(code, label) for code, (label, _factory) in ADAPTERS.items()],
        string="Warehouse API",
        default="dsync_v1",
        help="How Odoo talks to the warehouse: the published contract "
        "(Distribution Sync warehouse API v1), or a 3PL's own API through an "
        "adapter.",
    )
    wms_warehouse_ids = fields.Many2many(
        "stock.warehouse",
        "dsync_backend_wms_warehouse_rel",
        "backend_id",
        "warehouse_id",
        string="Warehouses Run by the WMS",
        help="The warehouse system executes the deliveries and receipts of "
        "these warehouses. Its site code is the warehouse's short name.",
    )
    wms_picking_type_ids = fields.Many2many(
        "stock.picking.type",
        "dsync_backend_wms_picking_type_rel",
        "backend_id",
        "picking_type_id",
        string="Operation Types Run by the WMS",
        help="Leave empty for the delivery and receipt types of the warehouses above.",
    )
    wms_release_policy = fields.Selection(
        [
            ("on_confirm", "As soon as confirmed"),
            ("waves", "In waves, at set times"),
            ("manual", "Manually"),
        ],
        string="Release Deliveries",
        default="on_confirm",
        help="When confirmed deliveries and receipts go to the warehouse.",
    )
    wms_wave_times = fields.Char(
        "Wave Times",
        default="09:00,13:00,16:00",
        help="Comma-separated times (HH:MM, in the time zone of the user the "
        "jobs run as) when the waiting deliveries are released.",
    )
    wms_last_wave_at = fields.Datetime("Last Wave", readonly=True, copy=False)
    wms_short_policy = fields.Selection(
        [
            ("backorder", "Keep the rest in a backorder"),
            ("cancel", "Cancel the rest"),
        ],
        string="Short Picks",
        default="backorder",
        help="What happens to units the warehouse cannot ship (an order.short "
        "event, or a shipment that completes its order with less): kept open "
        "in a backorder for a later shipment, or cancelled. Either way "
        "customer service gets a follow-up to tell the customer.",
    )
    wms_release_receipts = fields.Boolean(
        "Announce Receipts (ASN)",
        default=True,
        help="Send the expected receipts of the warehouses to the WMS.",
    )
    wms_damaged_location_id = fields.Many2one(
        "stock.location",
        string="Damaged Returns Go To",
        domain="[('usage', 'in', ('inventory', 'internal'))]",
        help="Returned goods the warehouse reports damaged are scrapped to "
        "this location (default: the company's scrap location).",
    )
    wms_tolerance_qty = fields.Float(
        "Drift Tolerance (units)",
        default=0.0,
        help="A snapshot drift up to this many units (and the value below) is "
        "repaired without approval where the WMS owns stock quantities.",
    )
    wms_tolerance_value = fields.Float(
        "Drift Tolerance (value)",
        default=0.0,
        help="A snapshot drift worth up to this amount (at cost) is repaired "
        "without approval where the WMS owns stock quantities.",
    )
    wms_snapshot_page_size = fields.Integer(
        "Snapshot Page Size",
        default=1000,
        help="Items per page when Odoo fetches a snapshot from the WMS.",
    )
    wms_stock_owner = fields.Selection(
        [("wms", "The WMS"), ("odoo", "Odoo")],
        string="Stock Quantities Owned By",
        compute="_compute_wms_stock_owner",
        inverse="_inverse_wms_stock_owner",
        help="The ownership rule of stock levels for this company. Where the "
        "WMS owns them, its adjustments apply and snapshot drift within "
        "tolerance is repaired; where Odoo does, adjustments open an "
        "exception and every drift waits for a manager.",
    )
    wms_contract_url = fields.Char(compute="_compute_wms_contract_url")

    # ------------------------------------------------------------------
    # computes
    # ------------------------------------------------------------------
    @api.depends("company_id")
    def _compute_wms_stock_owner(self):
        Rules = self.env["dsync.ownership.rule"].sudo()
        for backend in self:
            owner = Rules._owner_of("stock_level", backend.company_id)
            backend.wms_stock_owner = "wms" if owner == "wms" else "odoo"

    def _inverse_wms_stock_owner(self):
        Rules = self.env["dsync.ownership.rule"].sudo()
        for backend in self.filtered(lambda b: b.backend_type == "wms"):
            owner = backend.wms_stock_owner or "odoo"
            rule = Rules.search(
                [
                    ("business_object", "=", "stock_level"),
                    ("company_id", "=", backend.company_id.id),
                ],
                limit=1,
            )
            if rule:
                rule.owner = owner
            else:
                Rules.create(
                    {
                        "business_object": "stock_level",
                        "company_id": backend.company_id.id,
                        "owner": owner,
                    }
                )

    def _compute_wms_contract_url(self):
        for backend in self:
            backend.wms_contract_url = "/connector_wms/static/openapi/wms-v1.yaml"

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("backend_type") == "wms":
                # the warehouse's confirmations move the same stock: one
                # batch after the other (see inbound_jobs_limit)
                vals.setdefault("inbound_jobs_limit", 1)
        return super().create(vals_list)

    # ------------------------------------------------------------------
    # conventions of the core
    # ------------------------------------------------------------------
    def _wms_topic_processors(self):
        return TOPIC_PROCESSORS

    def _wms_topic_labels(self):
        return TOPIC_LABELS

    def _wms_webhook_path(self):
        return f"/dsync/wms/{self.sudo().token}/events"

    def _wms_flow_specs(self):
        return [
            {
                "code": EVENTS_FLOW,
                "name": "Warehouse confirmations",
                "direction": "in",
                "topics": WMS_TOPICS,
                "defaults": {"batch_size": 50},
            },
            {
                "code": RELEASE_FLOW,
                "name": "Releases to the warehouse",
                "direction": "out",
                "defaults": {"ordered": True, "batch_size": 50},
            },
        ]

    def _wms_event_context(self, event, data):
        """Business context of a WMS event: the order (or receipt) it is
        about, its SKUs, and the picking when Odoo knows it. Cheap: one
        indexed lookup, no call to the warehouse; never raises."""
        body = data.get("data") if isinstance(data, dict) else None
        if not isinstance(body, dict):
            return {}
        context = {}
        reference = data.get("order_ref")
        if isinstance(reference, str) and reference:
            context["ref"] = reference
            picking = self._wms_pickings_of(reference)[:1]
            if picking:
                context["record"] = picking
                if picking.partner_id:
                    context["partner"] = picking.partner_id
        elif event.topic == "inventory.snapshot":
            context["ref"] = _(
                "Snapshot %(id)s, page %(page)s of %(count)s",
                id=body.get("snapshot_id"),
                page=body.get("page"),
                count=body.get("page_count"),
            )
        elif event.topic == "inventory.adjusted":
            context["ref"] = body.get("adjustment_id") or _("Stock adjustment")
        lines = body.get("lines") if event.topic != "inventory.snapshot" else None
        if isinstance(lines, list):
            context["skus"] = [
                line["sku"]
                for line in lines[:50]
                if isinstance(line, dict) and isinstance(line.get("sku"), str)
            ]
        return context

    # ------------------------------------------------------------------
    # the warehouse client
    # ------------------------------------------------------------------
    def _wms_client(self):
        """The adapter of this backend (cached per process)."""
        self.ensure_one()
        api_key = self._dsync_get_secret("api_secret")
        key = (
            self.env.cr.dbname,
            self.id,
            self.wms_adapter,
            self.api_url,
            hashlib.sha256((api_key or "").encode()).hexdigest(),
            self.request_timeout,
        )
        with _CLIENTS_LOCK:
            client = _CLIENTS.pop(key, None)
            if client is None:
                _label, factory = ADAPTERS[self.wms_adapter or "dsync_v1"]
                client = factory(self.api_url, api_key, timeout=self.request_timeout)
            _CLIENTS[key] = client
            while len(_CLIENTS) > _MAX_CLIENTS:
                _CLIENTS.popitem(last=False)
        return client

    def action_wms_test_connection(self):
        self.ensure_one()
        self._dsync_check_manager()
        try:
            answer = self._wms_client().ping()
        except (BusinessError, TransientError) as err:
            title, kind = _("Warehouse connection failed"), "danger"
            lines = [_("The warehouse could not be reached or refused: %s", err)]
        else:
            sites = answer.get("sites") or []
            title, kind = _("Connected to %s", answer.get("account")), "success"
            lines = [_("Sites of the warehouse: %s.", ", ".join(sites) or _("none"))]
            missing = [
                w.code for w in self.wms_warehouse_ids if sites and w.code not in sites
            ]
            if missing:
                kind = "warning"
                lines.append(
                    _(
                        "These warehouses have no site of that code in the WMS: %s.",
                        ", ".join(missing),
                    )
                )
            if not self.wms_warehouse_ids:
                kind = "warning"
                lines.append(_("No warehouse is run by this WMS yet."))
        self.message_post(
            body=Markup("<br/>").join(escape(line) for line in [title] + lines)
        )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": title,
                "message": "\n".join(lines),
                "type": kind,
                "sticky": kind != "success",
            },
        }

    # ------------------------------------------------------------------
    # what the WMS runs
    # ------------------------------------------------------------------
    @api.model
    def _wms_backends(self, company=None):
        """The active WMS backends (of ``company``)."""
        domain = [("backend_type", "=", "wms")]
        if company:
            domain.append(("company_id", "=", company.id))
        return self.sudo().search(domain)

    def _wms_picking_types(self):
        """The operation types this WMS runs."""
        self.ensure_one()
        if self.wms_picking_type_ids:
            return self.wms_picking_type_ids
        types = self.wms_warehouse_ids.out_type_id
        if self.wms_release_receipts:
            types |= self.wms_warehouse_ids.in_type_id
        return types

    def _wms_runs(self, picking):
        return picking.picking_type_id in self._wms_picking_types()

    def _wms_site_of(self, picking):
        warehouse = picking.picking_type_id.warehouse_id
        return warehouse.code if warehouse else None

    def _wms_warehouse_for_site(self, site):
        """The warehouse of a WMS site code (one warehouse: that one)."""
        self.ensure_one()
        warehouses = self.wms_warehouse_ids or self.env["stock.warehouse"].search(
            [("company_id", "=", self.company_id.id)]
        )
        if site:
            match = warehouses.filtered(lambda w: w.code == site)
            if match:
                return match[:1]
            raise BusinessError(
                "missing_mapping",
                _(
                    "The warehouse sent site %(site)s, which is none of the "
                    "warehouses %(backend)s runs (%(codes)s): set the warehouse's "
                    "short name to the site code, then retry.",
                    site=site,
                    backend=self.name,
                    codes=", ".join(warehouses.mapped("code")) or _("none"),
                ),
                kind_key=f"site:{site}",
            )
        return warehouses[:1]

    def _wms_pickings_of(self, reference):
        """The pickings released under ``reference`` (the original and its
        backorders), newest first; or, for a transfer the warehouse got
        another way (keyed in, a file), the company's transfer of that name
        that no other warehouse system has: the warehouse names it, so it
        is the one (it is then adopted, see :meth:`_wms_adopt`)."""
        self.ensure_one()
        Picking = self.env["stock.picking"].sudo()
        pickings = Picking.search(
            [("wms_backend_id", "=", self.id), ("wms_reference", "=", reference)],
            order="id desc",
        )
        if pickings:
            return pickings
        return Picking.search(
            [
                ("name", "=", reference),
                ("company_id", "=", self.company_id.id),
                ("wms_backend_id", "in", [False, self.id]),
            ],
            limit=1,
        )

    def _wms_adopt(self, pickings, reference):
        """Make ``pickings`` (found by name) the warehouse's order
        ``reference``, so that their backorders keep the reference."""
        new = pickings.filtered(lambda p: not p.wms_reference)
        if new:
            new.with_context(dsync_wms_apply=True).write(
                {
                    "wms_backend_id": self.id,
                    "wms_reference": reference,
                    "wms_state": "released",
                }
            )

    def _wms_order_error(self, reference, what=None):
        return BusinessError(
            "unknown_reference",
            what
            or _(
                "The warehouse sent an event about %(ref)s, which is no delivery or "
                "receipt Odoo released to %(backend)s. Check the reference with the "
                "warehouse; retry once it is known.",
                ref=reference,
                backend=self.name,
            ),
            kind_key=f"order:{reference}",
        )

    @api.model
    def _wms_sequence_key(self, topic, payload):
        """(key, number) of an event under the core's per-key sequencing:
        an order's events by ``order_ref`` and ``sequence``, a snapshot's
        pages by ``snapshot_id`` and ``page``; others are not sequenced."""
        if topic in ORDER_EVENT_TYPES:
            return f"order:{payload['order_ref']}", payload["sequence"]
        if topic == "inventory.snapshot":
            data = payload["data"]
            return f"snapshot:{data['snapshot_id']}", data["page"]
        return None, None
