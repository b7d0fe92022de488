"""The demo evaluation set: 50,000 ImageNet-shaped samples made from held-out digits.

Sample i is held-out digit ``i % n`` with a small seeded augmentation (brightness
jitter, a little pixel noise, a sub-pixel shift), upscaled 28x to 224x224,
copied to 3 channels and normalised with ImageNet's mean/std. Samples are
rendered only when LoadGen asks the QSL to load them: the whole set would be
50,000 x 3x224x224 float32 = 30 GB.

The augmentation parameters for all 50,000 samples are drawn up front from one
seeded generator, so a sample's pixels do not depend on which other samples are
loaded with it or in which order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

EVAL_SET_SIZE = 50_000  # resnet's data-set size: the accuracy run must cover all of it
PERFORMANCE_SAMPLE_COUNT = 1024  # resnet50's performance_sample_count in LoadGen's mlperf.conf
DIGIT_SIDE = 8
UPSCALE = 28
IMAGE_SIDE = DIGIT_SIDE * UPSCALE  # 224
CHANNELS = 3
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
PIXEL_MAX = 16.0  # digits pixels are integers 0..16

SPLIT_SEED = 0
AUGMENT_SEED = 20261101
BRIGHTNESS_RANGE = (0.85, 1.15)
NOISE_STD = 0.03  # on the 8x8 digit in [0, 1]
MAX_SHIFT = 4  # pixels of the 224 image = 1/7 of a digit pixel

HELD_OUT_FILE = "eval_digits.npy"  # (n, 64) float32 in [0, 1]: the held-out digits
HELD_OUT_LABELS_FILE = "eval_digit_labels.npy"
LABELS_FILE = "eval_labels.npy"  # (50000,) int64


@dataclass(frozen=True)
class Augmentation:
    brightness: np.ndarray  # (N,) float32
    noise: np.ndarray  # (N, 8, 8) float32
    shift: np.ndarray  # (N, 2) int8: dy, dx in 224-pixel units


def make_augmentation(count: int = EVAL_SET_SIZE, seed: int = AUGMENT_SEED) -> Augmentation:
    rng = np.random.default_rng(seed)
    lo, hi = BRIGHTNESS_RANGE
    brightness = rng.uniform(lo, hi, size=count).astype(np.float32)
    noise = (rng.standard_normal((count, DIGIT_SIDE, DIGIT_SIDE)) * NOISE_STD).astype(np.float32)
    shift = rng.integers(-MAX_SHIFT, MAX_SHIFT + 1, size=(count, 2)).astype(np.int8)
    return Augmentation(brightness, noise, shift)


def eval_labels(held_out_labels: np.ndarray, count: int = EVAL_SET_SIZE) -> np.ndarray:
    n = len(held_out_labels)
    return np.asarray(held_out_labels, dtype=np.int64)[np.arange(count) % n]


def normalise(images01: np.ndarray, out: np.ndarray) -> None:
    """Write ImageNet-normalised 3-channel copies of (k,224,224) images in [0,1] into out (k,3,224,224)."""
    for c in range(CHANNELS):
        np.subtract(images01, IMAGENET_MEAN[c], out=out[:, c])
        np.multiply(out[:, c], np.float32(1.0 / IMAGENET_STD[c]), out=out[:, c])


def upscale(digits01: np.ndarray) -> np.ndarray:
    """(k,8,8) -> (k,224,224): each digit pixel becomes a 28x28 block."""
    k = digits01.shape[0]
    big = np.empty((k, DIGIT_SIDE, UPSCALE, DIGIT_SIDE, UPSCALE), dtype=np.float32)
    big[:] = digits01[:, :, None, :, None]
    return big.reshape(k, IMAGE_SIDE, IMAGE_SIDE)


class EvalSet:
    """Renders evaluation samples on demand from the held-out digits."""

    def __init__(self, held_out: np.ndarray, held_out_labels: np.ndarray, count: int = EVAL_SET_SIZE):
        if held_out.ndim != 2 or held_out.shape[1] != DIGIT_SIDE * DIGIT_SIDE:
            raise ValueError(f"held-out digits must be (n, 64), got {held_out.shape}")
        self.held_out = np.asarray(held_out, dtype=np.float32).reshape(-1, DIGIT_SIDE, DIGIT_SIDE)
        self.count = count
        self.labels = eval_labels(held_out_labels, count)
        self.augmentation = make_augmentation(count)

    @classmethod
    def from_model_dir(cls, model_dir: Path) -> "EvalSet":
        return cls(np.load(model_dir / HELD_OUT_FILE), np.load(model_dir / HELD_OUT_LABELS_FILE))

    def load(self, indices: list[int]) -> None:
        """Nothing to do: samples are rendered from the 8x8 digits when issued."""

    def unload(self, indices: list[int]) -> None:
        """Nothing was loaded."""

    def digits(self, indices: np.ndarray) -> np.ndarray:
        """The augmented 8x8 digits (before the shift) for sample indices, in [0, 1]."""
        aug = self.augmentation
        src = self.held_out[indices % len(self.held_out)]
        jittered = src * aug.brightness[indices, None, None] + aug.noise[indices]
        return np.clip(jittered, 0.0, 1.0, out=jittered)

    def render(self, indices: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Samples for indices as float32 (k,3,224,224) NCHW, ImageNet-normalised."""
        indices = np.asarray(indices, dtype=np.int64)
        k = len(indices)
        if out is None:
            out = np.empty((k, CHANNELS, IMAGE_SIDE, IMAGE_SIDE), dtype=np.float32)
        # Normalise at 8x8 with a background border, then expand with np.repeat using
        # per-shift block widths: the image is piecewise constant, so each output pixel is
        # written once (upscale + shift + normalise as separate passes was 10x slower).
        padded = np.zeros((k, DIGIT_SIDE + 2, DIGIT_SIDE + 2), dtype=np.float32)
        padded[:, 1:-1, 1:-1] = self.digits(indices)
        low = np.empty((k, CHANNELS, DIGIT_SIDE + 2, DIGIT_SIDE + 2), dtype=np.float32)
        normalise(padded, low)
        widths = _BLOCK_WIDTHS
        for j, (dy, dx) in enumerate(self.augmentation.shift[indices].tolist()):
            rows = np.repeat(low[j], widths[dy + MAX_SHIFT], axis=1)
            out[j] = np.repeat(rows, widths[dx + MAX_SHIFT], axis=2)
        return out


def _block_widths() -> np.ndarray:
    """For each shift s: output width of [background, digit pixel 0..7, background] along one axis."""
    table = np.zeros((2 * MAX_SHIFT + 1, DIGIT_SIDE + 2), dtype=np.intp)
    for s in range(-MAX_SHIFT, MAX_SHIFT + 1):
        widths = table[s + MAX_SHIFT]
        widths[1:-1] = UPSCALE
        if s >= 0:  # moved towards higher indices: background in front, last pixel cut
            widths[0], widths[-2] = s, UPSCALE - s
        else:
            widths[1], widths[-1] = UPSCALE + s, -s
    return table


_BLOCK_WIDTHS = _block_widths()


def render_plain(digits64_01: np.ndarray) -> np.ndarray:
    """Un-augmented (k,64) digits in [0,1] -> (k,3,224,224): used to check the composed graph."""
    k = digits64_01.shape[0]
    out = np.empty((k, CHANNELS, IMAGE_SIDE, IMAGE_SIDE), dtype=np.float32)
    normalise(upscale(np.asarray(digits64_01, dtype=np.float32).reshape(k, DIGIT_SIDE, DIGIT_SIDE)), out)
    return out
