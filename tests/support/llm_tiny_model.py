"""Tiny Llama models as GGUF files (~0.5 MB), for llama.cpp's server.

2 blocks, 64-dim embeddings, 4 heads, 128-dim FFN, a 259-token vocabulary: `<unk>`, `<s>`,
`</s>` and the 256 byte tokens. Their answers are meaningless, but their timings and protocol
are a real server's: the server tokenizes the prompt, runs every layer over it, samples,
detokenizes and streams each token.

- `write`: random weights. The output projection is zero except for the printable non-space
  ASCII bytes, so greedy decoding never ends early (`</s>` never wins: every answer is
  max_tokens long) and every token's text is one character, which `vocab()` maps back to its id.
- `write_chain`: the same shapes, but the blocks' output projections (`attn_output`,
  `ffn_down`) are zero, so each position's hidden state is its own token's embedding and the
  next token depends on the current token alone. The embeddings and the output projection
  spell a fixed chain: after a prompt that does not end in one of its characters, greedy decoding answers `CHAIN`
  and then `</s>`. A
  full answer in a few tokens is what lets a test stream LoadGen's full llama3.1-8b sample
  counts (13,368 per run) in seconds; the answer is still several tokens, so TTFT and TPOT
  stay two different measurements.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

N_EMBD, N_BLOCKS, N_HEAD, N_FF, N_CTX = 64, 2, 4, 128, 2048
BYTE_BASE = 3  # ids 0-2 are <unk>, <s>, </s>
PRINTABLE = range(0x21, 0x7F)


def vocab() -> dict[str, int]:
    """Token text -> id for every token the model can answer with."""
    return {chr(b): BYTE_BASE + b for b in PRINTABLE}


N_VOCAB = BYTE_BASE + 256
EOS = 2
# The chain model's answer to every prompt: printable, no spaces (one byte token each, all in vocab()).
CHAIN = "Done."


def _header(path: Path, name: str) -> Any:
    import gguf

    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name(name)
    w.add_context_length(N_CTX)
    w.add_embedding_length(N_EMBD)
    w.add_block_count(N_BLOCKS)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD)
    w.add_rope_dimension_count(N_EMBD // N_HEAD)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(0)  # all F32
    w.add_tokenizer_model("llama")
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    w.add_token_list(tokens)
    w.add_token_scores([0.0] * N_VOCAB)
    w.add_token_types([2, 3, 3] + [6] * 256)  # unknown, control, control, byte
    w.add_unk_token_id(0)
    w.add_bos_token_id(1)
    w.add_eos_token_id(EOS)
    return w


def _finish(w: Any, path: Path) -> Path:
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def write(path: Path, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    n_vocab = N_VOCAB
    w = _header(path, "mlperf-ops tiny random llama")

    def rand(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.2).astype(np.float32)

    w.add_tensor("token_embd.weight", rand(n_vocab, N_EMBD))
    w.add_tensor("output_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    output = np.zeros((n_vocab, N_EMBD), dtype=np.float32)
    rows = [BYTE_BASE + b for b in PRINTABLE]
    output[rows] = rand(len(rows), N_EMBD)
    w.add_tensor("output.weight", output)
    for i in range(N_BLOCKS):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            w.add_tensor(p + name + ".weight", rand(N_EMBD, N_EMBD))
        w.add_tensor(p + "ffn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        w.add_tensor(p + "ffn_gate.weight", rand(N_FF, N_EMBD))
        w.add_tensor(p + "ffn_up.weight", rand(N_FF, N_EMBD))
        w.add_tensor(p + "ffn_down.weight", rand(N_EMBD, N_FF))
    return _finish(w, path)


def chain_ids(answer: str = CHAIN) -> list[int]:
    """The token ids `write_chain`'s model answers with (without the `</s>` that ends it)."""
    return [BYTE_BASE + ord(c) for c in answer]


def write_chain(path: Path, answer: str = CHAIN, seed: int = 0) -> Path:
    """A model whose greedy answer to any prompt is `answer`, then `</s>` (see the module docstring).

    Embedding dimension 0 marks "any token outside the chain", dimension i the chain's i-th
    token; the output row of the chain's first token reads dimension 0, the row of token
    i + 1 reads dimension i, and `</s>`'s row reads the last token's dimension. RMS norm
    keeps a one-hot state one-hot, so each step has one logit far above the rest.
    """
    ids = chain_ids(answer)
    if not 2 <= len(ids) < N_EMBD or len(set(ids)) != len(ids) or not all(i - BYTE_BASE in PRINTABLE for i in ids):
        raise ValueError(f"{answer!r}: 2 to {N_EMBD - 1} distinct printable non-space characters")
    rng = np.random.default_rng(seed)
    w = _header(path, "mlperf-ops tiny chain llama")
    embd = np.zeros((N_VOCAB, N_EMBD), dtype=np.float32)
    embd[:, 0] = 1.0
    output = np.zeros((N_VOCAB, N_EMBD), dtype=np.float32)
    output[ids[0], 0] = 4.0
    for step, token in enumerate(ids, start=1):
        embd[token] = 0.0
        embd[token, step] = 1.0
        output[ids[step] if step < len(ids) else EOS, step] = 4.0
    w.add_tensor("token_embd.weight", embd)
    w.add_tensor("output_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    w.add_tensor("output.weight", output)

    def rand(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.2).astype(np.float32)

    for i in range(N_BLOCKS):
        p = f"blk.{i}."
        # The blocks still run (attention over the whole prompt, the FFN), but add nothing to
        # the residual stream: their output projections are zero.
        w.add_tensor(p + "attn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        for name in ("attn_q", "attn_k", "attn_v"):
            w.add_tensor(p + name + ".weight", rand(N_EMBD, N_EMBD))
        w.add_tensor(p + "attn_output.weight", np.zeros((N_EMBD, N_EMBD), dtype=np.float32))
        w.add_tensor(p + "ffn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        w.add_tensor(p + "ffn_gate.weight", rand(N_FF, N_EMBD))
        w.add_tensor(p + "ffn_up.weight", rand(N_FF, N_EMBD))
        w.add_tensor(p + "ffn_down.weight", np.zeros((N_EMBD, N_FF), dtype=np.float32))
    return _finish(w, path)
