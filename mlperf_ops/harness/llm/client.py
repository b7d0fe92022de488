"""One streamed completion from an OpenAI-compatible `/v1/completions` (or, for a benchmark
declared with a chat template, `/v1/chat/completions`), token by token.

The request asks for `logprobs: 1` as the reference's SUT_API.py does: with it, servers send
one token per event (llama.cpp's server otherwise merges tokens that only decode together),
and the event names the token, which is how its id is found:
- `server`: vLLM's `return_tokens_as_token_ids` makes the token `token_id:N` (exact ids);
- `vocab`: the token's text is looked up in the tokenizer's vocabulary, as SUT_API.py does.

Anything the server does wrong is a `ServerFault` with the reason in words: an HTTP error,
an error event, a stream that ends without `[DONE]` or a finish reason, a connection that
drops, an answer cut short (`[DONE]` before any finish reason), silence longer than the read
timeout, more tokens than asked for, or a token count that disagrees with the server's own
`usage`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

TOKEN_ID_MODES = ("server", "vocab")
# completions: the prompt as it is (the reference's preprocessed prompts already hold the
# model's prompt format); chat: the prompt text as one user message, the server applying the
# model's chat template. Chat streams name each token in `logprobs.content[].token`.
API_MODES = ("completions", "chat")
API_PATHS = {"completions": "/v1/completions", "chat": "/v1/chat/completions"}
TOKEN_ID_PREFIX = "token_id:"


class ServerFault(Exception):
    """The server failed one request; `reason` says how, for the run's failure message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Completion:
    token_ids: list[int] = field(default_factory=list)
    text: str = ""
    finish_reason: str | None = None
    reported_tokens: int | None = None  # the server's usage.completion_tokens, when it sends one


class TokenDecoder:
    """Turns an event's token names into ids (see the module docstring for the two modes)."""

    def __init__(self, mode: str, vocab: Mapping[str, int] | None = None) -> None:
        if mode not in TOKEN_ID_MODES:
            raise ValueError(f"token id mode {mode!r}: one of {', '.join(TOKEN_ID_MODES)}")
        if mode == "vocab" and not vocab:
            raise ValueError("token id mode 'vocab' needs a vocabulary")
        self.mode = mode
        self.vocab = dict(vocab or {})

    def request_fields(self, api: str = "completions") -> dict[str, Any]:
        # The chat API's logprobs is a switch plus a count of alternatives; at least one
        # alternative, since llama.cpp's server reads a count of 0 as "no logprobs".
        fields: dict[str, Any] = {"logprobs": True, "top_logprobs": 1} if api == "chat" else {"logprobs": 1}
        if self.mode == "server":
            fields["return_tokens_as_token_ids"] = True
        return fields

    def decode(self, token: str) -> int:
        if self.mode == "server":
            if not token.startswith(TOKEN_ID_PREFIX):
                raise ServerFault(
                    f"token {token!r} does not carry its id: the server ignored return_tokens_as_token_ids "
                    "(use MLPERF_LLM_TOKEN_IDS=vocab with the model's tokenizer vocabulary)")
            try:
                return int(token[len(TOKEN_ID_PREFIX):])
            except ValueError:
                raise ServerFault(f"token {token!r} has no integer id") from None
        found = self.vocab.get(token)
        if found is None:
            raise ServerFault(f"token {token!r} is not in the vocabulary file")
        return found


def load_vocab(text: str) -> dict[str, int]:
    """A flat {token: id} JSON, or a Hugging Face tokenizer.json (its model.vocab)."""
    data = json.loads(text)
    if isinstance(data, dict) and isinstance(data.get("model"), dict) and "vocab" in data["model"]:
        data = data["model"]["vocab"]
    if not isinstance(data, dict) or not all(isinstance(v, int) for v in data.values()):
        raise ValueError("a vocabulary is a JSON object of token -> integer id (or a tokenizer.json)")
    return {str(k): int(v) for k, v in data.items()}


def _event_tokens(choice: Mapping[str, Any]) -> list[str]:
    logprobs = choice.get("logprobs")
    if isinstance(logprobs, Mapping):
        tokens = logprobs.get("tokens")  # completions
        if isinstance(tokens, list):
            return [str(t) for t in tokens]
        content = logprobs.get("content")  # chat completions
        if isinstance(content, list):
            return [str(item.get("token")) for item in content if isinstance(item, Mapping)]
    if _event_text(choice):
        raise ServerFault("the server streamed text without logprobs tokens: it ignored the logprobs request")
    return []


