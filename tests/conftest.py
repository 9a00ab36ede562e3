"""Shared fixtures and factories: a tiny, easy MNIST written in torchvision's idx layout,
MedMNIST-format files, and finished run folders made by hand."""

import json
import math
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
import torch

from cae.config import make_config

FAKE_MNIST_TRAIN = 600
FAKE_MNIST_TEST = 200
FAKE_MNIST_CLASSES = 3

T_975_DF1 = math.tan(0.475 * math.pi)  # Student t quantile, 1 dof (a Cauchy): 12.7062...
T_975_DF2 = 4.302652729911275  # Student t quantile, 2 dof, from statistical tables


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as an uncompressed idx file (magic 0x08nn, big-endian dims)."""
    header = (0x0800 + array.ndim).to_bytes(4, "big")
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def fake_mnist_images(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """28x28 images: dim noise plus a bright 7x7 square in the row band of its label.

    The bands (top, middle, bottom) survive horizontal flips, so views of one class stay
    close under the training augmentations.
    """
    images = rng.integers(0, 40, size=(len(labels), 28, 28))
    for image, label in zip(images, labels):
        top = 1 + 9 * int(label) + int(rng.integers(0, 3))  # rows 1-9, 10-18 or 19-27
        left = 10 + int(rng.integers(-2, 3))
        image[top:top + 7, left:left + 7] = rng.integers(200, 256, size=(7, 7))
    return images.astype(np.uint8)


def write_fake_mnist(root: Path) -> Path:
    """root/MNIST/raw/ with 600 train / 200 test images of 3 classes (0, 1, 2); returns root.

    Deterministic; labels cycle 0, 1, 2 so every class has the same count.
    """
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", FAKE_MNIST_TRAIN), ("t10k", FAKE_MNIST_TEST)):
        labels = (np.arange(n) % FAKE_MNIST_CLASSES).astype(np.uint8)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", fake_mnist_images(labels, rng))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
    return root


@pytest.fixture(scope="session", autouse=True)
def own_data_allowed():
    """CAE_UNOFFICIAL_DATA=1 for every test (and the processes they start): the generated
    MNIST and MedMNIST files are one's own, not the official ones. A test of the refusal
    removes it with monkeypatch.delenv."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CAE_UNOFFICIAL_DATA", "1")
        yield


@pytest.fixture
def fake_mnist_dir(tmp_path: Path) -> Path:
    """A data dir (the test's tmp_path) holding the fake MNIST of `write_fake_mnist`."""
    return write_fake_mnist(tmp_path)


@pytest.fixture(scope="session")
def shared_fake_mnist_dir(tmp_path_factory) -> Path:
    """The fake MNIST of `write_fake_mnist` once per session, for module-scoped fixtures that
    train on it: read it, never write into it."""
    return write_fake_mnist(tmp_path_factory.mktemp("fake-mnist"))


@pytest.fixture
def offline_hub(tmp_path, monkeypatch):
    """An empty torch hub directory and a download that fails as it does without a network."""
    def no_network(*args, **kwargs):
        raise URLError("no network in tests")
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    return tmp_path


def write_medmnist_npz(folder: Path, name: str, sizes: tuple[int, int, int] = (160, 64, 64)) -> Path:
    """A small file in MedMNIST's format, shaped as the dataset's metadata says, at
    folder/medmnist/<name>.npz: a bright square whose place and colour follow the label
    (multi-label sets: random 0/1 labels, one column per label). Not the official file, so
    reading it needs CAE_UNOFFICIAL_DATA=1."""
    import medmnist

    info = medmnist.INFO[name]
    n_classes, channels = len(info["label"]), info["n_channels"]
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in zip(("train", "val", "test"), sizes):
        labels = np.arange(n) % n_classes
        images = rng.integers(0, 40, size=(n, 28, 28, channels))
        for image, label in zip(images, labels):
            top, left = 2 + 3 * (label % 7), 2 + 12 * (label // 7)
            image[top:top + 6, left:left + 10] = 255 if channels == 1 else \
                [200 + 50 * (label % 2), 120 * (label % 3), 255 - 30 * label]
        arrays[f"{split}_images"] = (images[..., 0] if channels == 1 else images).astype(np.uint8)
        arrays[f"{split}_labels"] = (rng.integers(0, 2, size=(n, n_classes)) if info["task"].startswith("multi-label")
                                     else labels[:, None]).astype(np.uint8)
    path = folder / "medmnist" / f"{name}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    return path


@pytest.fixture
def medmnist_npz(tmp_path: Path):
    """Writes small MedMNIST-format files: medmnist_npz(name, sizes) -> tmp_path/medmnist/<name>.npz."""
    return lambda name, sizes=(160, 64, 64): write_medmnist_npz(tmp_path, name, sizes)


def metrics_row(model: str, split: str, protocol: str, seed: int, accuracy: float, **extra) -> dict:
    """One row of a run's metrics.json; weighted precision and recall are the accuracy unless given."""
    return dict(model=model, split=split, protocol=protocol, seed=seed, accuracy=accuracy,
                precision_weighted=extra.pop("precision_weighted", accuracy),
                recall_weighted=accuracy, **extra)


def write_run(root: Path, dataset: str, seed: int, rows: list[dict], profile: str = "smoke",
              name: str | None = None, elbow: dict | None = None, **overrides) -> Path:
    """A finished run folder, root/<name> (default <dataset>-<profile>-seed<seed>), with the
    files RunArtifacts.read needs: the profile's config with `overrides`, the metrics `rows`,
    `elbow` (default: k 2 of 2..3), a one-epoch history and a provenance of made-up data hashes."""
    run_dir = root / (name or f"{dataset}-{profile}-seed{seed}")
    run_dir.mkdir(parents=True)
    make_config(profile, dataset=dataset, seed=seed, **overrides).save(run_dir / "config.json")
    (run_dir / "history.json").write_text(json.dumps({"total": [1.0]}))
    (run_dir / "elbow.json").write_text(json.dumps(elbow or {"k": 2, "ks": [2, 3]}))
    (run_dir / "metrics.json").write_text(json.dumps(rows))
    provenance = dict(dataset=dataset, data_md5={f"{dataset}.npz": "0" * 32},
                      packages={"cae": "0.1.0"}, device="cpu", device_name="x86_64",
                      precision="fp32", wall_time_s={"train": 30.0, "evaluate": 12.4, "total": 42.4})
    (run_dir / "provenance.json").write_text(json.dumps(provenance))
    return run_dir
