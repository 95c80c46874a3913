# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Per-key sequencing of inbound events.

Platforms send the events of one document (a warehouse order, a snapshot)
with a sequence number and do not promise to deliver them in that order
(ShipBob, ShipHero and most 3PLs say so in their documentation). The core
applies the events of one key in sequence order:

* the connector's ``describe`` gives each delivery a ``sequence_key`` (e.g.
  the order reference) and a ``sequence`` (1 for the first event of that
  key); events created by code (a file import) set the two fields themselves;
* an event whose predecessor has not been applied yet is not processed: it
  waits, in the state *Waiting* with ``waiting_for`` = the number it needs;
* when an event of the key is applied (done, or found a duplicate or stale
  by its processor), the next number, if it waits, is queued at once;
* an event whose number is not newer than the last one applied is recorded
  *stale* (never applied);
* one that waits longer than the backend's ``sequence_gap_minutes`` becomes
  a *Missing earlier event* exception for the operations team; a person
  can retry it (it waits again) or apply it without its predecessors
  (:meth:`action_apply_without_waiting`); the missing one, if it arrives
  later, is then stale. An event that *fails* is not applied: the ones
  after it wait for its retry.

What has been applied per key is kept in ``dsync.event.sequence`` (one row
per backend and key). Checking a key locks its row (an upsert): two jobs
holding events of one key take turns, and a job whose snapshot is older
than the other's commit gets a serialization failure, which is retried.
"""

import psycopg2

from odoo import _, api, fields, models

from ..errors import BusinessError, TransientError

# States of an event that count as "this number was handled".
APPLIED_STATES = ("done", "duplicate")
DEFAULT_GAP_MINUTES = 30


class SequenceBusy(TransientError):
    """Another transaction changed the key's sequence meanwhile: retried
    with a fresh snapshot."""


class DsyncEventSequence(models.Model):
    """The last sequence number applied for one key of a backend."""

    _name = "dsync.event.sequence"
    _description = "Sync Event Sequence"
    _order = "id desc"
    _rec_name = "key"

    backend_id = fields.Many2one(
        "dsync.backend", required=True, ondelete="cascade", readonly=True
    )
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    key = fields.Char(required=True, readonly=True, index=True)
    last_applied = fields.Integer(readonly=True, default=0)
    last_event_id = fields.Many2one("dsync.event", readonly=True, ondelete="set null")

    _sql_constraints = [
        ("key_unique", "unique(backend_id, key)", "One sequence per backend and key.")
    ]


class DsyncEvent(models.Model):
    _inherit = "dsync.event"

    sequence_key = fields.Char(
        readonly=True,
        help="The document whose events are applied in sequence order (an "
        "order reference, a snapshot id).",
    )
    sequence = fields.Integer(
        readonly=True, help="This event's number among the events of its key."
    )
    waiting_for = fields.Integer(
        readonly=True, help="The sequence number this event waits for."
    )
    waiting_since = fields.Datetime(readonly=True)
    sequence_forced = fields.Boolean(
        "Applied Without Waiting",
        readonly=True,
        help="A person chose to apply this event without the earlier ones.",
    )
    sequence_status = fields.Char(compute="_compute_sequence_status")

    def init(self):
        super().init()
        self.env.cr.execute(
            """CREATE INDEX IF NOT EXISTS dsync_event_sequence_key_idx
                   ON dsync_event (backend_id, sequence_key, sequence)
                WHERE sequence_key IS NOT NULL"""
        )

    @api.depends("state", "sequence", "sequence_key", "waiting_for")
    def _compute_sequence_status(self):
        for event in self:
            if event.state == "waiting" and event.waiting_for:
                event.sequence_status = _(
                    "Waiting for sequence %(n)s of %(key)s",
                    n=event.waiting_for,
                    key=event.sequence_key,
                )
            elif event.sequence_key:
                event.sequence_status = _(
                    "Sequence %(n)s of %(key)s",
                    n=event.sequence,
                    key=event.sequence_key,
                )
            else:
                event.sequence_status = False

    # ------------------------------------------------------------------
    # the gate (called by _dsync_process before the processor)
    # ------------------------------------------------------------------
    def _dsync_sequence_gate(self):
        """None when this event may be applied now, else the outcome to
        record instead: ``("waiting", number)`` or ``("stale", note)``.

        Locks the key's row until the transaction ends. Raises
        :class:`SequenceBusy` (transient) when another transaction changed
        it after this one's snapshot."""
        self.ensure_one()
        if not self.sequence_key or not self.sequence:
            return None
        last = self._dsync_sequence_lock()
        if self.sequence <= last:
            return (
                "stale",
                _(
                    "Sequence %(n)s of %(key)s is not newer than %(last)s, "
                    "already applied.",
                    n=self.sequence,
                    key=self.sequence_key,
                    last=last,
                ),
            )
        if self.sequence > last + 1 and not self.sequence_forced:
            return ("waiting", last + 1)
        return None

    def _dsync_sequence_lock(self):
        """Lock (creating it if needed) the key's sequence row; return the
        last number applied."""
        self.env.flush_all()
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(
                    """INSERT INTO dsync_event_sequence
                           (backend_id, key, last_applied, company_id,
                            create_uid, create_date, write_uid, write_date)
                       VALUES (%s, %s, 0, %s, %s, now() at time zone 'UTC',
                               %s, now() at time zone 'UTC')
                       ON CONFLICT (backend_id, key)
                       DO UPDATE SET write_date = now() at time zone 'UTC'
                       RETURNING last_applied""",
                    (
                        self.backend_id.id,
                        self.sequence_key,
                        self.company_id.id,
                        self.env.uid,
                        self.env.uid,
                    ),
                )
                return self.env.cr.fetchone()[0]
        except (
            psycopg2.errors.SerializationFailure,
            psycopg2.errors.UniqueViolation,
        ) as err:
            raise SequenceBusy(
                f"the events of {self.sequence_key!r} changed meanwhile",
                retry_after=2,
            ) from err

    def _dsync_sequence_ready(self):
        """The events of this batch a connector's batch hook may apply
        together: those without a sequence, and for each key the event of
        the batch with the lowest number, if it is the next one. The others
        are processed one by one, in order, after the hook."""
        lowest = {}
        for event in self:
            if event.sequence_key and event.sequence:
                best = lowest.get(event.sequence_key)
                if best is None or event.sequence < best.sequence:
                    lowest[event.sequence_key] = event
        ready = self.browse()
        for event in self:
            if event.sequence_key and event.sequence:
                if lowest[event.sequence_key] != event:
                    continue
                try:
                    if event._dsync_sequence_gate() is not None:
                        continue
                except SequenceBusy:
                    continue
            ready |= event
        return ready

    # ------------------------------------------------------------------
    # outcomes
    # ------------------------------------------------------------------
    def _dsync_wait(self, number):
        """Record that this event waits for sequence ``number``."""
        self.ensure_one()
        self.sudo().write(
            {
                "state": "waiting",
                "waiting_for": number,
                "waiting_since": self.waiting_since or fields.Datetime.now(),
                "last_error": _(
                    "Waiting for sequence %(n)s of %(key)s.",
                    n=number,
                    key=self.sequence_key,
                ),
            }
        )
        return f"event {self.id}: waiting for sequence {number} of {self.sequence_key}"

    def _dsync_sequence_advance(self, state):
        """After this event was recorded in ``state``: a number handled
        (applied, or found a duplicate) moves the key on, and the next one,
        if it waits, is queued."""
        self.ensure_one()
        if not self.sequence_key or not self.sequence:
            return
        if self.env.context.get("dsync_defer_sequence"):
            return  # the batch advances its events together
        if state in APPLIED_STATES:
            self.env.cr.execute(
                """UPDATE dsync_event_sequence
                      SET last_applied = greatest(last_applied, %s),
                          last_event_id = %s,
                          write_date = now() at time zone 'UTC'
                    WHERE backend_id = %s AND key = %s
                RETURNING last_applied""",
                (self.sequence, self.id, self.backend_id.id, self.sequence_key),
            )
            row = self.env.cr.fetchone()
            last = row[0] if row else self.sequence
        elif state == "stale":
            last = self._dsync_sequence_last()
        else:
            return
        self._dsync_release(last + 1)

    def _dsync_sequence_advance_many(self):
        """:meth:`_dsync_sequence_advance` of these applied events (of one
        backend, one per key: a batch job's), in two statements."""
        events = self.filtered(lambda e: e.sequence_key and e.sequence)
        if not events:
            return
        backend = events.backend_id
        backend.ensure_one()
        cr = self.env.cr
        cr.execute_values(
            """UPDATE dsync_event_sequence s
                  SET last_applied = greatest(s.last_applied, v.number),
                      last_event_id = v.event,
                      write_date = now() at time zone 'UTC'
                 FROM (VALUES %s) AS v(backend, key, number, event)
                WHERE s.backend_id = v.backend AND s.key = v.key""",
            [(backend.id, e.sequence_key, e.sequence, e.id) for e in events],
        )
        self.flush_model(["state", "sequence", "sequence_key", "waiting_for"])
        cr.execute(
            """SELECT DISTINCT sequence_key FROM dsync_event
                WHERE backend_id = %s AND sequence_key = ANY(%s)
                  AND state IN ('waiting', 'failed')""",
            (backend.id, list(set(events.mapped("sequence_key")))),
        )
        waiting = {row[0] for row in cr.fetchall()}
        for event in events.filtered(lambda e: e.sequence_key in waiting):
            event._dsync_release(event._dsync_sequence_last() + 1)

    def _dsync_sequence_last(self):
        self.env.cr.execute(
            "SELECT last_applied FROM dsync_event_sequence "
            "WHERE backend_id = %s AND key = %s",
            (self.backend_id.id, self.sequence_key),
        )
        row = self.env.cr.fetchone()
        return row[0] if row else 0

    def _dsync_release(self, number):
        """Queue the events of this key that wait for ``number`` (or failed
        for want of it); the later ones now wait for ``number``. One query
        when nothing waits (the usual case)."""
        self.flush_model(["state", "sequence", "sequence_key", "waiting_for"])
        self.env.cr.execute(
            """SELECT e.id, e.sequence, e.state, e.waiting_for,
                      e.state = 'failed' AND EXISTS (
                          SELECT FROM dsync_exception x
                           WHERE x.event_id = e.id
                             AND x.category = 'missing_event'
                             AND x.state IN ('open', 'in_progress'))
                 FROM dsync_event e
                WHERE e.backend_id = %s AND e.sequence_key = %s
                  AND e.sequence >= %s AND e.state IN ('waiting', 'failed')
                ORDER BY e.id""",
            (self.backend_id.id, self.sequence_key, number),
        )
        rows = self.env.cr.fetchall()
        following = self.browse(
            [
                row[0]
                for row in rows
                if row[1] == number and (row[2] == "waiting" or row[4])
            ]
        ).sudo()
        later = [
            row[0]
            for row in rows
            if row[1] > number and row[2] == "waiting" and (row[3] or 0) < number
        ]
        if later:
            # they now wait for this number (and since now: the platform is
            # sending)
            self.env.cr.execute(
                """UPDATE dsync_event
                      SET waiting_for = %s, waiting_since = now() at time zone 'UTC'
                    WHERE id IN %s""",
                (number, tuple(later)),
            )
            self.invalidate_model(["waiting_for", "waiting_since"])
        for event in following:
            event._dsync_delay(note=_("Sequence %s arrived: queued.", number - 1))
        return following

    # ------------------------------------------------------------------
    # gaps that never fill
    # ------------------------------------------------------------------
    @api.model
    def _dsync_fail_expired_waits(self, limit=1000):
        """Each event waiting longer than its backend's gap timeout becomes
        a *Missing earlier event* exception (called by the safety cron)."""
        self.env.flush_all()
        self.env.cr.execute(
            """SELECT e.id FROM dsync_event e
                 JOIN dsync_backend b ON b.id = e.backend_id
                WHERE e.state = 'waiting'
                  AND e.waiting_since < (now() at time zone 'UTC')
                      - greatest(b.sequence_gap_minutes, 0) * interval '1 minute'
                ORDER BY e.id
                LIMIT %s
                FOR NO KEY UPDATE OF e SKIP LOCKED""",
            (limit,),
        )
        events = self.sudo().browse([row[0] for row in self.env.cr.fetchall()])
        for event in events:
            event._dsync_fail(event._dsync_gap_error())
        return events

    def _dsync_gap_error(self):
        self.ensure_one()
        minutes = self.backend_id.sequence_gap_minutes
        return BusinessError(
            "missing_event",
            _(
                "%(key)s: event %(n)s has waited since %(since)s for event "
                "%(missing)s, which %(backend)s has not sent (over %(minutes)s "
                "minutes). Ask for it to be sent again: this one is then applied "
                "by itself. Or apply this one without it.",
                key=self.sequence_key,
                n=self.sequence,
                since=self.waiting_since,
                missing=self.waiting_for,
                backend=self.backend_id.name,
                minutes=minutes,
            ),
            kind_key=f"sequence:{self.sequence_key}",
        )

    # ------------------------------------------------------------------
    # actions
    # ------------------------------------------------------------------
    def action_apply_without_waiting(self):
        """Apply these events now, without the earlier events of their key
        that never arrived (those are stale if they come later)."""
        events = self.filtered(lambda e: e.state in ("waiting", "failed"))
        if not events:
            return True
        events.sudo().write({"sequence_forced": True})
        events._dsync_enqueue()
        return True


class DsyncBackend(models.Model):
    _inherit = "dsync.backend"

    sequence_gap_minutes = fields.Integer(
        "Wait for Missing Events (minutes)",
        default=DEFAULT_GAP_MINUTES,
        help="An event that arrives before an earlier event of the same "
        "document waits for it this long; then it opens a 'Missing earlier "
        "event' exception.",
    )
