"""Token ids -> text, as the reference evaluations decode the accuracy log.

Both reference evaluations (mlcommons/inference b66003e1) load the model's tokenizer with
`transformers.AutoTokenizer.from_pretrained(path, use_fast=False)` and call
`batch_decode(ids, skip_special_tokens=True)`. What that runs depends on the model's files:

- Llama 3.1's `tokenizer_config.json` names `PreTrainedTokenizerFast` (there is no slow
  Llama 3 tokenizer), so transformers decodes with the Rust `tokenizers` library from
  `tokenizer.json`: special tokens skipped by the library, then, if the config's
  `clean_up_tokenization_spaces` is true (transformers 4.46's default is false), the
  English clean-up of spaces before punctuation and contractions.
- Llama 2's config names `LlamaTokenizer`; with `use_fast=False` that is the slow
  SentencePiece tokenizer on `tokenizer.model`: the special ids (unk, bos, eos) dropped, the
  first piece's leading "▁" removed, SentencePiece's own decode of the rest, then the same
  optional clean-up.

This module does the same with `tokenizers` and `sentencepiece` directly, without
transformers (and its torch-sized dependency tree) in the image. What it does not do:
transformers' handling of added tokens that are not special in a slow tokenizer (Llama 2
has none) and `spaces_between_special_tokens` (only matters when special tokens are kept).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from ..errors import HarnessError

# transformers' PreTrainedTokenizerBase.clean_up_tokenization, in its order.
_CLEAN_UP = ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
             (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"))
_SLOW_SENTENCEPIECE = ("LlamaTokenizer", "LlamaTokenizerFast")  # use_fast=False picks the slow one
_FAST_ONLY = ("PreTrainedTokenizerFast",)


class Detokenizer(Protocol):
    kind: str

    def decode(self, ids: Sequence[int]) -> str: ...


def clean_up(text: str) -> str:
    for before, after in _CLEAN_UP:
        text = text.replace(before, after)
    return text


class FastDetokenizer:
    kind = "tokenizer.json"

    def __init__(self, path: Path, clean: bool) -> None:
        from tokenizers import Tokenizer

        self._tok: Any = Tokenizer.from_file(str(path))
        self._clean = clean

    def decode(self, ids: Sequence[int]) -> str:
        text = str(self._tok.decode(list(ids), skip_special_tokens=True))
        return clean_up(text) if self._clean else text


class SentencePieceDetokenizer:
    kind = "tokenizer.model"

    def __init__(self, path: Path, clean: bool) -> None:
        import sentencepiece

        self._sp: Any = sentencepiece.SentencePieceProcessor(model_file=str(path))
        self._special = {i for i in (self._sp.unk_id(), self._sp.bos_id(), self._sp.eos_id(), self._sp.pad_id())
                         if i >= 0}
        self._size = int(self._sp.get_piece_size())
        self._clean = clean

    def decode(self, ids: Sequence[int]) -> str:
        kept = [int(i) for i in ids if int(i) not in self._special]
        if not kept:
            return ""
        bad = [i for i in kept if not 0 <= i < self._size]
        if bad:
            raise ValueError(f"token id {bad[0]} is outside the tokenizer's {self._size} pieces")
        pieces = [str(self._sp.id_to_piece(i)) for i in kept]
        if pieces[0].startswith("\u2581"):  # the prefix space the slow tokenizer adds when encoding
            pieces[0] = pieces[0][1:]
        text = str(self._sp.decode_pieces(pieces))
        return clean_up(text) if self._clean else text


def load(path: Path) -> Detokenizer:
    """The tokenizer in `path`: a model directory (tokenizer_config.json decides, as in
    transformers), or a tokenizer.json / tokenizer.model file itself."""
    hint = ("the model directory with its tokenizer files (tokenizer_config.json and tokenizer.json or "
            "tokenizer.model), or set MLPERF_LLM_TOKENIZER")
    if path.is_file():
        folder, chosen = path.parent, path
    elif path.is_dir():
        folder, chosen = path, None
    else:
        raise HarnessError(f"no tokenizer at {path}", hint=hint)
    config: dict[str, Any] = {}
    config_path = folder / "tokenizer_config.json"
    if config_path.is_file():
        try:
            loaded = json.loads(config_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise HarnessError(f"cannot read {config_path}: {exc}") from exc
        if isinstance(loaded, dict):
            config = loaded
    clean = bool(config.get("clean_up_tokenization_spaces", False))
    if chosen is None:
        cls = str(config.get("tokenizer_class") or "")
        fast, slow = folder / "tokenizer.json", folder / "tokenizer.model"
        if cls in _SLOW_SENTENCEPIECE and slow.is_file():
            chosen = slow
        elif cls and cls not in _FAST_ONLY + _SLOW_SENTENCEPIECE:
            raise HarnessError(f"{config_path}: tokenizer_class {cls!r} is not one this scorer decodes like "
                               "transformers does", hint="LlamaTokenizer (tokenizer.model) or "
                               "PreTrainedTokenizerFast (tokenizer.json)")
        elif fast.is_file():
            chosen = fast
        elif slow.is_file():
            chosen = slow
        else:
            raise HarnessError(f"{folder} holds neither tokenizer.json nor tokenizer.model", hint=hint)
    try:
        if chosen.name.endswith(".model"):
            return SentencePieceDetokenizer(chosen, clean)
        return FastDetokenizer(chosen, clean)
    except Exception as exc:  # tokenizers and sentencepiece raise their own, undocumented types
        raise HarnessError(f"cannot load the tokenizer {chosen}: {exc}", hint=hint) from exc
