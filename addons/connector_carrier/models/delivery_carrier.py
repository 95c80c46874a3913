# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A delivery method whose labels come from a carrier platform.

It plugs into Odoo's ``stock_delivery`` like any shipping provider: a
``delivery_type`` value and the methods named after it. What differs is
``send_shipping``: Odoo calls it while validating a delivery, inside the
validation's transaction, so a slow or unreachable platform would hold (or
roll back) the validation. Here it only queues the labels' purchase; the
purchase runs as a job of the carrier backend.
"""

import json
import logging

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from odoo.addons.distribution_sync_core.errors import BusinessError, TransientError

from ..platforms.base import Address, AddressError, Parcel, ShipmentRequest, select_rate

_logger = logging.getLogger(__name__)

DELIVERY_TYPE = "dsync_carrier"


class DeliveryCarrier(models.Model):
    _inherit = "delivery.carrier"

    delivery_type = fields.Selection(
        selection_add=[(DELIVERY_TYPE, "Carrier platform (Distribution Sync)")],
        ondelete={DELIVERY_TYPE: "set default"},
    )
    dsync_backend_id = fields.Many2one(
        "dsync.backend",
        string="Carrier Platform Backend",
        domain=[("backend_type", "=", "carrier")],
        ondelete="restrict",
        help="The platform account that buys this method's labels.",
    )
    dsync_carrier_name = fields.Char(
        "Carrier", help="The platform's carrier name (USPS, UPS...); empty: any."
    )
    dsync_carrier_accounts = fields.Char(
        "Carrier Accounts",
        help="The platform's carrier account ids to rate with, comma-separated "
        "(EasyPost: ca_...); empty: every account.",
    )
    dsync_service_choice = fields.Selection(
        [("service", "This service"), ("cheapest", "Cheapest of these services")],
        string="Service Choice",
        default="service",
        required=True,
    )
    dsync_services = fields.Char(
        "Services",
        help="The platform's service name (Priority, GroundAdvantage...), or "
        "several, comma-separated, with 'Cheapest of these services'.",
    )
    dsync_package_type_id = fields.Many2one(
        "stock.package.type",
        string="Default Package",
        help="Dimensions of a delivery shipped without packages.",
    )
    dsync_default_weight = fields.Float(
        "Default Weight",
        default=1.0,
        help="Weight of a parcel whose products have none (in the weight unit "
        "of the database).",
    )
    dsync_label_format = fields.Selection(
        [("PDF", "PDF"), ("ZPL", "ZPL (thermal printers)")],
        string="Label Format",
        default="PDF",
        required=True,
    )
    dsync_insure = fields.Boolean(
        "Insure Parcels", help="Insure each parcel for the value of its content."
    )
    dsync_signature = fields.Selection(
        [
            ("none", "No signature"),
            ("SIGNATURE", "Signature"),
            ("ADULT_SIGNATURE", "Adult signature"),
        ],
        string="Delivery Confirmation",
        default="none",
        required=True,
    )

    @api.constrains("delivery_type", "dsync_backend_id")
    def _check_dsync_backend(self):
        for carrier in self:
            if carrier.delivery_type == DELIVERY_TYPE and not carrier.dsync_backend_id:
                raise UserError(
                    _("Choose the carrier platform backend of %s.", carrier.name)
                )

    def _dsync_carrier_services(self):
        self.ensure_one()
        return [s.strip() for s in (self.dsync_services or "").split(",") if s.strip()]

    # ------------------------------------------------------------------
    # Odoo's provider API
    # ------------------------------------------------------------------
    def send_shipping(self, pickings):
        """OCA delivery_state marks a shipment "recorded in carrier" as soon
        as ``send_shipping`` returns. Here the label is bought later: the
        label job sets that state when the platform has the shipment."""
        if self.delivery_type == DELIVERY_TYPE:
            return self.dsync_carrier_send_shipping(pickings)
        return super().send_shipping(pickings)

    def dsync_carrier_rate_shipment(self, order):
        """*Get rate* on a quotation: the platform's rate of this method's
        service for the order's weight, in the company's currency."""
        self.ensure_one()
        try:
            platform = self.dsync_backend_id._carrier_platform()
            request = self._dsync_order_request(order)
            shipment = platform.create_shipment(request)
        except AddressError as err:
            fields_text = "; ".join(f"{f}: {m}" for f, m in err.fields) or err.message
            return self._dsync_rate_error(
                _(
                    "The carrier platform cannot verify the delivery address (%s).",
                    fields_text,
                )
            )
        except TransientError:
            return self._dsync_rate_error(
                _("The carrier platform is not answering; try again in a moment.")
            )
        except BusinessError as err:
            return self._dsync_rate_error(err.message)
        rate = select_rate(
            shipment.rates,
            self._dsync_carrier_services(),
            self.dsync_carrier_name or "",
            cheapest=self.dsync_service_choice == "cheapest",
        )
        if rate is None:
            return self._dsync_rate_error(
                _(
                    "The carrier platform offers no rate for %(services)s to this "
                    "address.",
                    services=", ".join(self._dsync_carrier_services()) or self.name,
                )
            )
        price, warning = self._dsync_to_company_currency(
            rate.amount, rate.currency, order
        )
        return {
            "success": True,
            "price": price,
            "error_message": False,
            "warning_message": warning,
        }

    def _dsync_rate_error(self, message):
        return {
            "success": False,
            "price": 0.0,
            "error_message": message,
            "warning_message": False,
        }

    def _dsync_to_company_currency(self, amount, code, order):
        company = order.company_id or self.env.company
        currency = (
            self.env["res.currency"]
            .with_context(active_test=False)
            .search([("name", "=", code)], limit=1)
        )
        if not currency or currency == company.currency_id:
            warning = (
                _("The platform's rate is in %s, not converted.", code)
                if not currency
                else False
            )
            return amount, warning
        return (
            currency._convert(
                amount,
                company.currency_id,
                company,
                order.date_order or fields.Date.today(),
            ),
            False,
        )

    def dsync_carrier_send_shipping(self, pickings):
        """Queue the purchase of each delivery's labels (one per package):
        the validation commits at once, the label job buys them."""
        self.ensure_one()
        for picking in pickings:
            picking._dsync_carrier_queue_labels(self)
        return [{"exact_price": 0.0, "tracking_number": False} for _p in pickings]

    def dsync_carrier_get_tracking_link(self, picking):
        """The platform's tracking page, stored when the label was bought
        (several packages: Odoo's list of [package, link])."""
        labels = picking.dsync_label_ids.filtered(
            lambda label: label.state == "bought" and label.public_url
        )
        if len(labels) > 1:
            return json.dumps([[label.name, label.public_url] for label in labels])
        return labels.public_url or False

    def dsync_carrier_cancel_shipment(self, pickings):
        """Cancel the labels: refunds are asked for in the background, their
        status shows on each label."""
        # a warehouse user cancels: the labels and their messages are the
        # sync's records
        pickings.sudo().dsync_label_ids.filtered(
            lambda label: label.state in ("pending", "failed", "bought")
        )._dsync_cancel()

    # ------------------------------------------------------------------
    # requests
    # ------------------------------------------------------------------
    def _dsync_address(self, partner):
        partner = partner.sudo()
        return Address(
            name=partner.name or partner.display_name or "",
            company=partner.commercial_company_name
            if partner.commercial_company_name != partner.name
            else "",
            street1=partner.street or "",
            street2=partner.street2 or "",
            city=partner.city or "",
            state=partner.state_id.code or "",
            zip=partner.zip or "",
            country=partner.country_id.code or "",
            phone=partner.phone or partner.mobile or "",
            email=partner.email or "",
        )

    def _dsync_ounces(self, weight):
        """``weight`` (the database's weight unit) in ounces."""
        uom = self.env["product.template"]._get_weight_uom_id_from_ir_config_parameter()
        pound = self.env.ref("uom.product_uom_lb")
        return uom._compute_quantity(weight, pound, round=False) * 16.0

    def _dsync_parcel(self, weight, package_type=None):
        package_type = package_type or self.dsync_package_type_id
        weight = weight or self.dsync_default_weight
        if weight <= 0:
            raise BusinessError(
                "missing_mapping",
                _(
                    "The parcel has no weight: give the products a weight, or "
                    "the delivery method %s a default weight.",
                    self.name,
                ),
                kind_key=f"carrier_weight:{self.id}",
            )
        dims = {}
        if package_type:
            length_uom = self.env[
                "product.template"
            ]._get_length_uom_id_from_ir_config_parameter()
            inch = self.env.ref("uom.product_uom_inch", raise_if_not_found=False)
            for key, value in (
                ("length_in", package_type.packaging_length),
                ("width_in", package_type.width),
                ("height_in", package_type.height),
            ):
                if value and inch:
                    dims[key] = length_uom._compute_quantity(value, inch, round=False)
        return Parcel(
            weight_oz=self._dsync_ounces(weight),
            predefined_package=(package_type.shipper_package_code or "")
            if package_type and package_type.package_carrier_type == DELIVERY_TYPE
            else "",
            **dims,
        )

    def _dsync_request(self, reference, from_partner, to_partner, parcel, note=""):
        return ShipmentRequest(
            reference=reference,
            from_address=self._dsync_address(from_partner),
            to_address=self._dsync_address(to_partner),
            parcel=parcel,
            label_format=self.dsync_label_format,
            carrier_accounts=[
                a.strip()
                for a in (self.dsync_carrier_accounts or "").split(",")
                if a.strip()
            ],
            signature="" if self.dsync_signature == "none" else self.dsync_signature,
            print_custom=note,
        )

    def _dsync_order_request(self, order):
        weight = order._get_estimated_weight()
        if self.dsync_package_type_id:
            weight += self.dsync_package_type_id.base_weight
        warehouse = order.warehouse_id.partner_id or order.company_id.partner_id
        return self._dsync_request(
            order.name, warehouse, order.partner_shipping_id, self._dsync_parcel(weight)
        )

    def _dsync_carrier_request(self, label):
        """The shipment request of one label (its package, or the delivery's
        goods outside any package)."""
        self.ensure_one()
        picking = label.picking_id
        warehouse = (
            picking.picking_type_id.warehouse_id.partner_id
            or picking.company_id.partner_id
        )
        package = label.package_id
        if package:
            weight = package.shipping_weight or package.weight
            package_type = package.package_type_id
        else:
            weight = sum(
                ml.quantity * ml.product_id.weight
                for ml in picking.move_line_ids
                if not ml.result_package_id
            )
            package_type = None
        parcel = self._dsync_parcel(weight, package_type)
        return self._dsync_request(
            picking.name, warehouse, picking.partner_id, parcel, note=label.name
        )
