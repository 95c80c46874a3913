# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models

from ..dispatcher import backend_channel
from ..errors import backoff_seconds


class DsyncFlow(models.Model):
    """Per-backend, per-flow sync policy: timing, retries, batching, channel."""

    _name = "dsync.flow"
    _description = "Sync Flow Policy"
    _order = "backend_id, direction, code"

    backend_id = fields.Many2one("dsync.backend", required=True, ondelete="cascade")
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    code = fields.Char(required=True, readonly=True)
    name = fields.Char(required=True, translate=True)
    direction = fields.Selection(
        [("in", "Inbound"), ("out", "Outbound")], required=True, readonly=True
    )
    topics = fields.Char(
        readonly=True, help="Comma-separated inbound topics handled by this flow."
    )
    active = fields.Boolean(default=True)
    mode = fields.Selection(
        [
            ("realtime", "Real time"),
            ("interval", "Every N minutes"),
            ("manual", "Manual"),
        ],
        default="realtime",
        required=True,
    )
    interval_minutes = fields.Integer(default=15)
    max_retries = fields.Integer(
        default=5, help="Attempts for a transient failure before an exception opens."
    )
    retry_base_seconds = fields.Integer(
        default=30, help="First retry delay; it doubles each attempt (with jitter)."
    )
    retry_max_seconds = fields.Integer(default=3600)
    batch_size = fields.Integer(
        default=100,
        help="Outbound: messages sent per call. Inbound: events one job "
        "processes together under load (each in its own savepoint); 1 = one "
        "job per event.",
    )
    priority = fields.Integer(default=10, help="Job priority (lower runs first).")
    ordered = fields.Boolean(
        "Send in Order",
        help="Outbound: messages are sent in the order they were posted. A "
        "message waiting for a retry (the platform down) holds the later "
        "ones back, and a failed batch retries together, so that after an "
        "outage everything goes out in its original order.",
    )
    last_run_at = fields.Datetime(readonly=True)
    channel = fields.Char(compute="_compute_channel")

    _sql_constraints = [
        (
            "code_unique",
            "unique(backend_id, code)",
            "A flow code is unique per backend.",
        ),
        ("max_retries_positive", "CHECK(max_retries >= 1)", "At least one attempt."),
        (
            "batch_positive",
            "CHECK(batch_size >= 1)",
            "The batch size must be positive.",
        ),
    ]

    def _compute_channel(self):
        for flow in self:
            flow.channel = flow._channel_name()

    def _channel_name(self):
        """queue_job channel: one per backend and flow, under root.dsync."""
        self.ensure_one()
        backend = self.backend_id
        return f"{backend_channel(backend.backend_type, backend.id)}.{self.code}"

    def _topic_list(self):
        return [t.strip() for t in (self.topics or "").split(",") if t.strip()]

    def _retry_delay(self, attempt):
        self.ensure_one()
        return backoff_seconds(
            attempt, base=self.retry_base_seconds, cap=self.retry_max_seconds
        )

    def _enqueue_drain(self, eta=None):
        """Queue one drain job for this outbound flow (deduplicated)."""
        self.ensure_one()
        backend = self.backend_id
        return (
            backend.with_user(backend.user_id)
            .with_company(backend.company_id)
            .with_delay(
                channel=self._channel_name(),
                identity_key=f"dsync-drain-{backend.id}-{self.code}",
                priority=self.priority,
                eta=eta,
                description=f"{backend.name}: send {self.name}",
            )
            ._dsync_drain_outbox(self.code)
        )

    @api.model
    def _dsync_drain_orphaned(self, min_age_seconds=30):
        """Queue a drain for each active real-time outbound flow that has
        messages due for over ``min_age_seconds`` and no drain job waiting
        or running (its job failed, or was cancelled)."""
        self.env.flush_all()
        self.env.cr.execute(
            """SELECT DISTINCT f.id
                 FROM dsync_outbox o
                 JOIN dsync_flow f ON f.backend_id = o.backend_id
                                  AND f.code = o.flow_code
                 JOIN dsync_backend b ON b.id = f.backend_id
                WHERE o.state = 'pending'
                  AND coalesce(o.next_attempt_at, o.write_date)
                      < (now() at time zone 'UTC') - %s * interval '1 second'
                  AND f.mode = 'realtime' AND f.active AND b.active
                  AND NOT EXISTS (
                      SELECT FROM queue_job j
                       WHERE j.identity_key
                             = 'dsync-drain-' || f.backend_id || '-' || f.code
                         AND j.state IN ('wait_dependencies', 'pending', 'enqueued'))
                  AND NOT EXISTS (
                      SELECT FROM queue_job j
                       WHERE j.state = 'started'
                         AND j.identity_key
                             = 'dsync-drain-' || f.backend_id || '-' || f.code)""",
            (min_age_seconds,),
        )
        for flow in self.sudo().browse(r[0] for r in self.env.cr.fetchall()):
            flow._enqueue_drain()

    def action_run_now(self):
        for flow in self.filtered(lambda f: f.direction == "out"):
            flow._enqueue_drain()
        return True
