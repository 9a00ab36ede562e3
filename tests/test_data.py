"""Data loading: checksums, where data is looked for, errors that say what to do, MNIST idx reading."""

import os
from pathlib import Path

import medmnist
import numpy as np
import pytest
import torch
from torchvision.datasets import MNIST

import cae.data.datasets
from cae.data.dataset_info import available_datasets
from cae.data.datasets import load_dataset, md5sum, resolve_data_dir, verify_md5
from cae.errors import CaeError

PNEUMONIA_MD5 = "28209eda62fecd6e6a2d98b1501bb15f"


def test_md5sum_known_value(tmp_path):
    path = tmp_path / "abc.txt"
    path.write_bytes(b"abc")
    assert md5sum(path) == "900150983cd24fb0d6963f7d28e17f72"
    assert verify_md5(path, "900150983cd24fb0d6963f7d28e17f72") == "900150983cd24fb0d6963f7d28e17f72"


def test_verify_md5_mismatch(tmp_path, monkeypatch):
    monkeypatch.delenv("CAE_UNOFFICIAL_DATA")
    path = tmp_path / "abc.txt"
    path.write_bytes(b"abd")
    with pytest.raises(CaeError, match="corrupt.*expected 900150983cd24fb0d6963f7d28e17f72"):
        verify_md5(path, "900150983cd24fb0d6963f7d28e17f72")


def test_resolve_data_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("CAE_DATA_DIR", str(tmp_path / "from_env"))
    assert resolve_data_dir(tmp_path / "given") == tmp_path / "given"
    assert resolve_data_dir(None) == tmp_path / "from_env"
    monkeypatch.delenv("CAE_DATA_DIR")
    assert resolve_data_dir(None) is None
    assert resolve_data_dir("~/x") == Path.home() / "x"


def test_unknown_dataset_lists_the_choices():
    with pytest.raises(CaeError, match=r"unknown dataset 'cifar10'; choose one of: mnist, .*pneumoniamnist"):
        load_dataset("cifar10")


@pytest.fixture
def offline_medmnist(monkeypatch, tmp_path):
    """No env data dir, an empty default cache, only official files accepted, and a medmnist
    download that fails at once."""
    monkeypatch.delenv("CAE_DATA_DIR", raising=False)
    monkeypatch.delenv("CAE_UNOFFICIAL_DATA", raising=False)
    monkeypatch.setattr(cae.data.datasets, "MEDMNIST_DEFAULT_ROOT", tmp_path / "cache")

    def no_network(*args, **kwargs):
        raise ConnectionError("offline")

    monkeypatch.setattr(medmnist, "PneumoniaMNIST", no_network)
    return tmp_path


def test_missing_medmnist_file_names_file_md5_and_url(offline_medmnist):
    url = medmnist.INFO["pneumoniamnist"]["url"]
    with pytest.raises(CaeError) as err:
        load_dataset("pneumoniamnist", offline_medmnist / "data")
    message = str(err.value)
    for part in ("pneumoniamnist.npz not found", "ConnectionError", PNEUMONIA_MD5, url,
                 str(offline_medmnist / "data" / "medmnist" / "pneumoniamnist.npz"), "CAE_DATA_DIR"):
        assert part in message
    # without a data dir the file is expected in the medmnist cache
    with pytest.raises(CaeError, match="put it at " + str(offline_medmnist / "cache" / "pneumoniamnist.npz")):
        load_dataset("pneumoniamnist")


@pytest.mark.parametrize("folder", ["medmnist", "."])
def test_corrupt_medmnist_file(offline_medmnist, folder):
    path = offline_medmnist / "data" / folder / "pneumoniamnist.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not the official file")
    with pytest.raises(CaeError, match=f"corrupt or not the official file.*expected {PNEUMONIA_MD5}"):
        load_dataset("pneumoniamnist", offline_medmnist / "data")


