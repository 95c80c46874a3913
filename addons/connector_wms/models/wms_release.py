# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Releases out: deliveries, expected receipts (ASN), their changes and
cancellations, and the products they need, through the ordered outbox flow
``picking_release``.

* A delivery or receipt of an operation type the WMS runs is released when
  it is ready (confirmed, checked for availability), per the backend's
  release policy: at once, in the next wave, or by a person's button. Its
  reference is its name at that moment, kept by its backorders.
* Each message carries the whole document, with a version that grows with
  each change; its idempotency key is the reference and the version.
  Products not published yet (or changed since) are posted first, in the
  same ordered flow: they reach the warehouse before the order that needs
  them.
* A change of a released delivery (quantities, lines, address, carrier,
  date, priority) posts its new version; its cancellation posts a cancel.
  Messages of one picking coalesce while pending: the latest wins. Nothing
  is posted for what the warehouse itself reported (a change made while
  applying its event).
* The flow is ordered: while the WMS is down, nothing overtakes what waits
  for a retry, and it all drains in order once it is back. A duplicate
  reference on create counts as delivered; a change or cancel the WMS
  refuses (already picked) opens an exception for customer service.
"""

import hashlib
import json
import logging
from datetime import datetime, time

import pytz

from odoo import _, api, fields, models
from odoo.tools import html2plaintext

from odoo.addons.distribution_sync_core.errors import BusinessError, TransientError

from ..wms_client import WmsRefused
from .dsync_backend import RELEASE_FLOW

_logger = logging.getLogger(__name__)

RELEASABLE_STATES = ("confirmed", "assigned")
PRODUCT_BATCH = 500


def _doc_version(document):
    return hashlib.sha1(
        json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()[:16]


class DsyncBackend(models.Model):
    _inherit = "dsync.backend"

    # ------------------------------------------------------------------
    # when to release
    # ------------------------------------------------------------------
    @api.model
    def _wms_on_pickings_ready(self, pickings):
        """Hook of the moves' availability check: release the ready pickings
        of the WMS backends that release as soon as confirmed (not those a
        warehouse event creates: a return it received)."""
        if self.env.context.get("dsync_wms_apply"):
            return
        for backend in self._wms_backends().filtered(
            lambda b: b.wms_release_policy == "on_confirm"
        ):
            backend._wms_release(pickings)

    def _wms_releasable(self, pickings, force=False):
        """The pickings among ``pickings`` this backend releases now."""
        self.ensure_one()
        types = self._wms_picking_types()
        return pickings.filtered(
            lambda p: (
                p.picking_type_id in types
                and p.company_id == self.company_id
                and p.state in RELEASABLE_STATES
                and (not p.wms_state or (force and p.wms_state == "cancelled"))
            )
        )

    def _wms_release(self, pickings, force=False):
        """Post the release of the ready pickings among ``pickings``."""
        self.ensure_one()
        if not self.active:
            return pickings.browse()
        todo = self._wms_releasable(pickings.sudo(), force=force)
        if todo:
            self._wms_post_pickings(todo)
        return todo

    @api.model
    def _cron_wms_release(self):
        """Every few minutes: release what is due. With the *on
        confirmation* policy, whatever its availability check did not
        release (a type that reserves manually); with *waves*, everything
        ready once a wave time has passed."""
        for backend in self._wms_backends().filtered("active"):
            policy = backend.wms_release_policy
            if policy == "waves" and not backend._wms_wave_due():
                continue
            if policy not in ("on_confirm", "waves"):
                continue
            due = (
                self.env["stock.picking"]
                .sudo()
                .search(
                    [
                        ("picking_type_id", "in", backend._wms_picking_types().ids),
                        ("state", "in", RELEASABLE_STATES),
                        ("wms_state", "=", False),
                        ("company_id", "=", backend.company_id.id),
                    ],
                    order="scheduled_date, id",
                )
            )
            released = backend._wms_release(due)
            if policy == "waves":
                backend.wms_last_wave_at = fields.Datetime.now()
                if released:
                    backend.message_post(
                        body=_("Wave: %s transfers released.", len(released))
                    )

    def _wms_wave_due(self, now=None):
        """Whether a wave time passed since the last wave."""
        self.ensure_one()
        now = now or fields.Datetime.now()
        tz = pytz.timezone(self.user_id.tz or "UTC")
        local_now = pytz.utc.localize(now).astimezone(tz)
        last = self.wms_last_wave_at
        for text in (self.wms_wave_times or "").split(","):
            try:
                hours, minutes = (int(part) for part in text.strip().split(":"))
                wave_local = tz.localize(
                    datetime.combine(local_now.date(), time(hours, minutes))
                )
            except (ValueError, TypeError):
                continue
            wave = wave_local.astimezone(pytz.utc).replace(tzinfo=None)
            if wave <= now and (not last or last < wave):
                return True
        return False

    # ------------------------------------------------------------------
    # posting
    # ------------------------------------------------------------------
    def _wms_post_pickings(self, pickings):
        """Post each picking's next version (a release, an update, or a
        cancel when nothing is left of it), after the products it needs that
        the warehouse does not have yet. The document itself is built when
        it is sent, from the picking as it is then (the payload keeps a
        preview)."""
        self.ensure_one()
        self._wms_post_products(pickings.move_ids.product_id)
        items = []
        for picking in pickings:
            reference = picking.wms_reference or picking.name
            version = picking.wms_version + 1
            kind = "inbound" if picking.picking_type_code == "incoming" else "order"
            if picking.state == "cancel" or not picking.move_ids.filtered(
                lambda m: m.state != "cancel"
            ):
                if not picking.wms_state or picking.wms_state == "cancelled":
                    continue
                kind, key, state = (
                    f"{kind}_cancel",
                    f"{reference}/cancel",
                    "cancel_requested",
                )
            else:
                key, state = f"{reference}/v{version}", picking.wms_state or "pending"
            data = {
                "kind": kind,
                "picking_id": picking.id,
                "reference": reference,
                "version": version,
                "idempotency_key": key,
            }
            if not kind.endswith("_cancel"):
                try:
                    data["preview"] = self._wms_document(picking, reference, version)
                except BusinessError as err:
                    data["preview_error"] = err.message
            items.append((f"picking:{picking.id}", data, picking))
            picking.with_context(dsync_wms_apply=True).write(
                {
                    "wms_backend_id": self.id,
                    "wms_reference": reference,
                    "wms_version": version,
                    "wms_state": state,
                }
            )
        if items:
            self.env["dsync.outbox"].sudo()._dsync_post_many(self, RELEASE_FLOW, items)
        return len(items)

    def _wms_document(self, picking, reference, version):
        if picking.picking_type_code == "incoming":
            return self._wms_inbound_document(picking, reference, version)
        return self._wms_order_document(picking, reference, version)

    def _wms_post_products(self, products):
        """Post the products the warehouse does not have in this version."""
        self.ensure_one()
        if not products:
            return 0
        bindings = self._wms_published_versions(products)
        items = []
        for product in products.filtered("default_code"):
            document = self._wms_product_document(product)
            version = _doc_version(document)
            if bindings.get(product.id) == version:
                continue
            items.append(
                (
                    f"product:{product.id}",
                    {
                        "kind": "product",
                        "product_id": product.id,
                        "sku": product.default_code,
                        "preview": document,
                    },
                    product,
                )
            )
        if items:
            self.env["dsync.outbox"].sudo()._dsync_post_many(self, RELEASE_FLOW, items)
        return len(items)

    def _wms_published_versions(self, products):
        """{product id: version of its document the warehouse has}."""
        bindings = (
            self.env["dsync.binding"]
            .sudo()
            .search(
                [
                    ("backend_id", "=", self.id),
                    ("res_model", "=", "product.product"),
                    ("res_id", "in", products.ids),
                ]
            )
        )
        return {binding.res_id: binding.external_version for binding in bindings}

    def action_wms_publish_products(self):
        """Button: post every storable product with a SKU the warehouses
        may hold (those not published in their current version)."""
        self.ensure_one()
        products = self.env["product.product"].search(
            [
                ("is_storable", "=", True),
                ("default_code", "!=", False),
                ("company_id", "in", [False, self.company_id.id]),
            ]
        )
        count = self._wms_post_products(products)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Products queued"),
                "message": _("%s products queued for the warehouse.", count),
                "type": "success",
            },
        }

    # ------------------------------------------------------------------
    # the contract's documents
    # ------------------------------------------------------------------
    def _wms_sku(self, product):
        if not product.default_code:
            raise BusinessError(
                "missing_mapping",
                _(
                    "Product %s has no internal reference: the warehouse knows "
                    "products by SKU. Set it, then retry.",
                    product.display_name,
                ),
                kind_key=f"product:{product.id}",
                record=product,
            )
        return product.default_code

    def _wms_product_document(self, product):
        in_lbs = (
            self.env["ir.config_parameter"].sudo().get_param("product.weight_in_lbs")
            == "1"
        )
        return {
            "sku": self._wms_sku(product),
            "name": (product.display_name or "")[:255],
            "barcode": product.barcode or None,
            "uom": product.uom_id.name,
            "weight": product.weight or 0.0,
            "weight_uom": "lb" if in_lbs else "kg",
            "tracking": product.tracking
            if product.tracking in ("lot", "serial")
            else "none",
        }

    def _wms_lines(self, picking, with_lots=False):
        lines = []
        for move in picking.move_ids.filtered(
            lambda m: m.state != "cancel" and m.product_qty > 0
        ):
            line = {
                "line_ref": str(move.id),
                "sku": self._wms_sku(move.product_id),
                "quantity": move.product_qty,
                "uom": move.product_id.uom_id.name,
            }
            if with_lots:
                lots = move.move_line_ids.lot_id
                if len(lots) == 1:
                    line["lot"] = lots.name
            lines.append(line)
        return lines

    def _wms_order_document(self, picking, reference, version):
        partner = picking.partner_id
        sale = picking.sale_id if "sale_id" in picking._fields else None
        return {
            "reference": reference,
            "version": version,
            "order_ref": (sale and (sale.client_order_ref or sale.name))
            or picking.origin
            or None,
            "lines": self._wms_lines(picking, with_lots=True),
            "ship_to": _address(partner),
            "carrier_service": self._wms_carrier_code(picking.carrier_id),
            "requested_date": _iso(picking.scheduled_date),
            "priority": "urgent" if picking.priority == "1" else "normal",
            "site": self._wms_site_of(picking),
            "notes": (html2plaintext(picking.note) if picking.note else None),
        }

    def _wms_inbound_document(self, picking, reference, version):
        return {
            "reference": reference,
            "version": version,
            "supplier": picking.partner_id.display_name or None,
            "expected_date": _iso(picking.scheduled_date),
            "site": self._wms_site_of(picking),
            "lines": self._wms_lines(picking),
        }

    def _wms_carrier_code(self, carrier):
        if not carrier:
            return None
        code = (
            self.env["dsync.value.map"]
            .sudo()
            ._reverse_lookup(self, "carrier_service", carrier)
        )
        return (code or carrier.name)[:64]

    # ------------------------------------------------------------------
    # the sender of the flow
    # ------------------------------------------------------------------
    def _wms_send_picking_release(self, messages):
        """Sender of ``picking_release``: products in one upsert, then each
        order or inbound in turn. Returns ``{message id: None | error}``;
        raises a transient error when nothing was sent (the batch retries
        together)."""
        self.ensure_one()
        client = self._wms_client()
        results = {}
        sent_any = False
        queue = list(messages.sorted("id"))
        index = 0
        while index < len(queue):
            message = queue[index]
            data = message._dsync_data()
            try:
                if data["kind"] == "product":
                    group = [message]
                    while (
                        index + len(group) < len(queue)
                        and len(group) < PRODUCT_BATCH
                        and queue[index + len(group)]._dsync_data()["kind"] == "product"
                    ):
                        group.append(queue[index + len(group)])
                    self._wms_send_products(client, group)
                    index += len(group)
                else:
                    self._wms_send_picking(client, message, data)
                    index += 1
                sent_any = True
            except TransientError as err:
                if not sent_any:
                    raise
                results.update({rest.id: err for rest in queue[index:]})
                break
            except BusinessError as err:
                results[message.id] = err
                index += 1
        return results

    def _wms_send_products(self, client, messages):
        """One upsert of the products of these messages, as they are now."""
        products = (
            self.env["product.product"]
            .browse([message._dsync_data()["product_id"] for message in messages])
            .exists()
        )
        self._wms_publish(
            client, products, key_source="".join(m.idempotency_key for m in messages)
        )

    def _wms_publish(self, client, products, only_missing=False, key_source=""):
        """Upsert ``products`` (with a SKU) at the warehouse and remember the
        version it has; with ``only_missing``, those it does not have in
        their current version."""
        documents = {
            product: self._wms_product_document(product)
            for product in products.filtered("default_code")
        }
        if only_missing and documents:
            known = self._wms_published_versions(products)
            documents = {
                product: document
                for product, document in documents.items()
                if known.get(product.id) != _doc_version(document)
            }
        if not documents:
            return
        key = (
            "products/"
            + hashlib.sha1(
                (
                    key_source or json.dumps(list(documents.values()), sort_keys=True)
                ).encode()
            ).hexdigest()[:24]
        )
        client.upsert_products(list(documents.values()), key)
        Binding = self.env["dsync.binding"].sudo()
        for product, document in documents.items():
            Binding._bind(
                self, product, document["sku"], version=_doc_version(document)
            )

    def _wms_send_picking(self, client, message, data):
        picking = self.env["stock.picking"].sudo().browse(data["picking_id"]).exists()
        kind, reference, key = data["kind"], data["reference"], data["idempotency_key"]
        inbound = kind.startswith("inbound")
        if kind.endswith("_cancel"):
            try:
                outcome = (
                    client.cancel_inbound(reference, key)
                    if inbound
                    else client.cancel_order(reference, key)
                )
            except WmsRefused as err:
                raise self._wms_refusal(
                    picking, reference, err, _("the cancellation")
                ) from err
            if picking:
                picking.with_context(dsync_wms_apply=True).write(
                    {"wms_state": "cancelled"}
                )
                picking.message_post(
                    body=_("The warehouse cancelled %s.", reference)
                    if outcome == "cancelled"
                    else _(
                        "%s never reached the warehouse: nothing to cancel.", reference
                    )
                )
            return
        if not picking or picking.state in ("done", "cancel"):
            return  # confirmed or cancelled meanwhile: nothing left to send
        document = self._wms_document(picking, reference, data["version"])
        # what the order needs, whatever happened to the product messages
        self._wms_publish(client, picking.move_ids.product_id, only_missing=True)
        released = picking.wms_state in ("released", "on_hold")
        try:
            if released:
                outcome = (
                    client.update_inbound(document, key)
                    if inbound
                    else client.update_order(document, key)
                )
                if outcome == "unknown":
                    released = False
            if not released:
                outcome = (
                    client.create_inbound(document, key)
                    if inbound
                    else client.create_order(document, key)
                )
        except WmsRefused as err:
            raise self._wms_refusal(picking, reference, err, _("the release")) from err
        vals = {}
        if picking.wms_state == "pending":
            vals["wms_state"] = "released"
        if not picking.wms_released_at:
            vals["wms_released_at"] = fields.Datetime.now()
        if vals:
            picking.with_context(dsync_wms_apply=True).write(vals)
        if outcome == "duplicate":
            picking.message_post(
                body=_("The warehouse already had %s: counted as released.", reference)
            )

    def _wms_refusal(self, picking, reference, err, what):
        """The WMS refused a release, change or cancel: an exception (customer
        service for a change or cancel that came too late)."""
        late = err.error in ("already_picked", "already_shipped", "already_received")
        return BusinessError(
            "platform_rejected",
            _(
                "The warehouse refused %(what)s of %(ref)s: %(reason)s%(advice)s",
                what=what,
                ref=reference,
                reason=err.message,
                advice=_(
                    " It is too late there: the goods may ship as they are. "
                    "Tell the customer, or ask the warehouse to stop them."
                )
                if late
                else "",
            ),
            team="customer_service" if late else "operations",
            kind_key=f"order:{reference}",
            record=picking or None,
            details=err.details,
        )


def _iso(value):
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def _address(partner):
    if not partner:
        return {}
    return {
        "name": partner.name or partner.commercial_partner_id.name or None,
        "company": partner.commercial_partner_id.name
        if partner.commercial_partner_id.is_company
        else None,
        "street": partner.street or None,
        "street2": partner.street2 or None,
        "city": partner.city or None,
        "zip": partner.zip or None,
        "state_code": partner.state_id.code or None,
        "country_code": partner.country_id.code or None,
        "phone": partner.phone or partner.mobile or None,
        "email": partner.email or None,
    }
