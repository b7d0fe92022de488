"""Stage 8, pack and upload: the deterministic tarball, the MLCommons portal (and its local stand-in), record bundles between machines."""
