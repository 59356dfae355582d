"""A form that the browser itself submits (Reflex's forms always prevent that and send an event)."""

from __future__ import annotations

from reflex_base.components.component import field
from reflex_base.vars.base import Var
from reflex_components_core.el.elements.base import BaseHTML


class NativeForm(BaseHTML):
    """``<form action method>`` with no submit handler: a plain HTTP form post. Used where only an
    HTTP answer will do (setting the HttpOnly session cookie)."""

    tag = "form"

    action: Var[str] = field(doc="URL the form posts to")
    method: Var[str] = field(doc="HTTP method")


native_form = NativeForm.create
