# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A drift line of a reconciliation run (see ``dsync_reconciliation_run``)."""

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..errors import BusinessError
from .dsync_backend import MANAGER
from .dsync_reconciliation_run import repair_error_note

LINE_STATES = [
    ("to_approve", "To Approve"),
    ("repaired", "Repaired"),
    ("rejected", "Rejected"),
    ("failed", "Repair Failed"),
]
REASONS = [
    ("quantity", "Quantities differ"),
    ("missing_in_odoo", "Not in Odoo's stock"),
    ("missing_on_platform", "Not on the platform"),
    ("unknown_sku", "SKU unknown to Odoo"),
]


class DsyncReconciliationLine(models.Model):
    _name = "dsync.reconciliation.line"
    _description = "Sync Reconciliation Drift Line"
    _order = "run_id desc, id"
    _rec_name = "sku"

    run_id = fields.Many2one(
        "dsync.reconciliation.run",
        required=True,
        ondelete="cascade",
        readonly=True,
        index=True,
    )
    backend_id = fields.Many2one("dsync.backend", readonly=True, index=True)
    company_id = fields.Many2one("res.company", readonly=True, index=True)
    currency_id = fields.Many2one(related="run_id.currency_id")
    sku = fields.Char("SKU", required=True, readonly=True, index=True)
    site = fields.Char(
        "Warehouse", readonly=True, help="Where the quantities were compared."
    )
    reason = fields.Selection(REASONS, required=True, readonly=True)
    res_model = fields.Char("Odoo Model", readonly=True)
    res_id = fields.Many2oneReference(
        "Odoo Record", model_field="res_model", readonly=True
    )
    odoo_qty = fields.Float(
        "Odoo Quantity", readonly=True, digits="Product Unit of Measure"
    )
    platform_qty = fields.Float(
        "Platform Quantity", readonly=True, digits="Product Unit of Measure"
    )
    in_flight_qty = fields.Float(
        "In Flight",
        readonly=True,
        digits="Product Unit of Measure",
        help="Released to the platform and not confirmed yet: taken into "
        "account on both sides before the drift is computed.",
    )
    drift_qty = fields.Float(
        "Drift",
        readonly=True,
        digits="Product Unit of Measure",
        help="What Odoo's quantity must change by to match the platform's.",
    )
    unit_value = fields.Float(readonly=True, digits="Product Price")
    drift_value = fields.Monetary(readonly=True, currency_field="currency_id")
    within_tolerance = fields.Boolean(readonly=True)
    state = fields.Selection(
        LINE_STATES, default="to_approve", required=True, readonly=True, index=True
    )
    decided_by = fields.Many2one("res.users", readonly=True)
    decided_at = fields.Datetime(readonly=True)
    repair_note = fields.Char(readonly=True)
    repair_model = fields.Char(readonly=True)
    repair_id = fields.Many2oneReference(
        "Repair", model_field="repair_model", readonly=True
    )

    @api.depends("sku", "site")
    def _compute_display_name(self):
        for line in self:
            line.display_name = f"{line.sku} @ {line.site}" if line.site else line.sku

    # ------------------------------------------------------------------
    # repair
    # ------------------------------------------------------------------
    def _dsync_repair(self, note):
        """Repair these lines through their backend's
        ``_<type>_reconciliation_repair(lines)``, which returns ``{line:
        (note, record)}`` for the lines it repaired and ``{line:
        BusinessError}`` for those it could not (raising fails them all):
        repaired lines keep the note and the record, the others fail with the
        reason."""
        for backend in self.backend_id:
            lines = self.filtered(lambda line, b=backend: line.backend_id == b)
            hook = getattr(backend, f"_{backend.backend_type}_reconciliation_repair")
            try:
                with self.env.cr.savepoint():
                    results = hook(lines) or {}
            except BusinessError as err:
                results, failure = {}, repair_error_note(err)
            else:
                failure = _("Not repaired by the connector.")
            now = fields.Datetime.now()
            for line in lines:
                done = results.get(line)
                if isinstance(done, BusinessError):
                    line.write({"state": "failed", "repair_note": done.message})
                elif done:
                    what, record = done
                    line.write(
                        {
                            "state": "repaired",
                            "repair_note": what or note,
                            "repair_model": record._name if record else False,
                            "repair_id": record.id if record else False,
                            "decided_at": line.decided_at or now,
                        }
                    )
                else:
                    line.write({"state": "failed", "repair_note": failure})
        return True

    # ------------------------------------------------------------------
    # actions (managers)
    # ------------------------------------------------------------------
    def _dsync_decide(self):
        if not self.env.su and not self.env.user.has_group(MANAGER):
            raise UserError(_("Only a Sync Manager approves or rejects drift."))
        todo = self.filtered(lambda line: line.state in ("to_approve", "failed"))
        if not todo:
            raise UserError(_("These drift lines are already decided."))
        todo.write({"decided_by": self.env.uid, "decided_at": fields.Datetime.now()})
        return todo

    def action_approve(self):
        """Repair the drift: Odoo takes the platform's value."""
        todo = self._dsync_decide()
        todo.sudo()._dsync_repair(_("Approved by %s.", self.env.user.name))
        todo.run_id._dsync_update_state()
        return True

    def action_reject(self):
        """Keep Odoo's value: the drift stays recorded, not repaired."""
        todo = self._dsync_decide()
        todo.write(
            {
                "state": "rejected",
                "repair_note": _("Rejected by %s.", self.env.user.name),
            }
        )
        todo.run_id._dsync_update_state()
        return True

    def action_open_record(self):
        self.ensure_one()
        if not self.res_model or not self.res_id:
            return False
        return {
            "type": "ir.actions.act_window",
            "res_model": self.res_model,
            "res_id": self.res_id,
            "view_mode": "form",
        }
