# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Carrier backend: the outbound flows (label purchases, refunds) and the
overdue-label check."""

import logging
from datetime import timedelta

from odoo import _, api, fields, models

from odoo.addons.distribution_sync_core.errors import BusinessError, TransientError

_logger = logging.getLogger(__name__)


class DsyncBackend(models.Model):
    _inherit = "dsync.backend"

    def _carrier_send_labels(self, messages):
        """Sender of the labels flow: buy each message's label (see
        ``dsync.carrier.label._dsync_buy``). Returns {message id: None |
        error}. While nothing was done, a transient failure fails the whole
        call (the outbox's backoff and circuit breaker); after that, the
        rest of the batch waits for its own retry."""
        self.ensure_one()
        return self._carrier_send_each(
            messages, "_dsync_buy", self._carrier_label_failed
        )

    def _carrier_send_label_refunds(self, messages):
        """Sender of the label_refunds flow."""
        self.ensure_one()
        return self._carrier_send_each(messages, "_dsync_refund")

    def _carrier_send_each(self, messages, method, on_business_error=None):
        platform = self._carrier_platform()
        Label = self.env["dsync.carrier.label"].sudo()
        Shipment = self.env["dsync.carrier.shipment"].sudo()
        results, called = {}, False
        for index, message in enumerate(messages):
            label = Label.browse(message._dsync_data().get("label_id")).exists()
            if not label:
                results[message.id] = BusinessError(
                    "invalid_payload",
                    _("The label of message %s no longer exists.", message.id),
                )
                continue
            recorded = Shipment._dsync_latest(label)
            try:
                # no savepoint: a label bought and then short of its document
                # stays bought
                called |= getattr(label, method)(platform)
            except BusinessError as err:
                if on_business_error:
                    on_business_error(label, err)
                results[message.id] = err
            except TransientError as err:
                # a shipment created (and recorded) before the error: the
                # platform answered, this message alone retries
                if not called and Shipment._dsync_latest(label) == recorded:
                    raise  # nothing done yet: the whole batch retries
                results.update({rest.id: err for rest in messages[index:]})
                break
        return results

    def _carrier_label_failed(self, label, err):
        if err.record is None:
            err.record = label.picking_id
        if label.state == "bought":
            # bought, short of its document: stays bought, says why
            label.failure_reason = err.message
        else:
            label._dsync_fail(err)

    # ------------------------------------------------------------------
    # overdue labels (cron)
    # ------------------------------------------------------------------
    @api.model
    def _cron_carrier_labels_overdue(self):
        """Open an exception for the warehouse on each label still pending
        longer than its backend allows (once: the exception is refreshed,
        not repeated, and resolved when the label is bought)."""
        now = fields.Datetime.now()
        Label = self.env["dsync.carrier.label"].sudo()
        for backend in self.sudo().search([("backend_type", "=", "carrier")]):
            minutes = backend.carrier_label_pending_minutes
            if minutes <= 0:
                continue
            labels = Label.search(
                [
                    ("backend_id", "=", backend.id),
                    ("state", "=", "pending"),
                    ("pending_since", "<", now - timedelta(minutes=minutes)),
                    ("outbox_id", "!=", False),
                ]
            )
            for label in labels:
                backend._carrier_label_overdue(label, now)

    def _carrier_label_overdue(self, label, now):
        message = label.outbox_id
        if message.exception_ids.filtered(
            lambda e: (
                e.category == "label_pending" and e.state in ("open", "in_progress")
            )
        ):
            return
        waited = int((now - label.pending_since).total_seconds() // 60)
        why = message.last_error or (
            _(
                "the platform's circuit breaker is open until %s",
                self.circuit_open_until,
            )
            if self._dsync_circuit_is_open()
            else _("not tried yet")
        )
        err = BusinessError(
            "label_pending",
            _(
                "The label of %(parcel)s (delivery %(picking)s, order %(order)s) is "
                "still not bought after %(minutes)s minutes: %(why)s. It keeps being "
                "retried; ship it with another method if it cannot wait.",
                parcel=label.name,
                picking=label.picking_id.name,
                order=label.picking_id.origin or "-",
                minutes=waited,
                why=why,
            ),
            kind_key=f"carrier:{self.id}:label_pending",
            record=label.picking_id,
            severity="high",
        )
        self.env["dsync.exception"].sudo()._dsync_open(err, outbox=message)
