"""Accessibility checks of the browser suite: axe-core (vendored by axe-playwright-python, so it
runs offline) on the page as it stands, and the 44 × 44 px tap-target rule that axe does not check.

``audit(page, "present")`` is the one line a page's own test adds to join the matrix: it waits
until the page has settled, then fails on any axe violation and, on a phone-wide viewport, on any
control under 44 × 44 px. ``assert_no_violations(page, "login/phone")`` runs axe alone;
``violations(page)`` returns the raw list for tests that must say more.
"""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

# WCAG 2.0/2.1 A and AA, and 2.2 AA (axe tags each rule with the levels it checks).
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
TAP_TARGET = 44  # px, each side: WCAG 2.5.5 (AAA) as the issue asks for phones, beyond 2.5.8's 24 px

_AXE = Axe()

# Visible controls smaller than 44 × 44 px. A radio, checkbox or switch counts through its <label>
# when the label wraps it or names it by for= (a tap on the label toggles it: the label is the
# target). Inline links inside running text are exempt (WCAG 2.5.5's "inline" exception).
_SMALL_TARGETS = """
([min, root]) => {
  const scope = document.querySelector(root) || document;
  const sel = 'a[href], button, input:not([type=hidden]), select, textarea, [role=button], [role=checkbox],' +
              ' [role=radio], [role=combobox], [role=tab], [role=menuitem], [role=switch]';
  const out = [];
  for (const el of scope.querySelectorAll(sel)) {
    if (el.closest('[aria-hidden=true], [inert]')) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.display === 'none') continue;
    let box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;  // not rendered (e.g. the skip link until focused)
    if (el.tagName === 'A' && el.closest('p') && !el.closest('nav')) continue;  // inline in a sentence
    // the outermost label around it (a Radix checkbox brings a label of its own inside ours)
    let label = el.closest('label');
    while (label && label.parentElement && label.parentElement.closest('label')) label = label.parentElement.closest('label');
    label = label || (el.id && document.querySelector(`label[for="${CSS.escape(el.id)}"]`));
    if (label && ['checkbox', 'radio', 'switch'].includes(el.getAttribute('role') || el.getAttribute('type'))) {
      box = label.getBoundingClientRect();
    }
    if (box.width + 0.5 < min || box.height + 0.5 < min) {
      const name = (el.getAttribute('aria-label') || el.innerText || el.value || el.name || el.id || '').trim();
      out.push(`${el.tagName.toLowerCase()} "${name.slice(0, 40)}" ${Math.round(box.width)}x${Math.round(box.height)}`);
    }
  }
  return out;
}
"""


def violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations of the WCAG A/AA rules on the page as it is now."""
    result = _AXE.run(page, options={"runOnly": {"type": "tag", "values": TAGS}, "resultTypes": ["violations"]})
    return result.response["violations"]


def describe(found: list[dict[str, Any]]) -> str:
    """One line per violation and up to three of its elements, for a failure message."""
    lines = []
    for v in found:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']} — {len(v['nodes'])} element(s)")
        for node in v["nodes"][:3]:
            lines.append(f"    {', '.join(map(str, node['target']))}: {node.get('failureSummary', '').splitlines()[-1:]}")
    return "\n".join(lines)


def assert_no_violations(page: Page, context: str) -> None:
    """Fail, naming each rule and element, when axe finds any WCAG A/AA violation."""
    found = violations(page)
    assert not found, f"axe on {context} ({page.url}):\n{describe(found)}"


def small_targets(page: Page, minimum: int = TAP_TARGET, *, root: str = "body") -> list[str]:
    """Visible controls inside ``root`` smaller than ``minimum`` px in either direction (inline
    text links exempt)."""
    return page.evaluate(_SMALL_TARGETS, [minimum, root])


def assert_tap_targets(page: Page, context: str, minimum: int = TAP_TARGET, *, root: str = "body") -> None:
    """Fail when a visible control inside ``root`` is smaller than ``minimum`` × ``minimum`` px."""
    small = small_targets(page, minimum, root=root)
    assert not small, f"tap targets under {minimum} px on {context}:\n  " + "\n  ".join(small)


PHONE_MAX_WIDTH = 767  # px: assets/theme.css switches to the phone layout (and 44 px targets) below 768


def settled(page: Page, timeout: float = 15_000) -> None:
    """Content loaded (no "Loading…" spinner), finite animations and transitions ended (a dialog
    fading in has text of too little contrast until it has), fonts and two frames painted: axe
    sees what a person sees."""
    expect(page.get_by_role("status").filter(has_text="Loading…")).to_have_count(0, timeout=timeout)
    page.evaluate(
        """() => Promise.race([
            Promise.all(document.getAnimations()
                .filter((a) => a.effect && a.effect.getComputedTiming().endTime !== Infinity)
                .map((a) => a.finished.catch(() => null))),
            new Promise((r) => setTimeout(r, 3000)),
        ]).then(() => document.fonts.ready)
          .then(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))))"""
    )


def is_phone(page: Page) -> bool:
    """Whether the page's viewport is phone-wide (the compact layout)."""
    size = page.viewport_size
    return bool(size and size["width"] <= PHONE_MAX_WIDTH)


def audit(page: Page, context: str) -> None:
    """The whole check of one page state at the page's width: axe's WCAG A/AA rules, and on a
    phone-wide viewport the 44 × 44 px tap targets (reported as ``tap-target-44``).
    Any violation fails: nothing is tolerated or expected to fail.
    """
    settled(page)
    width = f"{page.viewport_size['width']} px" if page.viewport_size else "default width"
    where = f"{context} at {width}"
    found = violations(page)
    ids = {v["id"] for v in found}
    problems = describe(found)
    if is_phone(page):
        chrome = small_targets(page, root="header")
        assert not chrome, f"tap targets under {TAP_TARGET} px in the header on {where}: {chrome}"
        small = small_targets(page, root="main")
        if small:
            ids.add("tap-target-44")
            problems += "\ntap-target-44: " + "; ".join(small)
    assert not ids, f"axe on {where} ({page.url}):\n{problems}"
