"""Neutral helpers every stage uses: errors, events, units, crash-safe writes, hashing, the tree's and LoadGen's names."""
