# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Carrier backend: tracking. Tracker updates (webhooks, or polled when the
webhooks went quiet) become shipment milestones of the label's delivery and
package; shipments stuck in a status open an exception for customer service.
"""

import hashlib
import logging
from datetime import timedelta

from odoo import _, api, fields, models

from odoo.addons.distribution_sync_core.errors import (
    BusinessError,
    StaleEvent,
    TransientError,
)
from odoo.addons.distribution_sync_core.intake import InvalidDelivery
from odoo.addons.queue_job.exception import RetryableJobError

from ..platforms import easypost
from ..platforms.easypost import TRACKER_TOPICS

_logger = logging.getLogger(__name__)

# A tracker no label knows may be a label whose purchase is committing right
# now: asked again this many times before it becomes an exception.
UNKNOWN_TRACKER_ATTEMPTS = 3
UNKNOWN_TRACKER_RETRY = 20
POLL_BATCH = 50
STUCK_KINDS = ("in_transit", "failure", "return_to_sender")


class DsyncBackend(models.Model):
    _inherit = "dsync.backend"

    # ------------------------------------------------------------------
    # processors
    # ------------------------------------------------------------------
    def _carrier_process_tracker(self, event):
        """``tracker.created`` / ``tracker.updated``: the tracker's scans
        become milestones of its label's delivery and package. An update
        older than the newest one applied to the label is recorded stale:
        its scans not seen yet are kept as stale milestones, nothing moves."""
        data = event._dsync_data()
        try:
            update = easypost.parse_tracker((data or {}).get("result"))
        except InvalidDelivery as err:
            raise BusinessError("invalid_payload", str(err)) from err
        label = self._carrier_label_of(update)
        if not label:
            return self._carrier_unknown_tracker(event, update)
        newest = update.newest_time
        stale = bool(
            label.tracker_updated_at and newest and newest < label.tracker_updated_at
        )
        self._carrier_apply_tracker(
            label, update, event=event, channel="webhook", stale=stale
        )
        if stale:
            return StaleEvent(
                _(
                    "Tracker update of %(time)s is older than the applied %(applied)s.",
                    time=newest,
                    applied=label.tracker_updated_at,
                )
            )
        return label.picking_id

    def _carrier_process_batch(self, events):
        """The core's batch hook: the tracker updates of a batch applied
        together (one lookup of their labels, one recording of their
        milestones, one write per label), their scans in time order per
        parcel whatever the order of the batch. An update older than what
        its label applied, one whose label is not found, a body that does
        not parse: processed one by one afterwards, where it is recorded
        stale or opens its exception."""
        parsed = {}
        for event in events.filtered(lambda e: e.topic in TRACKER_TOPICS):
            try:
                update = easypost.parse_tracker(
                    (event._dsync_data() or {}).get("result")
                )
            except (InvalidDelivery, BusinessError):
                continue
            parsed[event] = update
        labels = (
            self.env["dsync.carrier.label"]
            .sudo()
            .search(
                [
                    ("backend_id", "=", self.id),
                    ("tracker_ref", "in", [u.tracker_id for u in parsed.values()]),
                ]
            )
        )
        by_tracker = {label.tracker_ref: label for label in labels}
        accepted, newest = {}, {}
        for event, update in parsed.items():
            label = by_tracker.get(update.tracker_id)
            when = update.newest_time
            if not label or not when:
                continue
            if label.tracker_updated_at and when < label.tracker_updated_at:
                continue  # stale: recorded one by one
            accepted[event] = (label, update)
            if label not in newest or when > newest[label].newest_time:
                newest[label] = update
        if not accepted:
            return {}
        entries = []
        for event, (label, update) in accepted.items():
            entries += self._carrier_milestone_entries(label, update, event, "webhook")
        # in time order per track, whatever the order of the batch
        self.env["dsync.shipment.milestone"]._dsync_record(entries)
        chosen = self.env["dsync.carrier.label"].browse([lb.id for lb in newest])
        self._carrier_after_tracking(chosen, newest)
        return {event: label.picking_id for event, (label, _u) in accepted.items()}

    def _carrier_label_of(self, update):
        Label = self.env["dsync.carrier.label"].sudo()
        label = Label.search(
            [("backend_id", "=", self.id), ("tracker_ref", "=", update.tracker_id)],
            limit=1,
        )
        if not label and update.shipment_id:
            label = Label.search(
                [
                    ("backend_id", "=", self.id),
                    ("shipment_ref", "=", update.shipment_id),
                ],
                limit=1,
            )
        if not label:
            # tracking codes are recycled by carriers: the newest label only
            label = Label.search(
                [
                    ("backend_id", "=", self.id),
                    ("tracking_code", "=", update.tracking_code),
                    ("state", "=", "bought"),
                ],
                order="id desc",
                limit=1,
            )
        return label

    def _carrier_unknown_tracker(self, event, update):
        attempt = event._dsync_current_attempt()
        if attempt < UNKNOWN_TRACKER_ATTEMPTS:
            raise TransientError(
                f"no label has tracker {update.tracker_id} yet",
                retry_after=UNKNOWN_TRACKER_RETRY,
            )
        raise BusinessError(
            "unsupported",
            _(
                "Tracking for %(code)s (%(carrier)s, tracker %(tracker)s) matches no "
                "label bought through Odoo: a label bought elsewhere on the same "
                "account, or one cancelled. Ignore it, or all of this kind.",
                code=update.tracking_code,
                carrier=update.carrier or "-",
                tracker=update.tracker_id,
            ),
            kind_key="carrier:unknown_tracker",
            team="operations",
            severity="low",
        )

    def _carrier_process_refund(self, event):
        """``refund.successful``: the label's refund status."""
        data = event._dsync_data()
        try:
            refund = easypost.parse_refund((data or {}).get("result"))
        except InvalidDelivery as err:
            raise BusinessError("invalid_payload", str(err)) from err
        label = (
            self.env["dsync.carrier.label"]
            .sudo()
            .search(
                [
                    ("backend_id", "=", self.id),
                    ("shipment_ref", "=", refund.shipment_id),
                ],
                limit=1,
            )
        )
        if not label:
            return _(
                "refund of shipment %s: no label of it in Odoo", refund.shipment_id
            )
        label._dsync_set_refund_status(refund.status)
        return label.picking_id

    def _carrier_process_account_event(self, event):
        """EasyPost's account events (batches, reports, payments, claims...):
        acknowledged and kept; Odoo does not use them."""
        return _("%s: account event, not used by Odoo", event.topic)

    # ------------------------------------------------------------------
    # tracker → milestones
    # ------------------------------------------------------------------
    def _carrier_apply_tracker(
        self, label, update, event=None, channel="webhook", stale=False
    ):
        """Record the tracker's scans (and its own status, when no scan
        says it) as milestones of the label's delivery and package."""
        entries = self._carrier_milestone_entries(label, update, event, channel)
        milestones = self.env["dsync.shipment.milestone"]._dsync_record(entries)
        self._carrier_after_tracking(label, {label: update}, stale=stale)
        return milestones

    def _carrier_after_tracking(self, labels, updates, stale=False):
        """What the labels keep of their tracker updates ({label: update}):
        the newest time applied, the track's current status and since when
        (one search for all); a stuck-shipment exception of a parcel now
        delivered is resolved."""
        currents = {}
        if not stale:
            for milestone in self.env["dsync.shipment.milestone"].search(
                [("picking_id", "in", labels.picking_id.ids), ("is_current", "=", True)]
            ):
                currents[(milestone.picking_id.id, milestone.package_id.id)] = milestone
        now = fields.Datetime.now()
        for label in labels:
            update = updates[label]
            vals = {"tracking_checked_at": now}
            if update.tracker_id and not label.tracker_ref:
                vals["tracker_ref"] = update.tracker_id
            if update.public_url and not label.public_url:
                vals["public_url"] = update.public_url
            if not stale:
                newest = update.newest_time
                if newest and (
                    not label.tracker_updated_at or newest > label.tracker_updated_at
                ):
                    vals["tracker_updated_at"] = newest
                current = currents.get((label.picking_id.id, label.package_id.id))
                if current:
                    vals["tracking_status"] = current.status
                    vals["tracking_status_since"] = current.status_since
            label.write(vals)
            exc = label.stuck_exception_id
            if (
                exc
                and label.tracking_status == "delivered"
                and exc.state in ("open", "in_progress")
            ):
                exc._dsync_auto_resolve(_("The parcel has been delivered."))

    def _carrier_milestone_entries(self, label, update, event, channel):
        base = {
            "picking": label.picking_id,
            "package": label.package_id,
            "tracking_ref": update.tracking_code or label.tracking_code,
            "source": "carrier",
            "origin_channel": channel,
            "backend": self,
            "event": event,
        }
        entries = []
        for detail in update.details:
            key = "|".join(
                (
                    update.tracker_id,
                    fields.Datetime.to_string(detail.occurred_at),
                    detail.status,
                    detail.detail_code,
                    hashlib.sha1(detail.message.encode()).hexdigest()[:10],
                )
            )
            entries.append(
                dict(
                    base,
                    status=detail.status,
                    occurred_at=detail.occurred_at,
                    detail=detail.message,
                    detail_code=detail.detail_code,
                    place=detail.place,
                    external_key=f"trk:{key}",
                )
            )
        latest = max(entries, key=lambda e: e["occurred_at"], default=None)
        if (
            update.status != "unknown"
            and update.updated_at
            and (latest is None or latest["status"] != update.status)
        ):
            # the tracker says more than its scans (no scan yet, or a status
            # the carrier gave without a scan)
            entries.append(
                dict(
                    base,
                    status=update.status,
                    occurred_at=max(update.updated_at, latest["occurred_at"])
                    if latest
                    else update.updated_at,
                    detail=update.status_detail.replace("_", " ")
                    if update.status_detail
                    else "",
                    detail_code=update.status_detail,
                    external_key=f"trk:{update.tracker_id}|status|{update.status}"
                    f"|{fields.Datetime.to_string(update.updated_at)}",
                )
            )
        if update.status == "delivered":
            delivered = [e for e in entries if e["status"] == "delivered"]
            if delivered:
                proof = max(delivered, key=lambda e: e["occurred_at"])
                proof["signed_by"] = update.signed_by
                proof["proof_url"] = update.public_url or label.public_url
        return entries

    # ------------------------------------------------------------------
    # polling of quiet trackers
    # ------------------------------------------------------------------
    @api.model
    def _cron_carrier_poll_trackers(self):
        """Queue a poll of the trackers of parcels on their way whose tracking
        has not changed for the backend's quiet hours (lost webhooks, a
        platform that stopped sending)."""
        queued = 0
        for backend in self.sudo().search([("backend_type", "=", "carrier")]):
            labels = backend._carrier_quiet_labels()
            for start in range(0, len(labels), POLL_BATCH):
                backend._carrier_enqueue_poll(labels[start : start + POLL_BATCH])
                queued += 1
        return queued

    def _carrier_quiet_labels(self):
        self.ensure_one()
        hours = self.carrier_poll_quiet_hours
        if hours <= 0:
            return self.env["dsync.carrier.label"]
        limit = fields.Datetime.now() - timedelta(hours=hours)
        return (
            self.env["dsync.carrier.label"]
            .sudo()
            .search(
                [
                    ("backend_id", "=", self.id),
                    ("state", "=", "bought"),
                    ("tracker_ref", "!=", False),
                    (
                        "tracking_status",
                        "not in",
                        ("delivered", "return_to_sender", "cancelled"),
                    ),
                    ("tracking_checked_at", "<", limit),
                ],
                order="tracking_checked_at",
                limit=5000,
            )
        )

    def _carrier_enqueue_poll(self, labels):
        flow = self._dsync_flow("tracking")
        return (
            self.with_user(self.user_id)
            .with_company(self.company_id)
            .with_context(tracking_disable=True, mail_create_nolog=True)
            .with_delay(
                channel=flow._channel_name(),
                priority=flow.priority + 5,
                description=f"{self.name}: poll {len(labels)} quiet trackers",
            )
            ._carrier_poll_trackers(labels.ids)
        )

    def _carrier_poll_trackers(self, label_ids):
        """Job: read each tracker at the platform and apply it like a
        webhook (``origin_channel`` polling). A transient failure retries
        the labels not done yet."""
        self.ensure_one()
        with self._dsync_connection_guard(f"backend {self.id} tracker poll"):
            return self._carrier_poll_once(label_ids)

    def _carrier_poll_once(self, label_ids):
        platform = self._carrier_platform()
        labels = self.env["dsync.carrier.label"].sudo().browse(label_ids).exists()
        done = 0
        for label in labels.filtered(
            lambda lb: lb.state == "bought" and lb.tracker_ref
        ):
            try:
                update = platform.get_tracker(label.tracker_ref)
            except TransientError as err:
                rest = labels.filtered(lambda lb, cur=label: lb.id > cur.id)
                if done:
                    self._carrier_enqueue_poll(label | rest)
                    return f"{done} trackers polled; the rest queued again ({err})"
                raise RetryableJobError(
                    str(err), seconds=err.retry_after or 60
                ) from err
            except BusinessError as err:
                label.write({"tracking_checked_at": fields.Datetime.now()})
                _logger.info(
                    "backend %s: tracker of label %s not read (%s)",
                    self.id,
                    label.id,
                    type(err).__name__,
                )
                continue
            stale = bool(
                label.tracker_updated_at
                and update.newest_time
                and update.newest_time < label.tracker_updated_at
            )
            self._carrier_apply_tracker(label, update, channel="polling", stale=stale)
            done += 1
        return f"{done} trackers polled"

    # ------------------------------------------------------------------
    # stuck shipments
    # ------------------------------------------------------------------
    @api.model
    def _cron_carrier_stuck_shipments(self):
        """Open an exception for customer service on each parcel that stays
        in one status longer than its backend allows (in transit for days, a
        failure, a return to the sender): once per parcel and status."""
        opened = 0
        now = fields.Datetime.now()
        for backend in self.sudo().search([("backend_type", "=", "carrier")]):
            for label in backend._carrier_stuck_labels(now):
                backend._carrier_open_stuck(label, now)
                opened += 1
        return opened

    def _carrier_stuck_labels(self, now):
        self.ensure_one()
        domain_parts = []
        if self.carrier_stuck_transit_days > 0:
            domain_parts.append(
                [
                    ("tracking_status", "=", "in_transit"),
                    (
                        "tracking_status_since",
                        "<",
                        now - timedelta(days=self.carrier_stuck_transit_days),
                    ),
                ]
            )
        domain_parts.append(
            [
                ("tracking_status", "in", ("failure", "return_to_sender")),
                (
                    "tracking_status_since",
                    "<=",
                    now - timedelta(hours=self.carrier_stuck_problem_hours),
                ),
            ]
        )
        domain = ["|"] * (len(domain_parts) - 1)
        for part in domain_parts:
            domain += ["&"] + part
        labels = (
            self.env["dsync.carrier.label"]
            .sudo()
            .search([("backend_id", "=", self.id), ("state", "=", "bought")] + domain)
        )
        return labels.filtered(lambda lb: lb.stuck_status != lb.tracking_status)

    def _carrier_open_stuck(self, label, now):
        labels = self.env["dsync.carrier.label"]._dsync_tracking_labels()
        picking = label.picking_id
        since = label.tracking_status_since
        days = (now - since).total_seconds() / 86400 if since else 0
        message = _(
            "Parcel %(parcel)s of delivery %(picking)s (order %(order)s, customer "
            '%(customer)s, tracking %(tracking)s) has been "%(status)s" since '
            "%(since)s (%(days).1f days). Contact the carrier or the customer.",
            parcel=label.name,
            picking=picking.name,
            order=picking.origin or "-",
            customer=picking.partner_id.display_name or "-",
            tracking=label.tracking_code or "-",
            status=labels.get(label.tracking_status, label.tracking_status),
            since=fields.Datetime.to_string(since),
            days=days,
        )
        exc = (
            self.env["dsync.exception"]
            .sudo()
            .create(
                {
                    "problem": _(
                        "Shipment stuck: %(status)s",
                        status=labels.get(label.tracking_status, label.tracking_status),
                    ),
                    "doc_ref": picking.origin or picking.name,
                    "partner_id": picking.partner_id.id,
                    "record_name": picking.display_name,
                    "name": _(
                        "%(picking)s · Shipment stuck: %(status)s",
                        picking=picking.name,
                        status=labels.get(label.tracking_status, label.tracking_status),
                    ),
                    "category": "shipment_stuck",
                    "team": "customer_service",
                    "severity": "high"
                    if label.tracking_status != "in_transit"
                    else "normal",
                    "backend_id": self.id,
                    "message": message,
                    "kind_key": f"stuck:{label.tracking_status}",
                    "res_model": "stock.picking",
                    "res_id": picking.id,
                }
            )
        )
        label.write(
            {"stuck_exception_id": exc.id, "stuck_status": label.tracking_status}
        )
        return exc
