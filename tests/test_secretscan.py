"""The one secret detector (mlperf_ops.secretscan): formats, key names, positions, no value printed."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from mlperf_ops import secretscan
from mlperf_ops.yamlfile import read_yaml

# Shaped like each issuer's tokens; none is a real credential.
TOKENS = {
    "a GitHub token": "ghp_" + "A1b2C3d4E5" * 3 + "f6G7h8",
    "a GitHub fine-grained token": "github_pat_11ABCDEFG0123456789abcd_" + "Z" * 59,
    "a GitLab token": "glpat-" + "x" * 20,
    "an AWS access key id": "AKIAIOSFODNN7EXAMPLE",
    "an AWS secret access key": "aws_secret_access_key = " + "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "a Google API key": "AIza" + "B" * 35,
    "a Hugging Face token": "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh",
    "a Slack token": "xoxb-1234567890-abcdefghij",
    "a Slack webhook URL": "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
    "an npm token": "npm_" + "a" * 36,
    "an MLCommons API key": "mlc_" + "k" * 20,
    "a private key": "-----BEGIN RSA PRIVATE KEY-----",
    "a JWT": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlc2lnbmF0dXJl",
    "a URL with a password": "https://user:hunter2@pypi.internal/simple",
}


@pytest.mark.parametrize("what", sorted(TOKENS))
def test_each_format_is_found_inside_a_sentence(what: str) -> None:
    text = f"first line\nbuilt by the CI with {TOKENS[what]} as its credential\n"
    leaks = secretscan.scan_text(text)
    assert [leak.what for leak in leaks] == [what]
    assert (leaks[0].line, leaks[0].col) == (2, len("built by the CI with ") + 1)


@pytest.mark.parametrize("text", [
    "ghp_short", "the github_pat_ prefix alone", "xghp_" + "a" * 36, "AKIAIOSFODNN7EXAMPL",
    "GPU-6b8a3f6e-1c2d-4e5f-8a9b-0c1d2e3f4a5b", "https://example.com/a:b@c", "eyJhbGciOi is a prefix",
    "sha256 " + "a" * 64,
])
def test_look_alikes_pass(text: str) -> None:
    assert secretscan.scan_value(text) == []


@pytest.mark.parametrize(("key", "flagged"), [
    ("hf_token", True), ("HF_TOKEN", True), ("github_token", True), ("token", True), ("client_secret", True),
    ("db_password", True), ("passwd", True), ("api_key", True), ("apikey", True), ("private_key", True),
    ("credentials", True), ("submitter_id", True), ("aws_secret_access_key", True),
    ("eos_token_id", False), ("token_dtype", False), ("use_token_latencies", False), ("max_tokens", False),
    ("ttft_latency", False), ("tokenizer", False), ("sw_notes", False), ("keyboard", False),
])
def test_credential_key_names(key: str, flagged: bool) -> None:
    assert secretscan.credential_key(key) is flagged


@pytest.mark.parametrize(("url", "flagged"), [
    # a published tree's dataset (open/AMD of inference_results_v5.1) holds the first one
    ("ftp://username:password@ftp.example.com/Repository", False),
    ("https://user:hunter2@EXAMPLE.org:8080/simple", False),
    ("redis://default:s3cret@cache.test", False),
    ("https://u:p@host.invalid/", False),
    ("https://u:p@pypi.internal/simple", True),  # private, but someone's
    ("https://u:p@localhost:5432/db", True),
    ("https://u:p@test/", True),  # a bare intranet name
    ("https://u:p@example.com.attacker.io/", True),
    ("https://u:p@notexample.com/", True),
    ("https://u:p@example.co/", True),
])
def test_a_password_for_a_reserved_example_host_is_documentation(url: str, flagged: bool) -> None:
    leaks = secretscan.scan_text(f"see {url} for the mirror")
    assert bool(leaks) is flagged, leaks


def test_a_uuid_standing_alone_is_a_submitter_id_but_not_inside_text() -> None:
    uuid = "123e4567-e89b-12d3-a456-426614174000"
    assert secretscan.scan_value(uuid)
    assert secretscan.scan_value(f"GPU-{uuid}") == []


def test_document_problems_point_at_the_token_and_never_print_it(tmp_path: Path) -> None:
    token = TOKENS["a Hugging Face token"]
    path = tmp_path / "m.yaml"
    path.write_text(f"a: 1\nnotes: |\n  line one\n  pulled with {token} today\nhf_token: x\nnested: [{{db_password: y}}]\n",
                    encoding="utf-8")
    doc, problems = read_yaml(path)
    assert doc is not None and not problems
    found = secretscan.document_problems(doc)
    assert {(p.line, p.col) for p in found} == {(4, 15), (5, 1), (6, 11)}
    rendered = "\n".join(p.render() for p in found)
    assert token not in rendered and "hf_" + "AbCd" not in rendered


@pytest.mark.parametrize("text", [
    "eyJ" * 400_000, "ghp_" * 300_000, "a" * 1_200_000, "https://" * 150_000, "-----BEGIN " * 100_000,
    "eyJa." * 240_000, "xoxb-" * 240_000,
])
def test_a_megabyte_of_look_alikes_is_scanned_in_linear_time(text: str) -> None:
    start = time.process_time()
    secretscan.scan_text(text)
    assert time.process_time() - start < 5, "quadratic backtracking in a token pattern"


@pytest.mark.parametrize("text", [
    *TOKENS.values(),
    "pypi-AgEIcHlwaS5vcmc" + "x" * 60,
    "AwS_Secret_Access_Key: " + "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "aw\u017f_secret_access_key=" + "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",  # (?i) folds the long s
    "AWS_SECRET_ACCESS_KEY=" + "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "awsSeCrEtAccess\u212aey: " + "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",  # and K to the Kelvin sign
    "\u017fee aw\u017f\u017fECRETacce\u017f\u017f_key='" + "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'",
    "ftp://anonymous:guest@mirror.internal/",
])
def test_the_literal_prefilter_never_hides_a_match(text: str) -> None:
    # scan_text skips a pattern whose literal is absent; every pattern run on its own must agree.
    brute = sorted(((m.start(), what) for pattern, what in secretscan.TOKEN_PATTERNS
                    for m in pattern.finditer(text)))
    assert brute, text
    assert [(leak.start, leak.what) for leak in secretscan.scan_text(text)] == brute


def test_a_literal_starting_inside_another_is_still_scanned() -> None:
    # "glpat-" ends with the "-" that opens "-----BEGIN ": the one-pass test sees the first
    # literal only; the per-pattern tests must still find the private key.
    text = "glpat-----BEGIN RSA PRIVATE KEY-----"
    assert "a private key" in [leak.what for leak in secretscan.scan_text(text)]


@pytest.mark.parametrize("text", [*TOKENS.values(), "aw\u017f_secret_access_key=" + "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"])
def test_a_file_is_scanned_as_its_text(text: str, tmp_path: Path) -> None:
    # scan_file tests the literals on the raw bytes first; invalid UTF-8 around them changes nothing
    path = tmp_path / "log.txt"
    path.write_bytes(b"\xff\xfe bad bytes \xc5 then " + text.encode() + b"\n\x80")
    expected = secretscan.scan_text(path.read_bytes().decode("utf-8", errors="replace"))
    assert expected and secretscan.scan_file(path) == expected
    path.write_bytes(b"\xff\xfe nothing here \xc5\n")
    assert secretscan.scan_file(path) == []


def _every_match(text: str) -> list[tuple[int, int, str]]:
    """Each pattern's finditer over the whole text: what scan_text must find, however it searches."""
    return sorted((m.start(), m.end(), what) for pattern, what in secretscan.TOKEN_PATTERNS for m in pattern.finditer(text))


