"""The screenshots of the docs, taken from the running demo with headless
Chromium, so that the guides show the screens as they are.

    bash tools/demo.sh          # the demo server and its data
    python3 tools/screenshots.py [--url http://127.0.0.1:8069] [--db dsync_demo]

Logs in as admin, opens each screen at 1440 x 900 and writes a small PNG
(reduced to a palette) to docs/images/. Drives Chromium through its DevTools
protocol (``websocket-client``, a test requirement). A shot whose screen
does not show what it should within 20 s stops the script with its name.
"""

import argparse
import base64
import io
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import requests
import websocket
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"
WIDTH, HEIGHT = 1440, 900


class Browser:
    """One headless Chromium tab, driven over the DevTools protocol."""

    def __init__(self, binary):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.profile = tempfile.mkdtemp(prefix="dsync-shots-")
        self.process = subprocess.Popen(
            [
                binary,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--window-size={WIDTH},{HEIGHT}",
                f"--remote-debugging-port={port}",
                f"--user-data-dir={self.profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json") as r:
                    tabs = [t for t in json.load(r) if t["type"] == "page"]
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        self.ws = websocket.create_connection(tabs[0]["webSocketDebuggerUrl"])
        self.next_id = 0
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=WIDTH,
            height=HEIGHT,
            deviceScaleFactor=1,
            mobile=False,
        )

    def call(self, method, **params):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        self.ws.send(json.dumps(message))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def js(self, expression):
        result = self.call(
            "Runtime.evaluate",
            expression=expression,
            awaitPromise=True,
            returnByValue=True,
        )
        return result.get("result", {}).get("value")

    def wait(self, selector, name, timeout=20):
        deadline = time.time() + timeout
        check = f"!!document.querySelector({json.dumps(selector)})"
        while not self.js(check):
            if time.time() > deadline:
                raise SystemExit(f"{name}: {selector} not shown within {timeout}s")
            time.sleep(0.3)

    def click(self, selector, name):
        self.wait(selector, name)
        self.js(f"document.querySelector({json.dumps(selector)}).click()")

    def close(self):
        self.ws.close()
        self.process.terminate()
        self.process.wait(10)
        shutil.rmtree(self.profile, ignore_errors=True)


def save(browser, path, clip=None):
    params = {"format": "png"}
    if clip:
        params["clip"] = dict(clip, scale=1)
    data = base64.b64decode(browser.call("Page.captureScreenshot", **params)["data"])
    image = Image.open(io.BytesIO(data)).convert("RGB")
    image = image.quantize(colors=128, method=Image.Quantize.MEDIANCUT)
    image.save(path, optimize=True)
    print(f"  {path.relative_to(ROOT)} ({path.stat().st_size // 1024} KiB)")


def element_clip(browser, selector, margin=8):
    box = browser.js(
        f"""(() => {{
            const element = document.querySelector({json.dumps(selector)});
            const r = element.getBoundingClientRect();
            return {{x: r.x, y: r.y, width: r.width, height: r.height}};
        }})()"""
    )
    return {
        "x": max(0, box["x"] - margin),
        "y": max(0, box["y"] - margin),
        "width": min(WIDTH, box["width"] + 2 * margin),
        "height": box["height"] + 2 * margin,
    }


def login(url, db, user, password):
    session = requests.Session()
    response = session.post(
        f"{url}/web/session/authenticate",
        json={
            "jsonrpc": "2.0",
            "params": {"db": db, "login": user, "password": password},
        },
        timeout=30,
    )
    response.raise_for_status()
    if response.json().get("error"):
        raise SystemExit(f"login failed: {response.json()['error']}")
    return session.cookies["session_id"]


def call(url, cookie, model, method, *args, **kwargs):
    response = requests.post(
        f"{url}/web/dataset/call_kw",
        cookies={"session_id": cookie},
        json={
            "jsonrpc": "2.0",
            "params": {
                "model": model,
                "method": method,
                "args": args,
                "kwargs": kwargs,
            },
        },
        timeout=30,
    )
    body = response.json()
    if body.get("error"):
        raise SystemExit(f"{model}.{method}: {body['error']['data']['message']}")
    return body["result"]


