"""Content-addressed harness images: one build context per hardware target under `images/`.

A target's tag is `mlperf-ops/<target>:<16 hex of spec_hash>`, where the spec hash covers
every build input (Dockerfile, image.yaml, the pinned requirements, the harness sources,
build args and the base's identity). It is computed from files alone — no engine, no
download — so the planner can key runs on it before anything is built, and
`ensure_image` builds only when no image carries that tag.

Builds are offline: wheels are downloaded on the host into a cache keyed by the
requirements (never inside the state dir), staged with the context, and installed with
`pip --no-index`; the base is our own debootstrap root file system (images/base/) unless a
target names a registry image or another target. Docker itself is reached only through
`mlperf_ops.execute.engine`.

A *controller* image (images/controller/, `kind: controller`) is built FROM a harness
target's image and adds the `mlperf-ops` command plus the project files `apply` reads, so
a Kubernetes pod can run `mlperf-ops apply` with the local executor. It is generic: the
harness target it extends is chosen when it is loaded (`load_controller(..., "cpu")` gives
the target `cpu-controller`), so one context serves every hardware target. Run keys never
use a controller's hash: they use the harness target's (`controller.image_identity`).
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import fcntl
import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Literal, Mapping, Protocol, Sequence

from mlperf_ops import __version__, secretscan
from mlperf_ops.core.cachedir import cache_root
from mlperf_ops.core.hashing import file_sha256
from mlperf_ops.core.errors import FileInvalid, OperationalError, Problem, UsageError
from mlperf_ops.execute.local import HARNESS_COMMAND_ENV, harness_defaults_env
from mlperf_ops.yamlfile import read_yaml
from mlperf_ops.yamlfile.schema import packaged_schema, schema_problems

TAG_PREFIX = "mlperf-ops"
HASH_SCHEME = "mlperf-ops-image-spec/1"
LABEL_MANAGED = "org.mlperf-ops.managed"
LABEL_SPEC_HASH = "org.mlperf-ops.spec-hash"
LABEL_TARGET = "org.mlperf-ops.target"
LABEL_TOOL_VERSION = "org.mlperf-ops.tool-version"
ROOTFS_SCRIPT = "build-rootfs.sh"
DEFAULT_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # mlperf_ops/
DEFAULT_HARNESS_DIR = DEFAULT_PACKAGE_DIR / "harness"
IGNORED_HARNESS_PARTS = {"__pycache__", ".mypy_cache", ".pytest_cache"}
CONTROLLER_KIND = "controller"
CONTROLLER_SUFFIX = "-controller"
# Where a controller image keeps the project files `apply` reads (MLPERF_OPS_PROJECT in the pod).
# In a controller's build context the package goes under mlperf_ops/ and those files under project/.
CONTEXT_PACKAGE = "mlperf_ops"
CONTEXT_PROJECT = "project"
IMAGE_EXAMPLE = "images/cpu/image.yaml"

Accelerator = Literal["cpu", "nvidia", "amd"]


@dataclass(frozen=True)
class RootfsRecipe:
    """How images/<name>/ makes a base root file system with debootstrap."""

    name: str
    context_dir: Path
    suite: str
    variant: str
    include: tuple[str, ...]
    mirror: str
    python: str
    glibc: str

    def recipe_hash(self) -> str:
        script = self.context_dir / ROOTFS_SCRIPT
        payload = {
            "scheme": HASH_SCHEME,
            "suite": self.suite,
            "variant": self.variant,
            "include": sorted(self.include),
            "mirror": self.mirror,
            "script": file_sha256(script) if script.exists() else None,
        }
        return _sha256_text(json.dumps(payload, sort_keys=True))

    @property
    def tag(self) -> str:
        return f"{TAG_PREFIX}/{self.name}:{self.recipe_hash()[:16]}"


@dataclass(frozen=True)
class ImageTarget:
    name: str
    context_dir: Path
    dockerfile: Path
    base_rootfs: str | None  # name of a rootfs recipe dir (e.g. "base"), or None
    base_registry: str | None  # registry reference, or None
    requirements: Path
    python: str
    glibc: str
    platform: str
    build_args: tuple[tuple[str, str], ...]
    build_network: Literal["none", "default"]
    accelerator: Accelerator
    execution_provider: str
    kind: str = "harness"  # harness | controller
    base_target: str | None = None  # another target whose image is FROM, or None

    @property
    def images_dir(self) -> Path:
        return self.context_dir.parent


@dataclass(frozen=True)
class ImageRef:
    target: str
    tag: str
    image_id: str
    spec_hash: str
    built: bool
    reason: str


@dataclass(frozen=True)
class ImageEvent:
    """Progress for the CLI: `stage` is one of base, wheels, build, done."""

    target: str
    stage: str
    message: str


@dataclass(frozen=True)
class BuildSettings:
    """Where builds keep their caches and logs (outside the state dir)."""

    wheel_cache: Path = field(default_factory=lambda: default_cache_dir() / "wheels")
    log_dir: Path = field(default_factory=lambda: default_cache_dir() / "build-logs")
    nocache: bool = False  # ignore the engine's layer cache (benchmarks, suspected bad cache)


class ImageEngine(Protocol):
    """What images.py needs from `mlperf_ops.execute.engine.Engine` (a fake satisfies it in tests)."""

    def image_info(self, tag: str) -> Any: ...

    def build(self, context_dir: Path, tag: str, labels: Mapping[str, str],
              buildargs: Mapping[str, str], log_path: Path,
              on_line: Callable[[str], None] | None = None, *,
              network_mode: str = "none", nocache: bool = False) -> str: ...

    def import_rootfs(self, tar_path: Path, tag: str, labels: Mapping[str, str]) -> str: ...


def default_cache_dir() -> Path:
    return cache_root()  # one cache directory for everything (README)


# --------------------------------------------------------------------------- loading


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        stat = path.stat()
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from None
    # Every verb lists the targets and loads some of them, often more than once; the
    # pure-Python YAML parser makes that the bulk of `validate`. A copy keeps callers
    # from mutating the cached mapping.
    return copy.deepcopy(_parse_yaml(path, stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=256)
def _parse_yaml(path: Path, _mtime_ns: int, _size: int) -> dict[str, Any]:
    data, problems = _checked_spec(path)
    if data is None or problems:
        raise FileInvalid(problems, "image spec")
    return data


def _checked_spec(path: Path, display: str | None = None) -> tuple[dict[str, Any] | None, list[Problem]]:
    """image.yaml read like a manifest: hardened YAML, the schema, secrets; every problem at once."""
    doc, problems = read_yaml(path, display, kind="image spec", example=IMAGE_EXAMPLE)
    if doc is None:
        return None, problems
    problems += schema_problems(doc, packaged_schema("mlperf_ops.schemas", "image.json"), example=IMAGE_EXAMPLE)
    problems += secretscan.document_problems(doc)
    data: dict[str, Any] = doc.data
    return data, problems


def check_image_spec(path: Path, display: str | None = None) -> list[Problem]:
    """Every problem in one image.yaml (for `validate`): schema and secrets, no engine."""
    return _checked_spec(path, display)[1]


def _kind(context_dir: Path) -> str | None:
    spec = context_dir / "image.yaml"
    if not spec.is_file():
        return None
    return str(_read_yaml(spec).get("kind", "harness"))


def is_controller_context(context_dir: Path) -> bool:
    return _kind(context_dir) == CONTROLLER_KIND


def list_targets(images_dir: Path) -> list[str]:
    """Runnable targets: subdirectories with an image.yaml that are not a rootfs recipe."""
    if not images_dir.is_dir():
        raise UsageError(f"no images directory at {images_dir}",
                         hint="run from the project root or pass --images-dir")
    return sorted(d.name for d in images_dir.iterdir() if d.is_dir() and _kind(d) == "harness")


def image_serves(images_dir: Path, name: str, _seen: tuple[str, ...] = ()) -> dict[str, tuple[str, ...]]:
    """The benchmarks target `name`'s own CMD runs as the real benchmark → the artifacts each needs.

    A target built FROM another target inherits its CMD, so it inherits what that one serves
    unless its image.yaml says otherwise. Absent means nothing: a claim must be written down.
    """
    data = _read_yaml(images_dir / name / "image.yaml")
    serves = data.get("serves")
    if serves is None:
        base = data.get("base")
        parent = base.get("target") if isinstance(base, dict) else None
        if isinstance(parent, str) and parent not in (*_seen, name) and (images_dir / parent / "image.yaml").is_file():
            return image_serves(images_dir, parent, (*_seen, name))
        return {}
    return {str(bench): tuple(str(a) for a in needs or ()) for bench, needs in dict(serves).items()}


def load_rootfs(images_dir: Path, name: str) -> RootfsRecipe:
    context = images_dir / name
    path = context / "image.yaml"
    if not path.is_file():
        raise UsageError(f"base {name!r} not found: no {path}",
                         hint="a target's `base: {rootfs: NAME}` must name a directory under images/")
    data = _read_yaml(path)
    if data.get("kind") != "rootfs" or not isinstance(data.get("rootfs"), dict):
        raise UsageError(f"{path}: not a rootfs recipe (needs `kind: rootfs` and a `rootfs:` block)")
    r = data["rootfs"]
    try:
        return RootfsRecipe(
            name=name, context_dir=context, suite=str(r["suite"]), variant=str(r["variant"]),
            include=tuple(str(p) for p in r["include"]), mirror=str(r["mirror"]),
            python=str(r["python"]), glibc=str(r["glibc"]),
        )
    except KeyError as missing:
        raise UsageError(f"{path}: rootfs.{missing.args[0]} is required") from None


def requested_targets(images_dir: Path, names: Sequence[str], for_targets: Sequence[str]) -> list[ImageTarget]:
    """The targets `images build` was asked for; a controller once per `--for` target (default cpu)."""
    loaded: list[ImageTarget] = []
    wants_controller = False
    for name in names or ("cpu",):
        if is_controller_context(images_dir / name):
            wants_controller = True
            loaded += [load_controller(images_dir, harness, name) for harness in for_targets or ("cpu",)]
        else:
            loaded.append(load_target(images_dir, name))
    if for_targets and not wants_controller:
        raise UsageError("--for only applies to the controller image",
                         hint="e.g. mlperf-ops images build controller --for cpu")
    return loaded


def _require_target(images_dir: Path, name: str) -> None:
    known = list_targets(images_dir)
    if name not in known:
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known targets: {', '.join(known) or 'none'}"
        raise UsageError(f"unknown image target {name!r} in {images_dir}", hint=hint)


def load_target(images_dir: Path, name: str) -> ImageTarget:
    _require_target(images_dir, name)
    return _load(images_dir, name, images_dir / name, base_target=None, seen=())


def load_controller(images_dir: Path, for_target: str, name: str = "controller") -> ImageTarget:
    """The controller image for harness target `for_target`, from the context images/<name>/.

    The result is the target `<for_target>-controller`, FROM the harness image's tag, with the
    harness target's Python, glibc, platform and accelerator.
    """
    context = images_dir / name
    if not is_controller_context(context):
        raise UsageError(f"{context / 'image.yaml'} is not a controller build context (needs `kind: controller`)",
                         hint="the controller context ships with the project under images/controller/")
    _require_target(images_dir, for_target)
    return _load(images_dir, f"{for_target}{CONTROLLER_SUFFIX}", context, base_target=for_target, seen=())


def _load(images_dir: Path, name: str, context: Path, *, base_target: str | None,
          seen: tuple[str, ...]) -> ImageTarget:
    path = context / "image.yaml"
    data = _read_yaml(path)
    kind = str(data.get("kind", "harness"))

    def fail(message: str) -> UsageError:
        return UsageError(f"{path}: {message}", hint="the fields are described at the top of images/cpu/image.yaml")

    base = data.get("base")
    if kind == CONTROLLER_KIND:
        # The harness target is the caller's choice (`--for`), so the context names none.
        if base is not None:
            raise fail("a controller has no `base`: it is built FROM the harness target it is loaded for")
        base = {"target": base_target}
    if not isinstance(base, dict) or len(base) != 1 or not ({"rootfs", "registry", "target"} & set(base)):
        raise fail("base must be {rootfs: NAME}, {registry: REFERENCE} or {target: NAME}")
    base_rootfs = str(base["rootfs"]) if "rootfs" in base else None
    base_registry = str(base["registry"]) if "registry" in base else None
    parent: ImageTarget | None = None
    if "target" in base:
        parent_name = str(base["target"])
        if parent_name in (*seen, name):
            raise fail(f"base targets form a cycle: {' -> '.join((*seen, name, parent_name))}")
        known = list_targets(images_dir)
        if parent_name not in known:
            raise UsageError(f"{path}: base target {parent_name!r} is not a harness target in {images_dir}",
                             hint=f"known targets: {', '.join(known) or 'none'}")
        parent = _load(images_dir, parent_name, images_dir / parent_name, base_target=None,
                       seen=(*seen, name))
    wheels = data.get("wheels")
    if not isinstance(wheels, dict) or "requirements" not in wheels:
        raise fail("wheels.requirements is required")
    requirements = context / str(wheels["requirements"])
    if not requirements.is_file():
        raise fail(f"requirements file {requirements.name} does not exist")
    _check_pins(requirements)
    python, glibc = wheels.get("python"), wheels.get("glibc")
    if base_rootfs is not None:
        recipe = load_rootfs(images_dir, base_rootfs)
        python, glibc = python or recipe.python, glibc or recipe.glibc
    if parent is not None:
        # FROM another target: its interpreter and C library decide which wheels fit.
        python, glibc = python or parent.python, glibc or parent.glibc
    if not python or not glibc:
        raise fail("wheels.python and wheels.glibc are required for a registry base")
    accelerator = data.get("accelerator", parent.accelerator if parent else "cpu")
    if accelerator not in ("cpu", "nvidia", "amd"):
        raise fail(f"accelerator must be cpu, nvidia or amd, not {accelerator!r}")
    network = data.get("build_network", "none")
    if network not in ("none", "default"):
        raise fail(f"build_network must be none or default, not {network!r}")
    platform = str(data.get("platform", parent.platform if parent else "linux/amd64"))
    if platform != "linux/amd64":
        raise fail(f"platform {platform} is not supported (only linux/amd64)")
    build_args = data.get("build_args") or {}
    if not isinstance(build_args, dict):
        raise fail("build_args must be a mapping of strings")
    dockerfile = context / "Dockerfile"
    if not dockerfile.is_file():
        raise fail("no Dockerfile next to image.yaml")
    default_provider = parent.execution_provider if parent else "CPUExecutionProvider"
    return ImageTarget(
        name=name, context_dir=context, dockerfile=dockerfile,
        base_rootfs=base_rootfs, base_registry=base_registry,
        requirements=requirements, python=str(python), glibc=str(glibc), platform=platform,
        build_args=tuple(sorted((str(k), str(v)) for k, v in build_args.items())),
        build_network=network, accelerator=accelerator,
        execution_provider=str(data.get("execution_provider", default_provider)),
        kind=kind, base_target=parent.name if parent else None,
    )


def _check_pins(requirements: Path) -> None:
    """Every line pins one exact version: the wheel set must follow from the file alone."""
    for number, raw in enumerate(requirements.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if "==" not in line or any(op in line for op in (">", "<", "~=", "!=", "*")):
            raise UsageError(f"{requirements}:{number}: {line!r} is not an exact pin",
                             hint="pin every wheel as name==version so the image is reproducible")


def pinned_versions(target: ImageTarget) -> dict[str, str]:
    """The image's Python distributions and their exact versions, from its requirements file.

    `_check_pins` guarantees every line is `name==version`, and the wheels are installed
    offline from exactly this file, so this is what runs inside the image.
    """
    pins: dict[str, str] = {}
    for raw in target.requirements.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if "==" in line:
            name, _, version = line.partition("==")
            pins[name.split("[", 1)[0].strip().lower().replace("_", "-")] = version.strip()
    return pins


# --------------------------------------------------------------------------- hashing


def _sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()



def harness_files(harness_dir: Path) -> list[Path]:
    """The harness sources that go into images, in a stable order (caches left out)."""
    if not harness_dir.is_dir():
        raise OperationalError(f"harness package not found at {harness_dir}",
                               hint="the images embed mlperf_ops/harness/; is the checkout complete?")
    files = [
        p for p in harness_dir.rglob("*")
        if p.is_file() and not (set(p.relative_to(harness_dir).parts) & IGNORED_HARNESS_PARTS)
        and p.suffix not in (".pyc", ".pyo")
    ]
    return sorted(files, key=lambda p: p.relative_to(harness_dir).as_posix())


def base_target_of(target: ImageTarget) -> ImageTarget:
    """The target `target` is built FROM (only for a `base: {target: NAME}`)."""
    if target.base_target is None:
        raise OperationalError(f"target {target.name} has no base target")
    return load_target(target.images_dir, target.base_target)


def base_identity(target: ImageTarget, harness_dir: Path = DEFAULT_HARNESS_DIR) -> str:
    if target.base_rootfs is not None:
        recipe = load_rootfs(target.images_dir, target.base_rootfs)
        return f"rootfs:{recipe.name}:{recipe.recipe_hash()}"
    if target.base_target is not None:
        # The base image's own content tag: any change to it rebuilds what is built FROM it.
        return f"target:{target.base_target}:{spec_hash(base_target_of(target), harness_dir)}"
    return f"registry:{target.base_registry}"


def context_files(context_dir: Path) -> list[Path]:
    """A build context's own files (what a Dockerfile may COPY), without staged or cached ones."""
    return sorted(
        p for p in context_dir.rglob("*")
        if p.is_file() and not p.relative_to(context_dir).as_posix().startswith(("wheelhouse/", "harness/"))
        and not (set(p.relative_to(context_dir).parts) & IGNORED_HARNESS_PARTS)
    )


