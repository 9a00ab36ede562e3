"""What a dataset is, from its own metadata: title, description, task, classes, channels, licence.

For MedMNIST this is medmnist's `INFO`; MNIST, which is not part of MedMNIST, has its
entry here. `supported` refuses, with the reason, the sets cae cannot run: multi-label
sets (ChestMNIST), whose images have no single class, and 3D volumes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cae.errors import CaeError

MNIST_INFO: dict[str, Any] = {
    "python_class": "MNIST",
    "description": "MNIST holds 70,000 handwritten digits, 0 to 9, remixed from NIST's special "
                   "databases (LeCun et al., 1998): 60,000 training and 10,000 test images of "
                   "1×28×28.",
    "task": "multi-class",
    "label": {str(i): str(i) for i in range(10)},
    "n_channels": 1,
    "license": "CC BY-SA 3.0",
    "n_samples": {"train": 60_000, "test": 10_000},
}


@dataclass(frozen=True)
class DatasetInfo:
    """One dataset's metadata, as MedMNIST's INFO (or MNIST_INFO) states it."""

    name: str  # the name cae takes, e.g. "pneumoniamnist"
    title: str  # e.g. "PneumoniaMNIST"
    description: str
    task: str  # "binary-class", "multi-class", "ordinal-regression", "multi-label, binary-class"
    class_names: tuple[str, ...]
    n_channels: int
    license: str
    volumetric: bool  # a 3D MedMNIST set
    split_sizes: tuple[tuple[str, int], ...] = ()  # the official splits: (name, images)

    @property
    def train_size(self) -> int:
        """Images in the official train split (0 when the metadata does not say)."""
        return dict(self.split_sizes).get("train", 0)

    @property
    def has_val(self) -> bool:
        """Whether the dataset ships an official val split."""
        return "val" in dict(self.split_sizes)

    @property
    def binary(self) -> bool:
        return self.task == "binary-class"

    @property
    def ordinal(self) -> bool:
        return self.task == "ordinal-regression"

    @property
    def multi_label(self) -> bool:
        return self.task.startswith("multi-label")

    @property
    def positive_class(self) -> str | None:
        """Label 1 of a binary task, whose precision and recall are also reported alone."""
        return self.class_names[1] if self.binary else None

    @property
    def kind(self) -> str:
        """The task in a few words: 'binary', 'multi-class, 8 classes', 'ordinal, 5 grades'."""
        n = len(self.class_names)
        if self.binary:
            return "binary"
        if self.ordinal:
            return f"ordinal, {n} grades"
        if self.multi_label:
            return f"multi-label, {n} labels"
        return f"{self.task}, {n} classes"


def _medmnist_info() -> dict[str, dict[str, Any]]:
    import medmnist

    return medmnist.INFO


def medmnist_2d_flags() -> list[str]:
    """Names of every 2D MedMNIST dataset the installed medmnist knows."""
    return sorted(flag for flag in _medmnist_info() if not flag.endswith("3d"))


def available_datasets() -> list[str]:
    """The datasets cae runs on: MNIST and every single-label 2D MedMNIST set."""
    info = _medmnist_info()
    return ["mnist", *(f for f in medmnist_2d_flags() if not info[f]["task"].startswith("multi-label"))]


def describe(name: str) -> DatasetInfo:
    """The metadata of any dataset MedMNIST (or cae, for MNIST) knows, supported or not."""
    name = name.lower()
    raw = MNIST_INFO if name == "mnist" else _medmnist_info().get(name)
    if raw is None:
        raise CaeError(f"unknown dataset {name!r}; choose one of: {', '.join(available_datasets())}")
    labels = raw["label"]
    return DatasetInfo(name=name, title=raw["python_class"], description=raw["description"],
                       task=raw["task"], class_names=tuple(labels[str(i)] for i in range(len(labels))),
                       n_channels=int(raw["n_channels"]), license=raw["license"],
                       volumetric=name.endswith("3d"),
                       split_sizes=tuple((k, int(v)) for k, v in raw.get("n_samples", {}).items()))


def supported(name: str) -> DatasetInfo:
    """The dataset's metadata, or CaeError saying why cae cannot run it.

    3D volumes do not fit the 2D networks; multi-label images have no single class, which
    the mapping, kNN, linear-probe and Hungarian protocols all assume.
    """
    info = describe(name)
    choices = ", ".join(available_datasets())
    if info.volumetric:
        raise CaeError(f"{info.name} holds 3D volumes; cae's networks take 2D images: choose one "
                       f"of {choices}")
    if info.multi_label:
        raise CaeError(f"{info.name} is a {info.task} dataset ({len(info.class_names)} labels per "
                       f"image); cae's protocols need one class per image, so multi-label sets "
                       f"are not supported: choose one of {choices}")
    return info