def shots(browser, url, cookie):
    """Take every screenshot, in order (the last one fixes the unknown
    product of the demo: play the demo again for a new one)."""

    def go(path):
        browser.call("Page.navigate", url=f"{url}{path}")

    def last(model, domain, what):
        ids = call(url, cookie, model, "search", domain, order="id desc", limit=1)
        if not ids:
            raise SystemExit(f"no {what}: play the demo again (bash tools/demo.sh)")
        return ids[0]

    def open_exception(category):
        exc = last(
            "dsync.exception",
            [["category", "=", category], ["state", "in", ["open", "in_progress"]]],
            f"open {category} exception",
        )
        go(f"/odoo/action-distribution_sync_core.dsync_exception_action/{exc}")
        browser.wait(".o_form_view .o_form_sheet", category)
        time.sleep(1)
        return exc

    def dialog(name, opener):
        browser.click(opener, name)
        browser.wait(".modal .modal-content", name)
        time.sleep(1)
        save(browser, IMAGES / name, element_clip(browser, ".modal-content"))
        browser.click(".modal .btn-close", f"{name}: close")
        time.sleep(0.5)

    go("/odoo/action-distribution_sync_core.dsync_exception_action")
    browser.wait(".o_kanban_record", "exceptions")
    time.sleep(1.5)
    save(browser, IMAGES / "exception-queue.png")

    open_exception("missing_mapping")
    save(browser, IMAGES / "exception-missing-mapping.png")
    dialog("value-map-dialog.png", "button[name=action_open_mapping]")

    open_exception("amount_mismatch")
    save(browser, IMAGES / "exception-amount-mismatch.png")

    go("/odoo/action-distribution_sync_core.dsync_overview_action")
    browser.wait(".o_kanban_record", "overview")
    time.sleep(1)
    save(browser, IMAGES / "overview.png")

    order = call(
        url,
        cookie,
        "dsync.event",
        "search_read",
        [["topic", "=", "orders/create"], ["state", "=", "done"]],
        fields=["doc_ref"],
        order="id",
        limit=1,
    )[0]["doc_ref"]
    go("/odoo/action-distribution_sync_core.dsync_event_action")
    browser.wait(".o_data_row", "events")
    time.sleep(1)
    save(browser, IMAGES / "events.png")
    browser.js(
        f"""(() => {{
            const input = document.querySelector('.o_searchview_input');
            input.value = {json.dumps(order)};
            input.dispatchEvent(new Event('input', {{bubbles: true}}));
        }})()"""
    )
    browser.click(".o_searchview_autocomplete .o_menu_item", "search by order")
    browser.wait(".o_searchview_facet", "search by order: facet")
    time.sleep(1.5)
    save(browser, IMAGES / "search-by-order.png")

    backend = last("dsync.backend", [["backend_type", "=", "shopify"]], "store")
    go(f"/odoo/action-distribution_sync_core.dsync_backend_action/{backend}")
    browser.wait(".o_form_view .o_form_sheet", "backend")
    time.sleep(1)
    browser.click("button[name=action_shopify_test_connection]", "test connection")
    browser.wait(".o_notification", "test connection: report")
    time.sleep(1.5)
    save(browser, IMAGES / "shopify-backend.png")

    open_exception("unknown_product")
    save(browser, IMAGES / "exception-unknown-product.png")
    browser.click("button[name=action_fix_product]", "create product")
    browser.wait(".modal .o_data_row", "create product: dialog")
    time.sleep(1)
    save(
        browser,
        IMAGES / "create-product-dialog.png",
        element_clip(browser, ".modal-content"),
    )
    browser.click(".modal button[name=action_apply_retry]", "create and retry")
    browser.wait(".o_form_view .o_field_widget[name=order_line]", "the sale order")
    browser.wait(".o_notification", "the retry's notification")
    time.sleep(1)
    save(browser, IMAGES / "after-retry-sale-order.png")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url", default=os.environ.get("DSYNC_DEMO_URL", "http://127.0.0.1:8069")
    )
    parser.add_argument("--db", default=os.environ.get("DSYNC_DEMO_DB", "dsync_demo"))
    parser.add_argument("--login", default="admin")
    parser.add_argument("--password", default="admin")
    parser.add_argument(
        "--chromium", default=shutil.which("chromium") or shutil.which("google-chrome")
    )
    args = parser.parse_args()
    IMAGES.mkdir(parents=True, exist_ok=True)
    cookie = login(args.url, args.db, args.login, args.password)
    browser = Browser(args.chromium)
    try:
        browser.call(
            "Network.setCookie",
            name="session_id",
            value=cookie,
            url=args.url,
        )
        shots(browser, args.url, cookie)
    finally:
        browser.close()


if __name__ == "__main__":
    main()
