"""Data checked where it is read (issue 25, item 3): MNIST's MD5 is that of the file actually
loaded (the .gz original, else the uncompressed file), a damaged file is named as corrupt, and
files of one's own are checked for type, range, shapes, empty splits and labels, each refusal
one line naming the file, the array and the rule."""

import gzip
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.datasets import MNIST

from cae.data.datasets import MNIST_RAW_MD5, load_dataset, md5sum
from cae.errors import CaeError
from tests.conftest import write_idx


def one_line_error(*args, match: str) -> str:
    with pytest.raises(CaeError, match=match) as err:
        load_dataset(*args)
    assert "\n" not in str(err.value)
    return str(err.value)


@pytest.fixture
def raw(fake_mnist_dir) -> Path:
    return fake_mnist_dir / "MNIST" / "raw"


@pytest.fixture
def offline_mnist(monkeypatch):
    def no_network(self):
        raise ConnectionError("offline")
    monkeypatch.setattr(MNIST, "download", no_network)


def gzip_originals(raw: Path) -> None:
    """Write each uncompressed file's .gz original beside it, as torchvision's download leaves."""
    for name in MNIST_RAW_MD5:
        (raw / f"{name}.gz").write_bytes(gzip.compress((raw / name).read_bytes(), mtime=0))


def test_uncompressed_mnist_is_checked_without_the_gz(fake_mnist_dir, monkeypatch):
    monkeypatch.delenv("CAE_UNOFFICIAL_DATA")
    one_line_error("mnist", fake_mnist_dir,
                   match=r"train-images-idx3-ubyte is corrupt or not the official file: MD5 "
                         rf"\w+, expected {MNIST_RAW_MD5['train-images-idx3-ubyte']}.*"
                         "CAE_UNOFFICIAL_DATA=1")


def test_own_uncompressed_mnist_is_read_with_a_warning_and_recorded(fake_mnist_dir, raw):
    with pytest.warns(UserWarning, match="train-labels-idx1-ubyte is not the official file"):
        dataset = load_dataset("mnist", fake_mnist_dir)
    assert dataset.md5 == {name: md5sum(raw / name) for name in MNIST_RAW_MD5}


def test_the_gz_original_is_what_is_read_and_recorded(fake_mnist_dir, raw):
    gzip_originals(raw)
    write_idx(raw / "train-labels-idx1-ubyte", np.zeros(600, dtype=np.uint8))  # altered copy
    with pytest.warns(UserWarning):
        dataset = load_dataset("mnist", fake_mnist_dir)
    assert torch.equal(dataset.splits["train"].labels, torch.arange(600) % 3)  # the .gz's labels
    assert dataset.md5 == {f"{name}.gz": md5sum(raw / f"{name}.gz") for name in MNIST_RAW_MD5}


@pytest.mark.parametrize("name", ["train-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
                                  "train-images-idx3-ubyte.gz"])
def test_truncated_mnist_file_is_named_corrupt_not_missing(fake_mnist_dir, raw, offline_mnist,
                                                           name):
    if name.endswith(".gz"):
        gzip_originals(raw)
    path = raw / name
    path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])
    message = one_line_error("mnist", fake_mnist_dir, match=f"{path} is corrupt")
    assert "not found" not in message


def test_truncated_mnist_file_without_the_switch_is_named_corrupt(fake_mnist_dir, raw,
                                                                  offline_mnist, monkeypatch):
    monkeypatch.delenv("CAE_UNOFFICIAL_DATA")
    path = raw / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:1000])
    one_line_error("mnist", fake_mnist_dir,
                   match=f"{path} is corrupt: 1000 bytes where its header announces 156816 "
                         r"\(truncated\)")


def test_mnist_labels_outside_its_classes_are_refused(fake_mnist_dir, raw):
    write_idx(raw / "t10k-labels-idx1-ubyte", np.full(200, 12, dtype=np.uint8))
    with pytest.warns(UserWarning):
        one_line_error("mnist", fake_mnist_dir,
                       match=r"t10k-labels-idx1-ubyte does not match MNIST's metadata: labels "
                             r"12\.\.12 outside the 10 classes")


