"""The LLM endpoint harness's small parts: token ids, vocabularies, data set files, settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlperf_ops.harness.errors import HarnessError
from mlperf_ops.harness.llm import dataset, server
from mlperf_ops.harness.llm.client import ServerFault, TokenDecoder, load_vocab
from mlperf_ops.harness.llm.runner import LlmContract
from mlperf_ops.harness.llm.settings import generation_for


def test_server_token_ids_are_parsed_and_a_server_without_them_is_named() -> None:
    decoder = TokenDecoder("server")
    assert decoder.request_fields() == {"logprobs": 1, "return_tokens_as_token_ids": True}
    assert decoder.decode("token_id:128009") == 128009
    with pytest.raises(ServerFault, match="ignored return_tokens_as_token_ids"):
        decoder.decode("Hello")


def test_vocab_ids_from_a_tokenizer_json_or_a_flat_map() -> None:
    assert load_vocab(json.dumps({"model": {"type": "BPE", "vocab": {"a": 1, "▁b": 2}}})) == {"a": 1, "▁b": 2}
    assert load_vocab(json.dumps({"a": 1})) == {"a": 1}
    with pytest.raises(ValueError):
        load_vocab(json.dumps(["a"]))
    decoder = TokenDecoder("vocab", {"a": 1})
    assert "return_tokens_as_token_ids" not in decoder.request_fields()
    assert decoder.decode("a") == 1
    with pytest.raises(ServerFault, match="not in the vocabulary"):
        decoder.decode("zz")


def test_dataset_as_records_or_pandas_columns(tmp_path: Path) -> None:
    records = tmp_path / "records.json"
    records.write_text(json.dumps([{"input": "a", "tok_input": [1, 2]}, {"input": "b", "tok_input": [3]}]))
    columns = tmp_path / "columns.json"
    # pandas writes row labels as strings; "10" must sort after "2"
    labels = [str(i) for i in range(11)]
    columns.write_text(json.dumps({"input": {k: f"p{k}" for k in reversed(labels)},
                                   "tok_input": {k: [int(k) + 1] for k in labels}}))
    assert dataset.load(records, "tokens").items == [[1, 2], [3]]
    assert dataset.load(records, "text").prompt(1) == "b"
    loaded = dataset.load(columns, "text")
    assert loaded.items[2] == "p2" and loaded.items[10] == "p10"
    assert dataset.load(columns, "tokens").prompt(10) == [11]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"input": "a"}]))
    with pytest.raises(HarnessError, match="tok_input"):
        dataset.load(bad, "tokens")


def test_official_generation_settings() -> None:
    llama3 = generation_for("llama3.1-8b")
    assert llama3 is not None and llama3.body() == {"max_tokens": 128, "temperature": 0.0, "top_p": 1.0,
                                                    "min_tokens": 1, "top_k": 1, "seed": 42}
    assert generation_for("llama3.1-8b-edge") == llama3
    llama2 = generation_for("llama2-70b-99.9")
    assert llama2 is not None and llama2.max_tokens == 1024 and llama2.temperature == 0.0
    assert generation_for("resnet") is None


@pytest.mark.parametrize(("env", "message"), [
    ({"MLPERF_SCENARIO": "MultiStream"}, "not a scenario the LLM harness runs"),
    ({"MLPERF_BENCHMARK": "resnet"}, "not served by the LLM endpoint harness"),
    ({"MLPERF_LLM_URL": "127.0.0.1:8000"}, "is not an http(s) URL"),
    ({"MLPERF_LLM_TOKEN_IDS": "vocab"}, "needs MLPERF_LLM_VOCAB"),
    ({"MLPERF_LLM_CONCURRENCY": "0"}, "must be at least 1"),
])
def test_bad_contract_values_are_refused(env: dict[str, str], message: str) -> None:
    good = {"MLPERF_SCENARIO": "Server", "MLPERF_BENCHMARK": "llama3.1-8b", "MLPERF_LLM_URL": "http://127.0.0.1:1"}
    assert LlmContract.from_env(good).concurrency == 8
    with pytest.raises(HarnessError) as raised:
        LlmContract.from_env({**good, **env})
    assert message in raised.value.message


def test_a_server_that_never_answers_fails_the_health_wait_with_the_reason() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        with pytest.raises(HarnessError) as raised:
            server.wait_healthy(url, timeout_s=0.3, poll_s=0.1)
    assert raised.value.exit_code == 1
    assert f"the LLM server at {url} was not healthy within 0.3 s (ConnectionError from /v1/models)" == \
        raised.value.message
    assert raised.value.hint and "container.network: host" in raised.value.hint


def test_a_failed_run_record_says_the_harness_error(tmp_path: Path) -> None:
    from mlperf_ops.run.outcome import ContainerExit, container_failure

    log = tmp_path / "container.log"
    log.write_text("harness.llm: LoadGen finished: 16 samples\n"
                   "error: server fault: HTTP 500 from http://127.0.0.1:8000/v1/completions: model crashed "
                   "(sample 3; 1 request(s) failed, the rest were not sent)\nhint: details in llm_run.json\n")
    reason = container_failure(ContainerExit(1, False, False, 60.0, log))
    assert reason == ("harness exited with code 1: server fault: HTTP 500 from http://127.0.0.1:8000/v1/completions: "
                      "model crashed (sample 3; 1 request(s) failed, the rest were not sent) "
                      f"(log: {log})")
    log.write_text("Traceback ...\n")
    assert container_failure(ContainerExit(1, False, False, 60.0, log)) == f"harness exited with code 1 (log: {log})"


class _Streamed:
    """A requests response streaming the given server-sent events (for the parser alone)."""

    status_code = 200

    def __init__(self, events: list[object]) -> None:
        self.lines = [b"data: " + json.dumps(e).encode() for e in events] + [b"data: [DONE]"]

    def __enter__(self) -> "_Streamed":
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def iter_lines(self) -> list[bytes]:
        return self.lines


class _Session:
    def __init__(self, events: list[object]) -> None:
        self.events = events
        self.sent: list[dict[str, object]] = []

    def post(self, url: str, json: dict[str, object], **_: object) -> _Streamed:
        self.sent.append({"url": url, **json})
        return _Streamed(self.events)


def test_chat_stream_tokens_come_from_logprobs_content() -> None:
    from mlperf_ops.harness.llm.client import stream_completion
    from mlperf_ops.harness.llm.sut import Endpoint

    def chunk(delta: dict[str, str], tokens: list[str] | None, finish: str | None = None) -> dict[str, object]:
        logprobs = None if tokens is None else {"content": [{"token": t, "logprob": -0.1} for t in tokens]}
        return {"choices": [{"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}]}

    # vLLM's shape: a role-only first chunk, then one token per chunk, ids as token_id:N
    events: list[object] = [chunk({"role": "assistant"}, None), chunk({"content": "Hi"}, ["token_id:13347"]),
                            chunk({"content": "!"}, ["token_id:0"]), chunk({}, [], "length"),
                            {"choices": [], "usage": {"completion_tokens": 2}}]
    session = _Session(events)
    firsts: list[list[int]] = []
    endpoint = Endpoint(url="http://x", model="m", body={"max_tokens": 2}, decoder=TokenDecoder("server"), api="chat")
    done = stream_completion(session, endpoint.completions_url, endpoint.request("Say hi"), endpoint.decoder,
                             firsts.append, connect_timeout_s=1, read_timeout_s=1, api="chat")
    assert done.token_ids == [13347, 0] and done.text == "Hi!" and firsts == [[13347]]
    sent = session.sent[0]
    assert sent["url"] == "http://x/v1/chat/completions"
    assert sent["messages"] == [{"role": "user", "content": "Say hi"}] and "prompt" not in sent
    assert sent["logprobs"] is True and sent["top_logprobs"] == 1 and sent["return_tokens_as_token_ids"] is True
    # text without its tokens is a server that ignored the logprobs request
    with pytest.raises(ServerFault, match="ignored the logprobs request"):
        stream_completion(_Session([chunk({"content": "Hi"}, None)]), endpoint.completions_url, {"max_tokens": 2},
                          endpoint.decoder, firsts.append, connect_timeout_s=1, read_timeout_s=1, api="chat")