def package_files(package_dir: Path) -> list[Path]:
    """The mlperf_ops package as a controller image carries it (caches left out)."""
    if not (package_dir / "__init__.py").is_file():
        raise OperationalError(f"mlperf_ops package not found at {package_dir}",
                               hint="the controller image embeds mlperf_ops/; is the checkout complete?")
    return harness_files(package_dir)


def project_files(target: ImageTarget) -> list[tuple[str, Path]]:
    """(path under the project dir, source) of the files `apply` reads in a controller's pod.

    The pipelines, and the context of every harness target with the rootfs recipes they
    name: exactly what `spec_hash` reads, so the pod computes the same image identities (and
    so the same run keys) as the host. Every target, not only the one the controller is
    built on, because `apply --system ID` plans the whole manifest, whose other systems may
    use other targets.
    """
    images_dir = target.images_dir
    project = images_dir.parent
    pipelines = sorted((project / "pipelines").glob("*.yaml"))
    if not pipelines:
        raise UsageError(f"no pipelines/*.yaml under {project}",
                         hint="a controller image carries the project's pipeline profiles; build from the project root")
    files = [(f"pipelines/{p.name}", p) for p in pipelines]
    contexts: set[str] = set()
    for name in list_targets(images_dir):
        contexts.add(name)
        base = _read_yaml(images_dir / name / "image.yaml").get("base")
        if isinstance(base, dict) and "rootfs" in base:
            contexts.add(str(base["rootfs"]))
    for name in sorted(contexts):
        context = images_dir / name
        files += [(f"images/{name}/{p.relative_to(context).as_posix()}", p) for p in context_files(context)]
    return files


