"""The periodic job that sends automatic reminders before polls close (``services.invitations``).

Imported through ``commons_app.jobs.JOB_MODULES`` by the app and by ``python -m commons_app worker``.
"""

from __future__ import annotations

from commons_app import jobs
from commons_app.services import invitations

# Once a minute: a reminder asked for "N hours before closing" goes out within a minute of it.
jobs.register_periodic(
    "automatic_reminders", invitations.run_due_reminders, seconds=jobs._seconds_env("REMINDER_CHECK_SECONDS", 60)
)
