"""Errors the services raise; the API maps them to HTTP statuses, the UI to messages."""

from __future__ import annotations


class ServiceError(Exception):
    """A refusal with a message meant for the person who asked."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None, **params: object) -> None:
        # ``message`` is a msgid (marked with i18n.N_) whose %(name)s placeholders ``params`` fill:
        # the API answers in English, pages show in_language(lang).
        self.msgid, self.params = message, params
        message = message % params if params else message
        super().__init__(message)
        self.message = message
        self.field = field  # the input the message is about, for forms that show it beside it

    def in_language(self, lang: str) -> str:
        """The message in ``lang`` (English when its msgid has no translation)."""
        from commons_app.i18n import tr

        return tr(lang, self.msgid, **self.params)


class InvalidInput(ServiceError):
    """The request does not fit (422)."""

    status_code = 422


class NotAuthenticated(ServiceError):
    """No valid credentials (401)."""

    status_code = 401


class Forbidden(ServiceError):
    """The caller is known but may not do this (403)."""

    status_code = 403


class NotFound(ServiceError):
    """No such object, or not visible to the caller (404)."""

    status_code = 404


class Conflict(ServiceError):
    """The request clashes with what exists (409)."""

    status_code = 409


class RateLimited(ServiceError):
    """Too many requests (429); ``retry_after`` is in seconds."""

    status_code = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


class Unavailable(ServiceError):
    """A backing service is down (503)."""

    status_code = 503
