"""Command line: ``python -m commons_app <command>``."""

from commons_app.cli import main

raise SystemExit(main())
