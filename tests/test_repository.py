"""The checkout stays as committed when the app runs (issue 11 item 7).

``reflex run`` and ``reflex export`` copy ``.web/package.json`` back over ``reflex.lock/package.json``
on every start: Reflex renders it from the committed copy (its own key order), and npm rewrites it
compactly when it installs. A committed file in any other order or layout is rewritten by the
first run, and ``git status`` shows a change nobody made. ``.ci/run`` also fails a test run that
leaves the tree different from how it found it.
"""

from __future__ import annotations

import json

from commons_app.config import PROJECT_ROOT


def test_reflex_lock_package_json_is_what_a_run_writes_back(monkeypatch):
    from reflex.utils import frontend_skeleton

    monkeypatch.chdir(PROJECT_ROOT)  # Reflex reads reflex.lock/ under the working directory
    committed = (PROJECT_ROOT / "reflex.lock" / "package.json").read_text()
    rendered = json.loads(frontend_skeleton._compile_package_json())
    # npm keeps the keys' order and writes the file as it found it: one line, no spaces.
    assert committed == json.dumps(rendered, separators=(",", ":")), (
        "reflex.lock/package.json is not in the form a run writes back; commit the file a build leaves behind"
    )


def test_the_ci_script_fails_a_run_that_dirties_the_tree():
    script = (PROJECT_ROOT / ".ci" / "run").read_text()
    assert "git status --porcelain" in script and "exit 1" in script