def spec_hash(target: ImageTarget, harness_dir: Path = DEFAULT_HARNESS_DIR, *,
              package_dir: Path = DEFAULT_PACKAGE_DIR) -> str:
    """sha256 over everything that determines the image; files only, no engine, no network.

    `package_dir` (the mlperf_ops package) counts only for a controller, which embeds it.
    """
    parts: list[tuple[str, str]] = [
        ("scheme", HASH_SCHEME),
        ("target", target.name),
        ("Dockerfile", file_sha256(target.dockerfile)),
        ("image.yaml", file_sha256(target.context_dir / "image.yaml")),
        ("requirements", file_sha256(target.requirements)),
        ("build_args", json.dumps(target.build_args)),
        ("base", base_identity(target, harness_dir)),
    ]
    # Extra files a Dockerfile might COPY (anything else in the context) count too.
    for path in sorted(target.context_dir.rglob("*")):
        rel = path.relative_to(target.context_dir).as_posix()
        if path.is_file() and rel not in ("Dockerfile", "image.yaml", target.requirements.name) \
                and not rel.startswith(("wheelhouse/", "harness/")):
            parts.append((f"context/{rel}", file_sha256(path)))
    for path in harness_files(harness_dir):
        parts.append((f"harness/{path.relative_to(harness_dir).as_posix()}", file_sha256(path)))
    if target.kind == CONTROLLER_KIND:
        for path in package_files(package_dir):
            parts.append((f"package/{path.relative_to(package_dir).as_posix()}", file_sha256(path)))
        for rel, path in project_files(target):
            parts.append((f"project/{rel}", file_sha256(path)))
    return _sha256_text("\n".join(f"{k}\t{v}" for k, v in parts))


