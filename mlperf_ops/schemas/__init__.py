"""JSON Schemas of the YAML files a person edits besides the manifest (pipeline profiles, image specs)."""
