# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import json
import logging
import uuid
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..errors import BusinessError, is_connection_lost, is_transient
from ..logsafe import stack_without_message
from ..masking import mask_payload

_logger = logging.getLogger(__name__)

# Messages one upsert statement posts (_dsync_post_many).
POST_CHUNK = 1000

OUTBOX_STATES = [
    ("pending", "Pending"),
    ("sent", "Sent"),
    ("failed", "Failed"),
    ("cancelled", "Cancelled"),
]


class DsyncOutbox(models.Model):
    """Outbound messages, coalesced by key, drained in batches by jobs."""

    _name = "dsync.outbox"
    _description = "Sync Outbound Message"
    _order = "id desc"
    _rec_name = "coalesce_key"

    backend_id = fields.Many2one(
        "dsync.backend", required=True, ondelete="restrict", index=True, readonly=True
    )
    company_id = fields.Many2one(
        "res.company", required=True, readonly=True, index=True
    )
    flow_code = fields.Char(required=True, readonly=True, index=True)
    coalesce_key = fields.Char(
        "Key",
        required=True,
        readonly=True,
        help="Messages with the same key replace each other while pending "
        "(the latest stock level of a SKU and location wins).",
    )
    idempotency_key = fields.Char(required=True, readonly=True, index=True)
    payload = fields.Text(readonly=True)
    payload_pretty = fields.Text(compute="_compute_payload_pretty")
    state = fields.Selection(
        OUTBOX_STATES, default="pending", required=True, readonly=True, index=True
    )
    attempts = fields.Integer(readonly=True, default=0)
    next_attempt_at = fields.Datetime(readonly=True)
    last_error = fields.Text(readonly=True)
    response = fields.Text(readonly=True)
    sent_at = fields.Datetime(readonly=True)
    coalesced_count = fields.Integer(readonly=True, default=0)
    correlation_id = fields.Char(readonly=True, index=True)
    res_model = fields.Char("Source Model", readonly=True)
    res_id = fields.Many2oneReference(
        "Source Record", model_field="res_model", readonly=True
    )
    exception_ids = fields.One2many("dsync.exception", "outbox_id", readonly=True)
    payload_masked = fields.Boolean(readonly=True)
    payload_purged = fields.Boolean(readonly=True)

    def init(self):
        # At most one pending message per key: enqueueing upserts into it.
        self.env.cr.execute(
            """CREATE UNIQUE INDEX IF NOT EXISTS dsync_outbox_pending_key_uniq
                   ON dsync_outbox (backend_id, flow_code, coalesce_key)
                WHERE state = 'pending'"""
        )

    @api.depends("payload")
    def _compute_payload_pretty(self):
        for message in self:
            try:
                message.payload_pretty = (
                    json.dumps(json.loads(message.payload), indent=2, sort_keys=True)
                    if message.payload
                    else False
                )
            except ValueError:
                message.payload_pretty = message.payload

    def _dsync_data(self):
        self.ensure_one()
        return json.loads(self.payload) if self.payload else None

    # ------------------------------------------------------------------
    # enqueue
    # ------------------------------------------------------------------
    @api.model
    def _dsync_post(self, backend, flow_code, key, data, record=None, trigger=True):
        """Queue ``data`` for ``backend``'s ``flow_code``, coalesced by ``key``.

        One statement, safe under concurrency: a pending message with the same
        key gets the new payload (and a new idempotency key, since its content
        changed); otherwise a new message is inserted. Returns the message.
        """
        return self._dsync_post_many(
            backend, flow_code, [(key, data, record)], trigger=trigger
        )

    @api.model
    def _dsync_post_many(self, backend, flow_code, items, trigger=True):
        """:meth:`_dsync_post` for many ``(key, data, record)`` at once: one
        upsert statement per thousand messages; of one key given twice, the
        last wins. Returns the messages."""
        backend.ensure_one()
        flow = backend._dsync_flow(flow_code)
        correlation = self.env.context.get("dsync_correlation_id")
        uid = self.env.uid
        latest = {key: (data, record) for key, data, record in items}
        rows = [
            (
                backend.id,
                backend.company_id.id,
                flow_code,
                key,
                uuid.uuid4().hex,
                json.dumps(data, separators=(",", ":"), sort_keys=True),
                correlation or uuid.uuid4().hex,
                record._name if record else None,
                record.id if record else None,
                uid,
                uid,
            )
            for key, (data, record) in latest.items()
        ]
        self.env.flush_all()
        ids = []
        for start in range(0, len(rows), POST_CHUNK):
            ids += self.env.cr.execute_values(
                """
                INSERT INTO dsync_outbox
                    (backend_id, company_id, flow_code, coalesce_key,
                     idempotency_key, payload, state, attempts, coalesced_count,
                     correlation_id, res_model, res_id,
                     create_uid, create_date, write_uid, write_date)
                VALUES %s
                ON CONFLICT (backend_id, flow_code, coalesce_key)
                    WHERE state = 'pending'
                DO UPDATE SET payload = EXCLUDED.payload,
                              idempotency_key = EXCLUDED.idempotency_key,
                              coalesced_count = dsync_outbox.coalesced_count + 1,
                              correlation_id = EXCLUDED.correlation_id,
                              res_model = EXCLUDED.res_model,
                              res_id = EXCLUDED.res_id,
                              write_uid = EXCLUDED.write_uid,
                              write_date = EXCLUDED.write_date
                RETURNING id
                """,
                rows[start : start + POST_CHUNK],
                template="(%s, %s, %s, %s, %s, %s, 'pending', 0, 0, %s, %s, %s,"
                " %s, now() at time zone 'UTC', %s, now() at time zone 'UTC')",
                page_size=POST_CHUNK,
                fetch=True,
            )
        messages = self.browse(row[0] for row in ids)
        messages.invalidate_recordset()
        if messages and trigger and flow.mode == "realtime" and flow.active:
            flow._enqueue_drain()
        return messages

    # ------------------------------------------------------------------
    # results of a send
    # ------------------------------------------------------------------
    def _dsync_mark_sent(self, response=None):
        if not self:
            return
        self.write(
            {
                "state": "sent",
                "sent_at": fields.Datetime.now(),
                "response": response,
                "last_error": False,
                "next_attempt_at": False,
            }
        )
        self.flush_recordset()
        self.env.cr.execute(
            "UPDATE dsync_outbox SET attempts = attempts + 1 WHERE id IN %s",
            (tuple(self.ids),),
        )
        self.invalidate_recordset(["attempts"])
        self.exception_ids.filtered(
            lambda e: e.state in ("open", "in_progress")
        )._dsync_auto_resolve(_("Message sent."))

    def _dsync_mark_failed(self, err):
        for message in self:
            message.write(
                {
                    "state": "failed",
                    "attempts": message.attempts + 1,
                    "last_error": err.message,
                    "next_attempt_at": False,
                }
            )
            self.env["dsync.exception"].sudo()._dsync_open(err, outbox=message)

    def _dsync_mark_transient(self, err, flow):
        """Count one failed attempt; schedule a retry or give up. The
        messages of an ordered flow retry together (one delay)."""
        shared = None
        if flow.ordered and self:
            shared = getattr(err, "retry_after", None) or flow._retry_delay(
                min(self.mapped("attempts")) + 1
            )
        for message in self:
            attempt = message.attempts + 1
            if attempt >= flow.max_retries:
                message._dsync_mark_failed(
                    BusinessError(
                        "retries_exhausted",
                        _("Gave up after %(n)s attempts: %(err)s", n=attempt, err=err),
                        kind_key=f"flow:{flow.code}",
                    )
                )
                continue
            delay = shared or getattr(err, "retry_after", None)
            delay = delay or flow._retry_delay(attempt)
            message.write(
                {
                    "attempts": attempt,
                    "last_error": str(err),
                    "next_attempt_at": fields.Datetime.now() + timedelta(seconds=delay),
                }
            )

    # ------------------------------------------------------------------
    # draining (called by dsync.backend._dsync_drain_outbox)
    # ------------------------------------------------------------------
    @api.model
    def _dsync_claim(self, backend, flow):
        """Lock the next batch of due messages (other workers skip them).
        In an ordered flow, the batch stops before the first message that
        is not due yet: nothing overtakes a message waiting for a retry."""
        if flow.ordered:
            return self._dsync_claim_in_order(backend, flow)
        self.env.flush_all()
        self.env.cr.execute(
            """SELECT id FROM dsync_outbox
                WHERE backend_id = %s AND flow_code = %s AND state = 'pending'
                  AND (next_attempt_at IS NULL
                       OR next_attempt_at <= now() at time zone 'UTC')
                ORDER BY id
                LIMIT %s
                FOR NO KEY UPDATE SKIP LOCKED""",
            (backend.id, flow.code, flow.batch_size),
        )
        return self.browse([row[0] for row in self.env.cr.fetchall()])

    @api.model
    def _dsync_claim_in_order(self, backend, flow):
        self.env.flush_all()
        self.env.cr.execute(
            """SELECT id, next_attempt_at IS NULL
                          OR next_attempt_at <= now() at time zone 'UTC'
                 FROM dsync_outbox
                WHERE backend_id = %s AND flow_code = %s AND state = 'pending'
                ORDER BY id
                LIMIT %s
                FOR NO KEY UPDATE""",
            (backend.id, flow.code, flow.batch_size),
        )
        ids = []
        for message_id, due in self.env.cr.fetchall():
            if not due:
                break
            ids.append(message_id)
        return self.browse(ids)

    @api.model
    def _dsync_next_due(self, backend, flow):
        """(True, None) if messages are due now, else (False, earliest retry
        time). In an ordered flow, the first pending message decides."""
        if flow.ordered:
            self.env.flush_all()
            self.env.cr.execute(
                """SELECT next_attempt_at,
                          next_attempt_at IS NULL
                          OR next_attempt_at <= now() at time zone 'UTC'
                     FROM dsync_outbox
                    WHERE backend_id = %s AND flow_code = %s AND state = 'pending'
                    ORDER BY id LIMIT 1""",
                (backend.id, flow.code),
            )
            row = self.env.cr.fetchone()
            if not row:
                return False, None
            return row[1], (None if row[1] else row[0])
        self.env.flush_all()
        self.env.cr.execute(
            """SELECT bool_or(next_attempt_at IS NULL
                              OR next_attempt_at <= now() at time zone 'UTC'),
                      min(next_attempt_at)
                 FROM dsync_outbox
                WHERE backend_id = %s AND flow_code = %s AND state = 'pending'""",
            (backend.id, flow.code),
        )
        due_now, earliest = self.env.cr.fetchone()
        return bool(due_now), (None if due_now else earliest)

    def _dsync_send_batch(self, backend, flow):
        """Send this batch with the backend's sender and record each result.

        The sender returns ``{message id: None | error}``; raising means the
        whole call failed (transient → every message retries; business →
        every message fails).
        """
        sender = backend._dsync_sender(flow.code)
        if sender is None:
            self._dsync_mark_failed(
                BusinessError(
                    "unsupported",
                    _(
                        "No sender for flow %(flow)s on %(type)s backends.",
                        flow=flow.code,
                        type=backend.backend_type,
                    ),
                    kind_key=f"flow:{flow.code}",
                )
            )
            return
        try:
            with self.env.cr.savepoint():
                results = sender(self) or {}
        except BusinessError as err:
            self._dsync_mark_failed(err)
            return
        except Exception as err:
            if is_connection_lost(err, self.env.cr):
                raise  # the transaction is gone: see dsync.job.mixin
            if not is_transient(err):
                _logger.error(
                    "backend %s: unexpected send error %s\n%s",
                    backend.id,
                    type(err).__name__,
                    stack_without_message(err),
                )
                self._dsync_mark_failed(
                    BusinessError("processing_error", _("Unexpected error: %s", err))
                )
                return
            backend._dsync_record_send_failure()
            self._dsync_mark_transient(err, flow)
            return
        backend._dsync_record_send_success()
        sent = self.filtered(lambda m: results.get(m.id) is None)
        sent._dsync_mark_sent()
        for message in self - sent:
            outcome = results[message.id]
            if isinstance(outcome, BusinessError):
                message._dsync_mark_failed(outcome)
            else:
                message._dsync_mark_transient(outcome, flow)

    # ------------------------------------------------------------------
    # user actions
    # ------------------------------------------------------------------
    def action_retry(self):
        retryable = self.filtered(lambda m: m.state == "failed")
        if not retryable:
            raise UserError(_("Only failed messages can be retried."))
        for message in retryable:
            # A failed message keeps its key out of the pending slot; if a
            # newer message took the slot meanwhile, the newer one wins.
            newer = self.search_count(
                [
                    ("backend_id", "=", message.backend_id.id),
                    ("flow_code", "=", message.flow_code),
                    ("coalesce_key", "=", message.coalesce_key),
                    ("state", "=", "pending"),
                ]
            )
            if newer:
                message.write({"state": "cancelled", "last_error": _("Superseded.")})
                continue
            message.write({"state": "pending", "attempts": 0, "next_attempt_at": False})
        for backend_flow in {(m.backend_id, m.flow_code) for m in retryable}:
            backend_flow[0]._dsync_flow(backend_flow[1])._enqueue_drain()
        return True

    def action_cancel(self):
        self.filtered(lambda m: m.state in ("pending", "failed")).write(
            {"state": "cancelled"}
        )
        return True

    # ------------------------------------------------------------------
    # retention
    # ------------------------------------------------------------------
    @api.model
    def _dsync_mask_domain(self, backend, limit):
        return [
            ("backend_id", "=", backend.id),
            ("create_date", "<", limit),
            ("state", "in", ("sent", "cancelled", "failed")),
            ("payload_masked", "=", False),
            ("payload_purged", "=", False),
        ]

    @api.model
    def _dsync_purge_domain(self, backend, limit):
        return [
            ("backend_id", "=", backend.id),
            ("create_date", "<", limit),
            ("state", "in", ("sent", "cancelled")),
            ("payload_purged", "=", False),
        ]

    @api.model
    def _dsync_mask_before(self, backend, limit, batch=None):
        """Mask up to ``batch`` (all when None) of the backend's settled
        messages created before ``limit``, oldest first."""
        messages = self.search(
            self._dsync_mask_domain(backend, limit), order="id", limit=batch
        )
        for message in messages:
            message.write(
                {"payload": mask_payload(message.payload), "payload_masked": True}
            )
        return len(messages)

    @api.model
    def _dsync_purge_before(self, backend, limit, batch=None):
        messages = self.search(
            self._dsync_purge_domain(backend, limit), order="id", limit=batch
        )
        messages.write({"payload": False, "response": False, "payload_purged": True})
        return len(messages)
