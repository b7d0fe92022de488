"""images.py without an engine: targets, spec hashes, staging, skip logic, Dockerfile lint."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import pytest

from mlperf_ops.stacks import images
from mlperf_ops.core.errors import UsageError

PROJECT_IMAGES = Path(__file__).resolve().parents[1] / "images"
TARGETS = ["cpu", "example-vendor", "llm-endpoint", "nvidia-cuda", "rocm"]


@pytest.fixture()
def tree(tmp_path: Path) -> tuple[Path, Path]:
    """A private copy of images/ and a small harness package, safe to edit."""
    images_dir = tmp_path / "images"
    shutil.copytree(PROJECT_IMAGES, images_dir,
                    ignore=shutil.ignore_patterns("wheelhouse", "harness", "__pycache__"))
    harness = tmp_path / "harness"
    harness.mkdir()
    (harness / "__init__.py").write_text("")
    (harness / "__main__.py").write_text("print('harness')\n")
    (harness / "__pycache__").mkdir()
    (harness / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    return images_dir, harness


def test_project_targets_are_listed_without_the_base():
    assert images.list_targets(PROJECT_IMAGES) == TARGETS


@pytest.mark.parametrize("name", TARGETS)
def test_project_targets_load(name: str):
    target = images.load_target(PROJECT_IMAGES, name)
    assert target.name == name
    assert target.requirements.is_file()
    assert target.platform == "linux/amd64"
    assert (target.base_rootfs is None) != (target.base_registry is None)


def test_cpu_target_fields():
    target = images.load_target(PROJECT_IMAGES, "cpu")
    assert target.base_rootfs == "base"
    assert (target.python, target.glibc) == ("3.11", "2.36")  # from the base recipe
    assert target.accelerator == "cpu"
    assert target.execution_provider == "CPUExecutionProvider"
    assert target.build_network == "none"
    pins = target.requirements.read_text()
    for pin in ("mlcommons-loadgen==6.0.17", "onnxruntime==", "numpy==", "scikit-learn==",
                "skl2onnx==", "onnx=="):
        assert pin in pins


def test_gpu_targets_pin_their_registry_base():
    cuda = images.load_target(PROJECT_IMAGES, "nvidia-cuda")
    assert cuda.base_registry and "@sha256:" in cuda.base_registry
    assert cuda.accelerator == "nvidia"
    assert images.load_target(PROJECT_IMAGES, "rocm").accelerator == "amd"


def test_unknown_target_suggests_the_closest():
    with pytest.raises(UsageError) as caught:
        images.load_target(PROJECT_IMAGES, "cpuu")
    assert "cpuu" in caught.value.message
    assert "'cpu'" in (caught.value.hint or "")


def test_loose_pin_is_refused(tree):
    images_dir, _ = tree
    req = images_dir / "cpu" / "requirements.txt"
    req.write_text(req.read_text() + "requests>=2\n")
    with pytest.raises(UsageError) as caught:
        images.load_target(images_dir, "cpu")
    assert "not an exact pin" in caught.value.message


def test_spec_hash_is_stable(tree):
    images_dir, harness = tree
    target = images.load_target(images_dir, "cpu")
    first = images.spec_hash(target, harness)
    assert first == images.spec_hash(images.load_target(images_dir, "cpu"), harness)
    assert len(first) == 64
    assert images.image_tag(target, harness) == f"mlperf-ops/cpu:{first[:16]}"


def test_spec_hash_ignores_bytecode_caches(tree):
    images_dir, harness = tree
    target = images.load_target(images_dir, "cpu")
    before = images.spec_hash(target, harness)
    (harness / "__pycache__" / "y.cpython-311.pyc").write_bytes(b"\1")
    assert images.spec_hash(target, harness) == before


@pytest.mark.parametrize(
    "edit",
    [
        "cpu/Dockerfile",
        "cpu/image.yaml",
        "cpu/requirements.txt",
        "base/build-rootfs.sh",
        "harness/__main__.py",
        "harness/new_module.py",
    ],
)
def test_any_input_change_changes_the_hash(tree, edit: str):
    images_dir, harness = tree
    before = images.spec_hash(images.load_target(images_dir, "cpu"), harness)
    path = harness / edit.split("/", 1)[1] if edit.startswith("harness/") else images_dir / edit
    with path.open("a") as handle:
        handle.write("\n# changed\n")
    after = images.spec_hash(images.load_target(images_dir, "cpu"), harness)
    assert after != before


def test_base_mirror_change_changes_the_hash(tree):
    images_dir, harness = tree
    before = images.spec_hash(images.load_target(images_dir, "cpu"), harness)
    base_yaml = images_dir / "base" / "image.yaml"
    base_yaml.write_text(base_yaml.read_text().replace("deb.debian.org", "mirror.example"))
    assert images.spec_hash(images.load_target(images_dir, "cpu"), harness) != before


def test_base_identity_is_the_recipe_not_its_comments(tree):
    # Rebuilding the base costs a debootstrap: only the recipe's values identify it.
    images_dir, harness = tree
    before = images.spec_hash(images.load_target(images_dir, "cpu"), harness)
    base_yaml = images_dir / "base" / "image.yaml"
    base_yaml.write_text("# reworded comment\n" + base_yaml.read_text())
    assert images.spec_hash(images.load_target(images_dir, "cpu"), harness) == before


def test_platform_tags_cover_older_manylinux():
    tags = images.platform_tags("2.36")
    assert tags[0] == "manylinux_2_36_x86_64"
    assert "manylinux_2_28_x86_64" in tags and "manylinux_2_17_x86_64" in tags
    assert tags[-1] == "manylinux2014_x86_64"


@pytest.mark.parametrize("name", TARGETS)
def test_dockerfiles_pass_hadolint(name: str):
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    dockerfile = PROJECT_IMAGES / name / "Dockerfile"
    done = subprocess.run([hadolint, str(dockerfile)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "# syntax=" not in dockerfile.read_text()


@dataclass
class _Info:
    id: str
    # every fake image's config: the CMD and ENV a controller built FROM it records
    command: tuple[str, ...] = ("python3", "-m", "harness", "run")
    env: tuple[str, ...] = ("PATH=/opt/venv/bin:/usr/bin", "HOME=/tmp")


class FakeEngine:
    """Records calls; pretends every built or imported tag then exists."""

    def __init__(self) -> None:
        self.tags: dict[str, str] = {}
        self.builds: list[tuple[str, dict[str, str], list[str]]] = []
        self.imports: list[str] = []

    def image_info(self, tag: str) -> Any:
        return _Info(self.tags[tag]) if tag in self.tags else None

    def build(self, context_dir: Path, tag: str, labels: Mapping[str, str],
              buildargs: Mapping[str, str], log_path: Path,
              on_line: Callable[[str], None] | None = None, *, network_mode: str = "none",
              nocache: bool = False) -> str:
        staged = sorted(p.relative_to(context_dir).as_posix() for p in context_dir.rglob("*") if p.is_file())
        self.builds.append((tag, dict(buildargs), staged))
        assert labels["org.mlperf-ops.managed"] == "true"
        assert labels["org.mlperf-ops.target"] == tag.split("/")[1].split(":")[0]
        assert labels["org.mlperf-ops.spec-hash"].startswith(tag.rsplit(":", 1)[1])
        assert network_mode == "none"
        self.tags[tag] = f"sha256:{len(self.tags):064d}"
        return self.tags[tag]

    def import_rootfs(self, tar_path: Path, tag: str, labels: Mapping[str, str]) -> str:
        self.imports.append(tag)
        self.tags[tag] = "sha256:base"
        return "sha256:base"


def test_ensure_image_builds_once_then_skips(tree, tmp_path):
    images_dir, harness = tree
    target = images.load_target(images_dir, "cpu")
    recipe = images.load_rootfs(images_dir, "base")
    engine = FakeEngine()
    engine.tags[recipe.tag] = "sha256:base"  # the base exists: no debootstrap in a unit test
    settings = images.BuildSettings(wheel_cache=tmp_path / "wheels", log_dir=tmp_path / "logs")
    # A ready wheelhouse in the cache, so nothing is downloaded.
    wheelhouse = settings.wheel_cache / images.wheelhouse_key(target)
    wheelhouse.mkdir(parents=True)
    (wheelhouse / "demo-1.0-py3-none-any.whl").write_bytes(b"wheel")
    (wheelhouse / ".complete").write_text("")
    events: list[images.ImageEvent] = []

    first = images.ensure_image(engine, target, harness, on_event=events.append, settings=settings)
    assert first.built
    assert first.tag == images.image_tag(target, harness)
    ((tag, buildargs, staged),) = engine.builds
    assert tag == first.tag
    assert buildargs["BASE_IMAGE"] == recipe.tag
    assert {"Dockerfile", "image.yaml", "requirements.txt", "harness/__main__.py",
            "wheelhouse/demo-1.0-py3-none-any.whl"} <= set(staged)
    assert not any("__pycache__" in p for p in staged)
    assert engine.imports == []

    second = images.ensure_image(engine, target, harness, settings=settings)
    assert not second.built
    assert second.reason == f"up to date: image {first.tag} exists"
    assert second.image_id == first.image_id
    assert len(engine.builds) == 1


# --- controller images (images/controller/): mlperf-ops on top of a harness target ---------


@pytest.fixture()
def project(tmp_path: Path) -> tuple[Path, Path]:
    """A private project: images/ (with the controller), pipelines/, and a small mlperf_ops package."""
    root = tmp_path / "proj"
    shutil.copytree(PROJECT_IMAGES, root / "images",
                    ignore=shutil.ignore_patterns("wheelhouse", "harness", "__pycache__"))
    shutil.copytree(PROJECT_IMAGES.parent / "pipelines", root / "pipelines")
    package = root / "mlperf_ops"
    (package / "harness" / "__pycache__").mkdir(parents=True)
    (package / "__init__.py").write_text("__version__ = '0'\n")
    (package / "cli.py").write_text("def main():\n    return 0\n")
    (package / "harness" / "__init__.py").write_text("")
    (package / "harness" / "__main__.py").write_text("print('harness')\n")
    (package / "harness" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    return root / "images", package


def _controller_hash(images_dir: Path, package: Path) -> str:
    return images.spec_hash(images.load_controller(images_dir, "cpu"), package / "harness", package_dir=package)


def _cpu_hash(images_dir: Path, package: Path) -> str:
    return images.spec_hash(images.load_target(images_dir, "cpu"), package / "harness")


@pytest.mark.parametrize("harness", TARGETS)
def test_project_controller_loads_for_every_target(harness: str):
    target = images.load_target(PROJECT_IMAGES, harness)
    controller = images.load_controller(PROJECT_IMAGES, harness)
    assert controller.name == f"{harness}-controller" and controller.kind == "controller"
    assert controller.base_target == harness and controller.base_rootfs is None and controller.base_registry is None
    # FROM the harness image: its Python and glibc pick the controller's wheels.
    assert (controller.python, controller.glibc) == (target.python, target.glibc)
    assert (controller.accelerator, controller.execution_provider) == (target.accelerator, target.execution_provider)
    assert controller.context_dir == PROJECT_IMAGES / "controller"
    assert images.image_tag(controller).startswith(f"mlperf-ops/{harness}-controller:")
    assert "controller" not in images.list_targets(PROJECT_IMAGES)


def test_controller_requirements_cover_the_runtime_dependencies():
    pins = {line.split("==")[0].lower().replace("_", "-")
            for line in (PROJECT_IMAGES / "controller" / "requirements.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")}
    assert {"pyyaml", "jsonschema", "docker", "tenacity", "requests", "click", "rich"} <= pins


def test_unknown_harness_for_a_controller_suggests_the_closest():
    with pytest.raises(UsageError) as caught:
        images.load_controller(PROJECT_IMAGES, "cpuu")
    assert "cpuu" in caught.value.message and "'cpu'" in (caught.value.hint or "")


def test_a_controller_context_may_not_name_a_base(project):
    images_dir, _ = project
    spec = images_dir / "controller" / "image.yaml"
    spec.write_text(spec.read_text() + "base:\n  target: cpu\n")
    with pytest.raises(UsageError) as caught:
        images.load_controller(images_dir, "cpu")
    assert "base" in caught.value.message


def test_a_harness_target_may_be_built_from_another_target(project):
    images_dir, package = project
    shutil.copytree(images_dir / "cpu", images_dir / "cpu-extra")
    spec = images_dir / "cpu-extra" / "image.yaml"
    spec.write_text(spec.read_text().replace("base:\n  rootfs: base\n", "base:\n  target: cpu\n"))
    extra = images.load_target(images_dir, "cpu-extra")
    assert extra.base_target == "cpu" and extra.base_rootfs is None
    assert (extra.python, extra.glibc) == ("3.11", "2.36")
    before = images.spec_hash(extra, package / "harness")
    with (images_dir / "cpu" / "requirements.txt").open("a") as handle:
        handle.write("# the base target changed\n")
    assert images.spec_hash(extra, package / "harness") != before


def test_base_target_cycles_are_usage_errors(project):
    images_dir, _ = project
    for name, other in (("a", "b"), ("b", "a")):
        shutil.copytree(images_dir / "cpu", images_dir / name)
        spec = images_dir / name / "image.yaml"
        spec.write_text(spec.read_text().replace("base:\n  rootfs: base\n", f"base:\n  target: {other}\n"))
    with pytest.raises(UsageError) as caught:
        images.load_target(images_dir, "a")
    assert "cycle" in caught.value.message


@pytest.mark.parametrize(
    "edit",
    [
        "images/controller/Dockerfile",
        "images/controller/requirements.txt",
        "images/cpu/Dockerfile",  # the base target's inputs
        "images/rocm/requirements.txt",  # another target's context, carried for planning
        "images/base/build-rootfs.sh",
        "pipelines/smoke.yaml",  # project files the image carries
        "mlperf_ops/cli.py",  # the package
        "mlperf_ops/harness/__main__.py",
    ],
)
def test_controller_hash_covers_base_package_and_project(project, edit: str):
    images_dir, package = project
    before = _controller_hash(images_dir, package)
    with (images_dir.parent / edit).open("a") as handle:
        handle.write("\n# changed\n")
    assert _controller_hash(images_dir, package) != before


def test_a_new_harness_cmd_means_a_new_controller(project):
    # The controller records its harness image's CMD (execute/local.py runs it in the pod): read
    # from the image the harness tag names, so a changed CMD must give both a new tag.
    images_dir, package = project
    before = (_cpu_hash(images_dir, package), _controller_hash(images_dir, package))
    dockerfile = images_dir / "cpu" / "Dockerfile"
    text = dockerfile.read_text()
    assert 'CMD ["python3", "-m", "harness", "run"]' in text
    dockerfile.write_text(text.replace('CMD ["python3", "-m", "harness", "run"]',
                                       'CMD ["python3", "-m", "harness.v2"]'))
    after = (_cpu_hash(images_dir, package), _controller_hash(images_dir, package))
    assert after[0] != before[0] and after[1] != before[1]


def test_controller_changes_never_change_the_harness_identity(project):
    # Run keys use the harness target's spec hash: the controller must not move it.
    images_dir, package = project
    before = _cpu_hash(images_dir, package)
    for rel in ("images/controller/Dockerfile", "mlperf_ops/cli.py", "pipelines/smoke.yaml"):
        with (images_dir.parent / rel).open("a") as handle:
            handle.write("\n# changed\n")
    assert _cpu_hash(images_dir, package) == before


def test_controller_hash_ignores_bytecode_caches(project):
    images_dir, package = project
    before = _controller_hash(images_dir, package)
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "cli.cpython-311.pyc").write_bytes(b"\1")
    assert _controller_hash(images_dir, package) == before


def test_staged_controller_context_reproduces_the_harness_identity(project, tmp_path):
    """What the Dockerfile copies to /opt/mlperf-ops gives, in the pod, the host's identity of cpu."""
    images_dir, package = project
    controller = images.load_controller(images_dir, "cpu")
    wheelhouse = tmp_path / "wh"
    wheelhouse.mkdir()
    staged = tmp_path / "context"
    images.stage_context(controller, package / "harness", wheelhouse, staged, package_dir=package)
    pod_images = staged / images.CONTEXT_PROJECT / "images"
    pod_package = staged / images.CONTEXT_PACKAGE
    # Every harness target, not only cpu: `apply --system ID` plans the whole manifest.
    assert images.list_targets(pod_images) == TARGETS
    for name in TARGETS:
        assert images.spec_hash(images.load_target(pod_images, name), pod_package / "harness") \
            == images.spec_hash(images.load_target(images_dir, name), package / "harness")
    assert sorted(p.name for p in (staged / "project" / "pipelines").iterdir()) == ["smoke.yaml", "submission.yaml"]


