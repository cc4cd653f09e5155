"""Checking a page in the browser as people who use a screen reader or a keyboard meet it:
axe-core (WCAG 2.1 A and AA, and Deque's best practices) with the page's own
Content-Security-Policy in force, Tab walks that list every stop and the focus ring drawn
there, and the controls a page has.

axe-core comes from the PyPI package ``axe-playwright-python``, which bundles it; it is put
in the page through the browser's DevTools evaluation (Playwright's ``evaluate``), which a
page's Content-Security-Policy does not govern, so the hub's policy stays as it is served:
``audit`` proves it by having an inline script refused on the page it checked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Locator, Page

from tests.dashboard.browser import Tab

AXE = Axe()
AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"],
    },
    "resultTypes": ["violations"],
}
FAILING = {"serious", "critical"}
# Less than this between a focus ring and what is next to it fails WCAG 2.1 1.4.11.
RING_CONTRAST = 3.0
CSP_REFUSAL = "Content Security Policy"


async def audit(tab: Tab, state: str) -> list[dict[str, Any]]:
    """Run axe-core on the page as it is now; fail on any serious or critical violation.
    Returns the milder ones (moderate, minor) for a test that wants to look at them."""
    page = tab.page
    results = await AXE.run(page, options=AXE_OPTIONS)
    violations = results.response["violations"]
    failing = [v for v in violations if v["impact"] in FAILING]
    assert not failing, f"axe, {state}: " + "; ".join(
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]} {v['help']}"
        for v in failing
    )
    await assert_policy_kept(tab)
    return [v for v in violations if v["impact"] not in FAILING]


async def assert_policy_kept(tab: Tab) -> None:
    """The page's Content-Security-Policy is in force: an inline script is refused (the
    browser's refusal, logged as a console error, is expected here and dropped)."""
    page = tab.page
    async with page.expect_console_message(lambda m: CSP_REFUSAL in m.text):
        ran = await page.evaluate(
            """() => {
                const script = document.createElement("script");
                script.textContent = "window.__inlineRan = true";
                document.head.append(script);
                script.remove();
                return window.__inlineRan === true;
            }"""
        )
    assert ran is False, "an inline script ran: the page has no Content-Security-Policy"
    tab.problems[:] = [p for p in tab.problems if CSP_REFUSAL not in p]


# What a keyboard reaches: enabled, rendered controls not taken out of the Tab order.
CONTROLS = """(within) => {
    const selector = 'a[href], button, input:not([type="hidden"]), select, textarea, '
        + '[tabindex]:not([tabindex="-1"])';
    const reachable = [...document.querySelectorAll(selector)].filter((el) =>
        !el.disabled && !el.closest("[inert]") && el.tabIndex >= 0
        && (!within || el.closest(within))
        && el.checkVisibility({visibilityProperty: true})
    );
    // A group of radio buttons is one stop (arrow keys choose in it): its checked one,
    // else its first.
    const group = (el) => reachable.filter((other) =>
        other.type === "radio" && other.name === el.name && other.form === el.form);
    return reachable.filter((el) => el.type !== "radio" || !el.name
        || el === (group(el).find((r) => r.checked) || group(el)[0])
    ).map((el) => window.__a11yName(el));
}"""

# A name for an element a test can read: its role-ish tag and its accessible text.
NAMES = """() => {
    window.__a11yName = (el) => {
        const label = el.getAttribute("aria-label")
            || (el.labels && el.labels.length ? el.labels[0].textContent : "")
            || (el.getAttribute("aria-labelledby") || "").split(" ").map(
                (id) => (document.getElementById(id) || {}).textContent || "").join(" ")
            || el.textContent || el.getAttribute("placeholder") || el.name || "";
        return el.tagName.toLowerCase() + ": " + label.replace(/\\s+/g, " ").trim().slice(0, 60);
    };
}"""

