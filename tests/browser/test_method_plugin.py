"""A method added by one registry entry alone, in the browser: a server started with a module
that registers the test-only "veto" method (``COMMONS_METHOD_MODULES``) offers it on the new-poll
form, shows its ballot with its instructions, and its results with its own column and table."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests import veto_method
from tests.browser import helpers
from tests.browser.helpers import UI_TIMEOUT, goto, ui_login
from tests.browser.servers import AppServer, free_port, prepare_project

pytestmark = pytest.mark.browser


class PluginServer(AppServer):
    """An app server that imports ``veto_plugin`` (copied into its project) at start."""

    def env(self) -> dict[str, str]:
        return super().env() | {"COMMONS_METHOD_MODULES": "veto_plugin"}


@pytest.fixture(scope="module")
def veto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    workdir = tmp_path_factory.mktemp("e2e-veto")
    project = prepare_project(workdir / "project")
    shutil.copy(Path(veto_method.__file__), project / "veto_method.py")
    (project / "veto_plugin.py").write_text(
        "from commons_app import methods\nfrom veto_method import METHOD\n\nmethods.register(METHOD)\n"
    )
    server = PluginServer("veto", project, free_port(), f"sqlite:///{workdir / 'commons.db'}")
    server.log_path.write_text("")
    try:
        server.cli("migrate")
        server.mark()
        server.start()
        server.wait_ready()
        yield server
    finally:
        server.stop()


def test_a_method_from_one_registry_entry_in_the_browser(new_page, veto_server):
    base = veto_server.url
    api = helpers.Api(base)
    try:
        owner, voter, other = api.register("owner"), api.register("voter"), api.register("other")
        page = new_page()
        ui_login(page, base, owner)
        goto(page, base + "/polls/new")
        expect(page.get_by_label("Voting method", exact=True).locator("option", has_text="Veto (anti-plurality)")).to_have_count(1, timeout=UI_TIMEOUT)
        poll = api.create_poll(owner, options=["Tea", "Coffee", "Juice"], method="veto")
        ids = {o["text"]: o["id"] for o in poll["options"]}
        response = api.client.post("/votes/", json={"poll_id": poll["id"], "option_id": ids["Tea"]}, headers=other.headers)
        assert response.status_code == 201, response.text

        page = new_page()
        ui_login(page, base, voter)
        goto(page, f"{base}/polls/{poll['id']}")
        expect(page.get_by_text("Choose the option you like least.")).to_be_visible(timeout=UI_TIMEOUT)
        page.get_by_label("Coffee", exact=True).check()
        page.get_by_role("button", name="Submit vote").click()
        expect(page.locator("#my-ballot")).to_have_text("Your ballot: Coffee", timeout=UI_TIMEOUT)

        goto(page, f"{base}/polls/{poll['id']}/results")
        expect(page.get_by_test_id("total-ballots")).to_have_text("2", timeout=UI_TIMEOUT)
        expect(page.get_by_test_id("winners")).to_have_text("Leading: Juice")
        expect(page.get_by_role("columnheader", name="Vetoes").first).to_be_visible()
        expect(page.get_by_text("The option the fewest ballots veto wins.")).to_be_visible()
        expect(page.get_by_test_id(f"result-votes-{ids['Tea']}")).to_have_text("1")
    finally:
        api.close()
