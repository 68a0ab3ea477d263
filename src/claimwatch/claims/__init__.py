"""Claim matching: text cleaning, the sentence encoder, the persisted hybrid index, matching."""