# Where focus is, what it looks like there, and whether it is in the viewport.
STOP = """(within) => {
    const el = document.activeElement;
    if (!el || el === document.body || el === document.documentElement) return null;
    const rgb = (text) => {
        const parts = text.match(/[\\d.]+/g) || [];
        return {r: +parts[0], g: +parts[1], b: +parts[2], a: parts.length > 3 ? +parts[3] : 1};
    };
    const luminance = ({r, g, b}) => {
        const [R, G, B] = [r, g, b].map((c) => {
            c /= 255;
            return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
        });
        return 0.2126 * R + 0.7152 * G + 0.0722 * B;
    };
    const contrast = (one, other) => {
        const [a, b] = [luminance(one), luminance(other)].sort((x, y) => y - x);
        return (a + 0.05) / (b + 0.05);
    };
    const backgroundOf = (node) => {
        for (; node; node = node.parentElement) {
            const colour = rgb(getComputedStyle(node).backgroundColor);
            if (colour.a > 0) return colour;
        }
        return {r: 255, g: 255, b: 255, a: 1};
    };
    const style = getComputedStyle(el);
    const width = parseFloat(style.outlineWidth) || 0;
    const offset = parseFloat(style.outlineOffset) || 0;
    const ring = rgb(style.outlineColor);
    // An outline drawn outside the element sits on what is behind the element.
    const behind = backgroundOf(offset >= 0 ? el.parentElement : el);
    const box = el.getBoundingClientRect();
    // What is on top in the middle of its visible part: it, or something covering it.
    const x = (Math.max(box.left, 0) + Math.min(box.right, innerWidth)) / 2;
    const y = (Math.max(box.top, 0) + Math.min(box.bottom, innerHeight)) / 2;
    const top = document.elementFromPoint(x, y);
    return {
        name: window.__a11yName(el),
        ring: style.outlineStyle === "none" || style.outlineStyle === "auto" ? null : {
            style: style.outlineStyle, width,
            contrast: Math.round(contrast(ring, behind) * 100) / 100,
        },
        // Enough of it on screen to see and use it: all of it, or 20 px each way.
        inView: Math.min(box.right, innerWidth) - Math.max(box.left, 0) >= Math.min(box.width, 20)
            && Math.min(box.bottom, innerHeight) - Math.max(box.top, 0)
                >= Math.min(box.height, 20)
            && box.width > 0 && box.height > 0,
        covered: !(top && (el.contains(top) || top.contains(el))),
        inside: !within || Boolean(el.closest(within)),
    };
}"""


@dataclass
class Stop:
    """One Tab stop: the element's name, its focus ring (None: none of its own), whether
    enough of it was inside the viewport to see and use it when it had focus, and whether
    something else (a fixed widget) covered it there."""

    name: str
    ring: dict[str, Any] | None
    in_view: bool
    covered: bool
    inside: bool = True

    @property
    def ring_is_visible(self) -> bool:
        return (
            self.ring is not None
            and self.ring["width"] >= 2
            and self.ring["contrast"] >= RING_CONTRAST
        )


async def stop_here(page: Page, within: str | None = None) -> Stop | None:
    """The Tab stop that has focus now (None: nothing has); ``inside`` says whether it is
    in the part of the page selected by ``within``."""
    await page.evaluate(NAMES)
    found = await page.evaluate(STOP, within)
    if found is None:
        return None
    return Stop(found["name"], found["ring"], found["inView"], found["covered"], found["inside"])


async def tab_walk(page: Page, *, within: str | None = None, limit: int = 150) -> list[Stop]:
    """Press Tab round the whole page (until a stop comes again) and say what each stop is."""
    stops: list[Stop] = []
    await page.evaluate("() => { window.__a11yVisited = new WeakSet(); window.__a11yLast = null; }")
    for _ in range(limit):
        await page.keyboard.press("Tab")
        again = await page.evaluate(
            """() => {
                const el = document.activeElement;
                const last = window.__a11yLast;
                window.__a11yLast = el;
                // The browser's own stop between the end and the start of the page, or the
                // next part of the same control (a date field's day, month and year).
                if (!el || el === document.body || el === last) return null;
                if (window.__a11yVisited.has(el)) return true;
                window.__a11yVisited.add(el);
                return false;
            }"""
        )
        if again is None:
            continue
        if again:
            return stops
        stop = await stop_here(page, within)
        assert stop is not None
        stops.append(stop)
    raise AssertionError(f"Tab never came round in {limit} presses: {[s.name for s in stops]}")


async def controls(page: Page, within: str | None = None) -> list[str]:
    """The names of the controls a keyboard should reach on the page as it is now (in the
    part ``within`` selects)."""
    await page.evaluate(NAMES)
    return await page.evaluate(CONTROLS, within)  # type: ignore[no-any-return]


async def assert_keyboard_reaches_everything(
    page: Page, state: str, *, within: str | None = None
) -> list[Stop]:
    """Tab reaches every control (of the part ``within`` selects), each on screen and not
    covered when it has focus, each with a focus ring of at least 3:1 against what is
    next to it."""
    stops = [stop for stop in await tab_walk(page, within=within) if stop.inside]
    reached = [stop.name for stop in stops]
    missing = [name for name in await controls(page, within) if name not in reached]
    assert not missing, f"{state}: Tab never reaches {missing} (it reaches {reached})"
    hidden = [stop.name for stop in stops if not stop.in_view or stop.covered]
    assert not hidden, f"{state}: focused but off screen or covered: {hidden}"
    faint = [(stop.name, stop.ring) for stop in stops if not stop.ring_is_visible]
    assert not faint, f"{state}: no focus ring of 3:1 on {faint}"
    return stops


async def tab_to(page: Page, target: Locator, *, shift: bool = False, limit: int = 40) -> int:
    """Press Tab (or Shift+Tab) until ``target`` has focus; how many presses it took."""
    key = "Shift+Tab" if shift else "Tab"
    for presses in range(1, limit + 1):
        await page.keyboard.press(key)
        if await target.evaluate("(el) => el === document.activeElement"):
            return presses
    raise AssertionError(f"{key} x{limit} never reached {target}")
