from mlperf_ops.cli import main

raise SystemExit(main())