def test_mnist_from_idx_files(fake_mnist_dir):
    dataset = load_dataset("mnist", fake_mnist_dir)
    assert dataset.name == "mnist" and dataset.class_names == [str(i) for i in range(10)]
    assert list(dataset.splits) == ["train", "test"] and dataset.eval_splits == ["test"]
    raw = fake_mnist_dir / "MNIST" / "raw"  # no .gz originals: the uncompressed files are read
    assert dataset.md5 == {path.name: md5sum(path) for path in sorted(raw.iterdir())}
    for split, n in (("train", 600), ("test", 200)):
        images, labels = dataset.splits[split].images, dataset.splits[split].labels
        assert images.shape == (n, 1, 28, 28) and images.dtype == torch.uint8
        assert labels.dtype == torch.int64
        assert torch.equal(labels, torch.arange(n) % 3)
        # the bright square lies in the row band of the label
        band_means = images[:, 0].float().mean(dim=2).reshape(n, 28)[:, 1:28].reshape(n, 3, 9).mean(2)
        assert torch.equal(band_means.argmax(dim=1), labels)
    assert dataset.n_channels == 1


def test_mnist_train_subset_is_seeded_and_drawn_from_train(fake_mnist_dir):
    full = load_dataset("mnist", fake_mnist_dir).splits["train"]
    a = load_dataset("mnist", fake_mnist_dir, train_subset=100, seed=0)
    b = load_dataset("mnist", fake_mnist_dir, train_subset=100, seed=0)
    c = load_dataset("mnist", fake_mnist_dir, train_subset=100, seed=1)
    sub = a.splits["train"]
    assert len(sub) == 100 and sub.images.shape == (100, 1, 28, 28)
    assert torch.equal(sub.images, b.splits["train"].images)
    assert not torch.equal(sub.labels, c.splits["train"].labels)
    assert len(a.splits["test"]) == 200  # only train is subsampled
    flat = full.images.reshape(600, -1)
    index = [int((flat == img.reshape(-1)).all(dim=1).nonzero()[0]) for img in sub.images]
    assert len(set(index)) == 100
    assert torch.equal(full.labels[index], sub.labels)
    assert len(load_dataset("mnist", fake_mnist_dir, train_subset=600).splits["train"]) == 600


def test_val_holdout_is_fixed_disjoint_and_recorded(fake_mnist_dir):
    full = load_dataset("mnist", fake_mnist_dir).splits["train"]
    a = load_dataset("mnist", fake_mnist_dir, val_holdout=100, seed=0)
    b = load_dataset("mnist", fake_mnist_dir, val_holdout=100, seed=3)  # run seed does not move val
    assert a.eval_splits == ["val", "test"]
    assert len(a.splits["val"]) == 100 and len(a.splits["train"]) == 500
    assert torch.equal(a.splits["val"].images, b.splits["val"].images)
    assert a.holdout == b.holdout and a.holdout["size"] == 100 and len(a.holdout["indices_sha256"]) == 64
    rows = {tuple(img.reshape(-1).tolist()) for img in full.images}
    held = {tuple(img.reshape(-1).tolist()) for img in a.splits["val"].images}
    kept = {tuple(img.reshape(-1).tolist()) for img in a.splits["train"].images}
    assert held <= rows and kept <= rows and not held & kept
    assert load_dataset("mnist", fake_mnist_dir).holdout is None
    subset = load_dataset("mnist", fake_mnist_dir, val_holdout=100, train_subset=50)
    assert len(subset.splits["train"]) == 50 and torch.equal(subset.splits["val"].labels,
                                                             a.splits["val"].labels)
    with pytest.raises(CaeError, match="val_holdout"):
        load_dataset("mnist", fake_mnist_dir, val_holdout=600)


def test_mnist_corrupt_gz_original(fake_mnist_dir):
    """The .gz original is what is read when present, so a damaged one is refused."""
    (fake_mnist_dir / "MNIST" / "raw" / "train-labels-idx1-ubyte.gz").write_bytes(b"junk")
    with pytest.raises(CaeError, match="train-labels-idx1-ubyte.gz is corrupt"):
        load_dataset("mnist", fake_mnist_dir)


def test_mnist_missing_and_offline_names_the_files(monkeypatch, tmp_path):
    def no_network(self):
        raise ConnectionError("offline")

    monkeypatch.setattr(MNIST, "download", no_network)
    with pytest.raises(CaeError) as err:
        load_dataset("mnist", tmp_path)
    message = str(err.value)
    assert f"MNIST not found under {tmp_path / 'MNIST' / 'raw'}" in message
    assert "train-images-idx3-ubyte.gz (MD5 f68b3c2dcbeaaa9fbdd348bbdeb94873)" in message
    assert "t10k-labels-idx1-ubyte.gz (MD5 ec29112dd5afa0611ce80d1b7f02629c)" in message