def image_tag(target: ImageTarget, harness_dir: Path = DEFAULT_HARNESS_DIR, *,
              package_dir: Path = DEFAULT_PACKAGE_DIR) -> str:
    return f"{TAG_PREFIX}/{target.name}:{spec_hash(target, harness_dir, package_dir=package_dir)[:16]}"


def managed_labels(target: str, digest: str) -> dict[str, str]:
    return {
        LABEL_MANAGED: "true",
        LABEL_SPEC_HASH: digest,
        LABEL_TARGET: target,
        LABEL_TOOL_VERSION: __version__,
    }


# --------------------------------------------------------------------------- wheels


def platform_tags(glibc: str, arch: str = "x86_64") -> list[str]:
    """manylinux tags a system with this glibc accepts (pip download does not expand them)."""
    major, minor = (int(x) for x in glibc.split("."))
    if major != 2:
        raise UsageError(f"unsupported glibc version {glibc}")
    tags = [f"manylinux_2_{m}_{arch}" for m in range(minor, 16, -1)]
    return tags + [f"manylinux2014_{arch}"]


def wheelhouse_key(target: ImageTarget) -> str:
    payload = {"requirements": file_sha256(target.requirements), "python": target.python,
               "platforms": platform_tags(target.glibc)}
    return _sha256_text(json.dumps(payload, sort_keys=True))[:32]


