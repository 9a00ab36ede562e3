"""The paper's Table 1 as it was printed (Ferrante et al., 2022), and how its rows and metrics map
onto ours: the only place the paper's numbers are typed."""

from __future__ import annotations

from cae import names

PAPER_TABLE1: tuple[tuple[str, str, float, float, float], ...] = (
    ("ResNet18", "Pneumonia test", 0.74, 0.77, 0.74),
    ("Feature+KM", "Pneumonia test", 0.69, 0.74, 0.69),
    ("Ours (stat)", "Pneumonia test", 0.73, 0.73, 0.73),
    ("Ours (kNN)", "Pneumonia test", 0.84, 0.85, 0.83),
    ("Ours (lin)", "Pneumonia test", 0.84, 0.80, 0.88),
    ("ResNet18", "Pneumonia val", 0.86, 0.86, 0.86),
    ("Feature+KM", "Pneumonia val", 0.78, 0.77, 0.78),
    ("Ours (stat)", "Pneumonia val", 0.80, 0.79, 0.80),
    ("Ours (kNN)", "Pneumonia val", 0.84, 0.86, 0.81),
    ("Ours (lin)", "Pneumonia val", 0.84, 0.80, 0.87),
    ("ResNet18", "MNIST", 0.995, 0.995, 0.995),
    ("Feature+KM", "MNIST", 0.69, 0.68, 0.69),
    ("Ours (stat)", "MNIST", 0.90, 0.91, 0.90),
    ("Ours (kNN)", "MNIST", 0.98, 0.98, 0.97),
    ("Ours (lin)", "MNIST", 0.98, 0.97, 0.98),
)
PAPER_METRICS = ("accuracy", "precision", "recall")

# paper row label -> (our model, protocol); paper dataset label -> (our dataset, split)
PAPER_MODELS = {
    "ResNet18": (names.RESNET, names.TRANSFER),
    "Feature+KM": (names.FEATURE_KM, names.STAT),
    "Ours (stat)": (names.OURS, names.STAT),
    "Ours (kNN)": (names.OURS, names.KNN),
    "Ours (lin)": (names.OURS, names.LIN),
}
PAPER_DATASETS = {
    "Pneumonia test": ("pneumoniamnist", "test"),
    "Pneumonia val": ("pneumoniamnist", "val"),
    "MNIST": ("mnist", "test"),
}
# paper metric -> our column compared with it, and the columns shown beside it
COMPARED_AS = {"accuracy": "accuracy", "precision": "precision_weighted",
               "recall": "recall_weighted"}
SHOWN_BESIDE = {"precision": ("precision_macro", "precision_pos"),
                "recall": ("recall_macro", "recall_pos")}
