"""Every page in Chinese and in English, in Chromium: no string of the other language shows.

Names are aside (places, people, facilities, device ids) and so is what people typed (citizen
reports, case notes: elements marked `verbatim`). A Chinese page may carry units and codes
(km², PM2.5, H3, ids); an English page no Chinese character.
"""

from __future__ import annotations

import re

import pytest

from tests.dashboard.browser import login_context

pytestmark = pytest.mark.browser

PAGES = [("/", "commander"), ("/?wall=1", "commander"), ("/grid", "grid_a"),
         ("/cases", "commander"), ("/scenarios", "planner"), ("/patrol", "planner"),
         ("/enforcement", "supervisor"), ("/enforcement", "officer_market"),
         ("/login", None)]
CJK = re.compile(r"[\u3400-\u9fff\uff08\uff09\u3001-\u3011\uff0c\uff1a\uff1b]")
CODES = re.compile(r"\b([A-Z]{1,3}-?[A-Za-z_0-9-]*\d[\w-]*|[0-9a-f]{15}|[A-Z]\d+|PM2\.5|km²|"
                   r"km|ppm|mm/h|µg/m³|m³|kg|kPa|psi|TNT|AEGL-?\d?|UTC|H3|IoT|GeoParquet|"
                   r"NetCDF|CAP|PNG|PDF|CSV|English|L\d|min|h|d|s|m|°C|MM-DD|HH:MM|Redis|"
                   r"cityops [a-z]+(?:/[a-z]+)?)\b")  # product and command names


def _names(twin) -> list[str]:
    """Names that stay as they are in either language, longest first."""
    names = set()
    for table, columns in ((twin.units, ("name", "name_en")), (twin.zones, ("name", "name_en")),
                           (twin.facilities, ("name", "id")), (twin.grids, ("id", "manager")),
                           (twin.sensors, ("id",)), (twin.cameras, ("id",)),
                           (twin.departments, ("id",))):
        for column in columns:
            if column in table:
                names |= {str(v) for v in table[column] if str(v)}
    return sorted(names, key=len, reverse=True)


def _visible_text(page, lang: str) -> str:
    return page.evaluate("""(lang) => {
        const other = el => { const tagged = el.closest('[lang]');
                              return tagged && tagged !== document.documentElement
                                  && !tagged.lang.startsWith(lang); };
        const skip = el => el.closest('.verbatim, script, style, #user-name') || other(el);
        const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        const out = [];
        while (walker.nextNode()) {
            const node = walker.currentNode, el = node.parentElement;
            if (!el || skip(el) || !el.getClientRects().length) continue;
            const style = getComputedStyle(el);
            if (style.visibility === 'hidden' || style.display === 'none') continue;
            out.push(node.textContent);
        }
        return out.join('\\n');
    }""")


def _foreign(text: str, lang: str, names: list[str]) -> list[str]:
    for name in names:
        text = text.replace(name, " ")
    if lang == "en":
        return sorted({line.strip() for line in text.splitlines() if CJK.search(line)})
    text = CODES.sub(" ", text)
    return sorted({m.group(0) for m in re.finditer(r"[A-Za-z]{2,}(?: [A-Za-z]{2,})*", text)})


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize(("path", "user"), PAGES)
def test_a_page_shows_no_string_of_the_other_language(chromium, live_demo, demo_twin, path, user,
                                                      lang):
    url = live_demo
    context = chromium.new_context(viewport={"width": 1600, "height": 1000})
    if user:
        login_context(context, url, user)
    page = context.new_page()
    sep = "&" if "?" in path else "?"
    page.goto(f"{url}{path}{sep}lang={lang}")
    page.wait_for_load_state("networkidle", timeout=60_000)
    page.wait_for_timeout(3000)
    foreign = _foreign(_visible_text(page, lang), lang, _names(demo_twin))
    context.close()
    assert foreign == [], f"{path} in {lang} shows: {foreign[:15]}"