def ensure_wheelhouse(target: ImageTarget, cache_root: Path,
                      on_event: Callable[[ImageEvent], None] | None = None) -> Path:
    """Download the target's wheels once into the cache and return that directory."""
    final = cache_root / wheelhouse_key(target)
    if (final / ".complete").is_file():
        return final
    cache_root.mkdir(parents=True, exist_ok=True)
    if on_event:
        on_event(ImageEvent(target.name, "wheels", f"downloading wheels into {final}"))
    partial = Path(tempfile.mkdtemp(prefix=".partial-", dir=cache_root))
    abi = "cp" + target.python.replace(".", "")
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
        "--only-binary=:all:", "--python-version", target.python, "--implementation", "cp",
        "--abi", abi, "--abi", "abi3", "--abi", "none",
        *(arg for tag in platform_tags(target.glibc) for arg in ("--platform", tag)),
        "-d", str(partial), "-r", str(target.requirements),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        lines = [line for line in done.stderr.splitlines() if "is ignored" not in line][-15:]
        raise OperationalError(
            f"downloading wheels for {target.name} failed:\n" + "\n".join(lines),
            hint=f"check that every pin in {target.requirements} has a cp{abi[2:]} manylinux wheel",
        )
    (partial / ".complete").write_text(" ".join(command[3:]) + "\n", encoding="utf-8")
    try:
        partial.rename(final)
    except OSError:  # another build finished the same wheelhouse first
        shutil.rmtree(partial, ignore_errors=True)
    return final


