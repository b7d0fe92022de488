"""`python3 -m harness.llm run` (on the host: `python -m mlperf_ops.harness.llm run`).

Exit codes as the built-in harness: 0 done, 1 operational failure (a server fault), 2 bad
input; errors are one `error:` line plus a `hint:` line.
"""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import HarnessError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="harness.llm",
                                     description="LoadGen SUT for an OpenAI-compatible LLM server")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="one LoadGen run configured by MLPERF_* environment variables")
    parser.parse_args(argv)
    try:
        from . import runner

        return runner.run(os.environ)
    except HarnessError as exc:
        print(f"error: {exc.message}", file=sys.stderr, flush=True)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr, flush=True)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
