# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import logging

from markupsafe import Markup, escape

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..errors import CATEGORY_TEAMS
from .dsync_business_context import (
    context_values,
    create_context_indexes,
    record_context,
    record_values,
)

_logger = logging.getLogger(__name__)

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
    ("security", "Refused deliveries"),
    ("label_pending", "Label not bought in time"),
    ("shipment_stuck", "Shipment stuck"),
    ("missing_event", "Missing earlier event"),
    ("unknown_reference", "Unknown reference"),
    ("quantity_mismatch", "Quantity mismatch"),
    ("short_shipped", "Short shipped"),
    ("to_review", "To review"),
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
# Events a person's "Retry all of this kind" processes at once; the rest
# are queued for the job runner.
RETRY_NOW_LIMIT = 20
# Deliveries answered 401 (bad signature, timestamp out of the window) make
# one "security" exception per backend (see _cron_dsync_security_scan).
SECURITY_KIND = "security:signature"
SECURITY_CURSOR = "distribution_sync_core.security_scan_last_event"


class DsyncException(models.Model):
    """A message that could not be applied or sent: someone must act."""

    _name = "dsync.exception"
    _description = "Sync Exception"
    _inherit = ["mail.thread", "mail.activity.mixin", "dsync.business.context"]
    _order = "severity_rank desc, id desc"
    _rec_names_search = ["name", "doc_ref", "skus", "partner_name"]

    name = fields.Char(required=True, tracking=True)
    problem = fields.Char(
        help="The problem in a few words (the title without the document)."
    )
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
    backend_type = fields.Selection(related="backend_id.backend_type")
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
    last_seen_at = fields.Datetime(
        "Last Seen", readonly=True, help="When the problem last happened."
    )
    event_id = fields.Many2one("dsync.event", ondelete="cascade", index=True)
    outbox_id = fields.Many2one("dsync.outbox", ondelete="cascade", index=True)
    correlation_id = fields.Char(index=True)
    res_model = fields.Char("Related Model")
    res_id = fields.Many2oneReference("Related Record", model_field="res_model")
    payload = fields.Text(compute="_compute_payload")
    resolved_at = fields.Datetime(readonly=True)
    same_kind_count = fields.Integer(compute="_compute_same_kind_count")
    follow_up = fields.Boolean(
        readonly=True,
        help="Opened by a processor that applied its message: the change is "
        "made in Odoo, and a person has something to do about it (tell the "
        "customer, review a credit note). Mark it done once handled.",
    )
    fix_data = fields.Json(
        readonly=True, help="What the fix actions need (from the processor)."
    )
    fix_kind = fields.Selection(
        [
            ("product", "Create or link a product"),
            ("mapping", "Map a code"),
            ("amounts", "Compare the amounts"),
        ],
        compute="_compute_fix",
    )
    fix_html = fields.Html(compute="_compute_fix", sanitize=False)
    next_step = fields.Char("What To Do", compute="_compute_next_step")
    can_retry = fields.Boolean(compute="_compute_can_retry")

    def init(self):
        create_context_indexes(self.env.cr, self._table)

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

    @api.depends("state", "event_id.state", "outbox_id.state")
    def _compute_can_retry(self):
        for exc in self:
            exc.can_retry = (
                exc.state in OPEN_STATES
                and not exc.follow_up
                and bool(
                    exc.event_id.state in ("failed", "received", "queued", "waiting")
                    or exc.outbox_id.state == "failed"
                )
            )

    @api.depends("category", "fix_data", "kind_key")
    def _compute_fix(self):
        for exc in self:
            kind = False
            html = False
            if exc.category == "unknown_product":
                kind = "product"
            elif exc.category == "missing_mapping" and exc._dsync_mapping_key():
                kind = "mapping"
            elif exc.category == "amount_mismatch" and (exc.fix_data or {}).get(
                "totals"
            ):
                kind = "amounts"
                html = exc._dsync_amounts_html()
            exc.fix_kind = kind
            exc.fix_html = html

    @api.depends("category", "kind_key", "state")
    def _compute_next_step(self):
        for exc in self:
            exc.next_step = (
                exc._dsync_next_step() if exc.state in OPEN_STATES else False
            )

    def _dsync_next_step(self):
        """What the person who handles this exception does first."""
        self.ensure_one()
        mapping = self._dsync_mapping_key()
        steps = {
            "unknown_product": _(
                "Create the product, or link the SKU to an existing product; "
                "then retry."
            ),
            "missing_mapping": _(
                "Map %(code)s (Value Maps), then retry all of this kind.",
                code=mapping[1] if mapping else self.kind_key or "",
            ),
            "amount_mismatch": _(
                "Compare the totals line by line, correct the tax mapping or "
                "the product, then retry."
            ),
            "conflict": _(
                "Check the Odoo record against the platform, correct it by "
                "hand, then retry or ignore with a reason."
            ),
            "invalid_address": _("Correct the address, then retry."),
            "platform_rejected": _(
                "Read the platform's answer, correct the record, then retry."
            ),
            "retries_exhausted": _(
                "The platform or the network kept failing: check the backend "
                "(Test connection), then retry."
            ),
            "invalid_payload": _(
                "The message cannot be read: check it with IT, then ignore it "
                "with a reason."
            ),
            "unsupported": _(
                "No processor handles this message yet: ignore it with a reason, "
                "or ask IT."
            ),
            "processing_error": _(
                "IT: read the technical details, correct the cause, then retry."
            ),
            "security": _(
                "IT: check the webhook secret on the backend and on the "
                "platform; mark as solved once deliveries are accepted again."
            ),
            "label_pending": _(
                "The label keeps being retried: check the carrier platform "
                "(backend, circuit breaker); ship with another method if the "
                "parcel cannot wait."
            ),
            "shipment_stuck": _(
                "Ask the carrier where the parcel is, tell the customer, then "
                "mark as solved."
            ),
            "missing_event": _(
                "Ask the platform to send the missing event again (this one "
                "then applies by itself), or apply this one without it."
            ),
            "unknown_reference": _(
                "Check the reference with the platform; retry once Odoo knows "
                "it, or ignore with a reason."
            ),
            "quantity_mismatch": _(
                "Compare what the platform reports with the Odoo document, "
                "settle it with the platform, then retry or ignore with a reason."
            ),
            "short_shipped": _(
                "Tell the customer what does not ship (or when the rest "
                "follows), then mark it done."
            ),
            "to_review": _("Do what the message asks, then mark it done."),
        }
        return steps.get(self.category, False)

    def _dsync_mapping_key(self):
        """(map type, external code) a missing mapping waits for, or None."""
        self.ensure_one()
        fix = self.fix_data or {}
        if fix.get("map_type") and fix.get("code"):
            return fix["map_type"], fix["code"]
        map_type, _sep, code = (self.kind_key or "").partition(":")
        types = dict(
            self.env["dsync.value.map"]
            ._fields["map_type"]
            ._description_selection(self.env)
        )
        if code and map_type in types:
            return map_type, code
        return None

    def _dsync_amounts_html(self):
        """The platform's and Odoo's amounts side by side (amount mismatch)."""
        fix = self.fix_data or {}
        platform = escape(
            dict(
                self.backend_id._fields["backend_type"]._description_selection(self.env)
            ).get(self.backend_id.backend_type, _("Platform"))
        )
        currency = escape(fix.get("currency") or "")
        rows = []

        def row(label, channel, odoo, strong=False):
            differs = _money(channel) != _money(odoo)
            cell = (
                "td class='text-end text-danger fw-bold'"
                if differs
                else ("td class='text-end'")
            )
            tag = "th" if strong else "td"
            return Markup(
                f"<tr><{tag}>%s</{tag}><{cell}>%s</td><{cell}>%s</td></tr>"
            ) % (label, channel, odoo)

        for line in fix.get("lines") or []:
            rows.append(
                row(
                    line.get("label") or "",
                    line.get("channel_untaxed"),
                    line.get("odoo_untaxed"),
                )
            )
            if _money(line.get("channel_tax")) or _money(line.get("odoo_tax")):
                rows.append(
                    row(
                        _("  tax of %s", line.get("label") or ""),
                        line.get("channel_tax"),
                        line.get("odoo_tax"),
                    )
                )
        totals = fix.get("totals") or {}
        rows.append(
            row(_("Taxes"), totals.get("channel_tax"), totals.get("odoo_tax"), True)
        )
        rows.append(
            row(_("Total"), totals.get("channel_total"), totals.get("odoo_total"), True)
        )
        head = Markup(
            "<table class='table table-sm o_dsync_amounts'><thead><tr>"
            "<th>%s</th><th class='text-end'>%s %s</th>"
            "<th class='text-end'>%s %s</th></tr></thead><tbody>"
        ) % (_("Line"), platform, currency, _("Odoo"), currency)
        return head + Markup("").join(rows) + Markup("</tbody></table>")

    # ------------------------------------------------------------------
    # opening
    # ------------------------------------------------------------------
    @api.model
    def _dsync_open(self, err, event=None, outbox=None, follow_up=False):
        """Open (or refresh) the exception for ``err`` about ``event``/``outbox``.

        A source has at most one open exception per category: a new failure
        of the same kind bumps its occurrence count instead of piling up. The
        exception takes the business context of its event (or of the
        outbound message's record), then the error's own; an event's other
        open exceptions are resolved: their problem is behind it now.
        ``follow_up``: the source was applied and this asks a person to act
        (see ``dsync.event._dsync_follow_up``); it resolves nothing.
        """
        source = event or outbox
        domain = [
            ("event_id" if event else "outbox_id", "=", source.id),
            ("category", "=", err.category),
            ("state", "in", OPEN_STATES),
            ("follow_up", "=", follow_up),
        ]
        existing = self.search(domain, limit=1)
        if existing:
            vals = {
                "message": err.message,
                "details": err.details,
                "occurrences": existing.occurrences + 1,
                "last_seen_at": fields.Datetime.now(),
            }
            if err.fix is not None:
                vals["fix_data"] = err.fix
            vals.update(context_values(self.env, err.context))
            existing.write(vals)
            return existing
        record = err.record
        vals = {
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
            "follow_up": follow_up,
            "fix_data": err.fix,
            "last_seen_at": fields.Datetime.now(),
        }
        vals.update(self._dsync_source_context(event, outbox, record))
        vals.update(context_values(self.env, err.context))
        vals["problem"], vals["name"] = self._dsync_title(
            err.category, vals, event, outbox
        )
        exc = self.create(vals)
        if event and not follow_up:
            (event.exception_ids - exc).filtered(
                lambda e: e.state in OPEN_STATES and not e.follow_up
            )._dsync_auto_resolve(
                _(
                    "Solved: the event went further and now stops on another "
                    "problem (%s).",
                    exc.name,
                )
            )
        return exc

    @api.model
    def _dsync_source_context(self, event, outbox, record):
        """Business context an exception takes from its source."""
        vals = event._dsync_context_copy() if event else {}
        target = record or (
            self.env[outbox.res_model].browse(outbox.res_id).exists()
            if outbox and outbox.res_model in self.env and outbox.res_id
            else None
        )
        if target:
            vals.update(record_values(target))
            for fname, value in context_values(
                self.env, record_context(target)
            ).items():
                vals.setdefault(fname, value)
        return vals

    @api.model
    def _dsync_title(self, category, vals, event=None, outbox=None):
        """(problem, title): the problem in a few words (with the code a
        missing mapping waits for), and the title: the document, then the
        problem. Complete in itself: never cut, never the message again (the
        SKUs, customer and amount have their own fields)."""
        headline = dict(self._fields["category"]._description_selection(self.env))[
            category
        ]
        if category == "missing_mapping":
            # the code is nowhere else on the card: say what waits for a map
            map_type, _sep, code = (vals.get("kind_key") or "").partition(":")
            types = dict(
                self.env["dsync.value.map"]
                ._fields["map_type"]
                ._description_selection(self.env)
            )
            if code:
                label = types.get(map_type)
                headline = (
                    f"{headline}: {label} {code}" if label else f"{headline}: {code}"
                )
        reference = vals.get("doc_ref") or vals.get("record_name")
        if not reference:
            if event:
                reference = event.backend_id._dsync_topic_label(event.topic)
            elif outbox:
                reference = outbox.backend_id._dsync_flow(outbox.flow_code).name
        return headline, f"{reference} · {headline}" if reference else headline

    def _dsync_auto_resolve(self, note, source=None):
        """Resolve these exceptions; with ``source`` (their event, processed),
        they link to the record it produced."""
        link = {}
        if source is not None and source.res_model and source.res_id:
            link = {
                "res_model": source.res_model,
                "res_id": source.res_id,
                "record_name": source.record_name,
            }
        for exc in self:
            vals = {"state": "resolved", "resolved_at": fields.Datetime.now(), **link}
            if source is not None and not exc.partner_id and source.partner_id:
                vals["partner_id"] = source.partner_id.id
            exc.write(vals)
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

    def action_apply_without_waiting(self):
        """Apply the events behind *Missing earlier event* exceptions without
        the events they wait for (see ``dsync.event``'s sequencing)."""
        todo = self.filtered(
            lambda e: e.state in OPEN_STATES and e.category == "missing_event"
        )
        if not todo:
            raise UserError(_("Only missing earlier event exceptions apply so."))
        todo.event_id.sudo().action_apply_without_waiting()
        for exc in todo:
            exc.message_post(
                body=_("Applied without the missing events by %s.", self.env.user.name)
            )
        todo.filtered(lambda e: e.state == "open").write({"state": "in_progress"})
        return True

    def action_retry(self):
        """Re-run the event (now, in this request) or re-send the message
        behind each exception, and say what came of it."""
        todo = self.filtered(lambda e: e.state in OPEN_STATES)
        if not todo:
            raise UserError(_("Only open exceptions can be retried."))
        return todo._dsync_retry(open_result=len(todo) == 1)

    def action_retry_same_kind(self):
        """Retry every open exception of the same category and kind key."""
        related = self.browse()
        for exc in self.filtered("kind_key"):
            related |= exc._same_kind()
        todo = (related | self).filtered(lambda e: e.state in OPEN_STATES)
        if not todo:
            raise UserError(_("Only open exceptions can be retried."))
        return todo._dsync_retry(open_result=False)

    def _dsync_retry(self, open_result):
        """Process the events now (up to RETRY_NOW_LIMIT, the rest queued),
        queue the messages, and answer with a notification; with
        ``open_result``, one event processed opens the record it produced."""
        events = self.event_id.filtered(
            lambda e: e.state in ("failed", "received", "queued")
        )
        messages = self.outbox_id.filtered(lambda m: m.state == "failed")
        for exc in self:
            exc.message_post(body=_("Retry requested by %s.", self.env.user.name))
        now, later = events[:RETRY_NOW_LIMIT], events[RETRY_NOW_LIMIT:]
        outcomes = [event.sudo()._dsync_run_now() for event in now.sorted("id")]
        if later:
            later.sudo()._dsync_enqueue()
        if messages:
            messages.sudo().action_retry()
        self.env.invalidate_all()
        self.filtered(lambda e: e.state == "open").write({"state": "in_progress"})
        return retry_notification(
            self.env,
            now,
            outcomes,
            queued=len(later),
            messages=len(messages),
            open_result=open_result,
        )

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

    def action_resolve(self):
        """Mark as solved an exception nothing can retry (a security alert,
        a follow-up): the person did what it asked."""
        todo = self.filtered(lambda e: e.state in OPEN_STATES and not e.can_retry)
        for exc in todo:
            exc.write({"state": "resolved", "resolved_at": fields.Datetime.now()})
            exc.message_post(body=_("Marked as solved by %s.", self.env.user.name))
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
            "views": [(False, "form")],
        }

    def action_open_mapping(self):
        """The value map this exception waits for, prefilled (or the
        existing one, to correct it), in a dialog."""
        self.ensure_one()
        key = self._dsync_mapping_key()
        if not key:
            raise UserError(_("This exception does not wait for a mapping."))
        map_type, code = key
        existing = (
            self.env["dsync.value.map"]
            .with_context(active_test=False)
            .search(
                [
                    ("backend_id", "=", self.backend_id.id),
                    ("map_type", "=", map_type),
                    ("external_code", "=", code),
                ],
                limit=1,
            )
        )
        return {
            "type": "ir.actions.act_window",
            "name": _("Map %s", code),
            "res_model": "dsync.value.map",
            "res_id": existing.id,
            "view_mode": "form",
            "views": [
                (
                    self.env.ref("distribution_sync_core.dsync_value_map_view_form").id,
                    "form",
                )
            ],
            "target": "new",
            "context": {
                "default_backend_id": self.backend_id.id,
                "default_map_type": map_type,
                "default_external_code": code,
            },
        }

    def action_open_event(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "dsync.event",
            "res_id": self.event_id.id,
            "view_mode": "form",
            "views": [(False, "form")],
        }

    # ------------------------------------------------------------------
    # refused deliveries (security)
    # ------------------------------------------------------------------
    @api.model
    def _cron_dsync_security_scan(self):
        """One security exception per backend for the deliveries answered
        401 (bad signature, timestamp outside the window) since the last
        scan: their count and the last time, updated while it is open. A
        wrong webhook secret refuses every delivery: IT sees it within the
        cron's minute instead of in a log line per delivery. Nothing of this
        runs in the webhook request."""
        params = self.env["ir.config_parameter"].sudo()
        last = int(params.get_param(SECURITY_CURSOR, "0") or 0)
        self.env.cr.execute(
            """SELECT backend_id, count(*), max(create_date), max(id)
                 FROM dsync_event
                WHERE state = 'rejected' AND http_status = 401 AND id > %s
                GROUP BY backend_id""",
            (last,),
        )
        rows = self.env.cr.fetchall()
        for backend_id, count, last_at, last_id in rows:
            backend = self.env["dsync.backend"].sudo().browse(backend_id)
            self.sudo()._dsync_refused_deliveries(backend, count, last_at, last_id)
        if rows:
            params.set_param(SECURITY_CURSOR, str(max(row[3] for row in rows)))
        return len(rows)

    @api.model
    def _dsync_refused_deliveries(self, backend, count, last_at, last_id):
        exc = self.search(
            [
                ("backend_id", "=", backend.id),
                ("category", "=", "security"),
                ("state", "in", OPEN_STATES),
            ],
            limit=1,
        )
        total = exc.occurrences + count if exc else count
        first_at = exc.create_date if exc else last_at
        message = _(
            "%(count)s deliveries to %(backend)s were refused since %(first)s "
            "(the last at %(last)s): their signature does not match the webhook "
            "secret set in Odoo. If they come from the platform, its secret and "
            "Odoo's differ and its messages (orders...) are not received: copy "
            "the secret again (Configuration › Backends › %(backend)s › Webhook "
            "Secret). If nobody should send them, someone is trying the webhook "
            "address: regenerate the route token.",
            count=total,
            backend=backend.name,
            first=fields.Datetime.to_string(first_at),
            last=fields.Datetime.to_string(last_at),
        )
        vals = {
            "occurrences": total,
            "last_seen_at": last_at,
            "message": message,
            "event_id": last_id,
        }
        if exc:
            exc.write(vals)
            return exc
        return self.create(
            {
                **vals,
                "name": _("%s · Refused deliveries (signature)", backend.name),
                "problem": _("Refused deliveries (signature)"),
                "category": "security",
                "team": CATEGORY_TEAMS["security"],
                "severity": "high",
                "backend_id": backend.id,
                "kind_key": SECURITY_KIND,
                "record_name": backend.display_name,
                "res_model": backend._name,
                "res_id": backend.id,
            }
        )


