"""The built-in LoadGen harness that runs inside mlperf-ops images.

The image build copies this directory in as a top-level package named `harness`
(`python3 -m harness train|run|accuracy`); on the host it is `mlperf_ops.harness`.
So: relative imports only, nothing from the rest of mlperf_ops, and nothing heavy
imported here (numpy, onnxruntime and LoadGen load in the modules that need them).
"""
