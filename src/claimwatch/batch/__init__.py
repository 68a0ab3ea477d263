"""The batch engine: matching as pure functions over Arrow record batches.

``claimwatch export posts --parquet`` writes the posts a run needs (:mod:`.export`);
``claimwatch batch run`` maps them through :class:`.matcher.BatchMatcher` on this machine's
cores (:mod:`.local`, the default) or on Ray Data (:mod:`.on_ray`), writing Parquet results;
``claimwatch batch import`` writes those into the store with the writer ``claimwatch match``
uses (:mod:`.importer`). The declared schemas are in :mod:`.schema`, the conversions between
Arrow and the typed records of :mod:`claimwatch.claims.compute` in :mod:`.convert`.
"""
