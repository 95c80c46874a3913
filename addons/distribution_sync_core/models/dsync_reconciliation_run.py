# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Reconciliation runs: Odoo compared with a platform, the drift found, and
what became of it.

The canonical records every connector's reconciliation writes (the
reconciliation centre shows them together):

* a run (``dsync.reconciliation.run``): what was compared (``subject``,
  ``source_ref``: a snapshot id...), when, how long it took, the tolerance
  it applied and the outcome;
* its drift lines (``dsync.reconciliation.line``): one per item that
  differs, with Odoo's value, the platform's, what is in flight between
  them, the drift in quantity and value, and its decision: repaired
  automatically (within tolerance, where the platform is the system of
  record), waiting for a manager's approval, approved and repaired, or
  rejected.

The connector's contract:

* it starts a run with :meth:`_dsync_start` and writes the lines of the
  items that drift with :meth:`_dsync_add_lines` (one statement per
  thousand lines), then calls :meth:`_dsync_conclude` with whether it may
  repair automatically;
* it repairs lines through its backend's ``_<type>_reconciliation_repair(
  lines)``, which returns ``{line: (note, record)}`` for each line it
  repaired (``record``: the stock move, the message sent...) and ``{line:
  BusinessError}`` for a line it cannot repair (raising one fails them
  all).
