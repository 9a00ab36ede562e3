"""The averaging check: which precision/recall averaging is nearest the paper's numbers."""

from __future__ import annotations

import pandas as pd
import pytest

from cae import names
from cae.report import averaging

# the paper's Ours (lin), Pneumonia test row: accuracy 0.84, precision 0.80, recall 0.88
PAPER_ACC, PAPER_P, PAPER_R = 0.84, 0.80, 0.88


def _summary(values: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame([dict(dataset="pneumoniamnist", model=names.OURS, split="test",
                              protocol=names.LIN, metric=m, mean=v) for m, v in values.items()])


def _lin(**overrides: float) -> dict[str, float]:
    values = dict(accuracy=0.84, precision_weighted=0.85, recall_weighted=0.84,
                  precision_macro=0.83, recall_macro=0.81, precision_pos=0.86, recall_pos=0.90)
    return values | overrides


def test_an_exchanged_positive_class_is_found_by_value() -> None:
    # our positive-class recall and precision are the paper's precision and recall, swapped
    candidates = averaging.averaging_candidates(_summary(_lin(recall_pos=PAPER_P, precision_pos=PAPER_R)))
    closest = averaging.closest_averaging(candidates).iloc[0]
    assert closest["by_value"] == "positive class, exchanged"
    assert closest["value_distance"] == pytest.approx(0.0)
    assert not closest["value_tie"]
    row = candidates[candidates["averaging"] == "positive class, exchanged"].iloc[0]
    assert (row["precision"], row["recall"]) == (PAPER_P, PAPER_R)


def test_shape_ignores_a_shift_of_every_number() -> None:
    # macro reproduces the paper's pattern (P 0.04 below and R 0.04 above accuracy), 0.05 lower
    shifted = _lin(accuracy=0.79, precision_macro=0.75, recall_macro=0.83, precision_pos=0.70,
                   recall_pos=0.95, precision_weighted=0.79, recall_weighted=0.79)
    candidates = averaging.averaging_candidates(_summary(shifted))
    macro = candidates[candidates["averaging"] == "macro"].iloc[0]
    assert macro["distance"] == pytest.approx(0.05)
    assert macro["offset_distance"] == pytest.approx(0.0)
    assert averaging.closest_averaging(candidates).iloc[0]["by_shape"] == "macro"


def test_a_near_tie_is_reported_as_one() -> None:
    values = _lin(precision_macro=PAPER_P, recall_macro=PAPER_R,
                  precision_pos=PAPER_P + 0.001, recall_pos=PAPER_R)
    closest = averaging.closest_averaging(averaging.averaging_candidates(_summary(values)))
    assert closest.iloc[0]["value_tie"]
    assert "no averaging stands out" in averaging.findings(closest)[0]


def test_multi_class_rows_leave_the_positive_class_out() -> None:
    mnist = _summary(_lin(precision_pos=float("nan"), recall_pos=float("nan"))).assign(dataset="mnist")
    candidates = averaging.averaging_candidates(mnist)
    assert set(candidates["averaging"]) == {"weighted", "macro", "macro, exchanged"}
    assert set(candidates["paper_dataset"]) == {"MNIST"}


def test_findings_name_the_fit_and_its_distance() -> None:
    candidates = averaging.averaging_candidates(_summary(_lin(recall_pos=PAPER_P, precision_pos=PAPER_R)))
    sentence = averaging.findings(averaging.closest_averaging(candidates))[0]
    assert sentence.startswith("Ours (lin), Pneumonia test: by value, **positive class, exchanged** "
                               "fits best (0.000")
