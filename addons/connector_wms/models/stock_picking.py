# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import _, api, fields, models
from odoo.exceptions import UserError

WMS_STATES = [
    ("pending", "Release queued"),
    ("released", "Released"),
    ("on_hold", "On hold at the warehouse"),
    ("cancel_requested", "Cancel sent"),
    ("cancelled", "Cancelled by the warehouse"),
    ("shipped", "Shipped"),
    ("received", "Received"),
]
# A change of these on a released picking is sent to the warehouse.
RELEASE_FIELDS = ("partner_id", "scheduled_date", "carrier_id", "priority", "note")
OPEN_WMS_STATES = ("pending", "released", "on_hold")


class StockPicking(models.Model):
    _inherit = "stock.picking"

    wms_backend_id = fields.Many2one(
        "dsync.backend",
        string="Warehouse System",
        readonly=True,
        copy=False,
        index="btree_not_null",
    )
    wms_reference = fields.Char(
        "Warehouse Reference",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="The reference the warehouse knows this delivery by (its name "
        "when it was released; a backorder keeps it).",
    )
    wms_state = fields.Selection(
        WMS_STATES, string="Warehouse Status", readonly=True, copy=False
    )
    wms_version = fields.Integer(
        "Version Sent", readonly=True, copy=False, help="Grows with each change sent."
    )
    wms_released_at = fields.Datetime("Released On", readonly=True, copy=False)
    wms_status_note = fields.Char("Warehouse Note", readonly=True, copy=False)

    # ------------------------------------------------------------------
    # backorders stay the warehouse's order
    # ------------------------------------------------------------------
    def _create_backorder_picking(self):
        """A backorder of a released delivery is the rest of the same
        warehouse order: it keeps its reference and status."""
        backorder = super()._create_backorder_picking()
        if self.wms_reference:
            backorder.write(
                {
                    "wms_backend_id": self.wms_backend_id.id,
                    "wms_reference": self.wms_reference,
                    "wms_state": self.wms_state
                    if self.wms_state in OPEN_WMS_STATES
                    else "released",
                    "wms_version": self.wms_version,
                    "wms_released_at": self.wms_released_at,
                }
            )
        return backorder

    # ------------------------------------------------------------------
    # changes of released pickings go to the warehouse
    # ------------------------------------------------------------------
    def write(self, vals):
        res = super().write(vals)
        if any(name in vals for name in RELEASE_FIELDS):
            self._wms_changed()
        return res

    def _wms_changed(self):
        """Post the new version of the released, open pickings among these
        (never for a change made while applying the warehouse's own event)."""
        if self.env.context.get("dsync_wms_apply"):
            return
        released = self.filtered(
            lambda p: (
                p.wms_state in OPEN_WMS_STATES
                and p.wms_backend_id
                and p.state not in ("done", "draft")
            )
        )
        for backend in released.wms_backend_id:
            backend._wms_post_pickings(
                released.filtered(lambda p, b=backend: p.wms_backend_id == b)
            )

    # ------------------------------------------------------------------
    # the warehouse's confirmation validates a released transfer
    # ------------------------------------------------------------------
    def button_validate(self):
        """A transfer released to a warehouse system is validated by the
        warehouse's confirmation (shipment, receipt), not by a person in
        Odoo: the warehouse would still ship it, and Odoo would count it
        twice. A person cancels it instead (the warehouse is told). An
        integration that applies the
        warehouse's confirmation itself passes ``dsync_wms_apply`` in the
        context."""
        if not self.env.context.get("dsync_wms_apply"):
            released = self.filtered(
                lambda p: p.wms_backend_id and p.wms_state in OPEN_WMS_STATES
            )
            if released:
                raise UserError(
                    _(
                        "%(names)s: released to the warehouse system %(wms)s, "
                        "which validates it with its confirmation (it ships or "
                        "receives the goods). Wait for it, or cancel the "
                        "transfer: the warehouse is told.",
                        names=", ".join(released.mapped("name")),
                        wms=", ".join(released.wms_backend_id.mapped("name")),
                    )
                )
        return super().button_validate()

    # ------------------------------------------------------------------
    # actions
    # ------------------------------------------------------------------
    def action_wms_release(self):
        """Release these deliveries/receipts to their warehouse now."""
        done = self.browse()
        for backend in self.env["dsync.backend"]._wms_backends():
            mine = self.filtered(
                lambda p, b=backend: p.company_id == b.company_id and b._wms_runs(p)
            )
            done |= backend._wms_release(mine, force=True)
        if not done:
            raise UserError(
                _(
                    "None of these transfers can be released: they must be "
                    "confirmed, of an operation type a warehouse system runs, and "
                    "not released yet."
                )
            )
        return True

    def _dsync_linked_domain(self):
        """The picking's sync events and exceptions, and those of the
        warehouse about its reference (a confirmation that failed before it
        could be linked to the picking)."""
        domain = super()._dsync_linked_domain()
        if not self.wms_reference:
            return domain
        return [
            "|",
            *domain,
            "&",
            ("doc_ref", "=", self.wms_reference),
            ("backend_id.backend_type", "=", "wms"),
        ]

    @api.model
    def _wms_open_pickings(self, pickings):
        return pickings.filtered(lambda p: p.state not in ("done", "cancel"))
