"""The endpoint harness: any OpenAI-compatible server (vLLM, SGLang, TensorRT-LLM, llama.cpp)
as a LoadGen SUT for the LLM benchmarks.

`python3 -m harness.llm run` in an image (`python -m mlperf_ops.harness.llm run` on the host).
Like the rest of the harness package: relative imports only, nothing from the rest of
mlperf_ops, and LoadGen and requests are imported only by the modules that use them.
"""
