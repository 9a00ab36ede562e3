"""A run's source line under each figure: the file it came from and the command that makes it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from cae.infra.runs import RunArtifacts
from cae.report import readouts

RUN = Path(__file__).resolve().parent.parent / "artifacts" / "pneumoniamnist-validated-seed0"


def test_reproduce_command_names_the_run_and_every_changed_setting():
    run = RunArtifacts.read(RUN)
    assert readouts.reproduce_command(run) == (
        "cae reproduce --dataset pneumoniamnist --profile validated --seed 0 "
        "--run-dir pneumoniamnist-validated-seed0")
    changed = dataclasses.replace(run, config=dataclasses.replace(run.config, temperature=0.2,
                                                                  channels=(8, 16, 32)))
    command = readouts.reproduce_command(changed)
    assert "--set temperature=0.2" in command and "--set channels=8,16,32" in command


def test_figure_shows_the_image_and_its_source_line():
    run = RunArtifacts.read(RUN)
    image, line = readouts.figure(run, "elbow.png")
    assert Path(image.filename) == RUN / "figures" / "elbow.png"
    assert line.data == readouts.source_line(run, "figures/elbow.png")
    assert line.data.startswith("<small>From `pneumoniamnist-validated-seed0/figures/elbow.png`")