# --------------------------------------------------------------------------- building


def ensure_base(engine: ImageEngine, recipe: RootfsRecipe, settings: BuildSettings,
                on_event: Callable[[ImageEvent], None] | None = None) -> ImageRef:
    tag = recipe.tag
    info = engine.image_info(tag)
    digest = recipe.recipe_hash()
    if info is not None:
        return ImageRef(recipe.name, tag, info.id, digest, False, f"up to date: image {tag} exists")
    with _build_lock(settings, tag):
        info = engine.image_info(tag)
        if info is not None:
            return ImageRef(recipe.name, tag, info.id, digest, False, f"up to date: image {tag} exists")
        return _build_base(engine, recipe, tag, digest, settings, on_event)


def _build_base(engine: ImageEngine, recipe: RootfsRecipe, tag: str, digest: str,
                settings: BuildSettings, on_event: Callable[[ImageEvent], None] | None) -> ImageRef:
    if on_event:
        on_event(ImageEvent(recipe.name, "base", f"building base root file system {tag} with debootstrap"))
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    log_path = settings.log_dir / f"{recipe.name}-{digest[:16]}.log"
    with tempfile.TemporaryDirectory(prefix="mlperf-ops-base-") as tmp:
        tar_path = Path(tmp) / "rootfs.tar"
        with log_path.open("w", encoding="utf-8") as log:
            done = subprocess.run(
                ["bash", str(recipe.context_dir / ROOTFS_SCRIPT), recipe.suite, recipe.variant,
                 ",".join(recipe.include), recipe.mirror, str(tar_path)],
                stdout=log, stderr=subprocess.STDOUT, check=False,
            )
        if done.returncode != 0:
            tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-20:]
            raise OperationalError(
                f"building the base root file system {tag} failed:\n" + "\n".join(tail),
                hint=f"full log: {log_path}",
            )
        image_id = engine.import_rootfs(tar_path, tag, managed_labels(recipe.name, digest))
    return ImageRef(recipe.name, tag, image_id, digest, True, f"built: no image {tag} yet")


