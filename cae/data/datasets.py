"""Datasets as in-memory tensors: MNIST via torchvision, 2D MedMNIST via medmnist.

A local copy is read first (option `data_dir`, else the environment variable
`CAE_DATA_DIR`, else each library's default cache); otherwise the official download
code runs. When neither works the error names the file, its MD5 and where to put it.
A file whose MD5 is not the official one is refused unless `CAE_UNOFFICIAL_DATA=1`
(one's own data in the official format), and then checked against the dataset's metadata.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from cae.config import SCORE_SPLITS, RunConfig, selection_size
from cae.data.dataset_info import DatasetInfo, supported
from cae.errors import CaeError

DATA_DIR_ENV = "CAE_DATA_DIR"
UNOFFICIAL_DATA_ENV = "CAE_UNOFFICIAL_DATA"  # "1": read files whose MD5 is not the official one
HOLDOUT_SEED = 0  # fixed: every run seed shares the same held-out val and selection splits
SELECTION = "selection"  # the split screens choose on, held out of train
MEDMNIST_DEFAULT_ROOT = Path.home() / ".medmnist"
MNIST_DEFAULT_ROOT = Path.home() / ".cache" / "cae" / "data"


@dataclass
class Split:
    """One split held in memory: images uint8 (N, C, 28, 28) and labels int64 (N,)."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class Dataset:
    """A dataset's splits, class names, and the MD5 of every file it was read from."""

    name: str
    splits: dict[str, Split]
    class_names: list[str]
    md5: dict[str, str] = field(default_factory=dict)
    holdout: dict | None = None  # how a val split was carved out of train, when it was
    selection: dict | None = None  # how the selection split was carved out of train, when it was

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def n_channels(self) -> int:
        return int(self.splits["train"].images.shape[1])

    @property
    def eval_splits(self) -> list[str]:
        """Splits scored: the selection split when only it is kept (screens), else val
        (where the dataset has one) and test."""
        return [s for s in (SELECTION, "val", "test") if s in self.splits]


def resolve_data_dir(data_dir: str | os.PathLike | None) -> Path | None:
    """The data directory: the given one, else $CAE_DATA_DIR, else None (library caches)."""
    chosen = data_dir or os.environ.get(DATA_DIR_ENV) or None
    return Path(chosen).expanduser() if chosen else None


