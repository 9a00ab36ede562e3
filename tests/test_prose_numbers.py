"""The numbers the prose chapters quote: formatting, where they are read from, and that every
`{{ name }}` a chapter writes is one the generator provides."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from cae.config import make_config
from cae.report import open_choices, prose_numbers, timings

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("seconds, text", [(42, "42 s"), (317.0098, "5 min 17 s"),
                                           (4430, "1 h 14 min"), (2555.4, "42 min 35 s")])
def test_clock_reads_like_a_clock(seconds, text):
    assert timings.clock(seconds) == text


@pytest.mark.parametrize("value, text", [(0.5, "0.5"), (2.5e-6, "2.5e-6"), (1e-6, "1e-6"),
                                         (1.0, "1"), (0.005, "0.005")])
def test_config_numbers_are_written_short(value, text):
    assert open_choices.short(value) == text


def test_open_choices_are_read_from_the_config():
    cfg = make_config("paper")
    table = open_choices.open_choices_table()
    assert f"| NT-Xent temperature $\\tau$ | {open_choices.short(cfg.temperature)} | `temperature` |" in table
    assert table.count("\n") == len(open_choices.OPEN_CHOICES) + 1


def test_screen_numbers_are_differences_from_the_base_run(tmp_path):
    encoder = pd.read_csv(ROOT / "artifacts" / "screen" / "encoder_screen.csv")
    encoder.loc[(encoder["dataset"] == "mnist") & (encoder["variant"] == "noflip"), "val knn"] = 0.99
    encoder.loc[(encoder["dataset"] == "mnist") & (encoder["variant"] == "base"), "val knn"] = 0.95
    encoder.to_csv(tmp_path / "encoder_screen.csv", index=False)
    (tmp_path / "clustering_screen.csv").write_text(
        (ROOT / "artifacts" / "screen" / "clustering_screen.csv").read_text())
    numbers = prose_numbers.screen_numbers(tmp_path)
    assert numbers["screen_mnist_noflip_knn_gain"] == "0.040"
    assert numbers["screen_mnist_noflip_knn"] == "0.990"


def test_the_chapters_quote_every_generated_number_and_no_other():
    generated = set(json.loads((ROOT / "book" / "generated" / "numbers.json").read_text())["numbers"])
    used = {name for path in (ROOT / "book").glob("*.md")
            for name in re.findall(r"\{\{\s*(\w+)\s*\}\}", path.read_text(encoding="utf8"))}
    assert used == generated, (f"quoted but not generated: {sorted(used - generated)}; "
                               f"generated but not quoted: {sorted(generated - used)}")
