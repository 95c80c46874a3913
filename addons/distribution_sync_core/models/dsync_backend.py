# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import logging
import secrets
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import ormcache

from .. import dispatcher

# Re-exported for the code that imported them from here before the
# dispatcher had a module of its own.
from ..dispatcher import (  # noqa: F401
    backend_channel,
    channel_capacity,
    dispatch_identity_key,
    even_chunks,
    processing_jobs_in_flight,
    will_dispatch,
)

_logger = logging.getLogger(__name__)

MANAGER = "distribution_sync_core.group_dsync_manager"
SECRET_PLACEHOLDER = "********"
# Records one retention cron call masks or purges (then it commits and goes on).
RETENTION_BATCH = 1000
# Events one inbound job processes together under load (flow default).
INBOUND_BATCH_SIZE = 20


# What a webhook route reads of the backend its token names (cached).
ROUTE_FIELDS = ("id", "active", "company_id", "inbound_rate_limit")
# A change of one of these fields clears that cache in every server process.
ROUTE_CACHE_FIELDS = {
    "token",
    "backend_type",
    "active",
    "company_id",
    "inbound_rate_limit",
    "fast_accept",
}


class UnknownRouteToken(LookupError):
    """No backend of the route's type has this token (never cached)."""


def _new_token(_records=None):
    return secrets.token_urlsafe(32)


