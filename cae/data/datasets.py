"""Datasets as in-memory tensors: MNIST via torchvision, 2D MedMNIST via medmnist.

A local copy is read first (option `data_dir`, else the environment variable
`CAE_DATA_DIR`, else each library's default cache); otherwise the official download
code runs. When neither works the error names the file, its MD5 and where to put it.
The MD5 checked is that of the file actually read (MNIST: the .gz original, decompressed
here, else the uncompressed file beside it). A file whose MD5 is not the official one is
refused unless `CAE_UNOFFICIAL_DATA=1` (one's own data in the official format); every file
is then checked against the dataset's metadata (type, range, shapes, non-empty splits,
labels), each refusal one line naming the file, the array and the rule.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import warnings
import zlib
from collections.abc import Callable, Iterator
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
MNIST_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
               "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
# MD5 of the official uncompressed MNIST files (each the decompressed official .gz), checked
# when the .gz original is absent and the uncompressed file is read instead
MNIST_RAW_MD5 = {"train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
                 "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
                 "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
                 "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637"}


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
    """Return the file's MD5, or raise CaeError when it differs from the official one
    (`check_official`)."""
    actual = md5sum(path)
    check_official([(path, actual, expected)])
    return actual


def check_official(digests: list[tuple[Path, str, str]]) -> None:
    """Refuse files whose MD5 (path, actual, expected) is not the official one.

    With $CAE_UNOFFICIAL_DATA=1 (one's own files in the official format) one warning names
    them instead; the run's provenance records the MD5 of each file it read.
    """
    differ = [(path, actual, expected) for path, actual, expected in digests if actual != expected]
    if not differ:
        return
    if os.environ.get(UNOFFICIAL_DATA_ENV) == "1":
        listed = "; ".join(f"{path} is not the official file (MD5 {actual}, expected {expected})"
                           for path, actual, expected in differ)
        warnings.warn(f"{listed}; read anyway because {UNOFFICIAL_DATA_ENV}=1", stacklevel=3)
        return
    path, actual, expected = differ[0]
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
    dataset = (_load_mnist(info, resolve_data_dir(data_dir)) if info.name == "mnist"
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
    path = root / filename
    md5 = verify_md5(path, info["MD5"])
    arrays = _read_npz(path)
    splits = {split: checked_split(dataset, split, arrays[f"{split}_images"],
                                   arrays[f"{split}_labels"], f"{path}: array {split}_images",
                                   f"{path}: array {split}_labels")
              for split in ("train", "val", "test")}
    return Dataset(dataset.name, splits, list(dataset.class_names), {filename: md5})


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """The arrays of a MedMNIST-format .npz, every split's images and labels present."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except Exception as exc:  # not a zip, a damaged member, a pickled array
        raise CaeError(f"{path} is corrupt: not a readable .npz ({type(exc).__name__}: {exc}). "
                       f"Delete it and download it again.") from None
    missing = [f"{split}_{kind}" for split in ("train", "val", "test")
               for kind in ("images", "labels") if f"{split}_{kind}" not in arrays]
    if missing:
        raise CaeError(f"{path} lacks the array(s) {', '.join(missing)}: a MedMNIST-format file "
                       f"holds train, val and test images and labels. Use the official file or "
                       f"one in the same format.")
    return arrays


def checked_split(dataset: DatasetInfo, split: str, images: np.ndarray, labels: np.ndarray,
                  images_from: str, labels_from: str) -> Split:
    """The split, once its arrays hold what the dataset's metadata says: N > 0 images of
    28 x 28 with its number of channels, uint8 (floats in [0, 1] are scaled by 255 with a
    warning, other integers kept when within 0..255), and one integer label per image within
    its classes. Else a one-line CaeError naming the array (`*_from`) and the rule broken."""
    n_classes, channels = len(dataset.class_names), dataset.n_channels
    wanted = "N x 28 x 28" + (f" x {channels}" if channels > 1 else "")

    def refuse(where: str, rule: str) -> CaeError:
        return CaeError(f"{where} does not match {dataset.title}'s metadata: {rule}. Use the "
                        f"official file or one in the same format.")

    shape = tuple(images.shape)
    has_channels = 1 if images.ndim == 3 else shape[-1] if images.ndim == 4 else None
    if shape[1:3] != (28, 28) or has_channels != channels:
        raise refuse(images_from, f"images of shape {shape}, not {wanted} "
                                  f"({channels} channel{'s' if channels > 1 else ''})")
    if len(images) == 0:
        raise refuse(images_from, f"the {split} split is empty; every split needs images")
    images = _as_uint8(images, images_from, refuse)
    if labels.ndim == 2 and labels.shape[1] != 1:
        raise refuse(labels_from, f"{labels.shape[1]} labels per image (a multi-label file); "
                                  f"cae's protocols need one class per image")
    if labels.ndim not in (1, 2):
        raise refuse(labels_from, f"labels of shape {tuple(labels.shape)}, not N or N x 1")
    if labels.dtype.kind not in "iu":
        raise refuse(labels_from, f"labels of type {labels.dtype}, not integers")
    if len(labels) != len(images):
        raise refuse(labels_from, f"{len(labels)} labels for {len(images)} images")
    if not 0 <= labels.min() <= labels.max() < n_classes:
        raise refuse(labels_from, f"labels {labels.min()}..{labels.max()} outside the "
                                  f"{n_classes} classes 0..{n_classes - 1}")
    return _to_split(images, labels)


def _as_uint8(images: np.ndarray, where: str,
              refuse: Callable[[str, str], CaeError]) -> np.ndarray:
    """Images as uint8: kept when uint8, converted when integers within 0..255, scaled by 255
    with a warning when floats within [0, 1]; anything else refused (`refuse(where, rule)`)."""
    if images.dtype == np.uint8:
        return images
    kind = images.dtype.kind
    if kind not in "iuf":
        raise refuse(where, f"images of type {images.dtype}, not uint8")
    low, high = images.min(), images.max()
    if kind in "iu":
        if not 0 <= low <= high <= 255:
            raise refuse(where, f"{images.dtype} images with values {low}..{high}, outside 0..255")
        return images.astype(np.uint8)
    if not (np.isfinite(low) and np.isfinite(high) and 0 <= low <= high <= 1):
        raise refuse(where, f"{images.dtype} images with values {low:g}..{high:g}: images must be "
                            f"uint8 in 0..255 (or floats in [0, 1], scaled by 255)")
    warnings.warn(f"{where} holds {images.dtype} images in [0, 1], not uint8; scaled by 255 "
                  f"and rounded", stacklevel=3)
    return np.rint(images * 255).astype(np.uint8)


def _load_mnist(dataset: DatasetInfo, data_dir: Path | None) -> Dataset:
    """MNIST from root/MNIST/raw/: each file from its .gz original when present (MD5 checked,
    decompressed here), else from the uncompressed file (its MD5 checked); downloaded with
    torchvision's code when neither is there. Provenance records the MD5 of each file read."""
    from torchvision.datasets import MNIST

    root = data_dir or MNIST_DEFAULT_ROOT
    raw = root / "MNIST" / "raw"
    names = [name for pair in MNIST_FILES.values() for name in pair]
    if not all(_mnist_source(raw, name) for name in names):
        _download_mnist(root, raw)
    gz_md5 = {Path(url).name: md5 for url, md5 in MNIST.resources}
    read, digests = {}, []
    for name in names:
        path = _mnist_source(raw, name)
        assert path is not None  # present, or the download above raised
        content = _read_bytes(path)
        expected = gz_md5[path.name] if path.suffix == ".gz" else MNIST_RAW_MD5[name]
        read[name] = (path, content)
        digests.append((path, hashlib.md5(content).hexdigest(), expected))
    arrays = {name: _read_idx(path, content, 3 if "images" in name else 1)
              for name, (path, content) in read.items()}
    check_official(digests)
    splits = {split: checked_split(dataset, split, arrays[images], arrays[labels],
                                   str(read[images][0]), str(read[labels][0]))
              for split, (images, labels) in MNIST_FILES.items()}
    return Dataset("mnist", splits, list(dataset.class_names),
                   {path.name: actual for path, actual, _ in digests})


def _mnist_source(raw: Path, name: str) -> Path | None:
    """The file an MNIST array is read from: the .gz original, else the uncompressed file."""
    return next((p for p in (raw / f"{name}.gz", raw / name) if p.is_file()), None)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CaeError(f"cannot read {path} ({exc.strerror or exc})") from None


def _read_idx(path: Path, content: bytes, ndim: int) -> np.ndarray:
    """The uint8 array of an idx file (decompressed first when path is a .gz): magic
    0x0008 0x0n, n big-endian dimensions, then the bytes; CaeError naming the file as corrupt
    when it is not one of n dimensions of 28 x 28 images (n = 3) or labels (n = 1), or is
    truncated."""
    def corrupt(why: str) -> CaeError:
        return CaeError(f"{path} is corrupt: {why}. Delete it and download it again.")

    if path.suffix == ".gz":
        try:
            content = gzip.decompress(content)
        except (OSError, EOFError, zlib.error) as exc:
            raise corrupt(f"it does not decompress ({exc})") from None
    header = 4 + 4 * ndim
    if len(content) < header or content[:4] != bytes([0, 0, 0x08, ndim]):
        raise corrupt(f"not an idx file of unsigned bytes in {ndim} dimension(s)")
    dims = tuple(int.from_bytes(content[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    if dims[1:] != (28, 28)[:ndim - 1]:
        raise corrupt(f"dimensions {dims}, not " + ("N x 28 x 28" if ndim == 3 else "N"))
    size = header + int(np.prod(dims))
    if len(content) != size:
        raise corrupt(f"{len(content)} bytes where its header announces {size}"
                      + (" (truncated)" if len(content) < size else ""))
    return np.frombuffer(content, dtype=np.uint8, offset=header).reshape(dims).copy()


def _download_mnist(root: Path, raw: Path) -> None:
    from torchvision.datasets import MNIST

    try:
        with folder_for_download(root):
            MNIST(str(root), train=True, download=True)
    except Exception as exc:
        files = ", ".join(f"{Path(n).name} (MD5 {m})" for n, m in MNIST.resources)
        raise CaeError(f"MNIST not found under {raw} and could not be downloaded "
                       f"({type(exc).__name__}). Put {files} there (or the uncompressed files), "
                       f"or pass --data-dir / set {DATA_DIR_ENV} to a folder holding MNIST/raw/.") from None


def load(cfg: RunConfig) -> Dataset:
    """The config's dataset: its val hold-out, selection split, scored splits, train subset."""
    return load_dataset(cfg.dataset, cfg.data_dir, cfg.train_subset, cfg.seed, cfg.val_holdout,
                        cfg.selection_fraction, cfg.score_on)