def _event_text(choice: Mapping[str, Any]) -> str:
    delta = choice.get("delta")
    if isinstance(delta, Mapping):
        return str(delta.get("content") or "")
    return str(choice.get("text") or "")


def stream_completion(
    session: Any,
    url: str,
    body: Mapping[str, Any],
    decoder: TokenDecoder,
    on_first_token: Callable[[list[int]], None],
    *,
    connect_timeout_s: float,
    read_timeout_s: float,
    api: str = "completions",
) -> Completion:
    """POST `body` with stream=true and read the server-sent events to the end.

    `on_first_token` is called once, with the first event's token ids, the moment that
    event is parsed: that call is what LoadGen times as TTFT.
    """
    import requests

    max_tokens = int(body.get("max_tokens") or 0)
    payload = {**body, **decoder.request_fields(api), "stream": True,
               "stream_options": {"include_usage": True}}
    out = Completion()
    done = False
    answered = False
    try:
        with session.post(url, json=payload, stream=True, timeout=(connect_timeout_s, read_timeout_s)) as resp:
            if resp.status_code != 200:
                raise ServerFault(f"HTTP {resp.status_code} from {url}: {_snippet(resp)}")
            answered = True
            for raw in resp.iter_lines():
                if not raw or not raw.startswith(b"data:"):
                    continue  # blank separators, `event:`/`:` keep-alive lines
                data = raw[5:].strip()
                if data == b"[DONE]":
                    # Stop here rather than drain the body for connection reuse: a server that
                    # holds the stream open after [DONE] would stall every request for the read
                    # timeout. A new loopback connection per request costs well under a millisecond.
                    done = True
                    break
                try:
                    event = json.loads(data)
                except ValueError:
                    raise ServerFault(f"the server sent an event that is not JSON: {data[:120]!r}") from None
                if not isinstance(event, dict):
                    raise ServerFault(f"the server sent an event that is not a JSON object: {data[:120]!r}")
                if "error" in event:
                    raise ServerFault(f"the server reported an error mid-stream: {str(event['error'])[:300]}")
                usage = event.get("usage")
                if isinstance(usage, Mapping) and isinstance(usage.get("completion_tokens"), int):
                    out.reported_tokens = usage["completion_tokens"]
                for choice in event.get("choices") or []:
                    ids = [decoder.decode(t) for t in _event_tokens(choice)]
                    if ids:
                        if not out.token_ids:
                            on_first_token(ids)
                        out.token_ids.extend(ids)
                    out.text += _event_text(choice)
                    if choice.get("finish_reason"):
                        out.finish_reason = str(choice["finish_reason"])
    except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError,
            requests.exceptions.Timeout) as exc:
        if _timed_out(exc):
            raise ServerFault(
                f"no data from the server for {read_timeout_s:g} s after {len(out.token_ids)} tokens "
                "(MLPERF_LLM_READ_TIMEOUT_S)") from None
        else:
            what = "lost the stream from" if answered else "could not connect to"
            raise ServerFault(f"{what} {url} after {len(out.token_ids)} tokens: {type(exc).__name__}") from None
    count = len(out.token_ids)
    if out.finish_reason is None:
        if done:
            # llama.cpp's Python server does this to a running answer when another request
            # arrives (unless started with --interrupt_requests False): a silently short answer.
            raise ServerFault(f"[DONE] came after {count} tokens without a finish reason: the server cut the "
                              "answer short")
        raise ServerFault(f"the stream ended after {count} tokens without a finish reason or [DONE]: dropped")
    if count == 0:
        raise ServerFault("the server finished without a single token")
    if max_tokens and count > max_tokens:
        raise ServerFault(f"the server streamed {count} tokens, more than max_tokens={max_tokens}")
    if out.reported_tokens is not None and out.reported_tokens != count:
        raise ServerFault(f"the server reported {out.reported_tokens} completion tokens but streamed {count}")
    return out


def _timed_out(exc: Exception) -> bool:
    """A read timeout: before the answer requests raises Timeout; while streaming the body it
    raises ConnectionError wrapping urllib3's ReadTimeoutError."""
    import requests
    from urllib3.exceptions import ReadTimeoutError

    if isinstance(exc, requests.exceptions.Timeout):
        return True
    return any(isinstance(arg, ReadTimeoutError) for arg in exc.args)


def _snippet(resp: Any) -> str:
    try:
        text = str(resp.text)
    except Exception:  # the body may be unreadable as well; the status is the news
        return "(no readable body)"
    return " ".join(text.split())[:300] or "(empty body)"
