"""The benchmarks' official generation settings, as the MLCommons reference sends them.

Sources (mlcommons/inference @ b66003e10e2db4b8c36a448b0545ec90fcc6e9e9):
- llama3.1-8b (and -edge): language/llama3.1-8b/SUT_VLLM.py `gen_kwargs`
  (temperature 0, top_p 1, top_k 1, seed 42, max_tokens 128, min_tokens 1).
- llama2-70b: language/llama2-70b/SUT.py `gen_kwargs` (greedy, max_new_tokens 1024,
  min_new_tokens 1) and SUT_API.py's streaming request (max_tokens 1024, temperature 0,
  logprobs 1).
The settings go into the request body as the OpenAI completions API names them; `top_k`,
`seed` and `min_tokens` are extensions that vLLM, SGLang and llama.cpp's server accept.

`api` is the endpoint a benchmark's reference sends to. Both served benchmarks use
`/v1/completions` with the preprocessed prompt, which already holds the model's prompt format
(llama2-70b's SUT_API.py; no reference script of either sends chat requests). `chat` (the
prompt text as a user message to `/v1/chat/completions`, the server applying the model's chat
template) is there for benchmarks whose reference applies a chat template (deepseek-r1's
backends do) and can be chosen per run with MLPERF_LLM_API.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Generation:
    max_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int | None = None
    seed: int | None = None
    min_tokens: int = 1
    api: str = "completions"

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "min_tokens": self.min_tokens,
        }
        if self.top_k is not None:
            out["top_k"] = self.top_k
        if self.seed is not None:
            out["seed"] = self.seed
        return out


_LLAMA31_8B = Generation(max_tokens=128, top_k=1, seed=42)
_LLAMA2_70B = Generation(max_tokens=1024)

# Checker benchmark names (mlperf_ops/rules) -> settings. Benchmarks not listed here are not
# served by this harness: README.md says what each of them needs.
GENERATION: dict[str, Generation] = {
    "llama3.1-8b": _LLAMA31_8B,
    "llama3.1-8b-edge": _LLAMA31_8B,
    "llama2-70b-99.9": _LLAMA2_70B,
}


def generation_for(benchmark: str) -> Generation | None:
    return GENERATION.get(benchmark)
