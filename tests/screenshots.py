"""`make screenshots`: a PNG of each dashboard page on the Binhai demo twin, in both languages.

Run: python -m tests.screenshots [--out DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tests.dashboard.browser import ARGS, CHROMIUM, serve

PAGES = {"command": "/", "wall": "/?wall=1", "grid": "/grid"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="screenshots", help="folder for the PNG files")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from dashboard.app import create_app
    from twin.demo import binhai

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    url, server = serve(create_app(binhai(resolution=9)))
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            for lang in ("zh", "en"):
                for name, path in PAGES.items():
                    sep = "&" if "?" in path else "?"
                    page.goto(f"{url}{path}{sep}lang={lang}")
                    page.wait_for_selector("canvas", timeout=30_000)
                    page.wait_for_timeout(4000)  # give deck.gl time to draw
                    target = out / f"{name}-{lang}.png"
                    page.screenshot(path=str(target))
                    print(target)
            browser.close()
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
