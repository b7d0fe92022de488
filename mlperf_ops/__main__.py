from mlperf_ops.cli import run

raise SystemExit(run())
