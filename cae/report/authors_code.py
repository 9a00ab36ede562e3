"""The paper's text, the first author's public code and ours, setting by setting.

The first author's repository (`matteoferrante/VAESIM`, one commit, 2022-09-25) holds the
method's class, AESIMCLR. Each entry of `SETTINGS` says what the paper writes, what that
code fixes (with the file and line it is read from) and which `RunConfig` fields carry our
value; the method chapter's table reads our values from `cae.config.make_config`, so
they cannot drift from the profiles. The code's values are facts about another
repository and are written here once.
"""

from __future__ import annotations

from dataclasses import dataclass

from cae.config import RunConfig, make_config

REPOSITORY = "matteoferrante/VAESIM"
ROOT = "VAESIM/vaesim/"


@dataclass(frozen=True)
class Setting:
    """One row: the setting, the paper's words, the code's value and source, our fields."""

    name: str
    paper: str
    code: str
    source: str  # path under ROOT, with line numbers
    fields: tuple[str, ...]


SETTINGS: tuple[Setting, ...] = (
    Setting("Encoder widths", "not given", "32, 64, 128 (`n_init_filters=32`)",
            "classes/AESIMCLR.py:992-1003", ("channels",)),
    Setting("Encoder normalisation", "none named", "BatchNorm2d after each convolution's GELU",
            "classes/AESIMCLR.py:999, 1003", ("encoder_batch_norm",)),
    Setting("Projector", "a 3-layer MLP", "Linear-ReLU-Linear-ReLU-Linear, no BatchNorm",
            "classes/AESIMCLR.py:66", ("projector_batch_norm", "projector_activation")),
    Setting("LARS trust coefficient", "not given", "0.001 (`eeta`)", "utils/optim.py:22",
            ("lars_trust_coefficient",)),
    Setting("LARS weight decay and adaptation", "LARS for all weights",
            "decay 0; every parameter adapted (the exclusion of biases and norms is a TODO)",
            "utils/optim.py:18, 97-104", ("weight_decay", "lars_adapt_all")),
    Setting("Elbow range", "KMeans + elbow (yellowbrick)", "k = 2..19 (`k=(2,20)`), distortion",
            "utils/aesimclr_functions.py:49, 66", ("k_min", "k_max", "elbow_metric")),
    Setting("No elbow found", "not given", "k = 11 (`int(k[0] + 0.5 * (k[1] - k[0]))`)",
            "utils/aesimclr_functions.py:77-79", ("elbow_fallback",)),
    Setting("Vectors the elbow clusters", "h", "h, not normalised",
            "utils/aesimclr_functions.py:68-70", ("elbow_normalised",)),
    Setting("Soft-assignment temperature", "softmax(cos(h, prototypes) / temperature), value not given",
            "1.0, on a dot product (not the authors' profile: it keeps ours)",
            "classes/AESIMCLR.py:83, 206", ("assign_temperature",)),
    Setting("Training images read by (a), (b) and (c)", "a subset of train (20% for (c))",
            "the first 49 training batches (`n_semi=50`; 12,544 images at batch 256)",
            "classes/AESIMCLR.py:777, 866", ("eval_train_images", "probe_fraction")),
    Setting("kNN distance", "k = 5 nearest neighbours", "scikit-learn's default, Euclidean",
            "classes/AESIMCLR.py:908", ("knn_k", "knn_metric")),
    Setting("Linear probe", "Adam, lr 3e-4, 200 epochs",
            "Adam, lr 1e-3, 100 epochs (`lin_epochs`), batch 512, raw features",
            "utils/aesimclr_evaluation.py:39; classes/AESIMCLR.py:777",
            ("probe_lr", "probe_epochs", "probe_batch_size", "probe_standardize")),
    Setting("Linear probe's precision and recall", "not said how averaged",
            "printed exchanged: `test_linear` returns (labels, predictions), the caller "
            "unpacks them as (predictions, labels)",
            "utils/aesimclr_evaluation.py:76; classes/AESIMCLR.py:940-948", ()),
)


def _value(cfg: RunConfig, fields: tuple[str, ...]) -> str:
    """`field = value` for each field, as config.json writes it."""
    shown = []
    for name in fields:
        value = getattr(cfg, name)
        value = ", ".join(map(str, value)) if isinstance(value, tuple) else value
        shown.append(f"`{name}` = {str(value).lower() if isinstance(value, bool) else value}")
    return "; ".join(shown) if shown else "not applicable"


def settings_table(dataset: str = "pneumoniamnist") -> str:
    """The method chapter's table in Markdown: per setting, the paper's text, the code's
    value with its source (file and lines in REPOSITORY), and our `paper` and `authors`
    profiles' values read from the config."""
    paper, authors = make_config("paper", dataset=dataset), make_config("authors", dataset=dataset)
    lines = ["| Setting | Paper | Authors' code (source under `" + ROOT + "`) | Ours: `paper` profile "
             "| Ours: `authors` profile |",
             "|---|---|---|---|---|"]
    for s in SETTINGS:
        lines.append(f"| {s.name} | {s.paper} | {s.code} (`{s.source}`) | {_value(paper, s.fields)} "
                     f"| {_value(authors, s.fields)} |")
    return "\n".join(lines)
