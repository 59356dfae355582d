"""Accessibility helpers shared by the pages: moving the keyboard focus to the outcome of an
action, tying hints and errors to their fields, and a polite, throttled live announcer.

Why each exists (WCAG 2.2): after an action a screen-reader or keyboard user must land on what
happened (2.4.3 focus order, 3.3.1 error identification), not on ``<body>``; a field's hint and
error must be read with the field (1.3.1, 3.3.1); a change that nobody asked for is announced
politely and not on every push (4.1.3 status messages).
"""

from __future__ import annotations

import json

import reflex as rx

from commons_app.i18n import t

# How long the results announcer waits between two announcements (ms).
ANNOUNCE_EVERY_MS = 10_000
# Ids shared by pages: a form's error message (the error summary), and a poll page's title
# (where the focus lands after creating or joining a poll).
FORM_ERROR = "form-error"
POLL_TITLE = "poll-title"


def focus_on(*element_ids: str) -> rx.event.EventSpec:
    """Move the keyboard focus to the first of ``element_ids`` that is shown, once it is in the
    page: the state change that shows it may render after this script runs (or a navigation may
    be on its way), so it retries for up to 5 s. An element that is not focusable by nature gets
    ``tabindex="-1"`` (focusable by script, not a Tab stop)."""
    targets = json.dumps(list(element_ids))
    return rx.call_script(
        "(function go(n){const el=" + targets + ".map(function(i){return document.getElementById(i);})"
        ".find(function(e){return e&&e.getClientRects().length>0;});"
        "if(el){"
        "if(!el.matches('a[href],button,input,select,textarea,[tabindex]'))el.setAttribute('tabindex','-1');"
        "el.focus();}"
        "else if(n>0){setTimeout(function(){go(n-1);},50);}})(100)"
    )


def field_attrs(
    field_id: str, *, invalid: rx.Var | bool, hint: bool = False, error_id: str = ""
) -> dict[str, rx.Var | str | None]:
    """``aria-describedby`` / ``aria-invalid`` / ``aria-errormessage`` for a field whose hint is
    ``<field_id>-hint`` (when ``hint``) and whose error, while ``invalid``, is ``error_id``
    (default ``<field_id>-error``). Pass the result as the control's ``custom_attrs``."""
    error_id = error_id or f"{field_id}-error"
    hint_id = f"{field_id}-hint" if hint else ""
    both = f"{hint_id} {error_id}".strip()
    invalid_var = invalid if isinstance(invalid, rx.Var) else rx.Var.create(invalid)
    return {
        "aria-describedby": rx.cond(invalid_var, both, hint_id or None),
        "aria-invalid": rx.cond(invalid_var, "true", None),
        "aria-errormessage": rx.cond(invalid_var, error_id, None),
    }


# The announcer keeps, in the browser, what it last said; every ~10 s it compares the figures
# the page shows (data-* attributes of #results-figures, set by each live push) and speaks once
# when they changed. Sentences come from the hidden templates (one msgid each, see i18n).
_ANNOUNCER_SCRIPT = """
(function () {
  if (window.__commonsAnnouncer) return;
  window.__commonsAnnouncer = true;
  let said = null, timer = null, lastAt = 0;
  const EVERY = __EVERY__;
  function fill(text, values) {
    return text.replace(/%\\((\\w+)\\)s/g, (m, k) => (k in values ? String(values[k]) : m));
  }
  function speak() {
    timer = null;
    const figures = document.getElementById('results-figures');
    const region = document.getElementById('results-announcer');
    if (!figures || !region) { said = null; return; }
    let rows = [];
    try { rows = JSON.parse(figures.dataset.rows || '[]'); } catch (e) { rows = []; }
    const winners = rows.filter((r) => r.is_winner);
    const lead = winners.length === 1 ? winners[0] : null;
    const now = { poll: figures.dataset.poll || '', total: Number(figures.dataset.total || 0),
                  leader: lead ? String(lead.text) : '', votes: lead ? String(lead.votes) : '' };
    if (!said || said.poll !== now.poll) { said = now; return; }  // a new page: nothing changed yet
    if (said.total === now.total && said.leader === now.leader && said.votes === now.votes) return;
    const more = now.total - said.total;
    const tpl = (id) => (document.getElementById(id) || {}).textContent || '';
    let first = '';
    if (more !== 0) {
      first = fill(tpl(Math.abs(more) === 1 ? (more > 0 ? 'announce-more-one' : 'announce-fewer-one')
                                            : (more > 0 ? 'announce-more' : 'announce-fewer')), { n: Math.abs(more) });
    }
    const second = now.leader
      ? fill(tpl('announce-leads'), { leader: now.leader, votes: now.votes, total: now.total })
      : '';
    region.textContent = first && second ? fill(tpl('announce-both'), { first: first, second: second }) : (first || second);
    said = now;
    lastAt = Date.now();
  }
  function changed() {
    if (timer) return;  // one announcement per window, whatever the pushes in between
    timer = setTimeout(speak, Math.max(0, lastAt + EVERY - Date.now()));
  }
  new MutationObserver((records) => {
    if (records.some((r) => r.target.id === 'results-figures' || (r.target.querySelector && r.target.querySelector('#results-figures')))) {
      if (!said) speak(); else changed();
    }
  }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-total', 'data-rows', 'data-poll'] });
  speak();  // the figures may be in the page already: they are the starting point
})();
""".replace("__EVERY__", str(ANNOUNCE_EVERY_MS))


def start_announcer() -> rx.event.EventSpec:
    """Start the results announcer in this tab (once per document; the results page's on_load
    returns it). It watches ``#results-figures`` for as long as the tab lives."""
    return rx.call_script(_ANNOUNCER_SCRIPT)


def results_announcer(*, poll: rx.Var, total: rx.Var, rows: rx.Var) -> rx.Component:
    """One visually hidden ``aria-live="polite"`` region for a live results page, with the figures
    it compares (the poll, its ballots, its rows: the single winner so far leads) and the
    sentences it fills in. It speaks at most once every ~10 s, and only when the ballots or the
    leader changed (not on each push)."""
    hidden = {"display": "none"}
    return rx.fragment(
        rx.el.div(
            id="results-figures",
            hidden=True,
            custom_attrs={"data-poll": poll, "data-total": total, "data-rows": rows.to_string()},
        ),
        # the templates: filled by the script (placeholders stay for it, translated like any msgid)
        rx.el.span(t("1 more ballot"), id="announce-more-one", style=hidden),
        rx.el.span(t("%(n)s more ballots"), id="announce-more", style=hidden),
        rx.el.span(t("1 ballot fewer"), id="announce-fewer-one", style=hidden),
        rx.el.span(t("%(n)s fewer ballots"), id="announce-fewer", style=hidden),
        rx.el.span(t("%(leader)s leads with %(votes)s of %(total)s"), id="announce-leads", style=hidden),
        rx.el.span(t("%(first)s; %(second)s"), id="announce-both", style=hidden),
        rx.el.div(
            id="results-announcer",
            role="status",
            class_name="visually-hidden",
            custom_attrs={"aria-live": "polite", "aria-atomic": "true", "data-testid": "results-announcer"},
        ),
    )