def _spans(leaks: list[secretscan.Leak]) -> list[tuple[int, int, str]]:
    return sorted((leak.start, leak.end, leak.what) for leak in leaks)


# Pieces that make matches, near misses and overlaps: every literal, every token, the
# characters around a token's edges (word characters, separators, '@', the long s).
_PIECES = [*secretscan.NEEDLES, *TOKENS.values(), "https", "ftp", "user:pw@", ":", "/", "@", ".", "-", "_", " ", "\n", '"', "'",
           "\u017f", "\u00a0", "\u2028", "\x1c", "\U0001f600", "\u00e9", "eyJhbGciOiJIUzI1NiJ9", "secret_access_key=", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"]


def _random_text(rng: random.Random, pieces: int, filler: int) -> str:
    out = []
    for _ in range(pieces):
        out.append(rng.choice(_PIECES))
        out.append("".join(rng.choice("abcXYZ019_-.:/ \n") for _ in range(rng.randrange(filler + 1))))
    return "".join(out)


@pytest.mark.parametrize(("pieces", "filler"), [(8, 400), (40, 40), (200, 3), (400, 0)])
def test_scan_text_finds_what_each_pattern_finds_over_the_whole_text(pieces: int, filler: int) -> None:
    # sparse needles (tried where they are) and dense ones (the whole-text regex instead)
    rng = random.Random(pieces * 1000 + filler)
    for _ in range(150):
        text = _random_text(rng, pieces, filler)
        expected = _every_match(text)
        assert _spans(secretscan.scan_text(text)) == expected, text
        # as scan_file calls it: only the patterns of the needles found in the bytes
        needles = secretscan.needles_in(text.encode())
        assert _spans(secretscan.scan_text(text, needles)) == expected, text


def test_dense_needles_give_way_to_the_regex() -> None:
    # a start per needle would make a list as long as the text: past its budget the search
    # says so (None) and the regex over the whole text decides; no token here either way
    for text in ("a://" * 300_000, "ACCA" * 300_000, "hf_x" * 300_000):
        needles = frozenset(n for n in secretscan.NEEDLES if n in text)  # before any pattern's test
        dense = [i for i, own in enumerate(secretscan.TOKEN_NEEDLES) if not needles.isdisjoint(own)]
        assert dense and all(secretscan._spans_near_needles(text, i, needles) is None for i in dense)
        assert secretscan.scan_text(text, needles) == []


@pytest.mark.parametrize("data", [
    # user and password of 256 characters, each four bytes or three in UTF-8
    "https://".encode() + "\U0001f600".encode() * 256 + b":" + "\u20ac".encode() * 256 + b"@db.corp.net/x",
    # bad bytes in the user and the password: each decodes to U+FFFD, a character of both
    b"ftp://\xff\xfe\x80:\xc5\xc5\xc5@mirror.internal/",
    # white space that only the text's \\s knows (FS, NBSP) passes the bytes' test, the
    # pattern then decides
    b"s3://us\x1cer:pa\xc2\xa0ss@bucket.internal/ s3://user:pass@bucket.internal/",
    b"hf_" + b"a" * 30 + b" and " + b"hf_" + b"Z9" * 20,
])
def test_a_needle_s_test_on_the_bytes_passes_every_match_of_its_pattern(data: bytes) -> None:
    text = data.decode("utf-8", errors="replace")
    expected = _every_match(text)
    assert expected, text
    assert _spans(secretscan.scan_bytes(data)) == expected


@pytest.mark.parametrize(("data", "needle"), [
    (b"see https://github.com/mlcommons/inference and http://a.b:8080/x " * 50, "://"),
    (b"user@host:22 then https://example.org/a:b@c", "://"),  # the '/' ends the user: no password here
    (b"model hf_transformers hf_" + b"x" * 29, "hf_"),
])
def test_a_needle_whose_test_fails_leaves_the_file_undecoded(data: bytes, needle: str) -> None:
    assert needle in data.decode()
    assert needle not in secretscan.needles_in(data)
    assert secretscan.scan_bytes(data) == [] == secretscan.scan_text(data.decode())



def test_the_aws_secret_needle_is_not_in_every_word_with_aws() -> None:
    # "aws" is in "draws" and "laws": such a file must not be decoded and searched
    assert secretscan.needles_in(b"the model draws on case laws; flaws in AWS docs") == frozenset()
    assert secretscan.needles_in(b"AWS_SECRET_ACCESS_KEY") == frozenset({"ECRET"})


def test_every_letter_s_case_partner_is_a_spelling_of_the_aws_needle() -> None:
    # the needle holds each spelling of "ecret" under (?i): a letter with a partner outside
    # ASCII (as "s" has "\u017f") would need that spelling too
    import re
    import sys

    for letter in "ecret":
        partners = {chr(c) for c in range(sys.maxunicode + 1) if re.fullmatch("(?i)" + letter, chr(c))}
        assert partners == {letter, letter.upper()}, letter


def test_a_file_that_grew_since_its_size_was_taken_is_read_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token = TOKENS["an npm token"].encode()
    path = tmp_path / "log.txt"
    path.write_bytes(b"x" * 100 + b" " + token)
    real_fstat = secretscan.os.fstat
    monkeypatch.setattr(secretscan.os, "fstat", lambda fd: type("S", (), {"st_size": 50})())  # taken before it grew
    assert [leak.what for leak in secretscan.scan_file(path)] == ["an npm token"]
    monkeypatch.setattr(secretscan.os, "fstat", real_fstat)
    assert [leak.what for leak in secretscan.scan_file(path)] == ["an npm token"]
