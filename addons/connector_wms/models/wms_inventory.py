# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Stock from the warehouse: adjustments and snapshots.

* ``inventory.adjusted``: where the WMS owns stock quantities (the ownership
  rule of *stock level*), the deltas become one inventory adjustment (Odoo's
  inventory moves, named after the adjustment and its reason codes) in the
  site's warehouse stock location; where Odoo owns them, a *conflict*
  exception, nothing applied.
* ``inventory.snapshot``: pages are collected in order (the core's
  sequencing on the snapshot id); the last one starts a reconciliation run
  (``dsync.reconciliation.run``): per SKU, the warehouse's quantity net of
  what it holds for open orders (``on_hand - allocated``) against Odoo's on
  hand net of what Odoo released and has no confirmation for (in flight),
  and a drift line for each SKU that differs (unknown SKUs and SKUs Odoo
  has and the warehouse does not included). Where the WMS owns stock
  quantities, drift within the backend's tolerance is repaired at once, in
  one batch of inventory moves named after the run; the rest waits for a
  manager. The comparison reads Odoo's quantities with one query per
  kind (quants, moves in flight, products), not per SKU.
* *Reconcile now* (button and cron) fetches a snapshot from the WMS page by
  page into the inbox: the same path as pushed pages.
"""

import json
import logging
import time
import uuid
from collections import defaultdict

from odoo import _, api, fields, models
from odoo.tools import float_is_zero

from odoo.addons.distribution_sync_core.errors import BusinessError, DuplicateEvent

from .. import wms_payload

_logger = logging.getLogger(__name__)

EPSILON = 1e-6
MAX_SNAPSHOT_PAGES = 10000


class DsyncBackend(models.Model):
    _inherit = "dsync.backend"

    def _wms_owns_stock(self):
        owner = self.env["dsync.ownership.rule"]._owner_of(
            "stock_level", self.company_id
        )
        return owner == "wms"

    # ------------------------------------------------------------------
    # adjustments
    # ------------------------------------------------------------------
    def _wms_process_inventory_adjusted(self, event):
        adjustment_id, site, lines = self._wms_parse(event, wms_payload.adjustment)
        label = adjustment_id or event.delivery_id
        Binding = self.env["dsync.binding"].sudo()
        if adjustment_id and Binding._find(
            self, "stock.move", f"adjustment:{adjustment_id}"
        ):
            raise DuplicateEvent(_("Adjustment %s was already applied.", adjustment_id))
        if not self._wms_owns_stock():
            raise BusinessError(
                "conflict",
                _(
                    "The warehouse adjusted its stock (%(label)s: %(lines)s), and "
                    "Odoo owns stock quantities (ownership rules): nothing was "
                    "applied. If the warehouse is right, adjust Odoo by hand and "
                    "ignore this; to apply its adjustments, let the WMS own stock "
                    "quantities on the backend.",
                    label=label,
                    lines=", ".join(
                        f"{line.sku} {line.quantity:+g} ({line.reason})"
                        for line in lines
                    ),
                ),
                kind_key="stock_level:wms",
            )
        warehouse = self._wms_warehouse_for_site(site)
        products = self._wms_products_by_sku({line.sku for line in lines})
        changes = []
        for line in lines:
            product = products.get(line.sku)
            if not product:
                raise self._wms_unknown_sku(line.sku)
            lot = self._wms_adjustment_lot(product, line)
            changes.append((product, lot, line.quantity, line.reason))
        moves = self.env["stock.move"]
        by_reason = defaultdict(list)
        for product, lot, delta, reason in changes:
            by_reason[reason].append((product, lot, delta))
        for reason, items in by_reason.items():
            moves |= self._wms_inventory_moves(
                warehouse.lot_stock_id,
                items,
                _(
                    "Warehouse adjustment %(label)s: %(reason)s",
                    label=label,
                    reason=reason,
                ),
            )
        if adjustment_id:
            Binding._bind(self, moves[:1], f"adjustment:{adjustment_id}", event=event)
        return moves[:1]

    def _wms_adjustment_lot(self, product, line):
        if product.tracking == "none":
            if line.lot:
                raise BusinessError(
                    "invalid_payload",
                    _(
                        "The warehouse adjusted lot %(lot)s of %(sku)s, which Odoo "
                        "does not track by lot.",
                        lot=line.lot,
                        sku=line.sku,
                    ),
                    team="warehouse",
                    kind_key=f"sku:{line.sku}",
                    record=product,
                )
            return self.env["stock.lot"]
        if not line.lot:
            raise BusinessError(
                "invalid_payload",
                _(
                    "The warehouse adjusted %(sku)s without its lot, and Odoo "
                    "tracks %(sku)s by lot or serial number.",
                    sku=line.sku,
                ),
                team="warehouse",
                kind_key=f"sku:{line.sku}",
                record=product,
            )
        Lot = self.env["stock.lot"].sudo()
        lot = Lot.search(
            [
                ("name", "=", line.lot),
                ("product_id", "=", product.id),
                ("company_id", "in", [False, self.company_id.id]),
            ],
            limit=1,
        )
        if not lot and line.quantity > 0:
            lot = Lot.create(
                {
                    "name": line.lot,
                    "product_id": product.id,
                    "company_id": self.company_id.id,
                }
            )
        if not lot:
            raise BusinessError(
                "missing_mapping",
                _(
                    "The warehouse removed units of lot %(lot)s of %(sku)s, which "
                    "Odoo does not know.",
                    lot=line.lot,
                    sku=line.sku,
                ),
                team="warehouse",
                kind_key=f"lot:{line.sku}:{line.lot}",
                record=product,
            )
        return lot

    def _wms_inventory_moves(self, location, items, name):
        """Inventory moves (as Odoo's inventory adjustment makes them)
        changing ``location``'s stock by each ``(product, lot, delta)``,
        done at once; named ``name``."""
        vals_list = []
        company = location.company_id or self.company_id
        for product, lot, delta in items:
            if float_is_zero(delta, precision_rounding=product.uom_id.rounding):
                continue
            loss = product.with_company(company).property_stock_inventory
            source, dest = (loss, location) if delta > 0 else (location, loss)
            quantity = abs(delta)
            vals_list.append(
                {
                    "name": name,
                    "product_id": product.id,
                    "product_uom": product.uom_id.id,
                    "product_uom_qty": quantity,
                    "company_id": company.id,
                    "state": "confirmed",
                    "location_id": source.id,
                    "location_dest_id": dest.id,
                    "is_inventory": True,
                    "picked": True,
                    "move_line_ids": [
                        (
                            0,
                            0,
                            {
                                "product_id": product.id,
                                "product_uom_id": product.uom_id.id,
                                "quantity": quantity,
                                "location_id": source.id,
                                "location_dest_id": dest.id,
                                "company_id": company.id,
                                "lot_id": lot.id if lot else False,
                            },
                        )
                    ],
                }
            )
        Move = (
            self.env["stock.move"]
            .sudo()
            .with_context(inventory_mode=False, dsync_wms_apply=True)
        )
        moves = Move.create(vals_list)
        moves._action_done()
        return moves

    # ------------------------------------------------------------------
    # snapshots
    # ------------------------------------------------------------------
    def _wms_process_inventory_snapshot(self, event):
        data = self._wms_parse(event, wms_payload.snapshot_page)
        if data["page"] < data["page_count"]:
            return None  # collected; the last page reconciles
        pages = {data["page"]: data}
        earlier = self.env["dsync.event"].search(
            [
                ("backend_id", "=", self.id),
                ("topic", "=", "inventory.snapshot"),
                ("sequence_key", "=", event.sequence_key),
                ("state", "=", "done"),
                ("id", "!=", event.id),
            ]
        )
        for page_event in earlier:
            page = page_event._dsync_data()["data"]
            pages.setdefault(page["page"], page)
        missing = [n for n in range(1, data["page_count"] + 1) if n not in pages]
        if missing:
            raise BusinessError(
                "missing_event",
                _(
                    "Snapshot %(id)s is missing page(s) %(pages)s of %(count)s: it "
                    "is not reconciled. Ask the warehouse for a new snapshot.",
                    id=data["snapshot_id"],
                    pages=", ".join(map(str, missing[:20])),
                    count=data["page_count"],
                ),
                kind_key=f"snapshot:{data['snapshot_id']}",
            )
        items = [item for number in sorted(pages) for item in pages[number]["items"]]
        warehouse = self._wms_warehouse_for_site(data.get("site"))
        return self._wms_reconcile(warehouse, data["snapshot_id"], items)

    def _wms_reconcile(self, warehouse, snapshot_id, items):
        """A reconciliation run of ``warehouse``'s stock against the
        warehouse system's ``items`` (the snapshot's ``SnapshotItem``)."""
        self.ensure_one()
        started = time.perf_counter()
        platform = defaultdict(float)
        for item in items:
            platform[item["sku"]] += item["on_hand"] - (item.get("allocated") or 0.0)
        location = warehouse.lot_stock_id
        products = self._wms_product_ids_by_sku(list(platform))
        on_hand = self._wms_quantities(location)
        in_flight = self._wms_in_flight(location)
        rows = []
        seen = set()
        for sku, quantity in platform.items():
            product_id = products.get(sku)
            if not product_id:
                if not float_is_zero(quantity, precision_digits=6):
                    rows.append(
                        _row(sku, warehouse.code, quantity, 0.0, 0.0, "unknown_sku")
                    )
                continue
            seen.add(product_id)
            odoo, flight = on_hand.get(product_id, 0.0), in_flight.get(product_id, 0.0)
            drift = quantity - (odoo - flight)
            if abs(drift) > EPSILON:
                rows.append(
                    _row(
                        sku,
                        warehouse.code,
                        quantity,
                        odoo,
                        flight,
                        "quantity" if odoo else "missing_in_odoo",
                        product_id,
                    )
                )
        absent = [
            pid
            for pid in set(on_hand) | set(in_flight)
            if pid not in seen
            and abs(on_hand.get(pid, 0.0) - in_flight.get(pid, 0.0)) > EPSILON
        ]
        for product_id, sku in self._wms_skus_of(absent).items():
            odoo, flight = on_hand.get(product_id, 0.0), in_flight.get(product_id, 0.0)
            rows.append(
                _row(
                    sku,
                    warehouse.code,
                    0.0,
                    odoo,
                    flight,
                    "missing_on_platform",
                    product_id,
                )
            )
        self._wms_unit_values(rows)
        run = self.env["dsync.reconciliation.run"]._dsync_start(
            self,
            "stock",
            source_ref=_(
                "Snapshot %(id)s of %(site)s", id=snapshot_id, site=warehouse.code
            ),
            tolerance_qty=self.wms_tolerance_qty,
            tolerance_value=self.wms_tolerance_value,
        )
        run._dsync_add_lines(rows)
        compared = time.perf_counter() - started
        run._dsync_conclude(len(platform), compared, self._wms_owns_stock())
        _logger.info(
            "backend %s: snapshot of %s SKUs compared in %.3f s, %s drift lines",
            self.id,
            len(platform),
            compared,
            len(rows),
        )
        return run

    def _wms_product_ids_by_sku(self, skus):
        """{sku: product id}: one query for any number of SKUs."""
        self.env["product.product"].flush_model(["default_code", "active"])
        self.env.cr.execute(
            """SELECT pp.default_code, min(pp.id)
                 FROM product_product pp
                 JOIN product_template pt ON pt.id = pp.product_tmpl_id
                WHERE pp.default_code = ANY(%s) AND pp.active
                  AND (pt.company_id IS NULL OR pt.company_id = %s)
                GROUP BY pp.default_code""",
            (skus, self.company_id.id),
        )
        return dict(self.env.cr.fetchall())

    def _wms_skus_of(self, product_ids):
        """{product id: sku} of the storable products among ``product_ids``."""
        if not product_ids:
            return {}
        self.env.cr.execute(
            """SELECT pp.id, pp.default_code
                 FROM product_product pp
                 JOIN product_template pt ON pt.id = pp.product_tmpl_id
                WHERE pp.id = ANY(%s) AND pp.default_code IS NOT NULL
                  AND pt.is_storable""",
            (list(product_ids),),
        )
        return dict(self.env.cr.fetchall())

    def _wms_quantities(self, location):
        """{product id: quantity on hand} in ``location`` and its children."""
        self.env["stock.quant"].flush_model(["quantity", "location_id", "product_id"])
        self.env.cr.execute(
            """SELECT q.product_id, sum(q.quantity)
                 FROM stock_quant q
                 JOIN stock_location l ON l.id = q.location_id
                WHERE l.parent_path LIKE %s AND l.usage = 'internal'
                GROUP BY q.product_id""",
            (f"{location.parent_path}%",),
        )
        return dict(self.env.cr.fetchall())

    def _wms_in_flight(self, location):
        """{product id: quantity} released to this warehouse system out of
        ``location`` and not confirmed yet."""
        self.env.flush_all()
        self.env.cr.execute(
            """SELECT m.product_id, sum(m.product_qty)
                 FROM stock_move m
                 JOIN stock_picking p ON p.id = m.picking_id
                 JOIN stock_location l ON l.id = m.location_id
                WHERE p.wms_backend_id = %s
                  AND p.wms_state IN ('pending', 'released', 'on_hold')
                  AND m.state NOT IN ('draft', 'done', 'cancel')
                  AND l.parent_path LIKE %s
                GROUP BY m.product_id""",
            (self.id, f"{location.parent_path}%"),
        )
        return dict(self.env.cr.fetchall())

    def _wms_unit_values(self, rows):
        """Each row's unit value: its product's cost."""
        ids = [row["res_id"] for row in rows if row.get("res_id")]
        if not ids:
            return
        products = (
            self.env["product.product"].sudo().with_company(self.company_id).browse(ids)
        )
        costs = {product.id: product.standard_price for product in products}
        for row in rows:
            row["unit_value"] = costs.get(row.get("res_id"), 0.0)

    # ------------------------------------------------------------------
    # repair (the core's hook)
    # ------------------------------------------------------------------
    def _wms_reconciliation_repair(self, lines):
        """Adjust Odoo to the warehouse's quantity: one batch of inventory
        moves per warehouse, named after the run."""
        results = {}
        for site in set(lines.mapped("site")):
            mine = lines.filtered(lambda line, s=site: line.site == s)
            try:
                warehouse = self._wms_warehouse_for_site(site)
            except BusinessError as err:
                results.update({line: err for line in mine})
                continue
            items, owners = [], []
            for line in mine:
                product = (
                    self.env["product.product"].browse(line.res_id).exists()
                    if line.res_model == "product.product"
                    else None
                )
                if not product:
                    results[line] = BusinessError(
                        "unknown_product",
                        _(
                            "Odoo has no product %s: create it (or fix its "
                            "reference), then run the reconciliation again.",
                            line.sku,
                        ),
                    )
                    continue
                if product.tracking != "none":
                    results[line] = BusinessError(
                        "invalid_payload",
                        _(
                            "%s is tracked by lot or serial number: count it by "
                            "lot in Odoo (Inventory › Physical Inventory).",
                            line.sku,
                        ),
                    )
                    continue
                items.append((product, None, line.drift_qty))
                owners.append(line)
            if not items:
                continue
            moves = self._wms_inventory_moves(
                warehouse.lot_stock_id, items, mine.run_id[:1].name
            )
            by_product = {move.product_id.id: move for move in moves}
            for line in owners:
                move = by_product.get(line.res_id)
                results[line] = (
                    _("Odoo's stock changed by %(qty)+g.", qty=line.drift_qty),
                    move,
                )
        return results

    # ------------------------------------------------------------------
    # fetching a snapshot (button, cron)
    # ------------------------------------------------------------------
    def action_wms_reconcile_now(self):
        self.ensure_one()
        events = self._wms_fetch_snapshot()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Snapshot requested"),
                "message": _(
                    "%s snapshot pages fetched from the warehouse; the "
                    "reconciliation runs once they are processed.",
                    len(events),
                ),
                "type": "success",
            },
        }

    def _wms_fetch_snapshot(self):
        """Fetch every page of a new snapshot of each site into the inbox
        (``inventory.snapshot`` events, as if the warehouse had pushed
        them)."""
        self.ensure_one()
        client = self._wms_client()
        events = self.env["dsync.event"]
        for warehouse in self.wms_warehouse_ids or self._wms_warehouse_for_site(None):
            first = client.snapshot_page(
                page=1, page_size=self.wms_snapshot_page_size, site=warehouse.code
            )
            pages = [first]
            count = min(int(first.get("page_count") or 1), MAX_SNAPSHOT_PAGES)
            for number in range(2, count + 1):
                pages.append(
                    client.snapshot_page(
                        snapshot_id=first["snapshot_id"],
                        page=number,
                        page_size=self.wms_snapshot_page_size,
                        site=warehouse.code,
                    )
                )
            docs = [
                {
                    "id": f"pull:{page['snapshot_id']}:{page['page']}",
                    "type": "inventory.snapshot",
                    "occurred_at": page.get("as_of")
                    or fields.Datetime.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "data": page,
                }
                for page in pages
            ]
            events |= self._wms_insert_events(docs, source="pull")
        return events

    @api.model
    def _cron_wms_reconcile(self):
        for backend in self._wms_backends().filtered("api_url"):
            try:
                with self.env.cr.savepoint():
                    backend._wms_fetch_snapshot()
            except BusinessError as err:
                _logger.warning(
                    "backend %s: snapshot not fetched (%s)", backend.id, err.category
                )
            except Exception as err:  # noqa: BLE001 - a transient fault: next run
                _logger.warning(
                    "backend %s: snapshot not fetched (%s)",
                    backend.id,
                    type(err).__name__,
                )

    # ------------------------------------------------------------------
    # events made by Odoo (pulled snapshots, files)
    # ------------------------------------------------------------------
    def _wms_sequence_of_doc(self, doc):
        """(key, number) of a document Odoo makes: sequenced like the
        webhook's events when it has what that takes (a file's shipment
        without a sequence column is applied as it comes)."""
        if doc["type"] == "inventory.snapshot" or (
            doc.get("order_ref") and doc.get("sequence")
        ):
            try:
                return self._wms_sequence_key(doc["type"], doc)
            except (KeyError, TypeError):
                return None, None
        return None, None

    def _wms_insert_events(self, docs, source, headers=None, errors=None):
        """Store ``docs`` (contract events) in the inbox as the webhook route
        would (dedup on their ``id``: those already there are skipped), and
        wake the dispatcher. ``errors``: {doc id: message} of documents that
        are stored but fail when processed (a bad row of a file). Returns
        the new events."""
        self.ensure_one()
        Event = self.env["dsync.event"].sudo()
        ids = [doc["id"] for doc in docs]
        existing = set(
            Event.search(
                [("backend_id", "=", self.id), ("dedup_key", "in", ids)]
            ).mapped("dedup_key")
        )
        vals_list = []
        for doc in docs:
            if doc["id"] in existing:
                continue
            if errors and doc["id"] in errors:
                doc = dict(doc, file_errors=errors[doc["id"]])
            raw = json.dumps(doc, separators=(",", ":"))
            key, number = self._wms_sequence_of_doc(doc)
            if errors and doc["id"] in errors:
                key, number = None, None
            vals_list.append(
                {
                    "backend_id": self.id,
                    "company_id": self.company_id.id,
                    "topic": doc["type"],
                    "payload": raw,
                    "payload_size": len(raw.encode()),
                    "headers": dict(headers or {}, **{"X-Dsync-Source": source}),
                    "dedup_key": doc["id"],
                    "delivery_id": doc["id"],
                    "source_timestamp": wms_payload.source_time(
                        doc.get("occurred_at"), "occurred_at"
                    ),
                    "correlation_id": doc.get("correlation_id") or uuid.uuid4().hex,
                    "sequence_key": key,
                    "sequence": number,
                }
            )
        events = Event.create(vals_list)
        if events:
            self._dsync_wake_dispatcher()
        return events


def _row(sku, site, platform_qty, odoo_qty, in_flight, reason, product_id=None):
    return {
        "sku": sku,
        "site": site,
        "reason": reason,
        "platform_qty": platform_qty,
        "odoo_qty": odoo_qty,
        "in_flight_qty": in_flight,
        "drift_qty": platform_qty - (odoo_qty - in_flight),
        "res_model": "product.product" if product_id else None,
        "res_id": product_id,
        "repairable": bool(product_id),
    }
