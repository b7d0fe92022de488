"""A tiny Llama model with random weights as a GGUF file (~0.5 MB), for llama.cpp's server.

2 blocks, 64-dim embeddings, 4 heads, 128-dim FFN, a 259-token vocabulary: `<unk>`, `<s>`,
`</s>` and the 256 byte tokens. Its answers are meaningless, but its timings and protocol are
a real server's. The output projection is zero except for the printable non-space ASCII
bytes, so greedy decoding never ends early (`</s>` never wins: every answer is max_tokens
long) and every token's text is one character, which `vocab()` maps back to its id.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

N_EMBD, N_BLOCKS, N_HEAD, N_FF, N_CTX = 64, 2, 4, 128, 2048
BYTE_BASE = 3  # ids 0-2 are <unk>, <s>, </s>
PRINTABLE = range(0x21, 0x7F)


def vocab() -> dict[str, int]:
    """Token text -> id for every token the model can answer with."""
    return {chr(b): BYTE_BASE + b for b in PRINTABLE}


def write(path: Path, seed: int = 0) -> Path:
    import gguf

    rng = np.random.default_rng(seed)
    n_vocab = BYTE_BASE + 256
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("mlperf-ops tiny random llama")
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
    w.add_token_scores([0.0] * n_vocab)
    w.add_token_types([2, 3, 3] + [6] * 256)  # unknown, control, control, byte
    w.add_unk_token_id(0)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)

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
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
