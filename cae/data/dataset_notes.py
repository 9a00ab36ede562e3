"""The dataset chapter's words that depend on the dataset, as Markdown: its introduction
from the metadata, its class balance, how precision and recall are averaged for its task,
and the asides only some datasets have (the clinical reading of chest radiographs).

A notebook's Markdown cells cannot change with a papermill parameter, so whatever names
the dataset, its classes or its organ is written here and shown by a code cell.
"""

from __future__ import annotations

import numpy as np

from cae.data.dataset_info import DatasetInfo
from cae.data.datasets import Dataset

# dataset -> {topic: Markdown}: remarks that hold for one dataset only
ASIDES: dict[str, dict[str, str]] = {
    "pneumoniamnist": {
        "images": "> **Chest radiographs at 28 × 28.** At this size the radiographs keep the "
                  "gross shape of the thorax and the density of the lung fields, not fine "
                  "texture.",
        "prototypes": "> **What a clinician would look for.** The decoded prototypes are what a "
                      "clinician would inspect to judge what the patients of a cluster have in "
                      "common; at this resolution expect lung-field density and thorax shape, "
                      "not lesions.",
    },
}


def asides(name: str, topic: str) -> list[str]:
    """The dataset's aside on a topic ('images', 'prototypes'), as a list of none or one."""
    note = ASIDES.get(name, {}).get(topic)
    return [note] if note else []


def task_sentence(info: DatasetInfo) -> str:
    """The task in a sentence: the positive class named for binary tasks, grades for ordinal ones."""
    names = info.class_names
    if info.binary:
        return (f"binary: *{names[1]}* (label 1, the positive class) against *{names[0]}* "
                f"(label 0).")
    if info.ordinal:
        return (f"ordinal regression over {len(names)} grades, {names[0]} to {names[-1]}. The "
                f"grades are ordered, but cae's protocols score them as unordered classes: a "
                f"prediction one grade off counts as wrong as one {len(names) - 1} grades off.")
    return f"{info.task}, {len(names)} classes."


def introduction(info: DatasetInfo) -> str:
    """The dataset as its metadata describes it: title, description, task, classes, images, licence."""
    colour = "greyscale" if info.n_channels == 1 else "colour (RGB)"
    names = info.class_names
    classes = (f"{names[0]} to {names[-1]}" if names == tuple(map(str, range(len(names))))
               else "; ".join(f"{i} {name}" for i, name in enumerate(names)))
    return (f"## {info.title}\n\n> {info.description}\n\n"
            f"- **Task:** {task_sentence(info)}\n"
            f"- **Classes** (label and name): {classes}.\n"
            f"- **Images:** {info.n_channels} × 28 × 28, {colour}.\n"
            f"- **Licence:** {info.license}.")


def class_balance(data: Dataset) -> str:
    """Which class is the majority in each split, and the majority-class floor of each
    evaluation split: the score of always answering the training set's majority class."""
    counts = {split: np.bincount(part.labels.numpy(), minlength=data.n_classes)
              for split, part in data.splits.items()}
    majority = {split: int(c.argmax()) for split, c in counts.items()}
    shares = ", ".join(f"{c[majority[s]] / c.sum():.1%} of {s}" for s, c in counts.items())
    if len(set(majority.values())) == 1:
        first = f"**{data.class_names[majority['train']]}** is the majority class in every split ({shares})."
    else:
        first = "The majority class differs between splits: " + ", ".join(
            f"{data.class_names[m]} in {s} ({counts[s][m] / counts[s].sum():.1%})"
            for s, m in majority.items()) + "."
    answer = data.class_names[majority["train"]]
    floors = {s: counts[s][majority["train"]] / counts[s].sum() for s in data.eval_splits}
    scores = " and ".join(f"{floor:.3f} on {s}" for s, floor in floors.items())
    second = (f"A classifier that always answers *{answer}*, the training set's majority, "
              f"scores {scores} (the majority-class floor).")
    if len(floors) > 1 and np.ptp(list(floors.values())) >= 0.01:
        second += (" The floor differs between the splits, so a result on one split alone can "
                   "mislead: read each against its own.")
    return f"{first} {second}"


def averaging(info: DatasetInfo) -> str:
    """How precision and recall are averaged for this task (the paper does not say)."""
    if info.binary:
        text = (f"The paper does not say how it averaged precision and recall, so both are "
                f"shown macro-averaged and for the positive class (*{info.positive_class}*) "
                f"alone, and precision also support-weighted (weighted recall always equals "
                f"accuracy).")
    else:
        text = (f"The paper does not say how it averaged precision and recall, so both are "
                f"shown macro-averaged over the {len(info.class_names)} classes, and precision "
                f"also support-weighted (weighted recall always equals accuracy).")
    if info.ordinal:
        text += (f" {info.title}'s labels are ordered grades, scored here as unordered "
                 f"classes: every protocol counts a near miss as a miss.")
    return text
