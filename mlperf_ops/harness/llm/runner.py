"""`harness.llm run`: one LoadGen test against an OpenAI-compatible server (docs/harness.md).

Contract (environment), beyond the harness's MLPERF_* variables (MLPERF_BENCHMARK,
MLPERF_LOADGEN_MODEL, MLPERF_SCENARIO, MLPERF_MODE, MLPERF_AUDIT_TEST, MLPERF_CONFIG_DIR,
MLPERF_OUTPUT_DIR; Interactive runs as Server under the interactive LoadGen model key):
  MLPERF_LLM_URL              the server's base URL (required), e.g. http://127.0.0.1:8000
  MLPERF_LLM_DATASET          the preprocessed data set JSON (default: the dataset artifact,
                              $MLPERF_DATASET_PATH, or dataset.json in it)
  MLPERF_LLM_MODEL            the `model` field of requests (default: the server's first model)
  MLPERF_LLM_PROMPT           tokens (tok_input, default) | text (input)
  MLPERF_LLM_TOKEN_IDS        server (vLLM's return_tokens_as_token_ids, default) | vocab
  MLPERF_LLM_VOCAB            for `vocab`: a tokenizer.json or a {token: id} JSON
                              (default $MLPERF_MODEL_PATH/tokenizer.json)
  MLPERF_LLM_API              completions (/v1/completions, default) | chat
                              (/v1/chat/completions: the server applies the model's chat template)
  MLPERF_LLM_TOKENIZER        accuracy runs: the model directory (or tokenizer.json /
                              tokenizer.model) the answers are decoded with (default $MLPERF_MODEL_PATH)
  MLPERF_LLM_CONCURRENCY      requests in flight at most (default 8)
  MLPERF_LLM_READ_TIMEOUT_S   silence that fails a request (default 600)
  MLPERF_LLM_HEALTH_TIMEOUT_S how long to wait for /v1/models before the run (default 300)
Writes LoadGen's logs and `llm_run.json` (server identity, counts, the first fault) into
MLPERF_OUTPUT_DIR. Exit 0 when LoadGen finished and the server never failed; 1 with the
first fault's reason when it did; 2 for bad input.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import loadgen_settings
from ..errors import HarnessError
from . import dataset, server
from .client import API_MODES, TOKEN_ID_MODES, TokenDecoder, load_vocab
from .settings import GENERATION, generation_for
from .sut import Endpoint, EndpointSut

SCENARIOS = ("SingleStream", "Offline", "Server")  # SingleStream: llama3.1-8b-edge
MODES = ("PerformanceOnly", "AccuracyOnly")
AUDIT_CONFIG = "audit.config"
RUN_FILE = "llm_run.json"
ACCURACY_TXT = "accuracy.txt"


@dataclass(frozen=True)
class LlmContract:
    benchmark: str
    loadgen_model: str
    scenario: str
    mode: str
    audit_test: str
    config_dir: Path
    output_dir: Path
    url: str
    dataset: Path
    model: str
    prompt_mode: str
    token_ids: str
    vocab: Path | None
    concurrency: int
    read_timeout_s: float
    health_timeout_s: float
    api: str = "completions"
    tokenizer: Path | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "LlmContract":
        def get(name: str, default: str = "") -> str:
            return env.get(name, "").strip() or default

        scenario = get("MLPERF_SCENARIO")
        if scenario not in SCENARIOS:
            raise HarnessError(f"MLPERF_SCENARIO={scenario!r} is not a scenario the LLM harness runs",
                               hint="SingleStream, Offline or Server (Interactive runs as Server with the interactive model key)")
        mode = get("MLPERF_MODE", "PerformanceOnly")
        if mode not in MODES:
            raise HarnessError(f"MLPERF_MODE={mode!r} is not a mode", hint=f"one of {', '.join(MODES)}")
        benchmark = get("MLPERF_BENCHMARK")
        if generation_for(benchmark) is None:
            raise HarnessError(f"MLPERF_BENCHMARK={benchmark!r} is not served by the LLM endpoint harness",
                               hint=f"one of {', '.join(GENERATION)}")
        url = get("MLPERF_LLM_URL")
        if not url.startswith(("http://", "https://")):
            raise HarnessError(f"MLPERF_LLM_URL={url!r} is not an http(s) URL",
                               hint="the server's base URL, e.g. http://127.0.0.1:8000")
        token_ids = get("MLPERF_LLM_TOKEN_IDS", "server")
        if token_ids not in TOKEN_ID_MODES:
            raise HarnessError(f"MLPERF_LLM_TOKEN_IDS={token_ids!r}", hint=f"one of {', '.join(TOKEN_ID_MODES)}")
        vocab = get("MLPERF_LLM_VOCAB")
        if token_ids == "vocab" and not vocab:
            if not get("MLPERF_MODEL_PATH"):
                raise HarnessError("MLPERF_LLM_TOKEN_IDS=vocab needs MLPERF_LLM_VOCAB",
                                   hint="the model's tokenizer.json (or declare the model artifact that holds it)")
            vocab = str(Path(get("MLPERF_MODEL_PATH")) / "tokenizer.json")
        # The dataset artifact is mounted at MLPERF_DATASET_PATH: the JSON file itself, or a
        # directory holding dataset.json.
        api = get("MLPERF_LLM_API", GENERATION[benchmark].api)
        if api not in API_MODES:
            raise HarnessError(f"MLPERF_LLM_API={api!r}", hint=f"one of {', '.join(API_MODES)}")
        prompt_mode = get("MLPERF_LLM_PROMPT", "tokens")
        if api == "chat" and prompt_mode != "text":
            raise HarnessError("MLPERF_LLM_API=chat sends the prompt text as a user message",
                               hint="set MLPERF_LLM_PROMPT=text (a chat request has no token-id prompt)")
        tokenizer = get("MLPERF_LLM_TOKENIZER", get("MLPERF_MODEL_PATH"))
        if mode == "AccuracyOnly" and not get("MLPERF_AUDIT_TEST") and not tokenizer:
            raise HarnessError("an accuracy run decodes its answers with the model's tokenizer, and none is given",
                               hint="declare the model artifact (its directory holds the tokenizer files) "
                                    "or set MLPERF_LLM_TOKENIZER")
        mounted = Path(get("MLPERF_DATASET_PATH", "/mlperf/dataset"))
        default_data = str(mounted if mounted.is_file() else mounted / "dataset.json")
        return cls(
            benchmark=benchmark,
            loadgen_model=get("MLPERF_LOADGEN_MODEL", benchmark),
            scenario=scenario,
            mode=mode,
            audit_test=get("MLPERF_AUDIT_TEST"),
            config_dir=Path(get("MLPERF_CONFIG_DIR", "/mlperf/config")),
            output_dir=Path(get("MLPERF_OUTPUT_DIR", "/mlperf/output")),
            url=url.rstrip("/"),
            dataset=Path(get("MLPERF_LLM_DATASET", default_data)),
            model=get("MLPERF_LLM_MODEL"),
            prompt_mode=prompt_mode,
            token_ids=token_ids,
            vocab=Path(vocab) if vocab else None,
            concurrency=int(_number(env, "MLPERF_LLM_CONCURRENCY", 8, minimum=1)),
            read_timeout_s=_number(env, "MLPERF_LLM_READ_TIMEOUT_S", 600, minimum=0.001),
            health_timeout_s=_number(env, "MLPERF_LLM_HEALTH_TIMEOUT_S", 300, minimum=0),
            api=api,
            tokenizer=Path(tokenizer) if tokenizer else None,
        )


def _number(env: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise HarnessError(f"{name}={raw!r} is not a number") from None
    if not value >= minimum:
        raise HarnessError(f"{name}={raw!r} must be at least {minimum:g}")
    return value


def say(message: str) -> None:
    print(f"harness.llm: {message}", flush=True)


def configure(lg: Any, contract: LlmContract) -> Any:
    """LoadGen's settings as every harness here loads them (loadgen_settings), token latencies on."""
    settings = loadgen_settings.configure(lg, contract, say)
    # The SUT always reports first tokens; the round's rules need TTFT/TPOT for every LLM
    # (the checker refuses an LLM run without them), whatever a user.conf says.
    settings.use_token_latencies = True
    return settings


