# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Shipment and receipt confirmations in: the warehouse's quantities, lots,
serial numbers and packages validate Odoo's picking.

One code path for a single event and for a batch job
(:meth:`_wms_plan_confirmations`, then :meth:`_wms_apply_plans`): the plans
of a batch are checked one by one (an event whose plan fails is left to be
processed alone, where it opens its exception), then applied together: one
``create`` of the packages, one of the move lines, one ``_action_done`` per
backorder policy. Nothing of a confirmation is applied unless all of it is
(an unknown SKU, a lot Odoo cannot create, a quantity over what is open:
nothing moves).

Deliveries: the shipped quantities validate the open picking of the
order's reference; what was not shipped stays in a backorder for the next
shipment, unless the shipment completes the order (``order_complete``):
the rest is then a short pick, kept in a backorder or cancelled per the
backend's policy, and customer service gets a *short shipped* follow-up.
The tracking numbers of the packages land on the picking
(``carrier_tracking_ref``), as a manual validation with a label would leave
them: the sales channel's connector sends them on. Receipts: the received
quantities validate the receipt (more than expected is taken, as Odoo
takes it); what was not received stays open unless the receipt is complete
or the operation type never makes backorders. The same shipment or receipt
id is never applied twice.
"""

import dataclasses
from collections import defaultdict

from odoo import _, fields, models
from odoo.tools import float_compare, float_is_zero

from odoo.addons.distribution_sync_core.errors import BusinessError, DuplicateEvent

from .. import wms_payload
from ..wms_payload import PayloadError

PRECISION = 1e-6


@dataclasses.dataclass
class Plan:
    """What applying one confirmation will do."""

    event: object
    confirmation: object
    picking: object
    kind: str  # "shipment" | "receipt"
    moves: object = None  # the moves the confirmation fills
    line_vals: list = dataclasses.field(default_factory=list)
    packages: dict = dataclasses.field(default_factory=dict)  # ref -> vals
    cancel_rest: bool = False
    short: dict = dataclasses.field(default_factory=dict)  # product -> qty


class DsyncBackend(models.Model):
    _inherit = "dsync.backend"

    # ------------------------------------------------------------------
    # processors
    # ------------------------------------------------------------------
    def _wms_parse(self, event, parser):
        """``parser``'s reading of the event, or an *invalid payload*
        exception for the warehouse team (a bad row of a file: the
        exception naming the row and the column)."""
        file_error = self._wms_file_error(event)
        if file_error:
            raise file_error
        try:
            return parser(event._dsync_data())
        except PayloadError as err:
            raise BusinessError(
                "invalid_payload",
                _(
                    "The warehouse's %(topic)s event %(id)s contradicts itself: "
                    "%(error)s. Ask the warehouse to send it again, corrected.",
                    topic=event.topic,
                    id=event.delivery_id or event.id,
                    error=err,
                ),
                team="warehouse",
                kind_key=f"payload:{event.topic}",
            ) from err
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise BusinessError(
                "invalid_payload",
                _(
                    "Event %(id)s is not a WMS %(topic)s event.",
                    id=event.id,
                    topic=event.topic,
                ),
            ) from err

    def _wms_process_shipment_confirmed(self, event):
        confirmation = self._wms_parse(event, wms_payload.shipment)
        plans = self._wms_plan_confirmations([(event, confirmation)], "shipment")
        return self._wms_apply_plans(list(plans.values()))[event]

    def _wms_process_receipt_confirmed(self, event):
        confirmation = self._wms_parse(event, wms_payload.receipt)
        plans = self._wms_plan_confirmations([(event, confirmation)], "receipt")
        return self._wms_apply_plans(list(plans.values()))[event]

    def _wms_process_batch(self, events):
        """The batch hook of the core: the shipment confirmations of a batch
        job validated together ({event: picking}); every other event, and
        every confirmation whose plan fails, is processed alone after."""
        parsed = []
        for event in events.filtered(lambda e: e.topic == "shipment.confirmed"):
            try:
                parsed.append((event, self._wms_parse(event, wms_payload.shipment)))
            except BusinessError:
                continue
        if len(parsed) < 2:
            return {}
        plans = self._wms_plan_confirmations(parsed, "shipment", keep_going=True)
        if len(plans) < 2:
            return {}
        return self._wms_apply_plans(list(plans.values()))

    # ------------------------------------------------------------------
    # planning (reads only)
    # ------------------------------------------------------------------
    def _wms_plan_confirmations(self, items, kind, keep_going=False):
        """{event: Plan} of ``items`` ([(event, Confirmation)]). Raises the
        first plan's error, or with ``keep_going`` leaves out the events
        whose plan fails (and those that share a picking)."""
        code = "outgoing" if kind == "shipment" else "incoming"
        lookups = self._wms_lookups([c for _e, c in items], kind)
        plans, used = {}, set()
        for event, confirmation in items:
            try:
                plan = self._wms_plan(event, confirmation, kind, code, lookups)
            except (BusinessError, DuplicateEvent):
                if keep_going:
                    continue
                raise
            if plan.picking.id in used:
                continue  # two confirmations of one picking: the second alone
            used.add(plan.picking.id)
            plans[event] = plan
        return plans

    def _wms_lookups(self, confirmations, kind):
        """Everything the plans read, in one search per model."""
        env = self.env
        references = {c.reference for c in confirmations}
        Picking = env["stock.picking"].sudo()
        pickings = defaultdict(lambda: Picking)
        for picking in Picking.search(
            [
                ("wms_backend_id", "=", self.id),
                ("wms_reference", "in", list(references)),
            ],
            order="id desc",
        ):
            pickings[picking.wms_reference] |= picking
        for reference in references - set(pickings):
            pickings[reference] = self._wms_pickings_of(reference)
        done = set(
            env["dsync.binding"]
            .sudo()
            .search(
                [
                    ("backend_id", "=", self.id),
                    ("res_model", "=", "stock.picking"),
                    (
                        "external_id",
                        "in",
                        [f"{kind}:{c.document_id}" for c in confirmations],
                    ),
                ]
            )
            .mapped("external_id")
        )
        skus = {line.sku for c in confirmations for line in c.lines}
        products = self._wms_products_by_sku(skus)
        names = {
            name
            for c in confirmations
            for line in c.lines
            for name, _qty in line.assignments()
            if name
        }
        lots = {}
        if names:
            for lot in (
                env["stock.lot"]
                .sudo()
                .search(
                    [
                        ("name", "in", list(names)),
                        ("product_id", "in", [p.id for p in products.values()]),
                        ("company_id", "in", [False, self.company_id.id]),
                    ]
                )
            ):
                lots[(lot.product_id.id, lot.name)] = lot
        return {"pickings": pickings, "done": done, "products": products, "lots": lots}

    def _wms_products_by_sku(self, skus):
        """{sku: product.product} of the SKUs Odoo knows (internal reference)."""
        if not skus:
            return {}
        products = (
            self.env["product.product"]
            .sudo()
            .with_context(active_test=False)
            .search(
                [
                    ("default_code", "in", list(skus)),
                    ("company_id", "in", [False, self.company_id.id]),
                ]
            )
        )
        found = {}
        for product in products.sorted(lambda p: (not p.active, p.id)):
            found.setdefault(product.default_code, product)
        return found

    def _wms_unknown_sku(self, sku, reference=None):
        return BusinessError(
            "unknown_product",
            _(
                "The warehouse sent SKU %(sku)s%(where)s, and no product has that "
                "internal reference in Odoo. Fix the product's reference (or "
                "create it), then retry all exceptions of this SKU.",
                sku=sku,
                where=_(" on %s", reference) if reference else "",
            ),
            kind_key=f"sku:{sku}",
        )

    def _wms_plan(self, event, confirmation, kind, code, lookups):
        reference = confirmation.reference
        if f"{kind}:{confirmation.document_id}" in lookups["done"]:
            raise DuplicateEvent(
                _(
                    "%(kind)s %(id)s of %(ref)s was already applied.",
                    kind=kind.capitalize(),
                    id=confirmation.document_id,
                    ref=reference,
                )
            )
        pickings = lookups["pickings"][reference].filtered(
            lambda p: p.picking_type_code == code
        )
        if not pickings:
            raise self._wms_order_error(reference)
        open_pickings = pickings.filtered(lambda p: p.state not in ("done", "cancel"))
        if not open_pickings:
            raise BusinessError(
                "quantity_mismatch",
                _(
                    "The warehouse confirmed %(kind)s %(id)s of %(ref)s, but nothing "
                    "is left open there (%(states)s): more than was released. "
                    "Check with the warehouse.",
                    kind=kind,
                    id=confirmation.document_id,
                    ref=reference,
                    states=", ".join(f"{p.name}: {p.state}" for p in pickings),
                ),
                team="warehouse",
                kind_key=f"order:{reference}",
                record=pickings[:1],
            )
        picking = open_pickings[0]
        plan = Plan(event=event, confirmation=confirmation, picking=picking, kind=kind)
        moves = picking.move_ids.filtered(lambda m: m.state not in ("done", "cancel"))
        plan.moves = self.env["stock.move"]
        shipped = defaultdict(float)
        for line in confirmation.lines:
            product = lookups["products"].get(line.sku)
            if not product:
                raise self._wms_unknown_sku(line.sku, reference)
            candidates = moves.filtered(lambda m, p=product: m.product_id == p)
            if not candidates:
                raise BusinessError(
                    "quantity_mismatch",
                    _(
                        "The warehouse %(did)s %(qty)s × %(sku)s on %(ref)s, which "
                        "has no such line (%(picking)s).",
                        did=_("shipped") if kind == "shipment" else _("received"),
                        qty=line.quantity,
                        sku=line.sku,
                        ref=reference,
                        picking=picking.name,
                    ),
                    team="warehouse",
                    kind_key=f"order:{reference}",
                    record=picking,
                )
            self._wms_check_tracking(picking, product, line, reference)
            shipped[product] += line.quantity
            plan.line_vals += self._wms_line_vals(
                plan, candidates, product, line, lookups
            )
            plan.moves |= candidates
        if kind == "shipment":
            self._wms_check_over(picking, moves, shipped, reference)
        for ref, package in confirmation.packages.items():
            plan.packages[ref] = {
                "name": ref,
                "shipping_weight": package.weight_kg() or 0.0,
                "wms_tracking_ref": package.tracking_number or False,
                "wms_tracking_url": package.tracking_url or False,
                "wms_carrier": package.carrier or False,
            }
        plan.cancel_rest = self._wms_cancel_rest(picking, confirmation, kind)
        if confirmation.complete:
            for product in moves.product_id:
                left = self._wms_demand(moves, product) - shipped.get(product, 0.0)
                if left > PRECISION:
                    plan.short[product] = left
        return plan

    def _wms_cancel_rest(self, picking, confirmation, kind):
        """Whether what is not confirmed is cancelled (else: a backorder)."""
        if kind == "receipt":
            return (
                confirmation.complete
                or picking.picking_type_id.create_backorder == "never"
            )
        return confirmation.complete and self.wms_short_policy == "cancel"

    def _wms_check_tracking(self, picking, product, line, reference):
        if product.tracking == "none" and line.tracked:
            raise BusinessError(
                "invalid_payload",
                _(
                    "The warehouse sent a lot or serial number for %(sku)s on "
                    "%(ref)s, but Odoo does not track %(sku)s by lot: either the "
                    "product should be tracked (Inventory › Product › Tracking), "
                    "or the warehouse should not send one.",
                    sku=line.sku,
                    ref=reference,
                ),
                team="warehouse",
                kind_key=f"sku:{line.sku}",
                record=product,
            )
        if product.tracking == "serial" and line.lots and not line.serials:
            line.serials = [
                lot.name for lot in line.lots for _i in range(int(lot.quantity))
            ]
            line.lots = []
        if product.tracking != "none" and not line.tracked:
            raise BusinessError(
                "invalid_payload",
                _(
                    "%(sku)s is tracked by %(tracking)s in Odoo, and the "
                    "warehouse's confirmation of %(ref)s does not say which: it "
                    "must send the lots or serial numbers.",
                    sku=line.sku,
                    tracking=_("serial number")
                    if product.tracking == "serial"
                    else _("lot"),
                    ref=reference,
                ),
                team="warehouse",
                kind_key=f"sku:{line.sku}",
                record=product,
            )

    @staticmethod
    def _wms_demand(moves, product):
        """What ``moves`` (open moves) still ask of ``product``."""
        return sum(
            moves.filtered(lambda m: m.product_id == product).mapped("product_qty")
        )

    def _wms_check_over(self, picking, moves, quantities, reference, short=False):
        """A *quantity mismatch* when ``quantities`` ({product: qty} shipped,
        or short with ``short``) ask more of a product than ``moves`` (the
        picking's open moves) have."""
        for product, quantity in quantities.items():
            demand = self._wms_demand(moves, product)
            rounding = product.uom_id.rounding
            if float_compare(quantity, demand, precision_rounding=rounding) <= 0:
                continue
            what = {
                "qty": quantity,
                "sku": product.default_code,
                "ref": reference,
                "open": demand,
                "picking": picking.name,
            }
            raise BusinessError(
                "quantity_mismatch",
                _(
                    "The warehouse reports %(qty)s × %(sku)s short on %(ref)s, "
                    "which has %(open)s open: more than was released.",
                    **what,
                )
                if short
                else _(
                    "The warehouse shipped %(qty)s × %(sku)s on %(ref)s, and "
                    "only %(open)s are open on %(picking)s: more than was "
                    "released. Nothing was applied; check with the warehouse.",
                    **what,
                ),
                team="warehouse",
                kind_key=f"order:{reference}",
                record=picking,
            )

    def _wms_line_vals(self, plan, candidates, product, line, lookups):
        """Move line values for ``line``, filling ``candidates`` (the
        picking's moves of the product) in order; a line naming its move
        (``line_ref``) fills that one first. More than demanded (a receipt)
        goes to the last move."""
        picking_type = plan.picking.picking_type_id
        moves = list(candidates)
        if line.line_ref:
            named = [m for m in moves if str(m.id) == line.line_ref]
            moves = named + [m for m in moves if m not in named]
        room = {move: move.product_qty for move in moves}
        for vals in plan.line_vals:
            for move in moves:
                if move.id == vals["move_id"]:
                    room[move] -= vals["quantity"]
        result = []
        for name, quantity in line.assignments():
            lot_vals = {}
            if name:
                lot = lookups["lots"].get((product.id, name))
                if lot:
                    lot_vals["lot_id"] = lot.id
                elif picking_type.use_create_lots:
                    lot_vals["lot_name"] = name
                    if (
                        len(line.lots)
                        and any(lot.expiry for lot in line.lots if lot.name == name)
                        and "expiration_date" in self.env["stock.move.line"]._fields
                    ):
                        expiry = next(
                            lot.expiry for lot in line.lots if lot.name == name
                        )
                        lot_vals["expiration_date"] = expiry
                else:
                    raise BusinessError(
                        "missing_mapping",
                        _(
                            "%(what)s %(lot)s of %(sku)s (on %(ref)s) is unknown in "
                            "Odoo, and %(type)s does not create lots. Create it "
                            "(or receive it first), then retry.",
                            what=_("Serial number")
                            if product.tracking == "serial"
                            else _("Lot"),
                            lot=name,
                            sku=line.sku,
                            ref=plan.confirmation.reference,
                            type=picking_type.display_name,
                        ),
                        team="warehouse",
                        kind_key=f"lot:{line.sku}:{name}",
                        record=product,
                    )
            left = quantity
            for index, move in enumerate(moves):
                last = index == len(moves) - 1
                take = left if last else min(left, max(room[move], 0.0))
                if float_is_zero(take, precision_rounding=product.uom_id.rounding):
                    continue
                room[move] -= take
                left -= take
                vals = {
                    "move_id": move.id,
                    "picking_id": plan.picking.id,
                    "product_id": product.id,
                    "product_uom_id": product.uom_id.id,
                    "quantity": take,
                    "location_id": move.location_id.id,
                    "location_dest_id": move.location_dest_id.id,
                    "company_id": move.company_id.id,
                    "picked": True,
                    **lot_vals,
                }
                if line.package_ref:
                    vals["package_ref"] = line.package_ref
                result.append(vals)
                if float_is_zero(left, precision_rounding=product.uom_id.rounding):
                    break
        return result

    # ------------------------------------------------------------------
    # applying
    # ------------------------------------------------------------------
    def _wms_apply_plans(self, plans):
        """Apply the plans together; {event: picking validated}."""
        env = self.env(
            context=dict(self.env.context, dsync_wms_apply=True, tracking_disable=True)
        )
        MoveLine = env["stock.move.line"].sudo()
        moves = env["stock.move"].sudo().concat(*(plan.moves for plan in plans))
        for plan in plans:
            self._wms_adopt(plan.picking, plan.confirmation.reference)
        package_vals, package_of = [], []
        for plan in plans:
            for ref, vals in plan.packages.items():
                package_vals.append(vals)
                package_of.append((plan, ref))
        created = env["stock.quant.package"].sudo().create(package_vals)
        packages = {
            (id(plan), ref): package
            for (plan, ref), package in zip(package_of, created, strict=True)
        }
        line_vals = []
        for plan in plans:
            for vals in plan.line_vals:
                vals = dict(vals)
                ref = vals.pop("package_ref", None)
                if ref:
                    vals["result_package_id"] = packages[(id(plan), ref)].id
                line_vals.append(vals)
        line_vals = self._wms_reuse_reservations(moves, line_vals)
        MoveLine.create(line_vals)
        moves.write({"picked": True})
        self._wms_write_tracking(
            {
                plan.picking: self._wms_set_tracking(plan, packages)
                for plan in plans
                if plan.kind == "shipment"
            }
        )
        by_policy = defaultdict(lambda: env["stock.picking"].sudo())
        for plan in plans:
            by_policy[plan.cancel_rest] |= plan.picking.with_env(env)
        for cancel_rest, pickings in by_policy.items():
            pickings.with_context(cancel_backorder=cancel_rest)._action_done()
        return self._wms_after_apply(plans, packages)

    def _wms_reuse_reservations(self, moves, line_vals):
        """Make the moves' lines what the warehouse picked; returns the
        values of the lines still to create.

        Where Odoo reserved exactly what was shipped (the same quantity,
        from one line, without a lot), that line is kept and marked picked,
        as a person validating the delivery leaves it: unreserving it and
        reserving a new one would cost two quant updates for nothing. Every
        other reservation of these moves is replaced by the warehouse's
        lines."""
        by_move = defaultdict(list)
        for vals in line_vals:
            by_move[vals["move_id"]].append(vals)
        to_create, to_drop = [], self.env["stock.move.line"]
        keep = defaultdict(lambda: self.env["stock.move.line"])
        for move in moves:
            wanted = by_move.get(move.id, [])
            existing = move.move_line_ids
            if (
                len(wanted) == 1
                and len(existing) == 1
                and not any(key in wanted[0] for key in ("lot_id", "lot_name"))
                and not existing.lot_id
                and not existing.package_id
                and not float_compare(
                    existing.quantity_product_uom,
                    wanted[0]["quantity"],
                    precision_rounding=move.product_id.uom_id.rounding,
                )
            ):
                keep[wanted[0].get("result_package_id", False)] |= existing
                continue
            to_drop |= existing
            to_create += wanted
        to_drop.unlink()
        for package_id, lines in keep.items():
            lines.write({"picked": True, "result_package_id": package_id})
        return to_create

    def _wms_write_tracking(self, values):
        """Write each picking's tracking ({picking: vals}): the pickings that
        get the same values (a carrier) in one write, the tracking numbers,
        which differ from one picking to the next, in one statement (a
        plain column nobody tracks: measured, one write a picking cost 1 ms
        of the 25 a confirmation costs)."""
        refs = [
            (picking.id, vals.pop("carrier_tracking_ref"))
            for picking, vals in values.items()
            if vals.get("carrier_tracking_ref")
        ]
        by_vals = defaultdict(lambda: self.env["stock.picking"])
        for picking, vals in values.items():
            if vals:
                by_vals[tuple(sorted(vals.items()))] |= picking
        for vals, pickings in by_vals.items():
            pickings.with_context(dsync_wms_apply=True).write(dict(vals))
        if refs:
            Picking = self.env["stock.picking"]
            Picking.flush_model(["carrier_tracking_ref"])
            self.env.cr.execute_values(
                """UPDATE stock_picking p SET carrier_tracking_ref = v.ref
                     FROM (VALUES %s) AS v(id, ref) WHERE p.id = v.id""",
                refs,
            )
            Picking.browse([pid for pid, _ref in refs]).invalidate_recordset(
                ["carrier_tracking_ref"]
            )

    def _wms_set_tracking(self, plan, packages):
        """The tracking values of a shipment's picking (its packages'
        numbers, the carrier when mapped)."""
        numbers = [
            packages[(id(plan), ref)].wms_tracking_ref
            for ref in plan.packages
            if packages[(id(plan), ref)].wms_tracking_ref
        ]
        vals = {}
        if numbers:
            vals["carrier_tracking_ref"] = ",".join(dict.fromkeys(numbers))
        carrier_code = plan.confirmation.carrier or next(
            (p.carrier for p in plan.confirmation.packages.values() if p.carrier), None
        )
        if carrier_code:
            carrier = (
                self.env["dsync.value.map"]
                .sudo()
                ._lookup(self, "carrier_service", carrier_code, required=False)
            )
            if carrier and carrier._name == "delivery.carrier":
                vals["carrier_id"] = carrier.id
        return vals

    def _wms_after_apply(self, plans, packages):
        applied = {}
        bindings = []
        Picking = self.env["stock.picking"].with_context(dsync_wms_apply=True)
        for kind, state in (("shipment", "shipped"), ("receipt", "received")):
            Picking.concat(*(p.picking for p in plans if p.kind == kind)).write(
                {"wms_state": state}
            )
        for plan in plans:
            picking = plan.picking
            confirmation = plan.confirmation
            bindings.append(
                (
                    f"{plan.kind}:{confirmation.document_id}",
                    picking,
                    {"last_event_id": plan.event.id},
                )
            )
            backorder = picking.backorder_ids.filtered(
                lambda p: p.state not in ("done", "cancel")
            )[:1]
            if plan.short:
                plan.event._dsync_follow_up(
                    self._wms_short_follow_up(picking, plan.short, backorder)
                )
            applied[plan.event] = picking
        self.env["dsync.binding"].sudo()._bind_many(self, "stock.picking", bindings)
        self._wms_shipped_milestones(
            [plan for plan in plans if plan.kind == "shipment"], packages
        )
        return applied

    def _wms_shipped_milestones(self, plans, packages):
        """The *shipped* milestone of each package of these shipments (of
        the delivery when it has none): the core's shipment timeline, which
        the carrier's tracking then carries on."""
        entries = []
        for plan in plans:
            confirmation = plan.confirmation
            common = {
                "picking": plan.picking,
                "status": "shipped",
                "occurred_at": confirmation.done_at or fields.Datetime.now(),
                "source": "wms",
                "backend": self,
                "event": plan.event,
                "detail": _("Shipped by the warehouse (%s)", confirmation.document_id),
            }
            refs = list(confirmation.packages) or [None]
            for ref in refs:
                package = packages.get((id(plan), ref)) if ref else None
                entries.append(
                    dict(
                        common,
                        package=package,
                        tracking_ref=package.wms_tracking_ref if package else False,
                        external_key=f"wms:{confirmation.document_id}:{ref or ''}",
                    )
                )
        if entries:
            self.env["dsync.shipment.milestone"].sudo()._dsync_record(entries)

    def _wms_short_follow_up(self, picking, short, backorder, reason=None):
        """The *short shipped* follow-up for customer service."""
        what = ", ".join(
            f"{quantity:g} × {product.default_code or product.display_name}"
            for product, quantity in short.items()
        )
        sale = picking.sale_id if "sale_id" in picking._fields else None
        order = (sale and (sale.client_order_ref or sale.name)) or picking.origin
        if backorder == picking:
            outcome = _(
                "They stay open on %s and ship when the warehouse has them.",
                picking.name,
            )
        elif backorder:
            outcome = _(
                "They stay open in backorder %s and ship when the warehouse has them.",
                backorder.name,
            )
        else:
            outcome = _("They were cancelled (the short-pick policy).")
        return BusinessError(
            "short_shipped",
            _(
                "The warehouse could not ship %(what)s of %(ref)s%(order)s%(reason)s. "
                "%(outcome)s Tell the customer.",
                what=what,
                ref=picking.wms_reference or picking.name,
                order=_(" (order %s)", order) if order else "",
                reason=_(" (%s)", reason) if reason else "",
                outcome=outcome,
            ),
            kind_key=f"short:{picking.wms_reference or picking.name}",
            record=sale or picking,
        )
