/** @odoo-module **/
// License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
// The walks of the people who use the exception queue (data from the Python
// test: Shopify order #1001 waits for the unknown SKU TOUR-NEW, #1002 is
// imported).

import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("dsync_clerk_unknown_product", {
    url: "/odoo/action-distribution_sync_core.dsync_exception_action",
    steps: () => [
        {
            content: "the card names the order, the problem and the SKU",
            trigger: ".o_kanban_record:contains('#1001'):contains('TOUR-NEW')",
        },
        {
            content: "click 1: open the exception",
            trigger: ".o_kanban_record:contains('#1001')",
            run: "click",
        },
        {
            content: "the exception says what to do first",
            trigger: ".o_form_view div[name=next_step]:contains('Create the product')",
        },
        {
            content: "click 2: create the product from the exception",
            trigger: ".o_form_view button[name=action_fix_product]:contains('Create Product')",
            run: "click",
        },
        {
            content: "the dialog is filled from what Shopify sent",
            trigger: ".modal .o_data_row:contains('TOUR-NEW'):contains('Tour lamp')",
        },
        {
            content: "click 3: create it and retry",
            trigger: ".modal button[name=action_apply_retry]:contains('Create and Retry')",
            run: "click",
        },
        {
            content: "the clerk lands on the sale order of #1001",
            trigger: ".o_form_view .o_field_widget[name=shopify_order_name]:contains('#1001')",
        },
        {
            content: "...with its products",
            trigger: ".o_form_view .o_field_widget[name=order_line] .o_data_row:contains('Tour lamp')",
        },
        {
            content: "...and told what happened",
            trigger: ".o_notification:contains('Done')",
        },
    ],
});

registry.category("web_tour.tours").add("dsync_find_order_by_number", {
    url: "/odoo/action-distribution_sync_core.dsync_exception_action",
    steps: () => [
        {
            content: "type the customer's order number in the Exceptions search",
            trigger: ".o_searchview_input",
            run: "edit 1001",
        },
        {
            content: "search it as an order number",
            trigger: ".o_searchview_autocomplete .o_menu_item:contains('Order / Document')",
            run: "click",
        },
        {
            content: "the order's exception, with its customer",
            trigger: ".o_kanban_record:contains('#1001'):contains('Ada Lovelace')",
        },
        {
            content: "only that order",
            trigger: ".o_kanban_renderer:not(:has(.o_kanban_record:contains('#1002')))",
        },
        {
            content: "go to the Events",
            trigger: ".o_main_navbar .o_menu_sections [data-menu-xmlid='distribution_sync_core.menu_dsync_event']",
            run: "click",
        },
        {
            content: "type the order number in the Events search",
            trigger: ".o_searchview_input",
            run: "edit #1002",
        },
        {
            content: "search it as an order number",
            trigger: ".o_searchview_autocomplete .o_menu_item:contains('Order / Document')",
            run: "click",
        },
        {
            content: "the order's event: what, customer, amount",
            trigger: ".o_list_renderer .o_data_row:contains('New order'):contains('#1002'):contains('Grace Hopper')",
        },
        {
            content: "only that order",
            trigger: ".o_list_renderer:not(:has(.o_data_row:contains('#1001')))",
        },
        {
            content: "open the event",
            trigger: ".o_list_renderer .o_data_row:contains('#1002') td[name=doc_ref]",
            run: "click",
        },
        {
            content: "the event leads to the sale order it made",
            trigger: ".o_form_view button[name=action_open_result]:contains('S0')",
        },
        {
            content: "no technical tab for customer service",
            trigger: ".o_form_view:not(:has(.o_notebook a:contains('Technical')))",
        },
    ],
});
