"""Live monitoring: follow platform streams, store, analyse and match each new post at once, alert.

``watchlist`` (what to follow and whom to tell), ``events`` (what a stream hands the runner), one
module per stream client, ``runner`` (the loop behind ``claimwatch watch``).
"""
