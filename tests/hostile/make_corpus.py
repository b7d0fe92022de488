"""Writes the hostile-input corpus (tests/hostile/) and its expectation table, EXPECTED.yaml.

The files are committed; this script says how each was made (several hold bytes no editor
would save: NUL, invalid UTF-8, lone UTF-16 surrogates). Re-run it after changing a case:

    .venv/bin/python tests/hostile/make_corpus.py

Every case is one file with one failure mode and the line the first problem must point at.
Paths: manifests/*.yaml are manifests, profiles/pipelines/*.yaml pipeline profiles,
image-specs/<case>/image.yaml image specs (the kind follows from the path, as in `validate`).
No folder here holds both pipelines/ and images/, so manifests find the repository's
project root (its images/ and pipelines/), as they would in a real checkout.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent

MANIFEST = """\
version: 1
round: v6.1
submitter: HostileCorp
division: open
status: available
system_type: edge
pipeline: smoke
systems:
  - id: sut-a
    image: cpu
    description:
      sw_notes: "plain notes"
    benchmarks:
      - name: resnet
        scenarios:
          SingleStream: {}
"""
# line 12 is sw_notes, line 16 the SingleStream scenario

PIPELINE = """\
name: NAME
description: a hostile profile
submittable: false
loadgen:
  min_duration_ms: 10000
calibration:
  enabled: true
  duration_ms: 3000
run_timeout_s: 900
transient_retries: 3
require_valid: true
"""

IMAGE = """\
kind: harness
base:
  rootfs: base
wheels:
  requirements: requirements.txt
  python: "3.11"
  glibc: "2.36"
