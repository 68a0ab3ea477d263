"""Community Notes download columns and values: the one place their names are written.

Every column the readers use has an alias tuple, today's name first, then the names older
downloads used. The current names follow the public TSV files and the scorer's
``scoring/src/scoring/constants.py`` (github:twitter/communitynotes @273c895); the older ones
were reconstructed from that repository's history and its ``documentation/`` download-data
pages, and checked against what real files we have: the early-2021 Birdwatch notes file
(``participantId``, ``believable``, ``harmful``) and a 2022 noteStatusHistory that spells
``timestampMillisOfMostRecentNonNMRStatus``. The era of each older name is approximate (the
renames happened between public downloads and were not dated in the docs).

Readers look columns up by these names in the file's header, never by position, so columns
added later are kept in ``raw`` and older downloads with fewer columns are read as long as
the required fields are there. Anything else: ``claimwatch ingest notes --map FIELD=COLUMN``.
"""

from __future__ import annotations

# ---------------------------------------------------------------- column names
# Shared by all three files, unchanged since the first Birdwatch download (January 2021).
NOTE_ID = "noteId"
CREATED_AT_MILLIS = "createdAtMillis"
#: Note author in notes and noteStatusHistory since 2022.
NOTE_AUTHOR = "noteAuthorParticipantId"
#: Birdwatch 2021–2022: the note author in notes and noteStatusHistory, the rater in ratings.
PARTICIPANT_ID = "participantId"

# notes-00000.tsv
TWEET_ID = "tweetId"
CLASSIFICATION = "classification"
SUMMARY = "summary"
#: Columns only the notes file has: 2021 on (``believable``, ``harmful`` are 2021 questions
#: left empty later); ``isMediaNote`` since 2023, ``isCollaborativeNote`` in recent downloads.
NOTES_ONLY = (
    TWEET_ID,
    CLASSIFICATION,
    SUMMARY,
    "believable",
    "harmful",
    "validationDifficulty",
    "trustworthySources",
    "misleadingOther",
    "notMisleadingOther",
    "isMediaNote",
    "isCollaborativeNote",
)

# noteStatusHistory-00000.tsv (first published in 2021 with only the first/current status)
CURRENT_STATUS = "currentStatus"
CURRENT_STATUS_AT = "timestampMillisOfCurrentStatus"
FIRST_NON_NMR_STATUS = "firstNonNMRStatus"
FIRST_NON_NMR_AT = "timestampMillisOfFirstNonNMRStatus"
#: Added in 2022; the status column kept its name when its timestamp was renamed.
LATEST_NON_NMR_STATUS = "mostRecentNonNMRStatus"
LATEST_NON_NMR_AT = "timestampMillisOfLatestNonNMRStatus"
#: The 2022 spelling of :data:`LATEST_NON_NMR_AT`.
LATEST_NON_NMR_AT_2022 = "timestampMillisOfMostRecentNonNMRStatus"
# Since 2023 (status lock after two weeks, several scoring models); all optional here.
LOCKED_STATUS = "lockedStatus"
LOCKED_AT = "timestampMillisOfStatusLock"
DECIDED_BY = "currentDecidedBy"
#: Later status columns that are only kept in ``raw`` (their timestamps date the snapshot).
STATUS_LATER = (
    "timestampMillisOfRetroLock",
    "currentCoreStatus",
    "currentExpansionStatus",
    "currentGroupStatus",
    "currentModelingGroup",
    "timestampMillisOfMostRecentStatusChange",
    "timestampMillisOfNmrDueToMinStableCrhTime",
    "currentMultiGroupStatus",
    "currentModelingMultiGroup",
    "timestampMinuteOfFinalScoringOutput",
    "timestampMillisOfFirstNmrDueToMinStableCrhTime",
)
#: Timestamp columns of a status row that are no record field but still date a download.
STATUS_EXTRA_TIMES = (
    "timestampMillisOfRetroLock",
    "timestampMillisOfMostRecentStatusChange",
    "timestampMillisOfNmrDueToMinStableCrhTime",
    "timestampMillisOfFirstNmrDueToMinStableCrhTime",
)
#: Columns only the status history has, any era.
STATUS_ONLY = (
    CURRENT_STATUS,
    CURRENT_STATUS_AT,
    FIRST_NON_NMR_STATUS,
    FIRST_NON_NMR_AT,
    LATEST_NON_NMR_STATUS,
    LATEST_NON_NMR_AT,
    LATEST_NON_NMR_AT_2022,
    LOCKED_STATUS,
    LOCKED_AT,
    DECIDED_BY,
    *STATUS_LATER,
)

