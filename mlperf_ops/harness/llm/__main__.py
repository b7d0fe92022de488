"""`python3 -m harness.llm run` (on the host: `python -m mlperf_ops.harness.llm run`).

Exit codes as the built-in harness: 0 done, 1 operational failure (a server fault), 2 bad
input; errors are one `error:` line plus a `hint:` line.
"""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import run_reporting


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="harness.llm",
                                     description="LoadGen SUT for an OpenAI-compatible LLM server")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="one LoadGen run configured by MLPERF_* environment variables")
    parser.parse_args(argv)

    def run() -> int:
        from . import runner

        return runner.run(os.environ)

    return run_reporting(run)

if __name__ == "__main__":
    sys.exit(main())
