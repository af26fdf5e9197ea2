"""An optional raster basemap: with a tile URL set, tiles are drawn under the twin's own layers."""

from __future__ import annotations

import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from tests.dashboard.browser import login_context, serve

pytestmark = pytest.mark.browser


def _tile_png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (256, 256), (255, 0, 255)).save(buf, format="PNG")  # magenta: unmistakable
    return buf.getvalue()


@pytest.fixture()
def tile_server():
    """A local XYZ tile server that answers every tile with one magenta PNG."""
    png, hits = _tile_png(), []

    class Tiles(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Access-Control-Allow-Origin", "*")
            self.end_headers()
            self.wfile.write(png)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Tiles)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{{z}}/{{x}}/{{y}}.png", hits
    server.shutdown()


def test_a_tile_url_adds_a_raster_basemap_under_the_map(chromium, small, tile_server):
    from PIL import Image

    from dashboard import maps
    from dashboard.app import create_app
    from dashboard.context import context, set_context

    try:
        previous = context()
    except RuntimeError:  # no app made yet in this process
        previous = None
    url_template, hits = tile_server
    url, server = serve(create_app(small, tile_url=url_template))
    try:
        page_ctx = chromium.new_context(viewport={"width": 1400, "height": 900})
        login_context(page_ctx, url, "commander")
        page = page_ctx.new_page()
        page.goto(url + "/")
        page.wait_for_selector("#command-map-box canvas", timeout=30_000)
        page.wait_for_timeout(4000)
        shot = np.asarray(Image.open(io.BytesIO(page.locator("#command-map-box").screenshot()))
                          .convert("RGB")).astype(int)
        magenta = (shot[..., 0] > 200) & (shot[..., 1] < 60) & (shot[..., 2] > 200)
        assert hits and magenta.mean() > 0.2
        page_ctx.close()
    finally:
        server.shutdown()
        maps.configure(None)
        if previous is not None:
            set_context(previous.twin, previous.bus, **previous.settings)


def test_a_tile_url_without_placeholders_is_refused_naming_them():
    from dashboard import maps

    with pytest.raises(ValueError, match=r"\{z\}"):
        maps.configure("http://tiles.example/tile.png")
