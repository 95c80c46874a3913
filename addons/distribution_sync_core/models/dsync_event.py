# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import json
import logging
import traceback

import psycopg2

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from odoo.addons.queue_job.exception import RetryableJobError

from ..errors import BusinessError, DuplicateEvent, StaleEvent, is_transient
from ..masking import mask_payload

_logger = logging.getLogger(__name__)

EVENT_STATES = [
    ("received", "Received"),
    ("queued", "Queued"),
    ("done", "Done"),
    ("failed", "Failed"),
    ("stale", "Stale"),
    ("duplicate", "Duplicate"),
    ("rejected", "Rejected"),
]
# States from which a job may (re)process the event.
PROCESSABLE = ("received", "queued")


class DsyncEvent(models.Model):
    """Inbox: every inbound delivery, stored before any processing."""

    _name = "dsync.event"
    _description = "Sync Inbound Event"
    _order = "id desc"
    _rec_names_search = ["topic", "dedup_key", "correlation_id", "delivery_id"]

    backend_id = fields.Many2one(
        "dsync.backend", required=True, ondelete="restrict", index=True, readonly=True
    )
    backend_type = fields.Selection(related="backend_id.backend_type")
    company_id = fields.Many2one(
        "res.company", required=True, readonly=True, index=True
    )
    topic = fields.Char(required=True, readonly=True, index=True)
    payload = fields.Text(readonly=True, help="Raw body as it arrived.")
    payload_base64 = fields.Boolean(
        "Payload in Base64",
        readonly=True,
        help="The body was not UTF-8 text (or held NUL bytes): it is stored "
        "whole, base64-encoded.",
    )
    payload_size = fields.Integer(readonly=True)
    payload_pretty = fields.Text(compute="_compute_payload_pretty")
    headers = fields.Json(readonly=True)
    headers_pretty = fields.Text(compute="_compute_payload_pretty")
    dedup_key = fields.Char(readonly=True, help="Empty for rejected deliveries.")
    delivery_id = fields.Char(readonly=True, help="The platform's delivery id.")
    source_timestamp = fields.Datetime(readonly=True)
    correlation_id = fields.Char(readonly=True, index=True)
    state = fields.Selection(
        EVENT_STATES, default="received", required=True, readonly=True, index=True
    )
    reject_reason = fields.Char(readonly=True)
    http_status = fields.Integer("Answered HTTP Status", readonly=True)
    duplicate_count = fields.Integer(readonly=True, default=0)
    last_duplicate_at = fields.Datetime(readonly=True)
    job_id = fields.Many2one("queue.job", readonly=True, ondelete="set null")
    job_state = fields.Selection(related="job_id.state", string="Job State")
    attempts = fields.Integer(related="job_id.retry")
    last_error = fields.Text(readonly=True)
    processed_at = fields.Datetime(readonly=True)
    res_model = fields.Char("Result Model", readonly=True)
    res_id = fields.Many2oneReference(
        "Result Record", model_field="res_model", readonly=True
    )
    exception_ids = fields.One2many("dsync.exception", "event_id", readonly=True)
    payload_masked = fields.Boolean(readonly=True)
    payload_purged = fields.Boolean(readonly=True)

    _sql_constraints = [
        (
            "dedup_unique",
            "unique(backend_id, dedup_key)",
            "This delivery was already received.",
        )
    ]

    def init(self):
        self.env.cr.execute(
            """CREATE INDEX IF NOT EXISTS dsync_event_backend_create_idx
                   ON dsync_event (backend_id, create_date)"""
        )

    @api.depends("topic")
    def _compute_display_name(self):
        for event in self:
            event.display_name = f"#{event.id} {event.topic or ''}"

    @api.depends("payload", "headers")
    def _compute_payload_pretty(self):
        for event in self:
            event.payload_pretty = _pretty(event.payload)
            event.headers_pretty = (
                json.dumps(event.headers, indent=2, sort_keys=True)
                if event.headers
                else False
            )

    # ------------------------------------------------------------------
    # payload access for processors
    # ------------------------------------------------------------------
    def _dsync_data(self):
        """The payload parsed as JSON (processors' entry point)."""
        self.ensure_one()
        if self.payload_purged or not self.payload:
            raise BusinessError(
                "invalid_payload", _("The payload of event %s was purged.", self.id)
            )
        try:
            return json.loads(self.payload)
        except ValueError as err:
            raise BusinessError(
                "invalid_payload",
                _("Event %(id)s is not JSON: %(err)s", id=self.id, err=err),
            ) from err

    def _dsync_guard_version(self, binding, updated_at, version=None):
        """Raise StaleEvent/DuplicateEvent when ``binding`` applied newer/same data."""
        if not binding:
            return
        if binding._is_stale(updated_at):
            raise StaleEvent(
                _(
                    "Source time %(new)s is older than the applied %(old)s.",
                    new=updated_at,
                    old=binding.external_updated_at,
                )
            )
        same_time = updated_at and binding.external_updated_at == updated_at
        same_version = version and binding.external_version == str(version)
        if same_time and (same_version or not version):
            raise DuplicateEvent(_("This version was already applied."))

    # ------------------------------------------------------------------
    # queueing
    # ------------------------------------------------------------------
    def _dsync_enqueue(self):
        """Queue one processing job per event (identity key = the event).

        Only events still waiting or failed are queued: done, stale,
        duplicate and rejected events are records, never re-applied. An event
        that a job is processing right now is locked: it is not queued again
        (the running job decides its fate).
        """
        for event in self.filtered(
            lambda e: e.state in ("received", "queued", "failed")
        ):
            if not event._dsync_lock():
                raise UserError(
                    _(
                        "Event %s is being processed right now; try again in a moment.",
                        event.id,
                    )
                )
            event._dsync_delay()
        return True

    def _dsync_delay(self):
        """Create the processing job and mark the event queued (hot path:
        the webhook intake calls it directly for the row it just inserted)."""
        self.ensure_one()
        backend = self.backend_id.sudo()
        flow = backend._dsync_flow_for_topic(self.topic)
        job = (
            self.with_user(backend.user_id)
            .with_company(self.company_id)
            .with_context(
                dsync_correlation_id=self.correlation_id,
                tracking_disable=True,
                mail_create_nolog=True,
            )
            .with_delay(
                channel=flow._channel_name(),
                identity_key=f"dsync-event-{self.id}",
                priority=flow.priority,
                max_retries=0,
                description=f"{backend.name}: {self.topic} #{self.id}",
            )
            ._dsync_run()
        )
        # a deduplicated delay returns the pending job's record, else a Job
        uuid = job.uuid
        self.env.flush_all()
        self.env.cr.execute(
            """UPDATE dsync_event
                  SET state = 'queued', last_error = NULL,
                      job_id = (SELECT id FROM queue_job WHERE uuid = %s)
                WHERE id = %s""",
            (uuid, self.id),
        )
        self.invalidate_recordset(["state", "last_error", "job_id"])

    # ------------------------------------------------------------------
    # the job
    # ------------------------------------------------------------------
    def _dsync_lock(self):
        """Lock the event row; False if another worker is processing it."""
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(
                    "SELECT id FROM dsync_event WHERE id = %s FOR NO KEY UPDATE NOWAIT",
                    (self.id,),
                )
        except (psycopg2.errors.LockNotAvailable, psycopg2.errors.SerializationFailure):
            return False
        return True

    def _dsync_current_attempt(self):
        """1 for the first run of the current job, 2 for its first retry..."""
        uuid = self.env.context.get("job_uuid")
        if not uuid:
            return 1
        self.env.cr.execute("SELECT retry FROM queue_job WHERE uuid = %s", (uuid,))
        row = self.env.cr.fetchone()
        return (row[0] or 0) + 1 if row else 1

    def _dsync_run(self):
        """Process the event once; see DESIGN.md "How data flows"."""
        self.ensure_one()
        if not self._dsync_lock():
            # Another job holds this event: come back later; this does not
            # count as an attempt.
            raise RetryableJobError(
                "event is being processed by another job", seconds=5, ignore_retry=True
            )
        self.invalidate_recordset()
        if self.state not in PROCESSABLE:
            return f"nothing to do: event {self.id} is {self.state}"
        backend = self.backend_id
        flow = backend._dsync_flow_for_topic(self.topic)
        event = self.with_context(dsync_correlation_id=self.correlation_id)
        processor = backend._dsync_processor(self.topic)
        try:
            if processor is None:
                raise BusinessError(
                    "unsupported",
                    _(
                        "No processor for topic %(topic)s on %(type)s backends.",
                        topic=self.topic,
                        type=backend.backend_type,
                    ),
                    kind_key=f"topic:{self.topic}",
                )
            with self.env.cr.savepoint():
                result = processor(event)
        except StaleEvent as err:
            return self._dsync_finish("stale", str(err))
        except DuplicateEvent as err:
            return self._dsync_finish("duplicate", str(err))
        except BusinessError as err:
            return self._dsync_fail(err)
        except Exception as err:
            if is_transient(err):
                return self._dsync_transient(err, flow)
            _logger.exception("event %s: unexpected processing error", self.id)
            return self._dsync_fail(
                BusinessError(
                    "processing_error",
                    _("Unexpected error: %s", err),
                    kind_key=f"error:{type(err).__name__}",
                    details=traceback.format_exc(),
                )
            )
        return self._dsync_finish("done", result=result)

    def _dsync_transient(self, err, flow):
        attempt = self._dsync_current_attempt()
        if attempt >= flow.max_retries:
            return self._dsync_fail(
                BusinessError(
                    "retries_exhausted",
                    _("Gave up after %(n)s attempts: %(err)s", n=attempt, err=err),
                    kind_key=f"flow:{flow.code}",
                )
            )
        delay = getattr(err, "retry_after", None) or flow._retry_delay(attempt)
        raise RetryableJobError(
            f"attempt {attempt}/{flow.max_retries} failed ({err}); retry in {delay}s",
            seconds=delay,
        ) from err

    def _dsync_finish(self, state, note=None, result=None):
        vals = {
            "state": state,
            "processed_at": fields.Datetime.now(),
            "last_error": note if state != "done" else False,
        }
        if result is not None and isinstance(result, models.BaseModel) and result:
            vals.update(res_model=result._name, res_id=result[:1].id)
        self.sudo().write(vals)
        self.exception_ids.filtered(
            lambda e: e.state in ("open", "in_progress")
        )._dsync_auto_resolve(
            _("Event %(id)s processed (%(state)s).", id=self.id, state=state)
        )
        return f"event {self.id}: {state}" + (f" ({note})" if note else "")

    def _dsync_fail(self, err):
        self.sudo().write(
            {
                "state": "failed",
                "processed_at": fields.Datetime.now(),
                "last_error": err.message,
            }
        )
        exc = self.env["dsync.exception"].sudo()._dsync_open(err, event=self)
        return f"event {self.id}: failed, exception {exc.id} ({err.category})"

    # ------------------------------------------------------------------
    # user actions
    # ------------------------------------------------------------------
    def action_retry(self):
        retryable = self.filtered(lambda e: e.state in ("failed", "received", "queued"))
        if not retryable:
            raise UserError(
                _(
                    "Only failed or waiting events can be retried; rejected, stale, "
                    "duplicate and done events are kept as a record only."
                )
            )
        retryable._dsync_enqueue()
        return True

    def action_open_result(self):
        self.ensure_one()
        if not self.res_model:
            return False
        return {
            "type": "ir.actions.act_window",
            "res_model": self.res_model,
            "res_id": self.res_id,
            "view_mode": "form",
        }

    # ------------------------------------------------------------------
    # retention
    # ------------------------------------------------------------------
    @api.model
    def _dsync_mask_before(self, backend, limit):
        events = self.search(
            [
                ("backend_id", "=", backend.id),
                ("create_date", "<", limit),
                ("payload_masked", "=", False),
                ("payload_purged", "=", False),
            ]
        )
        for event in events:
            event.write(
                {
                    "payload": mask_payload(event.payload),
                    "headers": _mask_headers(event.headers),
                    "payload_masked": True,
                }
            )
        return len(events)

    @api.model
    def _dsync_purge_before(self, backend, limit):
        events = self.search(
            [
                ("backend_id", "=", backend.id),
                ("create_date", "<", limit),
                ("payload_purged", "=", False),
            ]
        )
        events.write({"payload": False, "headers": False, "payload_purged": True})
        return len(events)


def _pretty(raw):
    if not raw:
        return False
    try:
        return json.dumps(json.loads(raw), indent=2, sort_keys=True, ensure_ascii=False)
    except ValueError:
        return raw


def _mask_headers(headers):
    if not headers:
        return headers
    personal = ("email", "phone", "name", "ip", "forwarded")
    return {
        key: ("***" if any(p in key.lower() for p in personal) else value)
        for key, value in headers.items()
    }
