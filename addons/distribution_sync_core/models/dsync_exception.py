# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..errors import CATEGORY_TEAMS

CATEGORIES = [
    ("unknown_product", "Unknown product"),
    ("missing_mapping", "Missing mapping"),
    ("amount_mismatch", "Amount mismatch"),
    ("conflict", "Conflict with the owner"),
    ("invalid_address", "Invalid address"),
    ("platform_rejected", "Rejected by the platform"),
    ("retries_exhausted", "Retries exhausted"),
    ("invalid_payload", "Invalid payload"),
    ("unsupported", "Unsupported message"),
    ("processing_error", "Processing error"),
    ("label_pending", "Label not bought in time"),
    ("shipment_stuck", "Shipment stuck"),
]
TEAMS = [
    ("operations", "Operations"),
    ("warehouse", "Warehouse"),
    ("finance", "Finance"),
    ("customer_service", "Customer Service"),
    ("it", "IT"),
]
SEVERITIES = [
    ("low", "Low"),
    ("normal", "Normal"),
    ("high", "High"),
    ("critical", "Critical"),
]
OPEN_STATES = ("open", "in_progress")


class DsyncException(models.Model):
    """A message that could not be applied or sent: someone must act."""

    _name = "dsync.exception"
    _description = "Sync Exception"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "severity_rank desc, id desc"

    name = fields.Char(required=True, tracking=True)
    category = fields.Selection(CATEGORIES, required=True, tracking=True, index=True)
    team = fields.Selection(TEAMS, required=True, tracking=True, index=True)
    severity = fields.Selection(
        SEVERITIES, default="normal", required=True, tracking=True
    )
    severity_rank = fields.Integer(compute="_compute_severity_rank", store=True)
    state = fields.Selection(
        [
            ("open", "Open"),
            ("in_progress", "In Progress"),
            ("resolved", "Resolved"),
            ("ignored", "Ignored"),
        ],
        default="open",
        required=True,
        tracking=True,
        index=True,
    )
    user_id = fields.Many2one("res.users", string="Assignee", tracking=True)
    backend_id = fields.Many2one(
        "dsync.backend", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(
        related="backend_id.company_id", store=True, index=True
    )
    message = fields.Text(required=True)
    details = fields.Text(help="Technical details (traceback, platform answer).")
    kind_key = fields.Char(
        index=True,
        help="What groups exceptions of one kind (a SKU, a code) for 'retry all'.",
    )
    ignore_reason = fields.Text(tracking=True)
    occurrences = fields.Integer(default=1, readonly=True)
    event_id = fields.Many2one("dsync.event", ondelete="cascade", index=True)
    outbox_id = fields.Many2one("dsync.outbox", ondelete="cascade", index=True)
    correlation_id = fields.Char(index=True)
    res_model = fields.Char("Related Model")
    res_id = fields.Many2oneReference("Related Record", model_field="res_model")
    payload = fields.Text(compute="_compute_payload")
    resolved_at = fields.Datetime(readonly=True)
    same_kind_count = fields.Integer(compute="_compute_same_kind_count")

    @api.depends("severity")
    def _compute_severity_rank(self):
        ranks = {key: rank for rank, (key, _label) in enumerate(SEVERITIES)}
        for exc in self:
            exc.severity_rank = ranks.get(exc.severity, 1)

    def _compute_payload(self):
        for exc in self:
            source = exc.event_id or exc.outbox_id
            exc.payload = source.sudo().payload_pretty if source else False

    def _compute_same_kind_count(self):
        for exc in self:
            exc.same_kind_count = (
                len(exc._same_kind())
                if exc.kind_key and exc.state in OPEN_STATES
                else 0
            )

    # ------------------------------------------------------------------
    # opening
    # ------------------------------------------------------------------
    @api.model
    def _dsync_open(self, err, event=None, outbox=None):
        """Open (or refresh) the exception for ``err`` about ``event``/``outbox``.

        A source has at most one open exception per category: a new failure
        of the same kind bumps its occurrence count instead of piling up.
        """
        source = event or outbox
        domain = [
            ("event_id" if event else "outbox_id", "=", source.id),
            ("category", "=", err.category),
            ("state", "in", OPEN_STATES),
        ]
        existing = self.search(domain, limit=1)
        if existing:
            existing.write(
                {
                    "message": err.message,
                    "details": err.details,
                    "occurrences": existing.occurrences + 1,
                }
            )
            return existing
        record = err.record
        vals = {
            "name": _(
                "%(category)s: %(message)s",
                category=dict(CATEGORIES)[err.category],
                message=(err.message or "")[:120],
            ),
            "category": err.category,
            "team": err.team or CATEGORY_TEAMS[err.category],
            "severity": err.severity,
            "backend_id": source.backend_id.id,
            "message": err.message,
            "details": err.details,
            "kind_key": err.kind_key,
            "event_id": event.id if event else False,
            "outbox_id": outbox.id if outbox else False,
            "correlation_id": source.correlation_id,
            "res_model": record._name if record else source.res_model,
            "res_id": record.id if record else source.res_id,
        }
        return self.create(vals)

    def _dsync_auto_resolve(self, note):
        for exc in self:
            exc.write({"state": "resolved", "resolved_at": fields.Datetime.now()})
            exc.message_post(body=note)

    def _same_kind(self):
        self.ensure_one()
        return self.search(
            [
                ("backend_id", "=", self.backend_id.id),
                ("category", "=", self.category),
                ("kind_key", "=", self.kind_key),
                ("state", "in", OPEN_STATES),
            ]
        )

    # ------------------------------------------------------------------
    # actions
    # ------------------------------------------------------------------
    def action_take(self):
        self.filtered(lambda e: e.state == "open").write(
            {"state": "in_progress", "user_id": self.env.uid}
        )
        return True

    def action_retry(self):
        """Re-run the event or re-send the message behind each exception."""
        todo = self.filtered(lambda e: e.state in OPEN_STATES)
        if not todo:
            raise UserError(_("Only open exceptions can be retried."))
        events = todo.event_id.filtered(
            lambda e: e.state in ("failed", "received", "queued")
        )
        messages = todo.outbox_id.filtered(lambda m: m.state == "failed")
        if events:
            events.sudo()._dsync_enqueue()
        if messages:
            messages.sudo().action_retry()
        for exc in todo:
            exc.message_post(body=_("Retry requested by %s.", self.env.user.name))
        todo.filtered(lambda e: e.state == "open").write({"state": "in_progress"})
        return True

    def action_retry_same_kind(self):
        """Retry every open exception of the same category and kind key."""
        related = self.browse()
        for exc in self.filtered("kind_key"):
            related |= exc._same_kind()
        (related | self).action_retry()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "info",
                "message": _("%s exceptions sent for retry.", len(related | self)),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    def action_ignore(self):
        return {
            "type": "ir.actions.act_window",
            "res_model": "dsync.exception.ignore",
            "view_mode": "form",
            "target": "new",
            "context": {"active_ids": self.ids, "active_model": self._name},
        }

    def _dsync_ignore(self, reason):
        if not (reason or "").strip():
            raise UserError(_("Say why the exception is ignored."))
        for exc in self.filtered(lambda e: e.state in OPEN_STATES):
            exc.write(
                {
                    "state": "ignored",
                    "ignore_reason": reason,
                    "resolved_at": fields.Datetime.now(),
                }
            )
        return True

    def action_reopen(self):
        self.filtered(lambda e: e.state in ("resolved", "ignored")).write(
            {"state": "open", "resolved_at": False}
        )
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
