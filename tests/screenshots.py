"""`make screenshots`: a PNG of each dashboard page on the live Binhai demo, in both languages.

Starts the live system (embedded Redis under a temporary home, feed, ingest, rules) and the
dashboard, lets data flow for a while, then photographs every page as the user who may see it.
Run: python -m tests.screenshots [--out DIR] [--warmup S] [--only NAME,NAME]
The 4K wall (English) and the grid page on a phone (Chinese) are also copied, smaller, to docs/
for the README.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from tests.dashboard.browser import ARGS, CHROMIUM, login_context, serve

PAGES = {  # name: (path, user, viewport)
    "command": ("/", "commander", (1600, 1000)),
    "wall-4k": ("/?wall=4k", "commander", (3840, 2160)),
    "wall": ("/?wall=1", "commander", (1920, 1080)),
    "grid": ("/grid", "commander", (1600, 1000)),
    "grid-phone": ("/grid", "grid_a", (390, 844)),
    "cases": ("/cases", "commander", (1600, 1000)),
    "scenarios": ("/scenarios", "planner", (1600, 1000)),
    "patrol": ("/patrol", "planner", (1600, 1000)),
    "login": ("/login", None, (1600, 1000)),
}


README_SHOTS = {("wall-4k", "en"): "docs/wall-4k.png", ("grid-phone", "zh"): "docs/grid-phone.png"}


def readme_copy(source: Path, target: str, width: int = 1600) -> None:
    """A small copy of a screenshot for the README: at most `width` px wide, 256 colours."""
    from PIL import Image

    image = Image.open(source).convert("RGB")
    if image.width > width:
        image = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(target, optimize=True)
    print(target, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="screenshots", help="folder for the PNG files")
    parser.add_argument("--only", default="", help=f"comma-separated pages: {', '.join(PAGES)}")
    parser.add_argument("--warmup", type=float, default=20.0, help="seconds of live data first")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from dashboard.app import create_app
    from dashboard.system import (
        DEMO_SHARES,
        LiveSystem,
        demo_feed_options,
        escalation_service,
        responders_service,
        rules_service,
    )
    from layers.testing import stop_server
    from twin.demo import binhai

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    twin = binhai(resolution=9)
    with tempfile.TemporaryDirectory(prefix="cityops-shots-") as home:
        system = LiveSystem(twin, rate=300.0, home=home, shares=DEMO_SHARES,
                            services=[rules_service(twin), escalation_service(twin),
                                      responders_service()],
                            feed_options=demo_feed_options(twin))
        url, server = serve(create_app(twin, bus=system.bus))
        try:
            time.sleep(args.warmup)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
                for lang in ("zh", "en"):
                    for name, (path, user, (w, h)) in PAGES.items():
                        if args.only and name not in args.only.split(","):
                            continue
                        context = browser.new_context(viewport={"width": w, "height": h})
                        if user:
                            login_context(context, url, user)
                        page = context.new_page()
                        sep = "&" if "?" in path else "?"
                        page.goto(f"{url}{path}{sep}lang={lang}")
                        page.wait_for_timeout(6000)  # deck.gl draws, the wall ticks
                        target = out / f"{name}-{lang}.png"
                        page.screenshot(path=str(target), timeout=180_000)  # 4K on swiftshader
                        print(target, flush=True)
                        context.close()
                        if (name, lang) in README_SHOTS:
                            readme_copy(target, README_SHOTS[(name, lang)])
                browser.close()
        finally:
            server.shutdown()
            system.stop(close_bus=False)
            stop_server(system.bus)  # whoever still holds a connection (the app's threads)


if __name__ == "__main__":
    main()