def _check_audit(contract: LlmContract, cwd: Path) -> None:
    present = (cwd / AUDIT_CONFIG).is_file()
    if contract.audit_test and not present:
        raise HarnessError(f"MLPERF_AUDIT_TEST={contract.audit_test} but there is no {AUDIT_CONFIG} in {cwd}")
    if present and not contract.audit_test:
        raise HarnessError(f"{cwd / AUDIT_CONFIG} exists but MLPERF_AUDIT_TEST is empty",
                           hint="a stray audit.config turns a submission run into an audit run")


def run(env: Mapping[str, str], cwd: Path | None = None) -> int:
    contract = LlmContract.from_env(env)
    cwd = cwd or Path.cwd()
    _check_audit(contract, cwd)
    generation = generation_for(contract.benchmark)
    assert generation is not None  # from_env checked it
    prompts = dataset.load(contract.dataset, contract.prompt_mode)
    vocab = None
    if contract.vocab is not None:
        try:
            vocab = load_vocab(contract.vocab.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise HarnessError(f"cannot use the vocabulary {contract.vocab}: {exc}") from exc
    decoder = TokenDecoder(contract.token_ids, vocab)
    evaluation = None
    if contract.mode == "AccuracyOnly" and not contract.audit_test:
        assert contract.tokenizer is not None  # from_env checked it
        from . import accuracy

        # Loaded before the run: a missing tokenizer or target column fails now, not after
        # the whole data set has been generated.
        evaluation = accuracy.prepare(contract.benchmark, contract.dataset, contract.tokenizer, len(prompts))
        say(f"accuracy: answers decoded with {contract.tokenizer} ({evaluation.detok.kind})")
    contract.output_dir.mkdir(parents=True, exist_ok=True)

    identity = server.wait_healthy(contract.url, contract.health_timeout_s)
    model = contract.model or (identity.models[0] if identity.models else "")
    if not model:
        raise HarnessError(f"{contract.url}/v1/models lists no model", hint="set MLPERF_LLM_MODEL", exit_code=1)
    say(f"server {contract.url} serves {', '.join(identity.models) or '?'}"
        f"{' version ' + identity.version if identity.version else ''}; requests name model {model!r}")

    import mlperf_loadgen as lg

    settings = configure(lg, contract)
    endpoint = Endpoint(url=contract.url, model=model, body=generation.body(), decoder=decoder,
                        read_timeout_s=contract.read_timeout_s, api=contract.api)
    say(f"benchmark={contract.benchmark} loadgen_model={contract.loadgen_model} scenario={contract.scenario} "
        f"mode={contract.mode} audit={contract.audit_test or '-'} samples={len(prompts)} "
        f"concurrency={contract.concurrency} max_tokens={generation.max_tokens}")
    sut = EndpointSut(lg, endpoint, prompts, contract.concurrency)
    log_settings = lg.LogSettings()
    log_settings.log_output.outdir = str(contract.output_dir)
    log_settings.log_output.copy_summary_to_stdout = False
    log_settings.enable_trace = False
    lg_sut = lg.ConstructSUT(sut.issue, sut.flush)
    # Prompts are small and already in memory: loading a sample is a no-op.
    lg_qsl = lg.ConstructQSL(len(prompts), len(prompts), lambda _: None, lambda _: None)
    started = time.monotonic()
    try:
        lg.StartTestWithLogSettings(lg_sut, lg_qsl, settings, log_settings, AUDIT_CONFIG)
    finally:
        sut.stop()
        lg.DestroyQSL(lg_qsl)
        lg.DestroySUT(lg_sut)
    elapsed = time.monotonic() - started
    tally = sut.tally
    record = {
        "benchmark": contract.benchmark, "scenario": contract.scenario, "mode": contract.mode,
        "audit_test": contract.audit_test or None, "server": identity.as_dict(), "model": model,
        "generation": generation.body(), "api": contract.api, "concurrency": contract.concurrency,
        "samples_completed": tally.completed, "tokens": tally.tokens, "seconds": round(elapsed, 3),
        "faults": tally.faults, "first_fault": tally.first_fault, "first_fault_sample": tally.first_fault_sample,
    }
    (contract.output_dir / RUN_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    say(f"LoadGen finished: {tally.completed} samples, {tally.tokens} tokens in {elapsed:.1f} s")
    if tally.first_fault is not None:
        raise HarnessError(
            f"server fault: {tally.first_fault} (sample {tally.first_fault_sample}; "
            f"{tally.faults} request(s) failed, the rest were not sent)",
            hint=f"details in {contract.output_dir / RUN_FILE}", exit_code=1)
    if evaluation is not None:
        result = evaluation.run(contract.output_dir / "mlperf_log_accuracy.json", contract.output_dir / ACCURACY_TXT)
        say(f"accuracy: {accuracy.line(result)}")
    return 0
