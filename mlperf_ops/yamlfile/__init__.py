"""One safe reader for every YAML file a person edits: manifests, pipelines/*.yaml, images/*/image.yaml.

Each step has its own module so each can be reasoned about (and tested) alone:

- `text`: bytes to text; encodings and characters YAML forbids become positioned problems.
- `compose`: the event stream to nodes, with limits on depth, size and alias expansion
  checked *before* anything is constructed (a YAML alias bomb is small as nodes and
  exponential as data).
- `construct`: nodes to JSON-like data (string keys, no timestamps, bounded numbers).
- `source`: the whole read, with a position for every path (`SourceDoc`).
- `schema`: JSON Schema problems a person can act on, with did-you-mean.
- `shorten`: quoting user values back without printing a megabyte.
"""

from __future__ import annotations

from mlperf_ops.yamlfile.source import PathKey, SourceDoc, read_yaml, render_path

__all__ = ["PathKey", "SourceDoc", "read_yaml", "render_path"]
