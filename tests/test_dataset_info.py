"""Dataset metadata and the words the dataset chapter builds from it, for every kind of task."""

import pandas as pd
import pytest
import torch

from cae.data import dataset_notes
from cae.data.dataset_info import available_datasets, describe, supported
from cae.data.datasets import Dataset, Split
from cae.errors import CaeError
from cae.report import readouts


def test_metadata_of_each_kind_of_dataset():
    pneumonia, blood, retina = describe("pneumoniamnist"), describe("BloodMNIST"), describe("retinamnist")
    assert (pneumonia.title, pneumonia.n_channels, pneumonia.license) == ("PneumoniaMNIST", 1, "CC BY 4.0")
    assert pneumonia.binary and pneumonia.positive_class == "pneumonia" and pneumonia.kind == "binary"
    assert pneumonia.class_names == ("normal", "pneumonia")
    assert (blood.name, blood.n_channels, blood.kind, blood.positive_class) == ("bloodmnist", 3, "multi-class, 8 classes", None)
    assert retina.ordinal and not retina.binary and retina.kind == "ordinal, 5 grades"
    assert describe("chestmnist").multi_label and describe("chestmnist").kind == "multi-label, 14 labels"
    assert describe("organmnist3d").volumetric
    mnist = describe("mnist")
    assert (mnist.title, mnist.class_names[-1], mnist.kind) == ("MNIST", "9", "multi-class, 10 classes")


def test_unsupported_and_unknown_datasets_are_refused_with_the_reason():
    with pytest.raises(CaeError, match=r"chestmnist is a multi-label, binary-class dataset \(14 labels per image\)"):
        supported("chestmnist")
    with pytest.raises(CaeError, match="organmnist3d holds 3D volumes"):
        supported("organmnist3d")
    with pytest.raises(CaeError, match=r"unknown dataset 'cifar10'; choose one of: mnist, "):
        describe("cifar10")
    assert supported("retinamnist").ordinal
    assert "chestmnist" not in available_datasets() and "bloodmnist" in available_datasets()


def test_introduction_names_the_positive_class_only_for_binary_tasks():
    pneumonia = dataset_notes.introduction(supported("pneumoniamnist"))
    assert pneumonia.startswith("## PneumoniaMNIST\n\n> The PneumoniaMNIST is based on")
    assert "*pneumonia* (label 1, the positive class) against *normal* (label 0)" in pneumonia
    assert "1 × 28 × 28, greyscale" in pneumonia and "CC BY 4.0" in pneumonia
    blood = dataset_notes.introduction(supported("bloodmnist"))
    assert blood.startswith("## BloodMNIST\n\n> The BloodMNIST is based on")
    assert "multi-class, 8 classes" in blood and "3 × 28 × 28, colour (RGB)" in blood
    assert "0 basophil; 1 eosinophil;" in blood and "7 platelet." in blood
    retina = dataset_notes.introduction(supported("retinamnist"))
    assert "ordinal regression over 5 grades, 0 to 4" in retina and "(label and name): 0 to 4." in retina
    for text in (blood, retina):
        assert "positive" not in text and "pneumonia" not in text.lower()


def test_averaging_note_follows_the_task():
    assert "positive class (*pneumonia*)" in dataset_notes.averaging(supported("pneumoniamnist"))
    blood = dataset_notes.averaging(supported("bloodmnist"))
    assert "macro-averaged over the 8 classes" in blood and "positive" not in blood
    retina = dataset_notes.averaging(supported("retinamnist"))
    assert "ordered grades, scored here as unordered classes" in retina and "positive" not in retina


def _dataset(labels: dict[str, list[int]], names: list[str]) -> Dataset:
    return Dataset("x", {s: Split(torch.zeros(len(y), 1, 28, 28, dtype=torch.uint8), torch.tensor(y))
                         for s, y in labels.items()}, names)


def test_class_balance_states_the_floor_of_each_split():
    data = _dataset({"train": [1, 1, 1, 0], "val": [1, 1, 1, 0], "test": [1, 0]}, ["normal", "ill"])
    assert dataset_notes.class_balance(data) == (
        "The majority class differs between splits: ill in train (75.0%), ill in val (75.0%), "
        "normal in test (50.0%). A classifier that always answers *ill*, the training set's "
        "majority, scores 0.750 on val and 0.500 on test (the majority-class floor). The floor "
        "differs between the splits, so a result on one split alone can mislead: read each "
        "against its own.")
    even = _dataset({"train": [0, 0, 1, 2, 3], "test": [0, 0, 1, 2, 3]}, ["0", "1", "2", "3"])
    assert dataset_notes.class_balance(even) == (
        "**0** is the majority class in every split (40.0% of train, 40.0% of test). A "
        "classifier that always answers *0*, the training set's majority, scores 0.400 on test "
        "(the majority-class floor).")


def test_asides_only_for_the_dataset_they_are_about():
    assert len(dataset_notes.asides("pneumoniamnist", "images")) == 1
    assert "lung-field density" in dataset_notes.asides("pneumoniamnist", "prototypes")[0]
    assert dataset_notes.asides("bloodmnist", "images") == []
    assert dataset_notes.asides("pneumoniamnist", "nothing") == []


def test_metrics_view_names_the_positive_class_in_its_headers():
    metrics = pd.DataFrame([dict(model="CAE (ours)", split="test", protocol="knn", accuracy=0.8,
                                 precision_pos=0.75, recall_pos=0.9)])
    view = readouts.metrics_view(metrics, ["CAE (ours)"], supported("pneumoniamnist").positive_class)
    assert ("precision", "positive: pneumonia") in view.columns
    assert view.loc[("CAE (ours)", "test", "knn"), ("recall", "positive: pneumonia")] == "0.900"
    assert ("precision", "positive") in readouts.metrics_view(metrics).columns