def stage_context(target: ImageTarget, harness_dir: Path, wheelhouse: Path, into: Path, *,
                  package_dir: Path = DEFAULT_PACKAGE_DIR) -> None:
    """Lay out the build context: the target dir, its wheelhouse and the harness package.

    A controller gets the mlperf_ops package (mlperf_ops/) and the project files (project/)
    instead of the harness, which its base image already has.
    """
    shutil.copytree(target.context_dir, into, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("wheelhouse", "harness", "__pycache__"))
    wheels = into / "wheelhouse"
    wheels.mkdir()
    for wheel in wheelhouse.glob("*.whl"):
        try:
            os.link(wheel, wheels / wheel.name)  # same file system: no 100 MB copy
        except OSError:
            shutil.copy2(wheel, wheels / wheel.name)
    if target.kind == CONTROLLER_KIND:
        copies = [(f"{CONTEXT_PACKAGE}/{p.relative_to(package_dir).as_posix()}", p)
                  for p in package_files(package_dir)]
        copies += [(f"{CONTEXT_PROJECT}/{rel}", p) for rel, p in project_files(target)]
    else:
        copies = [(f"harness/{p.relative_to(harness_dir).as_posix()}", p) for p in harness_files(harness_dir)]
    for rel, path in copies:
        dest = into / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)