REAL_NPZ = Path(os.environ.get("CAE_DATA_DIR", "/nonexistent")) / "medmnist" / "pneumoniamnist.npz"


@pytest.mark.skipif(not REAL_NPZ.is_file(), reason="real PneumoniaMNIST not under $CAE_DATA_DIR")
def test_real_pneumoniamnist_splits_and_md5():
    dataset = load_dataset("pneumoniamnist", os.environ["CAE_DATA_DIR"])
    assert dataset.md5 == {"pneumoniamnist.npz": PNEUMONIA_MD5}
    assert dataset.n_classes == 2 and dataset.n_channels == 1
    assert dataset.eval_splits == ["val", "test"]
    counts = {s: np.bincount(split.labels.numpy()).tolist() for s, split in dataset.splits.items()}
    assert counts == {"train": [1214, 3494], "val": [135, 389], "test": [234, 390]}  # 4708 / 524 / 624
    assert dataset.splits["train"].images.shape == (4708, 1, 28, 28)
    assert dataset.splits["train"].images.dtype == torch.uint8


def test_multi_label_and_3d_sets_are_refused_with_the_reason():
    with pytest.raises(CaeError, match=r"chestmnist is a multi-label, binary-class dataset \(14 labels"):
        load_dataset("chestmnist")
    with pytest.raises(CaeError, match="organmnist3d holds 3D volumes"):
        load_dataset("organmnist3d")
    assert "chestmnist" not in available_datasets() and "pathmnist" in available_datasets()


def test_own_file_needs_the_unofficial_data_switch_and_is_recorded(tmp_path, monkeypatch, medmnist_npz):
    path = medmnist_npz("bloodmnist")
    monkeypatch.delenv("CAE_UNOFFICIAL_DATA", raising=False)
    with pytest.raises(CaeError, match="not the official file.*set CAE_UNOFFICIAL_DATA=1"):
        load_dataset("bloodmnist", tmp_path)
    monkeypatch.setenv("CAE_UNOFFICIAL_DATA", "1")
    with pytest.warns(UserWarning, match="bloodmnist.npz is not the official file"):
        dataset = load_dataset("bloodmnist", tmp_path)
    assert dataset.splits["train"].images.shape == (160, 3, 28, 28)
    assert dataset.n_classes == 8 and dataset.class_names[0] == "basophil"
    assert dataset.md5 == {"bloodmnist.npz": md5sum(path)}
    assert np.bincount(dataset.splits["test"].labels.numpy()).tolist() == [8] * 8


def test_five_grade_ordinal_file_reads_as_five_classes(tmp_path, monkeypatch, medmnist_npz):
    medmnist_npz("retinamnist", (50, 25, 25))
    monkeypatch.setenv("CAE_UNOFFICIAL_DATA", "1")
    with pytest.warns(UserWarning):
        dataset = load_dataset("retinamnist", tmp_path)
    assert dataset.class_names == ["0", "1", "2", "3", "4"] and dataset.n_channels == 3
    assert dataset.splits["val"].labels.tolist() == [i % 5 for i in range(25)]


def test_multi_label_file_is_refused_by_name_and_by_content(tmp_path, monkeypatch, medmnist_npz):
    medmnist_npz("chestmnist")
    monkeypatch.setenv("CAE_UNOFFICIAL_DATA", "1")
    with pytest.raises(CaeError, match="chestmnist is a multi-label"):
        load_dataset("chestmnist", tmp_path)
    # the same (N, 14) labels under a single-label grey dataset's name: refused, not flattened
    chest = np.load(tmp_path / "medmnist" / "chestmnist.npz")
    np.savez(tmp_path / "medmnist" / "organamnist.npz", **chest)
    with pytest.warns(UserWarning), pytest.raises(CaeError, match="14 labels per image"):
        load_dataset("organamnist", tmp_path)


def test_own_file_with_the_wrong_channels_is_refused(tmp_path, monkeypatch, medmnist_npz):
    medmnist_npz("pneumoniamnist", (10, 4, 4))
    (tmp_path / "medmnist" / "pneumoniamnist.npz").rename(tmp_path / "medmnist" / "pathmnist.npz")
    monkeypatch.setenv("CAE_UNOFFICIAL_DATA", "1")
    with pytest.warns(UserWarning), pytest.raises(CaeError, match=r"PathMNIST's metadata.*3 channel"):
        load_dataset("pathmnist", tmp_path)
