"""The ImageNet 2012 validation set as the MLCommons reference lays it out and preprocesses it.

Layout: a directory of JPEGs plus `val_map.txt`, one `<file name> <label 0..999>` line per
image; LoadGen's sample index i is line i (the reference accuracy script assumes the same).

Preprocessing (the reference's `pre_process_vgg`, used by its resnet50-onnxruntime profile),
here written afresh on the same library calls so the pixels are the reference's:
decode with OpenCV (BGR, 3 channels even for grey images), convert to RGB, resize so the
shorter side is 256 (= 224 / 0.875) keeping the aspect ratio with the reference's integer
arithmetic and area interpolation, crop the central 224x224, subtract the per-channel means
[123.68, 116.78, 103.94] in float32, and transpose to CHW.

Images are decoded when LoadGen asks the QSL to load them (outside the timed section) and
kept only while loaded: the performance set is 1,024 samples x 602 KB = 617 MB, and the
accuracy run loads the set in chunks of that size, so no preprocessed copy of the 50,000
images (30 GB) is ever written to disk.

Decoded samples are also kept by the sha256 of their file's bytes, in a cache of at most
MLPERF_HARNESS_SAMPLE_CACHE_MB (default 512 MB, 871 samples; 0 turns it off) beyond what is
loaded: identical files are decoded once, and a file decoded for one accuracy chunk is not
decoded again for the next. The real set has no repeats (the cache then costs its budget and a
hash of each file, ~1 % of a decode); the built-in demo's 50,000 files are 450 distinct images,
so its whole accuracy run decodes 450 JPEGs. Loaded samples with the same bytes share one array.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import HarnessError

VAL_MAP = "val_map.txt"
IMAGE_SIDE = 224
CHANNELS = 3
CROP_FRACTION = 87.5  # percent: the resize target is int(100 * 224 / 87.5) = 256
MEANS = np.array([123.68, 116.78, 103.94], dtype=np.float32)  # RGB
PERFORMANCE_SAMPLE_COUNT = 1024  # resnet50's performance_sample_count in LoadGen's mlperf.conf
SAMPLE_BYTES = CHANNELS * IMAGE_SIDE * IMAGE_SIDE * 4  # 602,112
DEFAULT_CACHE_MB = 512


@dataclass(frozen=True)
class ValMap:
    names: tuple[str, ...]
    labels: np.ndarray  # (n,) int64, 0..999

    @classmethod
    def read(cls, dataset_dir: Path) -> "ValMap":
        path = dataset_dir / VAL_MAP
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise HarnessError(f"no {VAL_MAP} in {dataset_dir}",
                               hint="the data set is the reference's layout: the JPEGs plus val_map.txt") from None
        names: list[str] = []
        labels: list[int] = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            parts = re.split(r"\s+", line.strip())
            if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
                raise HarnessError(f"{path}:{number}: expected `<file> <label>`, got {line.strip()[:80]!r}")
            if "/" in parts[0] and ".." in parts[0].split("/"):
                raise HarnessError(f"{path}:{number}: {parts[0]!r} leaves the data set directory")
            names.append(parts[0])
            labels.append(int(parts[1]))
        if not names:
            raise HarnessError(f"{path} lists no images")
        missing = [n for n in names if not (dataset_dir / n).is_file()]
        if missing:
            # The reference silently drops missing images; a submission must cover the whole set.
            raise HarnessError(f"{len(missing)} image(s) listed in {path} are missing, e.g. {missing[0]}",
                               hint="the accuracy run must cover every image of the data set")
        return cls(tuple(names), np.asarray(labels, dtype=np.int64))


def resized_shape(height: int, width: int) -> tuple[int, int]:
    """(h, w) after the reference's aspect-preserving resize: the shorter side becomes 256."""
    target_h = int(100.0 * IMAGE_SIDE / CROP_FRACTION)
    target_w = int(100.0 * IMAGE_SIDE / CROP_FRACTION)
    if height > width:
        return int(target_h * height / width), target_w
    return target_h, int(target_w * width / height)