REAL_RAW = Path(os.environ.get("CAE_DATA_DIR", "/nonexistent")) / "MNIST" / "raw"


@pytest.mark.skipif(not (REAL_RAW / "train-images-idx3-ubyte").is_file(),
                    reason="real MNIST not under $CAE_DATA_DIR")
def test_recorded_md5s_are_the_official_uncompressed_files(tmp_path, monkeypatch, recwarn):
    """Only the uncompressed official files: read without a warning, their MD5s recorded."""
    monkeypatch.delenv("CAE_UNOFFICIAL_DATA")
    (tmp_path / "MNIST" / "raw").mkdir(parents=True)
    for name in MNIST_RAW_MD5:
        (tmp_path / "MNIST" / "raw" / name).symlink_to(REAL_RAW / name)
    dataset = load_dataset("mnist", tmp_path)
    assert dataset.md5 == MNIST_RAW_MD5 and not recwarn.list
    assert [len(dataset.splits[s]) for s in ("train", "test")] == [60000, 10000]


def own_npz(tmp_path: Path, medmnist_npz, **arrays) -> Path:
    """A PneumoniaMNIST-format file of one's own with some arrays replaced."""
    path = medmnist_npz("pneumoniamnist", (40, 12, 12))
    with np.load(path) as npz:
        content = {key: npz[key] for key in npz.files}
    content.update(arrays)
    np.savez(path, **{k: v for k, v in content.items() if v is not None})
    return path


def test_float_images_in_0_1_are_scaled_not_blacked_out(tmp_path, medmnist_npz):
    path = medmnist_npz("pneumoniamnist", (40, 12, 12))
    original = np.load(path)["train_images"]
    own_npz(tmp_path, medmnist_npz, train_images=original.astype(np.float32) / 255)
    with pytest.warns(UserWarning, match=r"array train_images holds float32 images in \[0, 1\]"):
        dataset = load_dataset("pneumoniamnist", tmp_path)
    assert torch.equal(dataset.splits["train"].images[:, 0], torch.from_numpy(original))


@pytest.mark.parametrize("array, value, rule", [
    ("train_images", np.full((40, 28, 28), 2.5, dtype=np.float32),
     r"array train_images does not match PneumoniaMNIST's metadata: float32 images with values "
     r"2\.5\.\.2\.5: images must be uint8"),
    ("test_images", np.full((12, 28, 28), 300, dtype=np.int16),
     r"array test_images does not match .*int16 images with values 300\.\.300, outside 0\.\.255"),
    ("val_images", np.zeros((0, 28, 28), dtype=np.uint8),
     r"array val_images does not match .*the val split is empty"),
    ("val_labels", np.zeros((12, 1), dtype=np.float32),
     r"array val_labels does not match .*labels of type float32, not integers"),
    ("train_labels", np.full((40, 1), 2, dtype=np.uint8),
     r"array train_labels does not match .*labels 2\.\.2 outside the 2 classes 0\.\.1"),
    ("test_images", np.zeros((12, 28, 28, 3), dtype=np.uint8),
     r"array test_images does not match .*shape \(12, 28, 28, 3\), not N x 28 x 28 \(1 channel\)"),
    ("val_labels", None, r"lacks the array\(s\) val_labels"),
], ids=["float-out-of-range", "int-out-of-range", "empty-split", "float-labels",
        "label-outside-classes", "wrong-channels", "missing-array"])
def test_own_file_breaking_a_rule_is_refused_naming_file_array_and_rule(
        tmp_path, medmnist_npz, array, value, rule):
    path = own_npz(tmp_path, medmnist_npz, **{array: value})
    with pytest.warns(UserWarning):
        one_line_error("pneumoniamnist", tmp_path, match=f"{path}:? .*{rule}")


def test_damaged_npz_is_named_corrupt(tmp_path, medmnist_npz):
    path = medmnist_npz("pneumoniamnist", (40, 12, 12))
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.warns(UserWarning):
        one_line_error("pneumoniamnist", tmp_path, match=f"{path} is corrupt: not a readable .npz")
