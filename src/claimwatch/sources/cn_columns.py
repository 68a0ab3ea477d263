"""Community Notes download columns and values: the one place their names are written.

Names follow the public TSV files and the scorer's ``scoring/src/scoring/constants.py``
(github:twitter/communitynotes @273c895). Readers look columns up by these names in the
file's header, never by position, so columns added in later downloads are kept in ``raw``
and older downloads with fewer columns are read as long as the required ones are there.
"""

from __future__ import annotations

# ---------------------------------------------------------------- shared
NOTE_ID = "noteId"
CREATED_AT_MILLIS = "createdAtMillis"
NOTE_AUTHOR = "noteAuthorParticipantId"
#: The author column's name before it was renamed (older notes / status history files).
NOTE_AUTHOR_OLD = "participantId"

# ---------------------------------------------------------------- notes-00000.tsv
TWEET_ID = "tweetId"
CLASSIFICATION = "classification"
SUMMARY = "summary"
NOTES_REQUIRED = (NOTE_ID, TWEET_ID, CLASSIFICATION, CREATED_AT_MILLIS)

# ---------------------------------------------------------------- noteStatusHistory-00000.tsv
CURRENT_STATUS = "currentStatus"
CURRENT_STATUS_AT = "timestampMillisOfCurrentStatus"
FIRST_NON_NMR_STATUS = "firstNonNMRStatus"
FIRST_NON_NMR_AT = "timestampMillisOfFirstNonNMRStatus"
LATEST_NON_NMR_STATUS = "mostRecentNonNMRStatus"
LATEST_NON_NMR_AT = "timestampMillisOfLatestNonNMRStatus"
LOCKED_STATUS = "lockedStatus"
LOCKED_AT = "timestampMillisOfStatusLock"
DECIDED_BY = "currentDecidedBy"
#: The oldest documented status-history files have these nine columns (author as
#: ``participantId``); the lock and model columns came later and are optional here.
STATUS_REQUIRED = (NOTE_ID, CREATED_AT_MILLIS, FIRST_NON_NMR_AT, FIRST_NON_NMR_STATUS, CURRENT_STATUS_AT,
                   CURRENT_STATUS, LATEST_NON_NMR_AT, LATEST_NON_NMR_STATUS)
#: Every timestamp column of a status-history row (epoch milliseconds).
STATUS_TIMES = (CREATED_AT_MILLIS, FIRST_NON_NMR_AT, CURRENT_STATUS_AT, LATEST_NON_NMR_AT, LOCKED_AT,
                "timestampMillisOfRetroLock", "timestampMillisOfMostRecentStatusChange",
                "timestampMillisOfNmrDueToMinStableCrhTime", "timestampMillisOfFirstNmrDueToMinStableCrhTime")

# ---------------------------------------------------------------- ratings-00000.tsv
RATER = "raterParticipantId"
HELPFULNESS_LEVEL = "helpfulnessLevel"
#: Before ``helpfulnessLevel`` (2021) a rating had 0/1 columns ``helpful`` / ``notHelpful``.
HELPFUL_OLD = "helpful"
NOT_HELPFUL_OLD = "notHelpful"
RATINGS_REQUIRED = (NOTE_ID, CREATED_AT_MILLIS)

# ---------------------------------------------------------------- values
CURRENTLY_RATED_HELPFUL = "CURRENTLY_RATED_HELPFUL"
CURRENTLY_RATED_NOT_HELPFUL = "CURRENTLY_RATED_NOT_HELPFUL"
NEEDS_MORE_RATINGS = "NEEDS_MORE_RATINGS"
MISLEADING = "MISINFORMED_OR_POTENTIALLY_MISLEADING"
NOT_MISLEADING = "NOT_MISLEADING"
HELPFUL = "HELPFUL"
SOMEWHAT_HELPFUL = "SOMEWHAT_HELPFUL"
NOT_HELPFUL = "NOT_HELPFUL"