def preprocess_bgr(image: np.ndarray) -> np.ndarray:
    """A decoded HxWx3 BGR uint8 image -> the model input, (3, 224, 224) float32."""
    import cv2

    rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    h, w = resized_shape(*rgb.shape[:2])
    resized = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
    # Centre crop with the reference's rounding: int((size - 224) / 2) .. int((size + 224) / 2).
    top, left = int((h - IMAGE_SIDE) / 2), int((w - IMAGE_SIDE) / 2)
    crop = resized[top:int((h + IMAGE_SIDE) / 2), left:int((w + IMAGE_SIDE) / 2)]
    out = np.asarray(crop, dtype=np.float32) - MEANS
    return np.ascontiguousarray(out.transpose(2, 0, 1))


def preprocess_file(path: Path) -> np.ndarray:
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise HarnessError(f"cannot decode {path} as an image")
    return preprocess_bgr(image)


def preprocess_bytes(data: bytes, path: Path) -> np.ndarray:
    """`preprocess_file` on bytes already read (cv2.imdecode is imread's decoder)."""
    import cv2

    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise HarnessError(f"cannot decode {path} as an image")
    return preprocess_bgr(image)


def _read_and_hash(path: Path) -> tuple[str, bytes]:
    data = path.read_bytes()
    return hashlib.sha256(data).hexdigest(), data


def cache_budget(env: dict[str, str] | os._Environ[str] = os.environ) -> int:
    """The sample cache's size in bytes, from MLPERF_HARNESS_SAMPLE_CACHE_MB."""
    raw = env.get("MLPERF_HARNESS_SAMPLE_CACHE_MB", "").strip()
    if not raw:
        return DEFAULT_CACHE_MB * 1024 * 1024
    if not raw.isdigit():
        raise HarnessError(f"MLPERF_HARNESS_SAMPLE_CACHE_MB={raw!r} is not a whole number of MB")
    return int(raw) * 1024 * 1024


class ImagenetSet:
    """Samples of the validation set, decoded on load and dropped on unload."""

    def __init__(self, dataset_dir: Path, threads: int | None = None, cache_bytes: int | None = None) -> None:
        self.dir = dataset_dir
        self.val_map = ValMap.read(dataset_dir)
        self.count = len(self.val_map.names)
        self.labels = self.val_map.labels
        self.threads = max(1, threads or (os.cpu_count() or 1))
        self._samples: dict[int, np.ndarray] = {}
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()  # file sha256 -> sample, oldest first
        self.cache_slots = (cache_budget() if cache_bytes is None else cache_bytes) // SAMPLE_BYTES
        self.decoded = 0  # JPEGs decoded so far (the cache's effect, for tests and the log)

    @property
    def performance_sample_count(self) -> int:
        return min(PERFORMANCE_SAMPLE_COUNT, self.count)

    def load(self, indices: list[int]) -> None:
        todo = sorted({i for i in indices if i not in self._samples})
        paths = [self.dir / self.val_map.names[i] for i in todo]
        # cv2 and hashlib release the GIL while decoding, resizing and hashing: threads use every core.
        with ThreadPoolExecutor(self.threads) as pool:
            read = list(pool.map(_read_and_hash, paths))
            new: dict[str, tuple[bytes, Path]] = {}
            for path, (digest, data) in zip(paths, read):
                if digest not in self._cache:
                    new.setdefault(digest, (data, path))
            decoded = pool.map(lambda item: preprocess_bytes(*item), new.values())
            fresh = dict(zip(new, decoded))
        self.decoded += len(fresh)
        for index, (digest, _) in zip(todo, read):
            sample = self._cache.get(digest)
            if sample is None:
                sample = fresh[digest]
            self._samples[index] = sample
            self._remember(digest, sample)

    def _remember(self, digest: str, sample: np.ndarray) -> None:
        if self.cache_slots <= 0:
            return
        self._cache[digest] = sample
        self._cache.move_to_end(digest)
        while len(self._cache) > self.cache_slots:
            self._cache.popitem(last=False)  # still held by _samples while loaded

    def unload(self, indices: list[int]) -> None:
        for i in indices:
            self._samples.pop(i, None)

    def render(self, indices: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        if out is None:
            out = np.empty((len(indices), CHANNELS, IMAGE_SIDE, IMAGE_SIDE), dtype=np.float32)
        for j, i in enumerate(indices.tolist()):
            out[j] = self._samples[i]
        return out
