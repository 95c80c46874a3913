# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import json
import logging
import traceback
from datetime import timedelta

import psycopg2

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from odoo.addons.queue_job.exception import RetryableJobError

from ..errors import (
    BusinessError,
    DuplicateEvent,
    StaleEvent,
    is_connection_lost,
    is_transient,
)
from ..intake import MAX_JSON_DEPTH, nested_within
from ..logsafe import stack_without_message
from ..masking import mask_payload
from .dsync_business_context import (
    MASKED_NAME,
    context_values,
    create_context_indexes,
    record_context,
    record_values,
)
from .dsync_exception import RETRY_NOW_LIMIT, retry_notification

_logger = logging.getLogger(__name__)

EVENT_STATES = [
    ("received", "Received"),
    ("queued", "Queued"),
    ("waiting", "Waiting"),
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
    _inherit = ["dsync.job.mixin", "dsync.business.context"]
    _description = "Sync Inbound Event"
    _order = "id desc"
    _rec_names_search = [
        "doc_ref",
        "topic",
        "dedup_key",
        "correlation_id",
        "delivery_id",
    ]

    backend_id = fields.Many2one(
        "dsync.backend", required=True, ondelete="restrict", index=True, readonly=True
    )
    backend_type = fields.Selection(related="backend_id.backend_type")
    company_id = fields.Many2one(
        "res.company", required=True, readonly=True, index=True
    )
    topic = fields.Char(required=True, readonly=True, index=True)
    topic_label = fields.Char("What", compute="_compute_topic_label")
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
    context_filled = fields.Boolean(
        readonly=True,
        help="The connector was asked for the business context (reference, "
        "customer, amount, SKUs) of this event.",
    )

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
        create_context_indexes(self.env.cr, self._table)

    @api.depends("topic", "backend_id.backend_type")
    def _compute_topic_label(self):
        for event in self:
            event.topic_label = event.backend_id._dsync_topic_label(event.topic)

    @api.depends("topic", "doc_ref")
    def _compute_display_name(self):
        for event in self:
            label = event.backend_id._dsync_topic_label(event.topic) or ""
            event.display_name = (
                f"{label} {event.doc_ref}"
                if event.doc_ref
                else _("%(label)s (event %(id)s)", label=label, id=event.id)
            )

    def write(self, vals):
        if (
            vals.get("payload_masked") or vals.get("payload_purged")
        ) and "partner_name" not in vals:
            # the name is a copy of the payload's personal data: it goes with it
            named = self.filtered("partner_name")
            if named:
                named.exception_ids.filtered("partner_name").sudo().write(
                    {"partner_name": MASKED_NAME}
                )
                if named == self:
                    vals = dict(vals, partner_name=MASKED_NAME)
                else:
                    super(DsyncEvent, named).write({"partner_name": MASKED_NAME})
        return super().write(vals)

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
    # business context (see dsync_business_context.py)
    # ------------------------------------------------------------------
    def _dsync_fill_context(self):
        """Ask the connector for the business context of these events, once
        each, before they are processed. Never raises: an event whose
        context cannot be read is processed all the same."""
        currencies = {}
        for event in self.filtered(
            lambda e: not e.context_filled and e.state != "rejected"
        ):
            vals = {"context_filled": True}
            data = event._dsync_context_data()
            if data is not None:
                try:
                    with self.env.cr.savepoint(flush=False):
                        context = event.backend_id._dsync_event_context(event, data)
                        vals.update(context_values(self.env, context or {}, currencies))
                except Exception as err:  # noqa: BLE001 - never worth a failure
                    if is_connection_lost(err, self.env.cr):
                        raise  # the transaction is gone: see dsync.job.mixin
                    # the error's text may quote the payload: its stack only
                    _logger.warning(
                        "event %s: business context not read (%s)\n%s",
                        event.id,
                        type(err).__name__,
                        stack_without_message(err),
                    )
            event.sudo().write(vals)

    def _dsync_context_data(self):
        """The payload as JSON for the context hook, or None."""
        if self.payload_purged or not self.payload or self.payload_base64:
            return None
        try:
            return json.loads(self.payload)
        except ValueError:
            return None

    def _dsync_result_context(self, result):
        """Values linking the event to the record its processor returned,
        and the context that record gives where the event has none."""
        vals = record_values(result)
        given = context_values(self.env, record_context(result))
        for fname, value in given.items():
            if fname not in vals and not self[fname]:
                vals[fname] = value
        return vals

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
        except (ValueError, RecursionError) as err:
            raise BusinessError(
                "invalid_payload",
                _("Event %(id)s is not JSON: %(err)s", id=self.id, err=err),
            ) from err

    def _dsync_follow_up(self, error):
        """Open ``error`` (a :class:`BusinessError`) as a *follow-up*
        exception of this event once the processor's effect is applied.

        For a processor that applies its event and still needs a person:
        a short shipment applied that customer service must tell the
        customer about, a refund turned into a draft credit note that
        finance must review. The exception opens when the event is recorded
        *done* (after the exceptions of its earlier failures are resolved)
        and is not resolved by it; if the processor fails instead, nothing
        of it is kept. Call it from the processor (or a batch hook) with the
        event being processed; several calls open several exceptions (one
        per category). (Kept with the transaction's post-commit data: a
        savepoint's flush does not clear it, its end does.)"""
        self.ensure_one()
        pending = self.env.cr.postcommit.data.setdefault("dsync_follow_ups", {})
        pending.setdefault(self.id, []).append(error)

    def _dsync_take_follow_ups(self):
        """The follow-ups registered for this event (and forget them)."""
        pending = self.env.cr.postcommit.data.get("dsync_follow_ups") or {}
        return pending.pop(self.id, [])

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
            lambda e: e.state in ("received", "queued", "waiting", "failed")
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

    def _dsync_delay(self, eta=None, attempts_done=0, note=None, mark=True):
        """Create the single-event processing job and mark the event queued.

        ``attempts_done`` counts attempts already spent elsewhere (a batch job
        whose try of this event failed transiently): the job starts at that
        retry count, so the flow's maximum covers every attempt. ``mark=False``
        leaves the event row alone (another transaction holds it).
        """
        self.ensure_one()
        backend = self.backend_id.sudo()
        flow = backend._dsync_flow_for_topic(self.topic)
        job = (
            self._dsync_job_env(backend)
            .with_context(dsync_correlation_id=self.correlation_id)
            .with_delay(
                channel=flow._channel_name(),
                identity_key=f"dsync-event-{self.id}",
                priority=flow.priority,
                max_retries=0,
                eta=eta,
                description=f"{backend.name}: {self.topic} #{self.id}",
            )
            ._dsync_run()
        )
        # a deduplicated delay returns the pending job's record, else a Job
        if mark:
            self._dsync_mark_queued(job.uuid, note=note, attempts_done=attempts_done)
        return job

    def _dsync_delay_batch(self, flow):
        """One job for these events of one backend and flow (see
        :meth:`_dsync_run_batch`)."""
        backend = self.backend_id.sudo()
        backend.ensure_one()
        first, last = min(self.ids), max(self.ids)
        job = (
            self._dsync_job_env(backend)
            .with_delay(
                channel=flow._channel_name(),
                priority=flow.priority,
                max_retries=0,
                description=(
                    f"{backend.name}: {len(self)} {flow.name} events #{first}-#{last}"
                ),
            )
            ._dsync_run_batch()
        )
        self._dsync_mark_queued(job.uuid)

    def _dsync_job_env(self, backend):
        """These events as the backend's job user sees them."""
        return (
            self.with_user(backend.user_id)
            .with_company(backend.company_id)
            .with_context(tracking_disable=True, mail_create_nolog=True)
        )

    def _dsync_mark_queued(self, job_uuid, note=None, attempts_done=0):
        self.env.flush_all()
        self.env.cr.execute(
            """UPDATE dsync_event
                  SET state = 'queued', last_error = %s,
                      job_id = (SELECT id FROM queue_job WHERE uuid = %s)
                WHERE id IN %s""",
            (note or None, job_uuid, tuple(self.ids)),
        )
        if attempts_done:
            self.env.cr.execute(
                "UPDATE queue_job SET retry = %s WHERE uuid = %s AND retry < %s",
                (attempts_done, job_uuid, attempts_done),
            )
            self.env["queue.job"].invalidate_model(["retry"])
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
        """Process the event once (single-event job); see DESIGN.md "How
        data flows"."""
        self.ensure_one()
        self._dsync_hand_on_after()
        with self._dsync_connection_guard(f"events {self.ids}"):
            return self._dsync_run_once()

    def _dsync_run_once(self):
        if not self._dsync_lock():
            # Another job holds this event: come back later; this does not
            # count as an attempt.
            raise RetryableJobError(
                "event is being processed by another job", seconds=5, ignore_retry=True
            )
        self.invalidate_recordset()
        if self.state not in PROCESSABLE:
            return f"nothing to do: event {self.id} is {self.state}"
        flow = self.backend_id._dsync_flow_for_topic(self.topic)
        attempt = self._dsync_current_attempt()
        if attempt > flow.max_retries:
            # Only a job found dead gets here (queue_job counts those runs;
            # failed attempts stop at the maximum): an event that kills its
            # worker every time, by memory or time limit, must not loop.
            return self._dsync_fail(
                BusinessError(
                    "retries_exhausted",
                    _(
                        "Gave up after %(n)s attempts: the job stopped without an "
                        "outcome each time (its worker was killed, by a memory or "
                        "time limit?). Check the server log, then retry.",
                        n=attempt - 1,
                    ),
                    kind_key=f"flow:{flow.code}",
                )
            )
        return self._dsync_conclude(*self._dsync_process())

    def _dsync_hand_on_after(self):
        """Once this job's transaction ends, committed or rolled back (a
        retry, a failure), queue what the backend received meanwhile, in a
        transaction of its own (see ``dsync.backend._dsync_dispatch_events``).

        After the end, not before: a delivery that found this job running
        and left its event to it was committed by then, so the scan sees it.
        """
        backend = self.backend_id.sudo()
        cr = self.env.cr
        handed = cr.postcommit.data.setdefault("dsync_hand_on", set())
        if backend.id in handed:
            return
        handed.add(backend.id)
        cr.postcommit.add(backend._dsync_dispatch_apart)
        cr.postrollback.add(backend._dsync_dispatch_apart)

    def _dsync_run_batch(self):
        """Process several events of one backend and flow in one job and one
        transaction (the dispatcher's batches under load).

        The backend's batch hook ``_<type>_process_batch(events)`` (optional)
        applies what it can together, inside a savepoint: if it raises, none
        of it is kept. Every event it did not apply is processed on its own,
        oldest first, in its own savepoint, exactly as a single-event job
        would. An event another transaction holds gets its own job instead,
        and a transient failure gets its own retry job: one event never holds
        the others back, and the batch job itself never retries.
        """
        self[:1]._dsync_hand_on_after()
        with self._dsync_connection_guard(f"events {self.ids}"):
            return self._dsync_run_batch_once()

    def _dsync_run_batch_once(self):
        dead_runs = self[:1]._dsync_current_attempt() - 1
        if dead_runs:
            return self._dsync_split_dead_batch(dead_runs)
        events = self.env["dsync.event"]
        for event in self.sorted("id"):
            if event._dsync_lock():
                events |= event
            else:
                # its row is not ours to write: its own job will see to it
                event._dsync_delay(
                    eta=fields.Datetime.now() + timedelta(seconds=5), mark=False
                )
        events.invalidate_recordset()
        events = events.filtered(lambda e: e.state in PROCESSABLE)
        if not events:
            return "nothing to do"
        events._dsync_fill_context()
        applied = events._dsync_process_batch()
        together = events.filtered(lambda e: e in applied)
        notes = [
            event.with_context(dsync_defer_sequence=True)._dsync_conclude(
                "done", applied[event]
            )
            for event in together
        ]
        together._dsync_sequence_advance_many()
        for event in events - together:
            notes.append(event._dsync_conclude(*event._dsync_process(), batch=True))
        return f"{len(applied)} applied together\n" + "\n".join(notes)

    def _dsync_split_dead_batch(self, dead_runs):
        """This batch job ran before and stopped without an outcome (found
        dead: its worker was killed, by a memory or time limit?). Its events
        go on in jobs of their own, those runs counted as attempts, so that
        one event that kills its worker cannot take the others down again."""
        note = _(
            "its batch job stopped without an outcome %(n)s time(s): retried alone",
            n=dead_runs,
        )
        count = 0
        for event in self.sorted("id"):
            if event._dsync_lock():
                event.invalidate_recordset()
                if event.state in PROCESSABLE:
                    event._dsync_delay(attempts_done=dead_runs, note=note)
                    count += 1
            else:
                event._dsync_delay(
                    eta=fields.Datetime.now() + timedelta(seconds=5), mark=False
                )
        return f"found dead {dead_runs} time(s): {count} events queued one by one"

    def _dsync_process_batch(self):
        """{event: result} of the events the backend's batch hook applied."""
        backend = self.backend_id
        backend.ensure_one()
        hook = getattr(backend, f"_{backend.backend_type}_process_batch", None)
        if hook is None or len(self) < 2:
            return {}
        ready = self._dsync_sequence_ready()
        if len(ready) < 2:
            return {}
        try:
            with self.env.cr.savepoint():
                applied = hook(ready) or {}
        except Exception as err:  # noqa: BLE001 - each event is processed alone next
            if is_connection_lost(err, self.env.cr):
                raise  # the transaction is gone: see dsync.job.mixin
            # the error's text may quote the payload: its type only
            _logger.info(
                "backend %s: batch of %s events not applied together (%s); "
                "processing them one by one",
                backend.id,
                len(self),
                type(err).__name__,
            )
            return {}
        return {event: result for event, result in applied.items() if event in ready}

    def _dsync_process(self):
        """Run the topic's processor in a savepoint; never raises.

        Returns ``(outcome, value)``: ``("done", result)``, ``("stale" |
        "duplicate", note)``, ``("waiting", sequence number)`` (see
        ``dsync_event_sequence``), ``("failed", BusinessError)`` or
        ``("transient", error)``; the processor's effects are kept only for
        ``done``.
        """
        self.ensure_one()
        self._dsync_fill_context()
        backend = self.backend_id
        processor = backend._dsync_processor(self.topic)
        event = self.with_context(dsync_correlation_id=self.correlation_id)
        self._dsync_take_follow_ups()  # none of an earlier try
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
            gate = self._dsync_sequence_gate()
            if gate:
                return gate
            with self.env.cr.savepoint():
                result = processor(event)
            if isinstance(result, StaleEvent):
                # stale, with what the processor kept as history
                return "stale", str(result)
        except StaleEvent as err:
            return "stale", str(err)
        except DuplicateEvent as err:
            return "duplicate", str(err)
        except BusinessError as err:
            return "failed", err
        except Exception as err:  # noqa: BLE001 - every failure is recorded
            if is_connection_lost(err, self.env.cr):
                raise  # the transaction is gone: see dsync.job.mixin
            if is_transient(err):
                return "transient", err
            # the stack, not the error's text: it may quote the payload (the
            # exception keeps it whole, for the people allowed to read it)
            _logger.error(
                "event %s: unexpected processing error %s\n%s",
                self.id,
                type(err).__name__,
                stack_without_message(err),
            )
            return "failed", BusinessError(
                "processing_error",
                _("Unexpected error: %s", err),
                kind_key=f"error:{type(err).__name__}",
                details=traceback.format_exc(),
            )
        return "done", result

    def _dsync_conclude(self, outcome, value, batch=False):
        """Record the outcome of :meth:`_dsync_process`; return the job note."""
        if outcome != "done":
            self._dsync_take_follow_ups()  # the effect was not applied
        if outcome == "done":
            return self._dsync_finish("done", result=value)
        if outcome in ("stale", "duplicate"):
            return self._dsync_finish(outcome, value)
        if outcome == "waiting":
            return self._dsync_wait(value)
        if outcome == "failed":
            return self._dsync_fail(value)
        return self._dsync_transient(value, batch=batch)

    def _dsync_transient(self, err, batch=False):
        flow = self.backend_id._dsync_flow_for_topic(self.topic)
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
        note = f"attempt {attempt}/{flow.max_retries} failed ({err}); retry in {delay}s"
        if batch:
            # the batch goes on: this event alone is retried, by its own job
            self._dsync_delay(
                eta=fields.Datetime.now() + timedelta(seconds=delay),
                attempts_done=attempt,
                note=note,
            )
            return f"event {self.id}: {note}"
        raise RetryableJobError(note, seconds=delay) from err

    def _dsync_finish(self, state, note=None, result=None):
        vals = {
            "state": state,
            "processed_at": fields.Datetime.now(),
            "last_error": note if state != "done" else False,
        }
        if result is not None and isinstance(result, models.BaseModel) and result:
            vals.update(self._dsync_result_context(result))
        self.sudo().write(vals)
        self.exception_ids.filtered(
            lambda e: e.state in ("open", "in_progress") and not e.follow_up
        )._dsync_auto_resolve(
            _("Event %(id)s processed (%(state)s).", id=self.id, state=state),
            source=self,
        )
        if state == "done":
            Exception_ = self.env["dsync.exception"].sudo()
            for error in self._dsync_take_follow_ups():
                Exception_._dsync_open(error, event=self, follow_up=True)
        self._dsync_sequence_advance(state)
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

    @api.model
    def _dsync_requeue_stranded(self, min_age_seconds=30, limit=1000):
        """Queue again each event left *queued* by a job that ended without
        processing it: failed (its connection was lost and queue_job could
        only mark it failed), cancelled, done, or deleted, with no other
        job waiting or running for the event.

        Every such end counts as an attempt, so an event that keeps losing
        its job fails at its flow's maximum with *Retries exhausted*
        instead of going round for ever."""
        self.env.flush_all()
        cr = self.env.cr
        cr.execute(
            """SELECT e.id, j.retry, j.state
                 FROM dsync_event e
                 LEFT JOIN queue_job j ON j.id = e.job_id
                WHERE e.state = 'queued'
                  AND (j.id IS NULL
                       OR (j.state IN ('done', 'failed', 'cancelled')
                           AND coalesce(j.date_done, j.date_cancelled,
                                        j.date_started, j.date_enqueued,
                                        j.date_created)
                               < (now() at time zone 'UTC')
                                 - %s * interval '1 second'))
                  AND NOT EXISTS (
                      SELECT FROM queue_job k
                       WHERE k.identity_key = 'dsync-event-' || e.id
                         AND k.state IN ('wait_dependencies', 'pending', 'enqueued'))
                  AND NOT EXISTS (
                      SELECT FROM queue_job k
                       WHERE k.state = 'started'
                         AND k.identity_key = 'dsync-event-' || e.id)
                ORDER BY e.id
                LIMIT %s
                FOR NO KEY UPDATE OF e SKIP LOCKED""",
            (min_age_seconds, limit),
        )
        rows = cr.fetchall()
        for event_id, retry, job_state in rows:
            event = self.sudo().browse(event_id)
            spent = (retry or 0) + 1
            how = job_state or "deleted"
            flow = event.backend_id._dsync_flow_for_topic(event.topic)
            if spent >= flow.max_retries:
                event._dsync_fail(
                    BusinessError(
                        "retries_exhausted",
                        _(
                            "Gave up after %(n)s attempts: its job ended (%(how)s) "
                            "without processing it each time. Check the server "
                            "log, then retry.",
                            n=spent,
                            how=how,
                        ),
                        kind_key=f"flow:{flow.code}",
                    )
                )
            else:
                event._dsync_delay(
                    attempts_done=spent,
                    note=_(
                        "its job ended (%(how)s) without processing it: queued again",
                        how=how,
                    ),
                )
        if rows:
            _logger.warning("%s stranded events queued again or failed", len(rows))
        return len(rows)

    # ------------------------------------------------------------------
    # user actions
    # ------------------------------------------------------------------
    def action_retry(self):
        """Process the events now (a person's retry) and say what came of it."""
        retryable = self.filtered(
            lambda e: e.state in ("failed", "received", "queued", "waiting")
        )
        if not retryable:
            raise UserError(
                _(
                    "Only failed or waiting events can be retried; rejected, stale, "
                    "duplicate and done events are kept as a record only."
                )
            )
        now, later = retryable[:RETRY_NOW_LIMIT], retryable[RETRY_NOW_LIMIT:]
        outcomes = [event.sudo()._dsync_run_now() for event in now.sorted("id")]
        if later:
            later.sudo()._dsync_enqueue()
        self.env.invalidate_all()
        return retry_notification(
            self.env, now.sorted("id"), outcomes, queued=len(later), open_result=True
        )

    def _dsync_run_now(self):
        """Process this failed or waiting event in the current transaction,
        as its job would (as the backend's job user, in its savepoints):
        a person's retry. Returns the event's state afterwards, or ``busy``
        when a job holds it right now. A transient failure queues the
        event's retry job."""
        self.ensure_one()
        backend = self.backend_id.sudo()
        event = self._dsync_job_env(backend).with_context(
            dsync_correlation_id=self.correlation_id
        )
        if not event._dsync_lock():
            return "busy"
        event.invalidate_recordset()
        if event.state not in ("failed", "waiting") + PROCESSABLE:
            return event.state
        event._dsync_conclude(*event._dsync_process(), batch=True)
        return event.state

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
    def _dsync_mask_domain(self, backend, limit):
        return [
            ("backend_id", "=", backend.id),
            ("create_date", "<", limit),
            ("payload_masked", "=", False),
            ("payload_purged", "=", False),
        ]

    @api.model
    def _dsync_purge_domain(self, backend, limit):
        return [
            ("backend_id", "=", backend.id),
            ("create_date", "<", limit),
            ("payload_purged", "=", False),
        ]

    @api.model
    def _dsync_mask_before(self, backend, limit, batch=None):
        """Mask the personal data of up to ``batch`` (all when None) of the
        backend's events received before ``limit``, oldest first."""
        events = self.search(
            self._dsync_mask_domain(backend, limit), order="id", limit=batch
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
    def _dsync_purge_before(self, backend, limit, batch=None):
        events = self.search(
            self._dsync_purge_domain(backend, limit), order="id", limit=batch
        )
        events.write({"payload": False, "headers": False, "payload_purged": True})
        return len(events)


# A stored payload over this size is shown as it is, cut (the whole body stays
# in the record and its export).
PRETTY_MAX_CHARS = 256 * 1024


def _pretty(raw):
    """The payload indented for reading; never fails: a body that is not
    JSON, too large or nested too deeply (a rejected "bomb") is shown as
    it arrived."""
    if not raw:
        return False
    if len(raw) > PRETTY_MAX_CHARS:
        return f"{raw[:PRETTY_MAX_CHARS]}\n… (cut: {len(raw)} characters in all)"
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return raw
    if not nested_within(data, MAX_JSON_DEPTH):
        return raw
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)


def _mask_headers(headers):
    if not headers:
        return headers
    personal = ("email", "phone", "name", "ip", "forwarded")
    return {
        key: ("***" if any(p in key.lower() for p in personal) else value)
        for key, value in headers.items()
    }