def test_controller_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    dockerfile = PROJECT_IMAGES / "controller" / "Dockerfile"
    done = subprocess.run([hadolint, str(dockerfile)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "# syntax=" not in dockerfile.read_text()


def test_ensure_controller_builds_its_harness_image_first(project, tmp_path):
    images_dir, package = project
    harness_dir = package / "harness"
    cpu = images.load_target(images_dir, "cpu")
    controller = images.load_controller(images_dir, "cpu")
    engine = FakeEngine()
    engine.tags[images.load_rootfs(images_dir, "base").tag] = "sha256:base"
    settings = images.BuildSettings(wheel_cache=tmp_path / "wheels", log_dir=tmp_path / "logs")
    for target in (cpu, controller):  # ready wheelhouses: nothing is downloaded
        wheelhouse = settings.wheel_cache / images.wheelhouse_key(target)
        wheelhouse.mkdir(parents=True)
        (wheelhouse / f"{target.name}-1.0-py3-none-any.whl").write_bytes(b"wheel")
        (wheelhouse / ".complete").write_text("")

    events: list[images.ImageEvent] = []
    ref = images.ensure_image(engine, controller, harness_dir, settings=settings, package_dir=package,
                              on_event=events.append)
    assert ref.built and ref.tag == images.image_tag(controller, harness_dir, package_dir=package)
    assert any(e.target == controller.name and "harness command" in e.message
               and '["python3", "-m", "harness", "run"]' in e.message for e in events), events
    cpu_tag = images.image_tag(cpu, harness_dir)
    assert [tag for tag, _, _ in engine.builds] == [cpu_tag, ref.tag]
    _, buildargs, staged = engine.builds[1]
    assert buildargs["BASE_IMAGE"] == cpu_tag
    # the harness image's CMD and ENV names, for the local executor in the pod (execute/local.py)
    assert json.loads(buildargs["MLPERF_HARNESS_COMMAND"]) == ["python3", "-m", "harness", "run"]
    assert json.loads(buildargs["MLPERF_HARNESS_ENV"]) == ["HOME", "PATH"]
    assert "MLPERF_HARNESS_COMMAND" not in engine.builds[0][1]  # a harness image records nothing
    assert {"Dockerfile", "image.yaml", "requirements.txt", "mlperf-ops",
            "wheelhouse/cpu-controller-1.0-py3-none-any.whl",
            "mlperf_ops/__init__.py", "mlperf_ops/harness/__main__.py",
            "project/pipelines/smoke.yaml", "project/images/cpu/Dockerfile",
            "project/images/cpu/requirements.txt", "project/images/base/image.yaml"} <= set(staged)
    assert not any(p.startswith("harness/") or "__pycache__" in p for p in staged)
    assert "project/images/nvidia-cuda/Dockerfile" in staged
    assert not any(p.startswith("project/images/controller/") for p in staged)

    again = images.ensure_image(engine, controller, harness_dir, settings=settings, package_dir=package)
    assert not again.built and len(engine.builds) == 2


def test_cli_for_without_the_controller_is_a_usage_error():
    done = subprocess.run(
        [str(Path(sys.executable).parent / "mlperf-ops"), "images", "build", "cpu", "--for", "cpu",
         "--images-dir", str(PROJECT_IMAGES)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "--for" in done.stderr and "Traceback" not in done.stderr
