"""Deterministic packing: same tree, same bytes; refuses what must not be shipped."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import sys
import tarfile
from pathlib import Path

import pytest

from tests.support import treegen  # noqa: E402

from mlperf_ops.check import check_tree  # noqa: E402
from mlperf_ops.core.errors import CheckFailed  # noqa: E402
from mlperf_ops.ship.pack import pack  # noqa: E402


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    return treegen.copy_tree(tmp_path / "tree")


def test_pack_twice_gives_identical_bytes_even_after_touching_files(tree: Path, tmp_path: Path) -> None:
    first = pack(tree, tmp_path / "a")
    # mtimes, permissions and the time of packing must not matter
    for path in tree.rglob("*"):
        os.utime(path, (1, 1))
    (treegen.scenario_dir(tree) / "README.md").chmod(0o600)
    second = pack(tree, tmp_path / "b")
    assert first.tarball.name == second.tarball.name == "ExampleOrg-v6.1-smoke.tar.gz"
    assert first.tarball.read_bytes() == second.tarball.read_bytes()
    assert first.sha256 == second.sha256 == hashlib.sha256(first.tarball.read_bytes()).hexdigest()
    assert first.sha256_file.read_text() == f"{first.sha256}  {first.tarball.name}\n"


def test_archive_metadata_is_normalised(tree: Path, tmp_path: Path) -> None:
    result = pack(tree, tmp_path / "out")
    raw = result.tarball.read_bytes()
    assert raw[4:8] == b"\x00\x00\x00\x00"  # gzip mtime 0
    assert raw[3] & 0x08 == 0  # no file name in the gzip header
    with tarfile.open(result.tarball) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names)
    assert {n.split("/")[0] for n in names} == {"open", "SMOKE_TREE.txt"}
    assert all(m.uid == 0 and m.gid == 0 and m.uname == "" and m.gname == "" for m in members)
    assert {m.mtime for m in members} == {946684800}
    assert all(m.mode == (0o755 if m.isdir() else 0o644) for m in members)
    assert result.file_count == sum(1 for m in members if m.isfile())


def test_unpacked_tarball_checks_the_same(tree: Path, tmp_path: Path) -> None:
    result = pack(tree, tmp_path / "out")
    unpacked = tmp_path / "unpacked"
    with tarfile.open(result.tarball) as tar:
        tar.extractall(unpacked, filter="data")
    a, b = check_tree(tree), check_tree(unpacked)
    assert b.ok and a.ok
    assert [(f.rule_id, f.path, f.severity) for f in a.findings] == [(f.rule_id, f.path, f.severity) for f in b.findings]
    assert [r.as_dict() for r in a.results] == [r.as_dict() for r in b.results]


def test_report_json(tree: Path, tmp_path: Path) -> None:
    prov = treegen.submitter_dir(tree) / "src" / "mlperf_ops_provenance.json"
    prov.write_text(json.dumps({"round": "v6.1", "runs": {"k1": {"image": "sha256:abc"}}}))
    result = pack(tree, tmp_path / "out")
    doc = json.loads(result.report_file.read_text())
    assert doc["sha256"] == result.sha256 and doc["round"] == "v6.1" and doc["profile"] == "smoke"
    assert doc["checker"]["ok"] is True and doc["checker"]["errors"] == 0
    assert len(doc["results"]) == 3
    assert doc["provenance"]["open/ExampleOrg/src/mlperf_ops_provenance.json"]["runs"]["k1"]["image"] == "sha256:abc"
    assert doc["file_count"] == result.file_count and doc["total_size"] > 0


@pytest.mark.parametrize(
    "make",
    [
        lambda t: (treegen.submitter_dir(t) / "src" / ".env").write_text("SECRET=1\n"),
        lambda t: (treegen.submitter_dir(t) / "src" / "link.md").symlink_to("README.md"),
    ],
    ids=["hidden-file", "symlink"],
)
def test_refuses_hidden_files_and_symlinks_even_with_force(tree: Path, tmp_path: Path, make: object) -> None:
    make(tree)  # type: ignore[operator]
    with pytest.raises(CheckFailed):
        pack(tree, tmp_path / "out")
    with pytest.raises(CheckFailed) as info:
        pack(tree, tmp_path / "out", force=True)
    assert "cannot pack" in info.value.message
    assert not list((tmp_path / "out").glob("*.tar.gz"))


def test_refuses_failing_tree_unless_forced(tree: Path, tmp_path: Path) -> None:
    (treegen.scenario_dir(tree) / "README.md").unlink()
    with pytest.raises(CheckFailed) as info:
        pack(tree, tmp_path / "out")
    assert info.value.exit_code == 3
    forced = pack(tree, tmp_path / "out", force=True, name="forced")
    assert forced.tarball.name == "forced.tar.gz"
    assert json.loads(forced.report_file.read_text())["checker"]["forced"] is True


def test_cli_pack_exit_codes(tree: Path, tmp_path: Path) -> None:
    from mlperf_ops.cli import main

    assert main(["pack", str(tree), "--out", str(tmp_path / "d")]) == 0
    assert (tmp_path / "d" / "ExampleOrg-v6.1-smoke.tar.gz.sha256").is_file()
    (treegen.scenario_dir(tree) / "user.conf").write_text("")
    assert main(["pack", str(tree), "--out", str(tmp_path / "e")]) == 3


def test_gzip_stream_is_valid(tree: Path, tmp_path: Path) -> None:
    result = pack(tree, tmp_path / "out")
    assert gzip.decompress(result.tarball.read_bytes())[:100].startswith(b"SMOKE_TREE.txt")


def test_a_tree_with_a_token_is_never_packed_not_even_forced(tmp_path: Path) -> None:
    """Secrets never reach a tarball: the check names the file and line, never the value."""
    from mlperf_ops.check import check_tree
    from mlperf_ops.core.errors import CheckFailed
    from mlperf_ops.ship.pack import pack

    tree = treegen.copy_tree(tmp_path / "tree")
    token = "hf_" + "Ab1" * 12
    notes = treegen.submitter_dir(tree) / "src" / "README.md"
    notes.write_text(notes.read_text() + f"\nmodel pulled with {token} on the build host\n")
    report = check_tree(tree)
    [leak] = [f for f in report.findings if f.rule_id == "tree.secret"]
    assert leak.path.endswith("src/README.md") and "Hugging Face" in leak.message and token not in leak.message
    for force in (False, True):
        with pytest.raises(CheckFailed) as caught:
            pack(tree, tmp_path / "dist", force=force)
        assert token not in caught.value.message
    assert not list((tmp_path / "dist").glob("*.tar.gz")) if (tmp_path / "dist").exists() else True
