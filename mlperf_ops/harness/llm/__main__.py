"""`python3 -m harness.llm run` (on the host: `python -m mlperf_ops.harness.llm run`).

Exit codes as the built-in harness: 0 done, 1 operational failure (a server fault), 2 bad
input; errors are one `error:` line plus a `hint:` line.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..errors import run_reporting


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="harness.llm",
                                     description="LoadGen SUT for an OpenAI-compatible LLM server")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="one LoadGen run configured by MLPERF_* environment variables")
    acc = sub.add_parser("accuracy", help="score an accuracy log as the reference evaluation does")
    acc.add_argument("--benchmark", required=True, help="llama3.1-8b, llama3.1-8b-edge or llama2-70b-99.9")
    acc.add_argument("--log", required=True, type=Path, help="mlperf_log_accuracy.json")
    acc.add_argument("--dataset", required=True, type=Path, help="the data set JSON with its `output` column")
    acc.add_argument("--tokenizer", required=True, type=Path, help="the model directory (or tokenizer file)")
    acc.add_argument("--dtype", default="int32", choices=["int32", "int64"], help="token id width in the log")
    acc.add_argument("--out", type=Path, help="write the accuracy line here (accuracy.txt)")
    punkt = sub.add_parser("punkt-data", help="install NLTK's English Punkt tables into an NLTK_DATA directory")
    punkt.add_argument("directory", type=Path)
    args = parser.parse_args(argv)

    def run() -> int:
        if args.command == "punkt-data":
            from .sentences import write_nltk_data

            print(write_nltk_data(args.directory))
            return 0
        if args.command == "accuracy":
            from . import accuracy

            evaluation = accuracy.prepare(args.benchmark, args.dataset, args.tokenizer, 0)
            result = accuracy.score(args.benchmark, accuracy.read_log(args.log, args.dtype), evaluation.targets,
                                    evaluation.detok, evaluation.split)
            if args.out:
                accuracy.write(result, args.out)
            print(accuracy.line(result))
            return 0
        from . import runner

        return runner.run(os.environ)

    return run_reporting(run)

if __name__ == "__main__":
    sys.exit(main())
