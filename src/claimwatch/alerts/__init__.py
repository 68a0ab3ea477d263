"""Alerts: sending recorded alerts to webhooks and mailboxes, once, with retries (``deliver``).
The runner's alert rules decide what to alert on and record it; this package only sends."""
