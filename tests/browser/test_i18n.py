"""Languages in the browser: ``?lang=`` picks one and it is remembered, otherwise the browser's
language decides; the switcher changes it; ``<html lang>`` and the title follow; German and
Spanish pages pass axe at desktop and phone widths. Screenshots of the polls, a ballot and a
results page in both go to ``test-artifacts/screenshots/i18n-*.png``.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser import a11y
from tests.browser.helpers import DESKTOP, PHONE, goto, ui_login
from tests.browser.servers import ARTIFACTS

pytestmark = pytest.mark.browser

SHOTS = ARTIFACTS / "screenshots"


def _switcher(page: Page):
    """The language menu the reader can see (the inline one on a desktop, the menu's on a phone)."""
    return page.locator("select.language-switcher:visible")


def test_lang_parameter_picks_german_and_it_is_remembered(new_page, app_server):
    page = new_page()
    goto(page, app_server.url + "/login?lang=de")
    expect(page.get_by_label("Benutzername", exact=True)).to_be_visible()
    expect(page.get_by_label("Passwort", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Anmelden", exact=True)).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page).to_have_title("Anmelden · The Commons")
    expect(page.get_by_label("Username", exact=True)).to_have_count(0)

    goto(page, app_server.url + "/register")  # no parameter: the choice was remembered
    expect(page.get_by_role("heading", name="Konto erstellen")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page).to_have_title("Registrieren · The Commons")
    assert any(c["name"] == "commons_lang" and c["value"] == "de" for c in page.context.cookies())

    goto(page, app_server.url + "/login?lang=xx")  # an unknown code changes nothing
    expect(page.get_by_label("Benutzername", exact=True)).to_be_visible()


def test_the_browsers_language_decides_when_nothing_was_chosen(new_page, app_server):
    spanish = new_page(locale="es-ES")
    goto(spanish, app_server.url + "/login")
    expect(spanish.get_by_label("Nombre de usuario", exact=True)).to_be_visible()
    expect(spanish.get_by_role("button", name="Iniciar sesión", exact=True)).to_be_visible()
    expect(spanish.locator("html")).to_have_attribute("lang", "es")

    english = new_page()  # Playwright's default context: en-US
    goto(english, app_server.url + "/login")
    expect(english.get_by_label("Username", exact=True)).to_be_visible()
    expect(english.locator("html")).to_have_attribute("lang", "en")

    french = new_page(locale="fr-FR")  # not one of ours: English
    goto(french, app_server.url + "/login")
    expect(french.get_by_label("Username", exact=True)).to_be_visible()

    chosen = new_page(locale="es-ES")  # a remembered choice beats the browser's language
    goto(chosen, app_server.url + "/login?lang=de")
    expect(chosen.get_by_label("Benutzername", exact=True)).to_be_visible()  # (the cookie is set with it)
    goto(chosen, app_server.url + "/login")
    expect(chosen.get_by_label("Benutzername", exact=True)).to_be_visible()


def test_the_switcher_changes_the_language_and_remembers_it(new_page, app_server):
    page = new_page()
    goto(page, app_server.url + "/login")
    expect(_switcher(page)).to_have_accessible_name("Language")
    _switcher(page).select_option("es")
    expect(page.get_by_label("Nombre de usuario", exact=True)).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page).to_have_title("Iniciar sesión · The Commons")
    expect(_switcher(page)).to_have_accessible_name("Idioma")

    goto(page, app_server.url + "/login")  # a new page load: still Spanish
    expect(page.get_by_role("button", name="Iniciar sesión", exact=True)).to_be_visible()
    expect(_switcher(page)).to_have_value("es")


def test_the_switcher_works_in_the_phone_menu(new_page, app_server):
    page = new_page(viewport=PHONE)
    goto(page, app_server.url + "/login")
    page.get_by_role("button", name="Menu").click()
    switcher = _switcher(page)
    expect(switcher).to_have_count(1)
    # the menu opens with a short scale animation: measure once it has finished
    page.wait_for_function("() => document.getAnimations().every((a) => a.playState !== 'running')")
    box = switcher.bounding_box()
    assert box is not None and box["height"] >= a11y.TAP_TARGET, box
    switcher.select_option("de")
    page.keyboard.press("Escape")
    expect(page.get_by_label("Benutzername", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Menü")).to_be_visible()


def _shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    expect(page.get_by_role("status").filter(has_text="Loading")).to_have_count(0)
    page.evaluate("() => document.fonts.ready.then(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))))")
    page.screenshot(path=str(SHOTS / f"i18n-{name}.png"), full_page=True, animations="disabled")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_german_and_spanish_pages_pass_axe(new_page, app_server, api, viewport):
    owner, voter = api.register("i18nowner"), api.register("i18nvoter")
    poll = api.create_poll(owner, title="Mittagessen / Almuerzo", options=["Pizza", "Sopa"])
    width = "desktop" if viewport is DESKTOP else "phone"
    page = new_page(viewport=viewport)
    ui_login(page, app_server.url, voter)

    goto(page, app_server.url + "/polls?lang=de")
    expect(page.get_by_role("heading", name="Abstimmungen", exact=True)).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "de")
    a11y.assert_no_violations(page, f"polls/de/{width}")
    if viewport is PHONE:
        a11y.assert_tap_targets(page, f"polls/de/{width}")
    _shoot(page, f"{width}-de-polls")

    goto(page, f"{app_server.url}/polls/{poll['id']}")
    expect(page.get_by_role("button", name="Stimme abgeben")).to_be_visible()
    a11y.assert_no_violations(page, f"vote/de/{width}")
    _shoot(page, f"{width}-de-vote")
    page.get_by_label("Pizza", exact=True).check()
    page.get_by_role("button", name="Stimme abgeben").click()
    expect(page.locator("#my-ballot")).to_have_text("Ihr Stimmzettel: Pizza")

    goto(page, f"{app_server.url}/polls/{poll['id']}/results")
    expect(page.get_by_test_id("winners")).to_have_text("In Führung: Pizza")
    a11y.assert_no_violations(page, f"results/de/{width}")
    _shoot(page, f"{width}-de-results")

    goto(page, f"{app_server.url}/polls/{poll['id']}/results?lang=es")
    expect(page.get_by_test_id("winners")).to_have_text("En cabeza: Pizza")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    a11y.assert_no_violations(page, f"results/es/{width}")
    _shoot(page, f"{width}-es-results")

    goto(page, f"{app_server.url}/polls/{poll['id']}")
    expect(page.get_by_role("button", name="Cambiar voto")).to_be_visible()
    a11y.assert_no_violations(page, f"vote/es/{width}")
    _shoot(page, f"{width}-es-vote")

    goto(page, app_server.url + "/polls")
    expect(page.get_by_role("heading", name="Votaciones", exact=True)).to_be_visible()
    a11y.assert_no_violations(page, f"polls/es/{width}")
    _shoot(page, f"{width}-es-polls")