class DsyncBackend(models.Model):
    """Connection settings of one external platform.

    Each connector adds its ``backend_type`` and, by convention, methods named
    ``_<type>_process_<topic>`` (inbound processors) and ``_<type>_send_<flow>``
    (outbound senders), plus ``_<type>_flow_specs`` listing its flows.
    """

    _name = "dsync.backend"
    _description = "Sync Backend"
    _inherit = ["mail.thread", "dsync.job.mixin"]
    _order = "sequence, name"

    name = fields.Char(required=True, tracking=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True, tracking=True)
    backend_type = fields.Selection(
        [("generic", "Generic")],
        required=True,
        default="generic",
        tracking=True,
        help="The platform this backend talks to.",
    )
    company_id = fields.Many2one(
        "res.company",
        required=True,
        default=lambda self: self.env.company,
        tracking=True,
    )
    user_id = fields.Many2one(
        "res.users",
        string="Run Jobs As",
        required=True,
        default=lambda self: self.env.ref("base.user_root"),
        help="The user whose rights apply when this backend's jobs run.",
    )
    token = fields.Char(
        string="Route Token",
        required=True,
        copy=False,
        default=_new_token,
        groups=MANAGER,
        help="Unguessable part of this backend's webhook URLs.",
    )
    webhook_url = fields.Char(compute="_compute_webhook_url", groups=MANAGER)
    # Secrets: write-only in the UI, encrypted in dsync.secret.
    webhook_secret = fields.Char(
        compute="_compute_secret_fields",
        inverse="_inverse_webhook_secret",
        groups=MANAGER,
        help="Shared secret that signs the platform's webhooks. Write-only.",
    )
    api_secret = fields.Char(
        string="API Token",
        compute="_compute_secret_fields",
        inverse="_inverse_api_secret",
        groups=MANAGER,
        help="Credential used to call the platform's API. Write-only.",
    )
    webhook_secret_set = fields.Boolean(compute="_compute_secret_set")
    api_secret_set = fields.Boolean(compute="_compute_secret_set")
    api_url = fields.Char(string="API URL", help="Base URL of the platform's API.")
    request_timeout = fields.Integer(default=20, help="Seconds, for every API call.")
    inbound_rate_limit = fields.Integer(
        default=600,
        help="Webhook deliveries accepted per minute and server process; "
        "beyond it the platform gets 429 with Retry-After. 0 = no limit.",
    )
    fast_accept = fields.Boolean(
        string="Fast Accept of Recoverable Deliveries",
        help="Deliveries that this backend can fetch again from the platform "
        "(Shopify orders, while the order recovery job is scheduled and an "
        "API token is set) are acknowledged without waiting for the database "
        "to flush them to disk: more of them are accepted per second (how "
        "many more depends on the disk; see the README). A database crash "
        "in the following fraction of a second can lose such a delivery, "
        "which the recovery job then fetches again. "
        "Every other delivery is on disk before the platform gets its answer.",
    )
    inbound_jobs_limit = fields.Integer(
        string="Processing Jobs at a Time",
        default=0,
        help="How many jobs process this backend's events at the same time "
        "(0: as many as its job channel runs). 1 applies them one batch after "
        "the other: for events that move the same stock, whose jobs would "
        "otherwise wait for each other and retry.",
    )
    pii_mask_days = fields.Integer(
        string="Mask Personal Data After (days)",
        default=30,
        help="Personal data in stored payloads is masked after this many days.",
    )
    payload_retention_days = fields.Integer(
        string="Keep Payloads (days)",
        default=90,
        help="Raw payloads older than this are purged; the event rows stay.",
    )
    flow_ids = fields.One2many("dsync.flow", "backend_id", string="Flows")
    # Outbound circuit breaker.
    circuit_failure_threshold = fields.Integer(default=5)
    circuit_cooldown_seconds = fields.Integer(default=300)
    consecutive_failures = fields.Integer(readonly=True, copy=False)
    circuit_open_until = fields.Datetime(readonly=True, copy=False)
    event_count = fields.Integer(compute="_compute_counts")
    open_exception_count = fields.Integer(compute="_compute_counts")
    pending_outbox_count = fields.Integer(compute="_compute_counts")

    _sql_constraints = [
        ("token_unique", "unique(token)", "The route token must be unique."),
        (
            "rate_limit_positive",
            "CHECK(inbound_rate_limit >= 0)",
            "The inbound rate limit cannot be negative.",
        ),
    ]

    # ------------------------------------------------------------------
    # computes
    # ------------------------------------------------------------------
    @api.depends("token", "backend_type")
    def _compute_webhook_url(self):
        base = self.env["ir.config_parameter"].sudo().get_param("web.base.url", "")
        for backend in self:
            path = backend._dsync_webhook_path()
            backend.webhook_url = f"{base}{path}" if path else False

    def _dsync_webhook_path(self):
        """Connectors return the path of their webhook route."""
        self.ensure_one()
        method = getattr(self, f"_{self.backend_type}_webhook_path", None)
        return method() if method else False

    def _compute_secret_fields(self):
        for backend in self:
            backend.webhook_secret = False
            backend.api_secret = False

    def _compute_secret_set(self):
        stored = (
            self.env["dsync.secret"]
            .sudo()
            ._read_group([("backend_id", "in", self.ids)], ["backend_id", "key"])
        )
        present = {(backend.id, key) for backend, key in stored}
        for backend in self:
            backend.webhook_secret_set = (backend.id, "webhook_secret") in present
            backend.api_secret_set = (backend.id, "api_secret") in present

    def _inverse_webhook_secret(self):
        self._dsync_store_secret_field("webhook_secret")

    def _inverse_api_secret(self):
        self._dsync_store_secret_field("api_secret")

    def _dsync_store_secret_field(self, key):
        for backend in self:
            value = backend[key]
            if value and value != SECRET_PLACEHOLDER:
                backend._dsync_set_secret(key, value)

    def _compute_counts(self):
        events = dict(
            self.env["dsync.event"]._read_group(
                [("backend_id", "in", self.ids)], ["backend_id"], ["__count"]
            )
        )
        exceptions = dict(
            self.env["dsync.exception"]._read_group(
                [
                    ("backend_id", "in", self.ids),
                    ("state", "in", ("open", "in_progress")),
                ],
                ["backend_id"],
                ["__count"],
            )
        )
        outbox = dict(
            self.env["dsync.outbox"]._read_group(
                [("backend_id", "in", self.ids), ("state", "=", "pending")],
                ["backend_id"],
                ["__count"],
            )
        )
        for backend in self:
            backend.event_count = events.get(backend, 0)
            backend.open_exception_count = exceptions.get(backend, 0)
            backend.pending_outbox_count = outbox.get(backend, 0)

    # ------------------------------------------------------------------
    # secrets
    # ------------------------------------------------------------------
    def _dsync_check_manager(self):
        if not self.env.su and not self.env.user.has_group(MANAGER):
            raise UserError(_("Only a Sync Manager can change backend secrets."))

    def _dsync_set_secret(self, key, value):
        """Encrypt and store ``value`` under ``key`` for this backend."""
        self.ensure_one()
        self._dsync_check_manager()
        self.env["dsync.secret"].sudo()._set(self, key, value)
        self.message_post(body=_("Secret %s changed.", key))

    def _dsync_get_secret(self, key):
        """Decrypted secret for internal use (never sent to the UI)."""
        self.ensure_one()
        return self.env["dsync.secret"].sudo()._get(self, key)

    def _dsync_webhook_secrets(self):
        """Secrets a webhook route may need to verify a delivery."""
        self.ensure_one()
        return {"webhook_secret": self._dsync_get_secret("webhook_secret")}

    def action_regenerate_token(self):
        self._dsync_check_manager()
        for backend in self:
            backend.sudo().token = _new_token()
            backend.message_post(
                body=_(
                    "Route token regenerated: update the webhook URL on the platform."
                )
            )
        return True

    # ------------------------------------------------------------------
    # flows
    # ------------------------------------------------------------------
    def _dsync_flow_specs(self):
        """Flows of this backend's type: list of dicts (code, name, direction,
        topics, and optional defaults for the dsync.flow fields)."""
        self.ensure_one()
        method = getattr(self, f"_{self.backend_type}_flow_specs", None)
        if method:
            return method()
        return [
            {
                "code": "inbound",
                "name": "Inbound events",
                "direction": "in",
                "topics": ["*"],
            },
            {"code": "outbound", "name": "Outbound messages", "direction": "out"},
        ]

    def _dsync_ensure_flows(self):
        """Create the missing dsync.flow rows of each backend's type."""
        vals_list = []
        for backend in self:
            # archived flows count: a code exists once per backend
            existing = set(
                backend.with_context(active_test=False).flow_ids.mapped("code")
            )
            for spec in backend._dsync_flow_specs():
                if spec["code"] in existing:
                    continue
                vals = {
                    "backend_id": backend.id,
                    "code": spec["code"],
                    "name": spec["name"],
                    "direction": spec["direction"],
                    "topics": ",".join(spec.get("topics") or []),
                }
                if spec["direction"] == "in":
                    vals["batch_size"] = INBOUND_BATCH_SIZE
                vals.update(spec.get("defaults") or {})
                vals_list.append(vals)
        if vals_list:
            self.env["dsync.flow"].sudo().create(vals_list)

    def _all_flows(self):
        """Flows of this backend, archived ones included (an archived flow
        keeps its policy: its messages wait, its events still process)."""
        self.ensure_one()
        flows = self.with_context(active_test=False).flow_ids
        if not flows:
            self._dsync_ensure_flows()
            flows = self.with_context(active_test=False).flow_ids
        return flows

    def _dsync_flow(self, code):
        flow = self._all_flows().filtered(lambda f: f.code == code)[:1]
        if not flow:
            self._dsync_ensure_flows()
            flow = self._all_flows().filtered(lambda f: f.code == code)[:1]
        if not flow:
            raise UserError(_("Backend %(b)s has no flow %(f)s.", b=self.name, f=code))
        return flow

    def _dsync_flow_for_topic(self, topic):
        inbound = self._all_flows().filtered(lambda f: f.direction == "in")
        for flow in inbound:
            if topic in flow._topic_list():
                return flow
        for flow in inbound:
            if "*" in flow._topic_list():
                return flow
        return inbound[:1]

    @api.model_create_multi
    def create(self, vals_list):
        backends = super().create(vals_list)
        backends._dsync_ensure_flows()
        return backends

    def write(self, vals):
        res = super().write(vals)
        if "backend_type" in vals:
            self._dsync_ensure_flows()
        if ROUTE_CACHE_FIELDS.intersection(vals):
            self.env.registry.clear_cache()
        return res

    def unlink(self):
        res = super().unlink()
        self.env.registry.clear_cache()
        return res

    @api.model
    @ormcache("backend_type", "token")
    def _dsync_route_backend(self, backend_type, token):
        """The ROUTE_FIELDS of the backend of ``backend_type`` whose route
        token is ``token``, as a tuple; raises UnknownRouteToken (not cached,
        so random tokens cannot fill the cache).

        Cached per server process: every webhook asks, and the answer only
        changes when a manager edits the backend. Such an edit clears the
        cache of all workers through Odoo's cache signaling, which each
        request checks before it is dispatched."""
        self.env.cr.execute(
            f"""SELECT {", ".join(ROUTE_FIELDS)} FROM dsync_backend
                 WHERE token = %s AND backend_type = %s""",
            (token, backend_type),
        )
        row = self.env.cr.fetchone()
        if row is None:
            raise UnknownRouteToken(backend_type)
        return row

    @api.model
    @ormcache("backend_id")
    def _dsync_route_fast_topics(self, backend_id):
        """Topics the webhook route acknowledges without waiting for the
        disk (see ``fast_accept``): the connector's recoverable topics when
        the backend asks for it, else none. Cached per server process like
        the route's backend; a change of ``fast_accept``, of a secret, or of
        what a connector's answer depends on clears it."""
        backend = self.browse(backend_id).sudo()
        if not backend.exists() or not backend.fast_accept:
            return frozenset()
        return frozenset(backend._dsync_recoverable_topics())

    def _dsync_recoverable_topics(self):
        """Topics whose deliveries this backend can fetch again from the
        platform if one is lost; connectors answer through
        ``_<type>_recoverable_topics``. None by default."""
        self.ensure_one()
        method = getattr(self, f"_{self.backend_type}_recoverable_topics", None)
        return method() if method else ()

    # ------------------------------------------------------------------
    # processing hooks (extension by convention)
    # ------------------------------------------------------------------
    def _dsync_topic_processors(self):
        """``{topic: processor method name}``: the topics this backend's
        type accepts, as its connector declares them
        (``_<type>_topic_processors``). A topic is never turned into a
        method name: only these methods process events."""
        self.ensure_one()
        method = getattr(self, f"_{self.backend_type}_topic_processors", None)
        return method() if method else {}

    def _dsync_processor(self, topic):
        """The bound processor of ``topic``, or None (not accepted, or not
        implemented yet: the event then opens an *Unsupported* exception)."""
        self.ensure_one()
        name = self._dsync_topic_processors().get(topic)
        return getattr(self, name, None) if name else None

    def _dsync_sender(self, flow_code):
        self.ensure_one()
        return getattr(self, f"_{self.backend_type}_send_{flow_code}", None)

    # ------------------------------------------------------------------
    # circuit breaker (outbound)
    # ------------------------------------------------------------------
    def _dsync_circuit_is_open(self):
        self.ensure_one()
        return bool(
            self.circuit_open_until and self.circuit_open_until > fields.Datetime.now()
        )

    def _dsync_record_send_success(self):
        if self.consecutive_failures or self.circuit_open_until:
            self.sudo().write({"consecutive_failures": 0, "circuit_open_until": False})

    def _dsync_record_send_failure(self):
        self.ensure_one()
        failures = self.consecutive_failures + 1
        vals = {"consecutive_failures": failures}
        if failures >= self.circuit_failure_threshold > 0:
            vals["circuit_open_until"] = fields.Datetime.now() + timedelta(
                seconds=self.circuit_cooldown_seconds
            )
            _logger.warning(
                "backend %s: %s consecutive send failures, circuit open until %s",
                self.id,
                failures,
                vals["circuit_open_until"],
            )
        self.sudo().write(vals)

    # ------------------------------------------------------------------
    # actions
    # ------------------------------------------------------------------
    def _dsync_action(self, xmlid, domain):
        action = self.env["ir.actions.act_window"]._for_xml_id(xmlid)
        action["domain"] = domain
        action["context"] = {}
        return action

    def action_view_events(self):
        return self._dsync_action(
            "distribution_sync_core.dsync_event_action",
            [("backend_id", "in", self.ids)],
        )

    def action_view_exceptions(self):
        return self._dsync_action(
            "distribution_sync_core.dsync_exception_action",
            [("backend_id", "in", self.ids), ("state", "in", ("open", "in_progress"))],
        )

    def action_view_outbox(self):
        return self._dsync_action(
            "distribution_sync_core.dsync_outbox_action",
            [("backend_id", "in", self.ids), ("state", "=", "pending")],
        )

    def action_reset_circuit(self):
        self.sudo().write({"consecutive_failures": 0, "circuit_open_until": False})
        return True

    # ------------------------------------------------------------------
    # crons
    # ------------------------------------------------------------------
    @api.model
    def _cron_dsync_retention(self):
        """One batch of the retention work per call: Odoo's cron runner
        commits it and calls again while the progress it is told about has
        work remaining, so a backlog (retention switched on after a year of
        events) never becomes one huge transaction."""
        backends = self.search([])
        now = fields.Datetime.now()
        masked, purged = backends._dsync_apply_retention(now, batch=RETENTION_BATCH)
        done = masked + purged
        remaining = backends._dsync_retention_remaining(now) if done else 0
        self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)
        return done, remaining

    def _dsync_retention_steps(self, now):
        """(model, method, backend, limit) of each purge and masking due:
        purges first, so that a payload past both limits is not masked and
        then dropped."""
        for backend in self:
            for days, method in (
                (backend.payload_retention_days, "purge"),
                (backend.pii_mask_days, "mask"),
            ):
                if days > 0:
                    limit = now - timedelta(days=days)
                    for model in ("dsync.event", "dsync.outbox"):
                        yield model, method, backend, limit

    def _dsync_apply_retention(self, now=None, batch=None):
        """Purge payloads and mask personal data past each backend's days;
        at most ``batch`` records in all (None: everything due)."""
        now = now or fields.Datetime.now()
        done = {"mask": 0, "purge": 0}
        for model, method, backend, limit in self._dsync_retention_steps(now):
            budget = None if batch is None else batch - sum(done.values())
            if budget is not None and budget <= 0:
                break
            Model = self.env[model].sudo()
            done[method] += getattr(Model, f"_dsync_{method}_before")(
                backend, limit, batch=budget
            )
        _logger.info(
            "retention: %s payloads masked, %s purged", done["mask"], done["purge"]
        )
        return done["mask"], done["purge"]

    def _dsync_retention_remaining(self, now):
        """How many records the retention has still to mask or purge."""
        return sum(
            self.env[model]
            .sudo()
            .search_count(
                getattr(self.env[model], f"_dsync_{method}_domain")(backend, limit)
            )
            for model, method, backend, limit in self._dsync_retention_steps(now)
        )

    @api.model
    def _cron_dsync_drain_outbox(self):
        """Drain the outbox of flows in interval mode whose time has come."""
        flows = self.env["dsync.flow"].search(
            [
                ("direction", "=", "out"),
                ("mode", "=", "interval"),
                ("backend_id.active", "=", True),
            ]
        )
        now = fields.Datetime.now()
        for flow in flows:
            if (
                flow.last_run_at
                and flow.last_run_at + timedelta(minutes=flow.interval_minutes) > now
            ):
                continue
            flow.last_run_at = now
            flow._enqueue_drain()

    # ------------------------------------------------------------------
    # inbound dispatch (job): received events → one processing job each
    # ------------------------------------------------------------------
    def _dsync_wake_dispatcher(self):
        """Make sure a dispatch job is pending for this backend (see
        ``dispatcher.wake``)."""
        self.ensure_one()
        return dispatcher.wake(self)

    def _dsync_inbound_slots(self):
        """Processing jobs this backend keeps due or running at most: what
        its channel runs at once, or ``inbound_jobs_limit`` when lower."""
        self.ensure_one()
        slots = dispatcher.inbound_slots(self)
        if self.inbound_jobs_limit > 0:
            slots = min(slots, self.inbound_jobs_limit)
        return slots

    def _dsync_dispatch_events(self, wait=False):
        """Job entry point of the dispatcher (``dispatcher.dispatch``):
        queue the received events in processing jobs."""
        self.ensure_one()
        return dispatcher.dispatch(self, wait=wait)

    def _dsync_dispatch_apart(self):
        """:meth:`_dsync_dispatch_events` in a transaction of its own
        (``dispatcher.dispatch_apart``)."""
        self.ensure_one()
        dispatcher.dispatch_apart(self)

    @api.model
    def _cron_dsync_dispatch_received(self, min_age_seconds=30):
        """Safety net, every minute; nothing waits for a person:

        * wake the dispatcher of backends whose received events have waited
          too long (a dispatch job that failed, was cancelled or was lost
          with its database, or a request that could not wake it);
        * queue again the events whose job ended without processing them
          (``dsync.event._dsync_requeue_stranded``);
        * turn the events that waited too long for an earlier event of their
          document into exceptions (``dsync.event._dsync_fail_expired_waits``);
        * drain the real-time outbound flows whose due messages have no
          drain job (it failed with its connection)."""
        self.env.cr.execute(
            """SELECT DISTINCT backend_id FROM dsync_event
                WHERE state = 'received'
                  AND create_date
                      < (now() at time zone 'UTC') - %s * interval '1 second'""",
            (min_age_seconds,),
        )
        for backend in self.browse(r[0] for r in self.env.cr.fetchall()):
            backend._dsync_wake_dispatcher()
        self.env["dsync.event"]._dsync_requeue_stranded(min_age_seconds)
        self.env["dsync.event"]._dsync_fail_expired_waits()
        self.env["dsync.flow"]._dsync_drain_orphaned(min_age_seconds)

    # ------------------------------------------------------------------
    # outbox draining (job)
    # ------------------------------------------------------------------
    def _dsync_drain_outbox(self, flow_code):
        """Send one batch of due messages of ``flow_code``; chain the next."""
        self.ensure_one()
        with self._dsync_connection_guard(f"backend {self.id} {flow_code} drain"):
            return self._dsync_drain_outbox_once(flow_code)

    def _dsync_drain_outbox_once(self, flow_code):
        flow = self._dsync_flow(flow_code)
        Outbox = self.env["dsync.outbox"].sudo()
        if not self.active:
            return f"backend {self.id} is disabled: nothing sent"
        if self._dsync_circuit_is_open():
            flow._enqueue_drain(eta=self.circuit_open_until)
            return f"circuit open until {self.circuit_open_until}: nothing sent"
        batch = Outbox._dsync_claim(self, flow)
        if batch:
            batch._dsync_send_batch(self, flow)
        due_now, next_retry = Outbox._dsync_next_due(self, flow)
        if due_now:
            # more to send: right away, unless another worker holds the rows
            eta = None if batch else fields.Datetime.now() + timedelta(seconds=5)
            flow._enqueue_drain(eta=eta)
        elif next_retry:
            flow._enqueue_drain(eta=next_retry)
        states = batch.mapped("state")
        return (
            f"{len(batch)} messages: {states.count('sent')} sent, "
            f"{states.count('failed')} failed, {states.count('pending')} to retry"
        )
