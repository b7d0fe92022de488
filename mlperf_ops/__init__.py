"""mlperf-ops: declarative MLPerf Inference submissions."""

__version__ = "0.1.0"