platform: linux/amd64
build_args: {}
build_network: none
accelerator: cpu
execution_provider: CPUExecutionProvider
"""


def lol(prefix: str, indent: str = "") -> str:
    """A billion-laughs alias bomb: ten levels of ten aliases each (10^10 values)."""
    lines = [f"{indent}{prefix}0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        lines.append(f"{indent}{prefix}{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def replace(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def m(old: str, new: str) -> str:
    return replace(MANIFEST, old, new)


NOTES = '      sw_notes: "plain notes"'
SCEN = "          SingleStream: {}"
TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0" * 2  # shaped like a classic token, not a real one
FINE = "github_pat_11ABCDEFG0123456789abcd_" + "x" * 59
HF = "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlc2lnbmF0dXJl"

# (path, content, line, message substring, what)
CASES: list[tuple[str, bytes, int, str, str]] = []


def case(path: str, content: str | bytes, line: int, message: str, what: str) -> None:
    raw = content.encode("utf-8") if isinstance(content, str) else content
    CASES.append((path, raw, line, message, what))


# --- manifests: reading -------------------------------------------------------------------
case("manifests/alias_bomb.yaml", m(NOTES, NOTES + "\n" + lol("lol", "      ")), 17,
     "aliases expand the document to more than", "billion laughs in a description")
case("manifests/alias_bomb_merge.yaml",
     "base: &b {" + ", ".join(f"k{i}: v" for i in range(100)) + "}\n"
     + "".join(f"m{i}: &m{i} [" + ", ".join([f"*{'b' if i == 0 else 'm' + str(i - 1)}"] * 30) + "]\n" for i in range(5)),
     3, "aliases expand the document to more than", "aliases of a 100-key anchor, nested")
case("manifests/alias_recursive_list.yaml", m(NOTES, NOTES + "\n      loop: &a [1, *a]"), 13,
     "recursive alias", "a list containing itself")
case("manifests/alias_recursive_map.yaml", m("systems:\n", "extra: &e\n  self: *e\nsystems:\n"), 9,
     "recursive alias", "a mapping containing itself")
case("manifests/alias_undefined.yaml", m(NOTES, "      sw_notes: *nowhere"), 12,
     "alias *nowhere names no anchor", "an alias without an anchor")
case("manifests/deep_brackets.yaml", m(NOTES, "      sw_notes: " + "[" * 5000), 12,
     "nest", "5,000 opening brackets")
case("manifests/deep_braces.yaml", m(NOTES, "      sw_notes: " + "{a: " * 5000), 12,
     "nest", "5,000 nested flow mappings")
case("manifests/deep_dashes.yaml", m(NOTES, "      sw_notes:\n        " + "- " * 5000 + "x"), 13,
     "nested more than 64 levels deep", "5,000 nested block sequences on one line")
case("manifests/deep_block_mappings.yaml",
     m(NOTES, "      sw_notes:\n" + "".join(" " * (8 + 2 * i) + f"k{i}:\n" for i in range(80)) + " " * 168 + "x"),
     73, "nested more than 64 levels deep", "80 levels of indented mappings")
case("manifests/control_character.yaml", m(NOTES, '      sw_notes: "bell \x07 here"'), 12,
     "control character U+0007", "a BEL character")
case("manifests/escape_sequence.yaml", m(NOTES, '      sw_notes: "\x1b[31mred"'), 12,
     "control character U+001B", "a raw terminal escape sequence")
case("manifests/delete_character.yaml", m(SCEN, "          Single\x7fStream: {}"), 16,
     "control character U+007F", "a DEL character in a key")
case("manifests/c1_control.yaml", m(NOTES, '      sw_notes: "csi \x9b here"'), 12,
     "control character U+009B", "a C1 control character (UTF-8 encoded)")
case("manifests/nul_byte.yaml", m(NOTES, '      sw_notes: "nul \x00 here"'), 12,
     "a NUL byte", "a NUL byte in a value")
case("manifests/invalid_utf8.yaml", m(NOTES, '      sw_notes: "caf@"').encode().replace(b"@", b"\xc3\x28"), 12,
     "not UTF-8 text (byte 0xc3", "an invalid UTF-8 continuation byte")
case("manifests/truncated_utf8.yaml", m(NOTES, '      sw_notes: "euro @').encode().split(b"@")[0] + b"\xe2\x82", 12,
     "not UTF-8 text (byte 0xe2", "a file ending inside a UTF-8 sequence")
case("manifests/overlong_utf8.yaml", m(NOTES, '      sw_notes: "slash @"').encode().replace(b"@", b"\xc0\xaf"), 12,
     "not UTF-8 text (byte 0xc0", "an overlong UTF-8 encoding of '/'")
case("manifests/utf16_without_bom.yaml", MANIFEST.encode("utf-16-le"), 1,
     "a NUL byte", "UTF-16 text without a byte-order mark")
case("manifests/utf16_lone_surrogate.yaml",
     codecs.BOM_UTF16_LE + m(NOTES, '      sw_notes: "@"').encode("utf-16-le").replace("@".encode("utf-16-le"), b"\x00\xd8"),
     12, "not UTF-16-LE text", "UTF-16 with a lone high surrogate")
case("manifests/utf16_odd_length.yaml", codecs.BOM_UTF16_LE + MANIFEST.encode("utf-16-le") + b"\x41", 17,
     "not UTF-16-LE text", "UTF-16 with a dangling final byte")
case("manifests/huge_integer.yaml", m("    image: cpu\n", "    image: cpu\n    container:\n      pids: " + "9" * 5000 + "\n"), 12,
     "a number written with 5000 characters", "a 5,000-digit integer (past Python's int limit)")
case("manifests/sexagesimal_bomb.yaml", m(NOTES, "      sw_notes: " + "59:" * 3000 + "59"), 12,
     "a number written with", "a base-60 integer of 3,000 parts")
case("manifests/python_tag.yaml", m(NOTES, "      sw_notes: !!python/object/apply:os.system [\"echo pwned\"]"), 12,
     "could not determine a constructor", "a Python object tag")
case("manifests/complex_key.yaml", m(NOTES, "      ? [a, b]\n      : notes"), 12,
     "a mapping key must be plain text", "a list as a mapping key")
case("manifests/two_documents.yaml", MANIFEST + "---\nversion: 1\n", 17,
     "more than one YAML document", "a second document")
case("manifests/merge_scalar.yaml", m(NOTES, "      <<: 42"), 12,
     "for merging, but found scalar", "a merge key with a number")
case("manifests/long_value.yaml", m("submitter: HostileCorp", "submitter: " + "A b" * 20000), 3,
     "… (60000 characters) is longer than 64 characters", "a 60 kB submitter (quoted back shortened)")
case("manifests/long_key.yaml", m("status: available", "status: available\n" + "k" * 1000 + ": 1"), 6,
     "unknown key 'kkkkk", "a 1,000-character unknown key (quoted back shortened)")
case("manifests/bad_date.yaml", m("round: v6.1", "round: 2024-13-45"), 2,
     "does not match the expected form", "an impossible date where the round goes")
# --- manifests: secrets -------------------------------------------------------------------
case("manifests/secret_in_sentence.yaml", m(NOTES, f'      sw_notes: "built by the CI with {TOKEN} as its token"'), 12,
     "looks like a GitHub token", "a classic GitHub token inside a sentence")
case("manifests/secret_fine_grained.yaml", m(NOTES, NOTES + f"\n      hw_notes: see {FINE}"), 13,
     "looks like a GitHub fine-grained token", "a fine-grained GitHub token")
case("manifests/secret_hf_token_key.yaml", m(NOTES, NOTES + "\n      hf_token: abc"), 13,
     "key 'hf_token' looks like it holds a secret", "a key named hf_token")
case("manifests/secret_password_key.yaml", m(NOTES, NOTES + "\n      db_password: hunter2"), 13,
     "key 'db_password' looks like it holds a secret", "a key named db_password")
case("manifests/secret_hf_value.yaml", m(NOTES, f"      sw_notes: model pulled with {HF}"), 12,
     "looks like a Hugging Face token", "a Hugging Face token in a value")
case("manifests/secret_aws_key.yaml", m(NOTES, '      sw_notes: "AWS AKIAIOSFODNN7EXAMPLE used"'), 12,
     "looks like an AWS access key id", "an AWS access key id")
case("manifests/secret_slack.yaml", m(NOTES, "      sw_notes: notify xoxb-1234567890-abcdefghij"), 12,
     "looks like a Slack token", "a Slack bot token")
case("manifests/secret_private_key.yaml",
     m(NOTES, "      sw_notes: |\n        key follows\n        -----BEGIN OPENSSH PRIVATE KEY-----\n        b3BlbnNzaC1rZXk=\n"
              "        -----END OPENSSH PRIVATE KEY-----"), 14,
     "looks like a private key", "a private key block on the third line of a literal block")
case("manifests/secret_jwt.yaml", m(NOTES, f"      sw_notes: 'bearer {JWT}'"), 12,
     "looks like a JWT", "a JWT")
# --- manifests: values ------------------------------------------------------------------------
case("manifests/target_qps_zero.yaml", m(SCEN, "          Offline: {target_qps: 0}"), 16,
     "'target_qps' must be more than 0, got 0", "target_qps 0")
case("manifests/target_qps_negative.yaml", m(SCEN, "          Offline:\n            target_qps: -5"), 17,
     "'target_qps' must be more than 0, got -5", "a negative target_qps")
case("manifests/target_latency_nan.yaml", m(SCEN, "          SingleStream: {target_latency: .nan}"), 16,
     "must be a finite number", "a NaN latency")
case("manifests/percentile_150.yaml", m(SCEN, "          SingleStream: {target_latency_percentile: 150}"), 16,
     "must be a percentile above 0 and at most 100", "a percentile of 150")
case("manifests/fractional_count.yaml", m(SCEN, "          SingleStream: {min_query_count: 2.5}"), 16,
     "must be a whole number", "a fractional query count")
case("manifests/ids_differ_in_case.yaml",
     MANIFEST + "  - id: SUT-A\n    image: cpu\n    benchmarks:\n      - name: resnet\n        scenarios:\n          SingleStream: {}\n",
     17, "differing only in case", "two system ids that are one folder on macOS and Windows")
case("manifests/id_device_name.yaml", m("  - id: sut-a", "  - id: con"), 9,
     "reserved device name on Windows", "a system id Windows cannot use as a folder")
case("manifests/id_trailing_dot.yaml", m("  - id: sut-a", "  - id: sut-a."), 9,
     "ends with a dot", "a system id Windows shortens")

# --- pipeline profiles ------------------------------------------------------------------------


def p(name: str, old: str | None = None, new: str = "") -> str:
    text = PIPELINE.replace("NAME", name)
    return replace(text, old, new) if old else text


case("profiles/pipelines/typo_key.yaml", p("typo_key", "submittable: false", "submitable: false"), 3,
     "unknown key 'submitable'", "a misspelt key")
case("profiles/pipelines/alias_bomb.yaml", p("alias_bomb") + "extra:\n" + lol("l", "  "), 17,
     "aliases expand the document", "billion laughs")
case("profiles/pipelines/alias_recursive.yaml", p("alias_recursive") + "extra: &x [*x]\n", 12,
     "recursive alias", "a recursive alias")
case("profiles/pipelines/deep_brackets.yaml", p("deep_brackets", "run_timeout_s: 900", "run_timeout_s: " + "[" * 5000), 9,
     "nest", "5,000 brackets")
case("profiles/pipelines/nul_byte.yaml", p("nul_byte", "a hostile profile", "a \x00 profile"), 2,
     "a NUL byte", "a NUL byte")
case("profiles/pipelines/invalid_utf8.yaml", p("invalid_utf8", "a hostile profile", "a @ profile").encode().replace(b"@", b"\xff"), 2,
     "not UTF-8 text (byte 0xff", "an invalid UTF-8 byte")
case("profiles/pipelines/negative_timeout.yaml", p("negative_timeout", "run_timeout_s: 900", "run_timeout_s: -1"), 9,
     "must be at least 1", "a negative run timeout")
case("profiles/pipelines/zero_duration.yaml", p("zero_duration", "min_duration_ms: 10000", "min_duration_ms: 0"), 5,
     "must be at least 1, got 0", "a zero minimum duration")
case("profiles/pipelines/submittable_short.yaml", p("submittable_short", "submittable: false", "submittable: true"), 5,
     "a submittable profile cannot change LoadGen's minimum duration", "a submittable profile with short runs")
case("profiles/pipelines/name_mismatch.yaml", p("other"), 1,
     "differs from the file name", "a name that is not the file's")
case("profiles/pipelines/wrong_type.yaml", p("wrong_type", "transient_retries: 3", "transient_retries: lots"), 10,
     "must be integer, got str", "a word where a number goes")
case("profiles/pipelines/secret_value.yaml", p("secret_value", "a hostile profile", f"uploads with {TOKEN}"), 2,
     "looks like a GitHub token", "a token in the description")
case("profiles/pipelines/control_character.yaml", p("control_character", "a hostile profile", "a \x1b profile"), 2,
     "control character U+001B", "an escape character")

# --- image specs ------------------------------------------------------------------------------


def i(old: str, new: str) -> str:
    return replace(IMAGE, old, new)


case("image-specs/typo_key/image.yaml", i("accelerator: cpu", "acelerator: cpu"), 11,
     "unknown key 'acelerator'", "a misspelt key")
case("image-specs/alias_bomb/image.yaml", IMAGE + "extra:\n" + lol("l", "  "), 18,
     "aliases expand the document", "billion laughs")
case("image-specs/alias_recursive/image.yaml", i("build_args: {}", "build_args: &b {x: *b}"), 9,
     "recursive alias", "a recursive alias")
case("image-specs/deep_nesting/image.yaml", i("build_args: {}", "build_args: " + "{a: " * 5000), 9,
     "nest", "5,000 nested mappings")
case("image-specs/control_character/image.yaml", i("CPUExecutionProvider", "CPU\x08ExecutionProvider"), 12,
     "control character U+0008", "a backspace")
case("image-specs/invalid_utf8/image.yaml", i("rootfs: base", "rootfs: b@se").encode().replace(b"@", b"\x80"), 3,
     "not UTF-8 text (byte 0x80", "a stray continuation byte")
case("image-specs/path_traversal/image.yaml", i("requirements: requirements.txt", "requirements: ../../../etc/passwd"), 5,
     "does not match the expected form", "a requirements path outside the context")
case("image-specs/secret_build_arg/image.yaml", i("build_args: {}", f"build_args:\n  HF_TOKEN: {HF}"), 10,
     "key 'HF_TOKEN' looks like it holds a secret", "a token passed as a build arg")
case("image-specs/bad_accelerator/image.yaml", i("accelerator: cpu", "accelerator: tpu"), 11,
     "'tpu' is not one of cpu, nvidia, amd", "an accelerator that does not exist")
case("image-specs/python_float/image.yaml", i('python: "3.11"', "python: 3.10"), 6,
     "must be string, got float", "python: 3.10 unquoted (read as 3.1)")
case("image-specs/two_bases/image.yaml", i("  rootfs: base", "  rootfs: base\n  registry: debian:12"), 3,
     "has more than 1 key", "a base naming two sources")
case("image-specs/bom_utf32/image.yaml", codecs.BOM_UTF32_LE + IMAGE.encode("utf-32-le")[:-2], 12,
     "not UTF-32-LE text", "UTF-32 cut short")


def main() -> None:
    expected: dict[str, dict[str, object]] = {}
    for path, raw, line, message, what in CASES:
        target = HERE / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(raw)
        expected[path] = {"what": what, "line": line, "message": message}
    header = ("# What each hostile file must produce: exit 2, no traceback, a problem at `line` whose\n"
              "# message contains `message`. Written by make_corpus.py; read by tests/test_hostile_inputs.py.\n")
    (HERE / "EXPECTED.yaml").write_text(header + yaml.safe_dump(expected, sort_keys=True, allow_unicode=False), "utf-8")


if __name__ == "__main__":
    main()