def md5sum(path: Path) -> str:
    """MD5 hex digest of a file, read in chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_md5(path: Path, expected: str) -> str:
    """Return the file's MD5, or raise CaeError when it differs from the official one.

    With $CAE_UNOFFICIAL_DATA=1 (one's own file in the official format) a differing MD5
    is a warning instead; the run's provenance records the MD5 of the file it read.
    """
    actual = md5sum(path)
    if actual == expected:
        return actual
    if os.environ.get(UNOFFICIAL_DATA_ENV) == "1":
        warnings.warn(f"{path} is not the official file (MD5 {actual}, expected {expected}); "
                      f"read anyway because {UNOFFICIAL_DATA_ENV}=1", stacklevel=2)
        return actual
    raise CaeError(f"{path} is corrupt or not the official file: MD5 {actual}, expected "
                   f"{expected}. Delete it and download it again, or, to read your own file "
                   f"in the same format, set {UNOFFICIAL_DATA_ENV}=1.")


def load_dataset(name: str, data_dir: str | os.PathLike | None = None,
                 train_subset: int | None = None, seed: int = 0, val_holdout: int = 0,
                 selection_fraction: float = 0.0, score_on: str = "reported") -> Dataset:
    """Load a dataset into memory.

    `val_holdout` > 0 carves a fixed val split of that many images out of train when the
    dataset ships none (MNIST); datasets with an official val split keep theirs.
    `selection_fraction` > 0 then holds a stratified share of train out as the selection
    split. `score_on="selection"` keeps train and the selection split only (a screen never
    sees the official val and test; on MNIST the held-out val is its selection split);
    "reported" keeps train, val and test. `train_subset` then keeps a seeded random part
    of what is left of train.
    """
    if score_on not in SCORE_SPLITS:
        raise CaeError(f"score_on must be one of {SCORE_SPLITS}, got {score_on!r}")
    info = supported(name)
    dataset = (_load_mnist(resolve_data_dir(data_dir)) if info.name == "mnist"
               else _load_medmnist(info, resolve_data_dir(data_dir)))
    if val_holdout > 0 and "val" not in dataset.splits:
        hold_out_val(dataset, val_holdout)
    if selection_fraction > 0:
        hold_out_selection(dataset, selection_fraction)
    keep_scored_splits(dataset, score_on)
    if train_subset is not None and train_subset < len(dataset.splits["train"]):
        train = dataset.splits["train"]
        keep = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:train_subset]
        dataset.splits["train"] = Split(train.images[keep], train.labels[keep])
    return dataset


def hold_out_val(dataset: Dataset, size: int) -> None:
    """Move a fixed random `size` images of train (seed HOLDOUT_SEED) into a new val split.

    Records the seed, size and a SHA-256 of the held-out indices in `dataset.holdout`.
    """
    train = dataset.splits["train"]
    if size >= len(train):
        raise CaeError(f"val_holdout={size} leaves no training images ({dataset.name} train has "
                       f"{len(train)}); choose a smaller val_holdout")
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(HOLDOUT_SEED))
    val_index, train_index = order[:size].sort().values, order[size:].sort().values
    dataset.splits["val"] = Split(train.images[val_index], train.labels[val_index])
    dataset.splits["train"] = Split(train.images[train_index], train.labels[train_index])
    digest = hashlib.sha256(val_index.numpy().astype("<i8").tobytes()).hexdigest()
    dataset.holdout = {"source": "train", "size": size, "seed": HOLDOUT_SEED,
                       "indices_sha256": digest}


def hold_out_selection(dataset: Dataset, fraction: float) -> None:
    """Move a stratified `fraction` of train (seed HOLDOUT_SEED) into a new selection split.

    Stratified, so every class keeps its share; records the fraction, size, seed and a
    SHA-256 of the held-out indices (positions in train) in `dataset.selection`.
    """
    from sklearn.model_selection import train_test_split

    train = dataset.splits["train"]
    size = selection_size(len(train), fraction)
    try:
        train_index, selection_index = train_test_split(
            np.arange(len(train)), test_size=size, stratify=train.labels.numpy(),
            random_state=HOLDOUT_SEED)
    except ValueError as exc:  # too few images of a class, or fewer held out than classes
        raise CaeError(f"selection_fraction={fraction} cannot hold out a stratified selection "
                       f"split of {dataset.name}'s {len(train)} training images ({exc}); choose "
                       f"another selection_fraction, or 0 for none") from None
    selection_index, train_index = (torch.from_numpy(np.sort(i)) for i in (selection_index,
                                                                          train_index))
    dataset.splits[SELECTION] = Split(train.images[selection_index], train.labels[selection_index])
    dataset.splits["train"] = Split(train.images[train_index], train.labels[train_index])
    digest = hashlib.sha256(selection_index.numpy().astype("<i8").tobytes()).hexdigest()
    dataset.selection = {"source": "train", "fraction": fraction, "size": size,
                         "stratified": True, "seed": HOLDOUT_SEED, "indices_sha256": digest}


def keep_scored_splits(dataset: Dataset, score_on: str) -> None:
    """Drop the splits a run does not score: the selection split when reporting; the
    official val and test when scoring on the selection split (a val held out of train,
    MNIST's, becomes the selection split when there is no other)."""
    if score_on == "reported":
        dataset.splits.pop(SELECTION, None)
        return
    if SELECTION not in dataset.splits and dataset.holdout is not None:
        dataset.splits[SELECTION] = dataset.splits.pop("val")
        dataset.selection = {**dataset.holdout, "stratified": False}
    if SELECTION not in dataset.splits:
        raise CaeError(f"score_on=selection needs a selection split, and {dataset.name} has none "
                       f"here: set selection_fraction (for example 0.1) or, on a dataset "
                       f"without val, val_holdout")
    dataset.splits = {name: dataset.splits[name] for name in ("train", SELECTION)}


def _to_split(images: np.ndarray, labels: np.ndarray) -> Split:
    tensor = torch.as_tensor(np.asarray(images), dtype=torch.uint8)
    tensor = tensor.unsqueeze(1) if tensor.ndim == 3 else tensor.permute(0, 3, 1, 2)
    return Split(tensor.contiguous(), torch.as_tensor(np.asarray(labels)).reshape(-1).long())


@contextlib.contextmanager
def folder_for_download(root: Path) -> Iterator[None]:
    """Create root for a download; if the download fails, remove the folders this created
    (deepest first, only while empty), so a failed attempt leaves nothing behind."""
    created = [p for p in (root, *root.parents) if not p.exists()]
    root.mkdir(parents=True, exist_ok=True)
    try:
        yield
    except BaseException:
        for folder in created:
            try:
                folder.rmdir()
            except OSError:
                break
        raise


def _load_medmnist(dataset: DatasetInfo, data_dir: Path | None) -> Dataset:
    import medmnist

    info = medmnist.INFO[dataset.name]
    filename = f"{dataset.name}.npz"
    candidates = [d for d in ([data_dir / "medmnist", data_dir] if data_dir else []) if d]
    candidates.append(MEDMNIST_DEFAULT_ROOT)
    root = next((d for d in candidates if (d / filename).is_file()), None)
    if root is None:
        root = candidates[0]
        try:
            with folder_for_download(root):
                getattr(medmnist, info["python_class"])(split="train", root=str(root),
                                                        download=True)
        except Exception as exc:  # any download failure: offline, proxy, read-only folder
            raise CaeError(
                f"{filename} not found and could not be downloaded ({type(exc).__name__}). "
                f"Download {info['url']} (MD5 {info['MD5']}) and put it at "
                f"{candidates[0] / filename}, or pass --data-dir / set {DATA_DIR_ENV} to a folder "
                f"holding medmnist/{filename}.") from None
    md5 = verify_md5(root / filename, info["MD5"])
    python_class = getattr(medmnist, info["python_class"])
    try:
        splits = {split: python_class(split=split, root=str(root), download=False)
                  for split in ("train", "val", "test")}
    except Exception as exc:
        raise CaeError(f"cannot read {root / filename}: {exc}") from None
    for split, data in splits.items():
        _check_against_info(root / filename, split, data.imgs, data.labels, dataset)
    return Dataset(dataset.name, {s: _to_split(d.imgs, d.labels) for s, d in splits.items()},
                   list(dataset.class_names), {filename: md5})


def _check_against_info(path: Path, split: str, images: np.ndarray, labels: np.ndarray,
                        dataset: DatasetInfo) -> None:
    """Refuse a file (one's own, read with an unofficial MD5) that does not hold what the
    dataset's metadata says: one label per image in range, and its number of channels."""
    problem = None
    channels = 1 if images.ndim == 3 else images.shape[-1]
    if images.ndim not in (3, 4) or images.shape[1:3] != (28, 28) or channels != dataset.n_channels:
        problem = (f"images of shape {tuple(images.shape)}, not N x 28 x 28 with "
                   f"{dataset.n_channels} channel(s)")
    elif labels.ndim > 1 and labels.shape[1] != 1:
        problem = (f"{labels.shape[1]} labels per image (a multi-label file); cae's protocols "
                   f"need one class per image")
    elif len(labels) != len(images):
        problem = f"{len(images)} images but {len(labels)} labels"
    elif len(labels) and not 0 <= labels.min() <= labels.max() < len(dataset.class_names):
        problem = f"labels outside 0..{len(dataset.class_names) - 1}"
    if problem:
        raise CaeError(f"{path} does not match {dataset.title}'s metadata: its {split} split "
                       f"has {problem}. Use the official file or one in the same format.")


def _load_mnist(data_dir: Path | None) -> Dataset:
    from torchvision.datasets import MNIST

    root = data_dir or MNIST_DEFAULT_ROOT
    raw = root / "MNIST" / "raw"
    md5 = {}
    for gz_name, expected in MNIST.resources:
        gz_name = Path(gz_name).name
        if (raw / gz_name).is_file():
            md5[gz_name] = verify_md5(raw / gz_name, expected)
    try:
        splits = {"train": MNIST(str(root), train=True, download=False),
                  "test": MNIST(str(root), train=False, download=False)}
    except RuntimeError:
        splits = _download_mnist(root, raw)
    except Exception as exc:
        raise CaeError(f"cannot read MNIST under {raw}: {exc}. Delete the folder and "
                       f"download again.") from None
    return Dataset("mnist", {s: _to_split(d.data.numpy(), d.targets.numpy())
                             for s, d in splits.items()},
                   [str(i) for i in range(10)], md5)


def _download_mnist(root: Path, raw: Path) -> dict:
    from torchvision.datasets import MNIST

    try:
        with folder_for_download(root):
            return {"train": MNIST(str(root), train=True, download=True),
                    "test": MNIST(str(root), train=False, download=True)}
    except Exception as exc:
        files = ", ".join(f"{Path(n).name} (MD5 {m})" for n, m in MNIST.resources)
        raise CaeError(f"MNIST not found under {raw} and could not be downloaded "
                       f"({type(exc).__name__}). Put {files} there (uncompressed beside the .gz), "
                       f"or pass --data-dir / set {DATA_DIR_ENV} to a folder holding MNIST/raw/.") from None


def load(cfg: RunConfig) -> Dataset:
    """The config's dataset: its val hold-out, selection split, scored splits, train subset."""
    return load_dataset(cfg.dataset, cfg.data_dir, cfg.train_subset, cfg.seed, cfg.val_holdout,
                        cfg.selection_fraction, cfg.score_on)