# ratings-00000.tsv
#: The rater since 2022 (``participantId`` before).
RATER = "raterParticipantId"
#: Since mid-2021 (rating form "version" 2): HELPFUL / SOMEWHAT_HELPFUL / NOT_HELPFUL.
HELPFULNESS_LEVEL = "helpfulnessLevel"
#: The 2021 (version 1) form's 0/1 answers; left empty on later ratings.
HELPFUL_2021 = "helpful"
NOT_HELPFUL_2021 = "notHelpful"
#: Since 2023: the post the rating was made on.
RATED_ON_TWEET_ID = "ratedOnTweetId"
#: Columns only the ratings file has, 2021 on (``notHelpfulArgumentativeOrInflammatory`` was
#: renamed ``…OrBiased`` in 2022; ``ratingSourceBucketed``, ``suggestion`` are recent).
RATINGS_ONLY = (
    RATER,
    HELPFULNESS_LEVEL,
    HELPFUL_2021,
    NOT_HELPFUL_2021,
    RATED_ON_TWEET_ID,
    "agree",
    "disagree",
    "helpfulOther",
    "notHelpfulOther",
    "notHelpfulArgumentativeOrInflammatory",
    "notHelpfulArgumentativeOrBiased",
    "ratingSourceBucketed",
)

# Other files of a download, which claimwatch does not read: columns that name them when
# one is given to ``ingest notes``. noteRequests: ``sourceLink`` in 2024, ``sourceLinks`` and
# the feed-eligibility timestamps later.
USER_ENROLLMENT_ONLY = (
    "enrollmentState",
    "successfulRatingNeededToEarnIn",
    "timestampOfLastEarnOut",
    "modelingPopulation",
)
NOTE_REQUESTS_ONLY = ("sourceLink", "sourceLinks", "noteRequestFeedEligibleTimestamp")

# ---------------------------------------------------------------- fields
# Our field name -> the column's names, newest first. The field names are what
# ``--map FIELD=COLUMN`` takes; they are the record attributes the columns feed.
_NOTE_ID = (NOTE_ID,)
_CREATED_AT = (CREATED_AT_MILLIS,)
_AUTHOR = (NOTE_AUTHOR, PARTICIPANT_ID)

NOTE_FIELDS: dict[str, tuple[str, ...]] = {
    "note_id": _NOTE_ID,
    "tweet_id": (TWEET_ID,),
    "classification": (CLASSIFICATION,),
    "created_at": _CREATED_AT,
    "author_id": _AUTHOR,
}
NOTE_REQUIRED = ("note_id", "tweet_id", "classification", "created_at")

STATUS_FIELDS: dict[str, tuple[str, ...]] = {
    "note_id": _NOTE_ID,
    "created_at": _CREATED_AT,
    "current_status": (CURRENT_STATUS,),
    "current_status_at": (CURRENT_STATUS_AT,),
    "first_non_nmr_status": (FIRST_NON_NMR_STATUS,),
    "first_non_nmr_at": (FIRST_NON_NMR_AT,),
    "latest_non_nmr_status": (LATEST_NON_NMR_STATUS,),
    "latest_non_nmr_at": (LATEST_NON_NMR_AT, LATEST_NON_NMR_AT_2022),
    "locked_status": (LOCKED_STATUS,),
    "locked_at": (LOCKED_AT,),
    "decided_by": (DECIDED_BY,),
}
#: The first status files had no latest-non-NMR columns (and no lock or model columns):
#: a field without a column is unknown (None), never guessed from another.
STATUS_REQUIRED = ("note_id", "current_status")
STATUS_TIME_FIELDS = ("created_at", "current_status_at", "first_non_nmr_at", "latest_non_nmr_at", "locked_at")

RATING_FIELDS: dict[str, tuple[str, ...]] = {
    "note_id": _NOTE_ID,
    "created_at": _CREATED_AT,
    "helpfulness_level": (HELPFULNESS_LEVEL,),
    "helpful": (HELPFUL_2021,),
    "not_helpful": (NOT_HELPFUL_2021,),
}
RATING_REQUIRED = ("note_id", "created_at")
#: A ratings file needs one of these to split its counts (every era has one).
RATING_LEVEL_FIELDS = ("helpfulness_level", "helpful")

# ---------------------------------------------------------------- values
CURRENTLY_RATED_HELPFUL = "CURRENTLY_RATED_HELPFUL"
CURRENTLY_RATED_NOT_HELPFUL = "CURRENTLY_RATED_NOT_HELPFUL"
NEEDS_MORE_RATINGS = "NEEDS_MORE_RATINGS"
MISLEADING = "MISINFORMED_OR_POTENTIALLY_MISLEADING"
NOT_MISLEADING = "NOT_MISLEADING"
HELPFUL = "HELPFUL"
SOMEWHAT_HELPFUL = "SOMEWHAT_HELPFUL"
NOT_HELPFUL = "NOT_HELPFUL"
