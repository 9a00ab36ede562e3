"""The names of models and protocols: the keys of every metrics.json row, in one place.

They are plain strings (`metrics.json` and the book's tables hold them as written); the
tuples list every name a run may write.
"""

from __future__ import annotations

# models: ours, our clustering head, the paper's two baselines, the floors the paper lacks
OURS = "CAE (ours)"
HEAD_MODEL = "CAE + clustering head"
RESNET = "ResNet18"
FEATURE_KM = "Feature+KM"
MAJORITY = "majority class"
RAW_PIXELS = "raw pixels"
UNTRAINED = "untrained encoder"
MODELS = (OURS, HEAD_MODEL, RESNET, FEATURE_KM, MAJORITY, RAW_PIXELS, UNTRAINED)

# protocols: (a) the prototypes' majority mapping, (b) kNN, (c) the linear probe, Hungarian
# accuracy, the ResNet-18 transfer head, and "-" for the majority-class floor (no protocol)
STAT = "stat"
KNN = "knn"
LIN = "lin"
HUNGARIAN = "hungarian"
TRANSFER = "transfer"
NO_PROTOCOL = "-"
PROTOCOLS = (STAT, KNN, LIN, HUNGARIAN, TRANSFER, NO_PROTOCOL)
