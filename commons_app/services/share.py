"""What a poll's share panel shows: its link, its join code and a QR code of the link."""

from __future__ import annotations

from dataclasses import dataclass

import segno

from commons_app import routes
from commons_app.models import Poll
from commons_app.services import polls


@dataclass(frozen=True)
class ShareDetails:
    """The link to a poll, the code that ``/join`` takes, and the link as a QR code (an SVG data URI)."""

    link: str
    join_code: str
    qr_svg: str


def poll_link(poll_id: str, base_url: str) -> str:
    """The absolute link to a poll's page, from the address the app is reached at."""
    return base_url.rstrip("/") + routes.vote_url(poll_id)


def qr_svg_data_uri(text: str) -> str:
    """A QR code of ``text`` as an SVG data URI (dark modules on white, with the quiet zone that
    scanners need)."""
    return segno.make(text, error="m", micro=False).svg_data_uri(scale=4, border=4, dark="#111", light="#fff")


def share_details(poll: Poll, base_url: str) -> ShareDetails:
    """The share panel of ``poll`` as reached at ``base_url`` (e.g. ``https://vote.example.org``)."""
    link = poll_link(poll.id, base_url)  # type: ignore[arg-type]
    return ShareDetails(link=link, join_code=polls.join_code_of(poll), qr_svg=qr_svg_data_uri(link))
