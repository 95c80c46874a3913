# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The Shopify customer note as a block of HTML in Odoo's notes (plain Python).

The note and the note attributes of an order (delivery instructions, a gift
message, what the cart collected) are written on the sale order's note and on
its deliveries' notes as one ``<div class="o_shopify_note">``. What else a
note holds (the company's terms, a warehouse remark) stays around it: an
update of the Shopify note replaces that block only.
"""

from lxml import html as lxml_html
from markupsafe import Markup, escape

NOTE_CLASS = "o_shopify_note"
_BLOCK_XPATH = (
    f"//*[contains(concat(' ', normalize-space(@class), ' '), ' {NOTE_CLASS} ')]"
)


def note_block(text):
    """The HTML block of a plain-text note (one paragraph a line), or ""."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if not lines:
        return Markup("")
    paragraphs = Markup("").join(Markup("<p>%s</p>") % escape(line) for line in lines)
    return Markup('<div class="%s">%s</div>') % (NOTE_CLASS, paragraphs)


def without_note_block(html):
    """``html`` without its Shopify note block (as a string)."""
    html = str(html or "")
    if NOTE_CLASS not in html:
        return html
    root = lxml_html.fragment_fromstring(html, create_parent="div")
    for element in root.xpath(_BLOCK_XPATH):
        element.drop_tree()
    rest = (root.text or "") + "".join(
        lxml_html.tostring(child, encoding="unicode") for child in root
    )
    return rest if rest.strip() else ""


def with_note_block(html, text):
    """``html`` whose Shopify note block is that of ``text`` (first), or
    without one when ``text`` is empty; False when nothing is left."""
    rest = without_note_block(html)
    result = str(note_block(text)) + rest
    return Markup(result) if result.strip() else False