def _money(value):
    try:
        return round(float(value), 2)
    except (TypeError, ValueError):
        return None


def retry_notification(env, events, outcomes, queued=0, messages=0, open_result=False):
    """The notification (and the next screen) after a person's retry."""
    done = [e for e, state in zip(events, outcomes, strict=True) if state == "done"]
    failed = [e for e, state in zip(events, outcomes, strict=True) if state == "failed"]
    waiting = [
        e
        for e, state in zip(events, outcomes, strict=True)
        if state in ("queued", "busy")
    ]
    other = len(events) - len(done) - len(failed) - len(waiting)
    reload = {"type": "ir.actions.client", "tag": "soft_reload"}
    if len(events) == 1 and not queued and not messages:
        event = events
        if done:
            title = _("Done")
            text = (
                _(
                    "%(what)s: %(record)s.",
                    what=event.display_name,
                    record=event.record_name,
                )
                if event.record_name
                else _("%s processed.", event.display_name)
            )
            kind = "success"
        elif failed:
            title = _("Still failing")
            text = event.last_error or ""
            kind = "danger"
        elif waiting:
            title = _("Will retry")
            text = event.last_error or _(
                "The event is being processed or waits for its retry."
            )
            kind = "warning"
        else:
            title = _("Nothing to apply")
            text = event.last_error or event.state
            kind = "info"
        next_action = reload
        if done and open_result and event.res_model and event.res_id:
            record = env[event.res_model].browse(event.res_id)
            if record.exists() and record.has_access("read"):
                next_action = {
                    "type": "ir.actions.act_window",
                    "res_model": event.res_model,
                    "res_id": event.res_id,
                    "views": [(False, "form")],
                    "target": "current",
                }
    else:
        parts = []
        if events:
            parts.append(_("%s retried now", len(events)))
        if done:
            parts.append(_("%s done", len(done)))
        if failed:
            parts.append(_("%s still failing", len(failed)))
        if waiting:
            parts.append(_("%s will retry", len(waiting)))
        if other:
            parts.append(_("%s had nothing to apply", other))
        if queued:
            parts.append(_("%s queued for the job runner", queued))
        if messages:
            parts.append(_("%s messages queued for sending", messages))
        title = _("Retried")
        text = ", ".join(str(part) for part in parts) + "."
        names = [e.record_name for e in done if e.record_name][:5]
        if names:
            text += "\n" + _("Created or updated: %s", ", ".join(names))
        kind = "danger" if failed and not done else "warning" if failed else "success"
        next_action = reload
    return {
        "type": "ir.actions.client",
        "tag": "display_notification",
        "params": {
            "title": title,
            "message": text,
            "type": kind,
            "sticky": kind == "danger",
            "className": "o_dsync_notification",
            "next": next_action,
        },
    }
