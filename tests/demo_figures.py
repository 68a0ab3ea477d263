"""The demo's printed figures, pinned once for every test that runs the demo (SQLite and PostgreSQL
must print the same). They move only when matching changes: re-run `claimwatch demo` and update."""

#: (debunked posts, their views, posts, views) of the demo's whole-store report
HEADLINE = (51, 251_022_973, 179, 273_497_432)
#: the example study's headline and its Community Notes line
STUDY_HEADLINE = (
    "16 posts by @demo_ballot_truths repeat claims that fact-checkers rated false or misleading; viewed "
    "146,665,740 times; views unknown for 1: 1 of them with engagement counts only (x: 1): likes "
    "23,439, reposts 5,022, replies 2,124, quotes 359, bookmarks 843. 0 confirmed by an analyst, 16 "
    "machine-proposed only."
)
STUDY_NOTES = (
    "1 of them showed a Community Note; the 15 without one had 142,458,384 views (views unknown for 1). "
    "4 had notes proposed, 3 of those showed none."
)
