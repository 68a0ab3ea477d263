"""Alerts of ``claimwatch watch``: the rules that decide them (``rules``) and their delivery."""