"""

import time

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..errors import BusinessError

RUN_STATES = [
    ("running", "Comparing"),
    ("to_approve", "To Approve"),
    ("done", "Done"),
]
# Lines written per statement.
LINE_CHUNK = 1000


class DsyncReconciliationRun(models.Model):
    _name = "dsync.reconciliation.run"
    _description = "Sync Reconciliation Run"
    _inherit = ["mail.thread"]
    _order = "id desc"

    name = fields.Char(required=True, readonly=True)
    backend_id = fields.Many2one(
        "dsync.backend", required=True, ondelete="cascade", readonly=True, index=True
    )
    company_id = fields.Many2one(
        related="backend_id.company_id", store=True, index=True
    )
    subject = fields.Selection(
        [("stock", "Stock levels")],
        required=True,
        readonly=True,
        help="What was compared.",
    )
    source_ref = fields.Char(
        "Compared With",
        readonly=True,
        help="The platform's document the run compared Odoo with (a snapshot).",
    )
    state = fields.Selection(
        RUN_STATES, default="running", required=True, readonly=True, tracking=True
    )
    started_at = fields.Datetime(readonly=True, default=fields.Datetime.now)
    compared_at = fields.Datetime(readonly=True)
    compare_seconds = fields.Float("Comparison Time (s)", readonly=True, digits=(16, 3))
    repair_seconds = fields.Float(
        "Automatic Repair Time (s)", readonly=True, digits=(16, 3)
    )
    item_count = fields.Integer("Items Compared", readonly=True)
    tolerance_qty = fields.Float(
        "Quantity Tolerance",
        readonly=True,
        help="A drift up to this quantity (either way) is within tolerance.",
    )
    tolerance_value = fields.Monetary(
        "Value Tolerance",
        readonly=True,
        currency_field="currency_id",
        help="A drift up to this value (either way) is within tolerance.",
    )
    currency_id = fields.Many2one(
        "res.currency",
        readonly=True,
        default=lambda self: self.env.company.currency_id,
    )
    auto_repair = fields.Boolean(
        "Repaired Automatically",
        readonly=True,
        help="Drift within tolerance was repaired without approval (the "
        "platform is the system of record of what was compared).",
    )
    note = fields.Text(readonly=True)
    line_ids = fields.One2many("dsync.reconciliation.line", "run_id", readonly=True)
    drift_count = fields.Integer(compute="_compute_counts")
    repaired_count = fields.Integer(compute="_compute_counts")
    to_approve_count = fields.Integer(compute="_compute_counts")
    drift_value = fields.Monetary(
        "Drift Value", compute="_compute_counts", currency_field="currency_id"
    )

    def _compute_counts(self):
        groups = self.env["dsync.reconciliation.line"]._read_group(
            [("run_id", "in", self.ids)],
            ["run_id", "state"],
            ["__count", "drift_value:sum"],
        )
        counts = {}
        for run, state, count, value in groups:
            counts.setdefault(run.id, {})[state] = (count, value)
        for run in self:
            mine = counts.get(run.id, {})
            run.drift_count = sum(count for count, _v in mine.values())
            run.repaired_count = mine.get("repaired", (0, 0))[0]
            run.to_approve_count = mine.get("to_approve", (0, 0))[0]
            run.drift_value = sum(value for _c, value in mine.values())

    # ------------------------------------------------------------------
    # the connectors' API
    # ------------------------------------------------------------------
    @api.model
    def _dsync_start(
        self,
        backend,
        subject,
        source_ref=None,
        tolerance_qty=0.0,
        tolerance_value=0.0,
        currency=None,
    ):
        """A new run of ``backend`` comparing ``subject``."""
        now = fields.Datetime.now()
        return self.sudo().create(
            {
                "name": _(
                    "%(backend)s: %(subject)s on %(date)s",
                    backend=backend.name,
                    subject=dict(self._fields["subject"].selection).get(subject),
                    date=fields.Datetime.to_string(now),
                ),
                "backend_id": backend.id,
                "subject": subject,
                "source_ref": source_ref,
                "started_at": now,
                "tolerance_qty": tolerance_qty,
                "tolerance_value": tolerance_value,
                "currency_id": (currency or backend.company_id.currency_id).id,
            }
        )

    def _dsync_add_lines(self, rows):
        """Write drift lines: ``rows`` are dicts with ``sku``, ``site``,
        ``reason`` (see the line's selection), ``odoo_qty``,
        ``platform_qty``, ``in_flight_qty``, ``drift_qty``, ``unit_value``
        and optionally ``res_model``/``res_id`` (the product) and
        ``repairable`` (False: never repaired automatically, e.g. a SKU
        Odoo does not know). Tolerance is applied here. Returns how many
        lines were written."""
        self.ensure_one()
        if not rows:
            return 0
        uid = self.env.uid
        values = []
        for row in rows:
            drift = row["drift_qty"]
            value = drift * (row.get("unit_value") or 0.0)
            within = (
                row.get("repairable", True)
                and abs(drift) <= self.tolerance_qty + 1e-9
                and abs(value) <= self.tolerance_value + 1e-9
            )
            values.append(
                (
                    self.id,
                    self.backend_id.id,
                    self.company_id.id,
                    row["sku"],
                    row.get("site"),
                    row.get("reason") or "quantity",
                    row.get("res_model"),
                    row.get("res_id"),
                    row.get("odoo_qty") or 0.0,
                    row.get("platform_qty") or 0.0,
                    row.get("in_flight_qty") or 0.0,
                    drift,
                    row.get("unit_value") or 0.0,
                    value,
                    within,
                    "to_approve",
                    uid,
                    uid,
                )
            )
        self.env.flush_all()
        for start in range(0, len(values), LINE_CHUNK):
            self.env.cr.execute_values(
                """INSERT INTO dsync_reconciliation_line
                       (run_id, backend_id, company_id, sku, site, reason,
                        res_model, res_id, odoo_qty, platform_qty, in_flight_qty,
                        drift_qty, unit_value, drift_value, within_tolerance,
                        state, create_uid, create_date, write_uid, write_date)
                   VALUES %s""",
                values[start : start + LINE_CHUNK],
                template="(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
                " %s, %s, %s, %s, now() at time zone 'UTC', %s,"
                " now() at time zone 'UTC')",
                page_size=LINE_CHUNK,
            )
        self.invalidate_recordset(["line_ids"])
        return len(values)

    def _dsync_conclude(self, item_count, compare_seconds, auto_repair):
        """The comparison is written: repair the lines within tolerance when
        ``auto_repair`` (one call of the connector's repair for all of them),
        leave the others to a manager, and set the run's state."""
        self.ensure_one()
        self.write(
            {
                "item_count": item_count,
                "compared_at": fields.Datetime.now(),
                "compare_seconds": compare_seconds,
                "auto_repair": auto_repair,
            }
        )
        if auto_repair:
            lines = self.env["dsync.reconciliation.line"].search(
                [("run_id", "=", self.id), ("within_tolerance", "=", True)]
            )
            started = time.perf_counter()
            lines._dsync_repair(_("Within tolerance: repaired automatically."))
            self.repair_seconds = time.perf_counter() - started
        self._dsync_update_state()
        return self

    def _dsync_update_state(self):
        for run in self:
            waiting = self.env["dsync.reconciliation.line"].search_count(
                [("run_id", "=", run.id), ("state", "=", "to_approve")]
            )
            state = "to_approve" if waiting else "done"
            if run.state != state:
                run.state = state

    # ------------------------------------------------------------------
    # actions
    # ------------------------------------------------------------------
    def _dsync_lines_to_approve(self):
        return self.env["dsync.reconciliation.line"].search(
            [("run_id", "in", self.ids), ("state", "=", "to_approve")]
        )

    def action_approve_all(self):
        lines = self._dsync_lines_to_approve()
        if not lines:
            raise UserError(_("No drift line waits for approval."))
        return lines.action_approve()

    def action_reject_all(self):
        lines = self._dsync_lines_to_approve()
        if not lines:
            raise UserError(_("No drift line waits for approval."))
        return lines.action_reject()

    def action_view_lines(self):
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "distribution_sync_core.dsync_reconciliation_line_action"
        )
        action["domain"] = [("run_id", "in", self.ids)]
        action["context"] = {"search_default_group_state": 1}
        return action


def repair_error_note(err):
    """What a line keeps of a failed repair."""
    if isinstance(err, BusinessError):
        return err.message
    return str(err)
