# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Shipment milestones to Shopify as fulfillment events.

The carrier connector (or the warehouse's) writes ``dsync.shipment.milestone``
records; this reads them, never the connector that wrote them. Each
milestone that moves a delivery of a Shopify order to a status the customer
cares about becomes one ``fulfillmentEventCreate`` on the delivery's
fulfillment, through the outbox (flow ``fulfillment_events``): in transit,
out for delivery, delivery attempted, ready for pickup, delivered, failure.
A milestone's event is sent once (its binding keeps Shopify's event id); an
event whose fulfillment is not made yet waits for it.
"""

from odoo import _, api, models

from odoo.addons.distribution_sync_core.errors import BusinessError, TransientError

from .shopify_outbound import FulfillmentPending

FLOW = "fulfillment_events"
# canonical milestone status -> Shopify's FulfillmentEventStatus
EVENT_STATUS = {
    "shipped": "CARRIER_PICKED_UP",
    "in_transit": "IN_TRANSIT",
    "out_for_delivery": "OUT_FOR_DELIVERY",
    "attempted_delivery": "ATTEMPTED_DELIVERY",
    "available_for_pickup": "READY_FOR_PICKUP",
    "delivered": "DELIVERED",
    "failure": "FAILURE",
    "return_to_sender": "FAILURE",
}
FULFILLMENT_EVENT_CREATE = """
mutation FulfillmentEventCreate($fulfillmentEvent: FulfillmentEventInput!) {
  fulfillmentEventCreate(fulfillmentEvent: $fulfillmentEvent) {
    fulfillmentEvent { id status happenedAt }
    userErrors { field message }
  }
}"""
MUTATION_COST = 10


class DsyncShipmentMilestone(models.Model):
    _inherit = "dsync.shipment.milestone"

    def _dsync_on_applied(self):
        super()._dsync_on_applied()
        moved = self.filtered(
            lambda m: (
                m.changed_status and m.status in EVENT_STATUS and m.picking_id.sale_id
            )
        )
        if moved:
            self.env["dsync.backend"]._shopify_post_fulfillment_events(moved)


class DsyncBackend(models.Model):
    _inherit = "dsync.backend"

    def _shopify_flow_specs(self):
        return super()._shopify_flow_specs() + [
            {"code": FLOW, "name": "Shipment events out", "direction": "out"}
        ]

    @api.model
    def _shopify_post_fulfillment_events(self, milestones):
        """Post one fulfillment event message per milestone whose delivery
        belongs to a sale order bound to a Shopify order of a backend."""
        Binding = self.env["dsync.binding"].sudo()
        milestones = milestones.filtered(lambda m: m.status in EVENT_STATUS)
        pickings = milestones.picking_id
        for backend in self._shopify_senders(
            [("company_id", "in", pickings.company_id.ids)]
        ):
            bound = set(
                Binding.search(
                    [
                        ("backend_id", "=", backend.id),
                        ("res_model", "=", "sale.order"),
                        ("res_id", "in", pickings.sale_id.ids),
                    ]
                ).mapped("res_id")
            )
            items = [
                (
                    f"milestone:{milestone.id}",
                    {
                        "milestone_id": milestone.id,
                        "picking_id": milestone.picking_id.id,
                        "picking": milestone.picking_id.name,
                        "status": EVENT_STATUS[milestone.status],
                    },
                    milestone,
                )
                for milestone in milestones
                if milestone.company_id == backend.company_id
                and milestone.picking_id.sale_id.id in bound
            ]
            if items:
                self.env["dsync.outbox"].sudo()._dsync_post_many(backend, FLOW, items)

    def _shopify_send_fulfillment_events(self, messages):
        """Sender of the fulfillment_events flow. Returns {message id: None
        | error}; an event waiting for its fulfillment waits alone."""
        self.ensure_one()
        client = self._shopify_client()
        results, sent_any = {}, False
        for index, message in enumerate(messages):
            try:
                sent_any |= self._shopify_send_fulfillment_event(client, message)
            except (BusinessError, FulfillmentPending) as err:
                results[message.id] = err  # this message alone fails or waits
            except TransientError as err:
                if not sent_any:
                    raise  # nothing sent yet: the whole batch retries
                results.update({rest.id: err for rest in messages[index:]})
                break
        return results

    def _shopify_send_fulfillment_event(self, client, message):
        data = message._dsync_data()
        Binding = self.env["dsync.binding"].sudo()
        milestone = (
            self.env["dsync.shipment.milestone"]
            .sudo()
            .browse(data["milestone_id"])
            .exists()
        )
        if not milestone:
            raise BusinessError(
                "invalid_payload",
                _("The shipment milestone of %s no longer exists.", data["picking"]),
            )
        if Binding.search_count(
            [
                ("backend_id", "=", self.id),
                ("res_model", "=", milestone._name),
                ("res_id", "=", milestone.id),
            ]
        ):
            return False  # sent before
        fulfillment = self._shopify_picking_fulfillments(milestone.picking_id)[:1]
        if not fulfillment:
            raise FulfillmentPending(
                f"delivery {milestone.picking_id.name} has no Shopify fulfillment yet",
                retry_after=60,
            )
        event = self._shopify_fulfillment_event_input(
            fulfillment.external_id, milestone, data
        )
        payload = client.execute(
            "FulfillmentEventCreate",
            FULFILLMENT_EVENT_CREATE,
            {"fulfillmentEvent": event},
            MUTATION_COST,
        )["fulfillmentEventCreate"]
        errors = payload.get("userErrors") or []
        created = payload.get("fulfillmentEvent")
        if errors or not created:
            raise BusinessError(
                "platform_rejected",
                _(
                    "Shopify refused the shipment event %(status)s of %(picking)s: "
                    "%(errors)s",
                    status=event["status"],
                    picking=milestone.picking_id.name,
                    errors="; ".join(e.get("message", "") for e in errors) or "-",
                ),
                kind_key=f"picking:{milestone.picking_id.id}",
                record=milestone.picking_id,
            )
        Binding._bind(self, milestone, created["id"])
        return True

    @api.model
    def _shopify_fulfillment_event_input(self, fulfillment_gid, milestone, data):
        event = {
            "fulfillmentId": fulfillment_gid,
            "status": data["status"],
            "happenedAt": milestone.occurred_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if milestone.detail:
            event["message"] = milestone.detail[:255]
        # place: "CITY, ST ZIP, COUNTRY" (what the carrier gave)
        parts = [p.strip() for p in (milestone.place or "").split(",") if p.strip()]
        if parts:
            event["city"] = parts[0]
        if len(parts) == 3:
            province, _sep, zip_code = parts[1].partition(" ")
            event["province"] = province
            if zip_code:
                event["zip"] = zip_code
        if len(parts) >= 2:
            event["country"] = parts[-1]
        return event
