"""``claimwatch media …``: fetch post media, bank debunked media, read provenance, match.

Registered by :mod:`claimwatch.cli` at its end, and built on its helpers (store opening, one-line
errors), so every command keeps the CLI's boundary: no traceback reaches a user.
"""

from __future__ import annotations

import typer

media_app = typer.Typer(
    help="Known manipulated media: fetch post media, bank debunked items, read provenance, match.",
    no_args_is_help=True,
)
bank_app = typer.Typer(help="The bank of debunked images, videos and audio clips.", no_args_is_help=True)
media_app.add_typer(bank_app, name="bank")

# ---------------------------------------------------------------- bank (media bank add/import/export/list)

# ---------------------------------------------------------------- fetch (media fetch, media status)

# ---------------------------------------------------------------- provenance (media provenance)

# ---------------------------------------------------------------- match (media match)
