"""Known manipulated media: hashing and fingerprinting post media and debunked items, the bank of
debunked items and its index, matching, downloads and C2PA provenance. Every file is hostile."""
