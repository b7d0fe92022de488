"""Stage 3, build: one software stack (a content-addressed image) per hardware target, and the demo's files exported from it."""
