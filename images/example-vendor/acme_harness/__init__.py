"""ACME's example harness: a System Under Test on LoadGen's Python API, run by mlperf-ops.

It follows the harness contract of mlperf-ops (docs/harness.md) and imports nothing of
mlperf-ops. Its model is a toy linear classifier over a synthetic data set made at
image build time (`make_data`): the point is the contract, not the model.
"""