def ensure_image(
    engine: ImageEngine,
    target: ImageTarget,
    harness_dir: Path = DEFAULT_HARNESS_DIR,
    *,
    on_event: Callable[[ImageEvent], None] | None = None,
    settings: BuildSettings | None = None,
    package_dir: Path = DEFAULT_PACKAGE_DIR,
) -> ImageRef:
    """The image for `target`, built only when no image carries its content tag.

    A target built FROM another target ensures that one first (built or found by its tag).
    """
    digest = spec_hash(target, harness_dir, package_dir=package_dir)
    tag = f"{TAG_PREFIX}/{target.name}:{digest[:16]}"
    info = engine.image_info(tag)
    if info is not None:
        ref = ImageRef(target.name, tag, info.id, digest, False, f"up to date: image {tag} exists")
        if on_event:
            on_event(ImageEvent(target.name, "done", ref.reason))
        return ref
    settings = settings or BuildSettings()
    # Two processes building the same tag (parallel CI jobs, a test next to a CLI call) would
    # both spend minutes and race on the tag: the second waits, then finds the image.
    with _build_lock(settings, tag):
        info = engine.image_info(tag)
        if info is not None:
            ref = ImageRef(target.name, tag, info.id, digest, False,
                           f"up to date: image {tag} exists (built by another process)")
            if on_event:
                on_event(ImageEvent(target.name, "done", ref.reason))
            return ref
        return _build_image(engine, target, harness_dir, package_dir, digest, tag, settings, on_event)


def harness_record(engine: ImageEngine, harness_image: str) -> dict[str, str]:
    """Build args recording the harness image's CMD and ENV names in a controller built FROM it.

    Inside a pod the local executor starts the harness itself and has no engine to ask what a
    container of the image would run (execute/local.py). Read from the image rather than
    declared again in each Dockerfile: the CMD Docker runs stays the one source, and any
    harness image works unchanged. No new input to the controller's identity: the harness
    image's config follows from its spec hash, which the controller's covers (base_identity).
    """
    info = engine.image_info(harness_image)
    if info is None:
        raise OperationalError(f"harness image {harness_image} vanished before its controller was built",
                               hint="run the build again")
    return harness_defaults_env(info.command, info.env)


@contextlib.contextmanager
def _build_lock(settings: BuildSettings, tag: str) -> Iterator[None]:
    locks = settings.log_dir / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    with (locks / (tag.replace("/", "_").replace(":", "_") + ".lock")).open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build_image(engine: ImageEngine, target: ImageTarget, harness_dir: Path, package_dir: Path,
                 digest: str, tag: str, settings: BuildSettings,
                 on_event: Callable[[ImageEvent], None] | None) -> ImageRef:
    if target.base_rootfs is not None:
        base = ensure_base(engine, load_rootfs(target.images_dir, target.base_rootfs), settings, on_event)
        base_image = base.tag
    elif target.base_target is not None:
        base_image = ensure_image(engine, base_target_of(target), harness_dir, on_event=on_event,
                                  settings=settings, package_dir=package_dir).tag
    else:
        base_image = str(target.base_registry)
    recorded: dict[str, str] = {}
    if target.kind == CONTROLLER_KIND:
        recorded = harness_record(engine, base_image)
        if on_event:
            command = recorded[HARNESS_COMMAND_ENV] or "none: every benchmark must declare command:"
            on_event(ImageEvent(target.name, "build",
                                f"the pod's harness command (the CMD of {base_image}): {command}"))
    wheelhouse = ensure_wheelhouse(target, settings.wheel_cache, on_event)
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    log_path = settings.log_dir / f"{target.name}-{digest[:16]}.log"
    if on_event:
        on_event(ImageEvent(target.name, "build", f"building {tag} FROM {base_image} (log: {log_path})"))
    # Stage next to the wheel cache so wheels are hard-linked rather than copied.
    settings.wheel_cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".stage-", dir=settings.wheel_cache) as tmp:
        context = Path(tmp) / "context"
        stage_context(target, harness_dir, wheelhouse, context, package_dir=package_dir)
        buildargs = {**dict(target.build_args), **recorded, "BASE_IMAGE": base_image}
        line_sink = (lambda line: on_event(ImageEvent(target.name, "build", line))) if on_event else None
        image_id = engine.build(
            context, tag, managed_labels(target.name, digest), buildargs, log_path, line_sink,
            network_mode="none" if target.build_network == "none" else "default",
            nocache=settings.nocache,
        )
    ref = ImageRef(target.name, tag, image_id, digest, True, f"built: no image {tag} yet")
    if on_event:
        on_event(ImageEvent(target.name, "done", ref.reason))
    return ref
