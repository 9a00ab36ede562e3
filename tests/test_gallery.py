"""The gallery reads generated run folders of each kind: RGB 3x28x28 with 8 classes, five ordinal grades."""

import base64
import io
import math
import re

import pytest
import torch
from conftest import metrics_row, write_run
from PIL import Image

from cae.errors import CaeError
from cae.report import figures
from cae.report.gallery import gallery_html, gallery_rows


def gallery_run(root, dataset, profile, seed, scores, channels=None):
    """A finished run folder (`conftest.write_run`) with metrics of the given
    {(model, protocol): accuracy} on val and test (test = val + 0.1 * seed), and decoded
    prototypes of `channels` channels."""
    rows = [metrics_row(model, split, protocol, seed, value + (0.1 * seed if split == "test" else 0.0))
            for (model, protocol), value in scores.items() for split in ("val", "test")]
    run = write_run(root, dataset, seed, rows, profile, elbow={"k": 3, "ks": [2, 3, 4]})
    if channels:
        images = torch.rand(3, channels, 28, 28)
        figures.save_figure(figures.decoded_prototypes(images, ["a", "b", "c"]),
                            run / "figures" / "prototypes.png")
    return run


RGB_SCORES = {("CAE (ours)", "stat"): 0.5, ("CAE (ours)", "knn"): 0.6, ("CAE (ours)", "lin"): 0.65,
              ("CAE (ours)", "hungarian"): 0.45, ("raw pixels", "stat"): 0.3,
              ("raw pixels", "knn"): 0.4, ("raw pixels", "lin"): 0.35,
              ("raw pixels", "hungarian"): 0.25, ("majority class", "-"): 0.2}
ORDINAL_SCORES = {("CAE (ours)", "stat"): 0.3, ("CAE (ours)", "knn"): 0.4, ("CAE (ours)", "lin"): 0.45,
                  ("majority class", "-"): 0.25}


@pytest.fixture
def runs_root(tmp_path):
    root = tmp_path / "artifacts"
    for seed in (1, 0):
        gallery_run(root, "bloodmnist", "quick", seed, RGB_SCORES, channels=3)
    gallery_run(root, "retinamnist", "smoke", 0, ORDINAL_SCORES)
    (root / "floors").mkdir()  # not a run: no provenance.json
    return root


def test_one_row_per_dataset_and_profile_with_means_over_seeds(runs_root):
    blood, retina = gallery_rows(runs_root)
    assert (blood.info.title, blood.info.kind, blood.profile, blood.seeds) == \
        ("BloodMNIST", "multi-class, 8 classes", "quick", [0, 1])
    assert blood.ours == pytest.approx({"stat": 0.55, "knn": 0.65, "lin": 0.7, "hungarian": 0.5})
    assert blood.pixels == pytest.approx({"stat": 0.35, "knn": 0.45, "lin": 0.4, "hungarian": 0.3})
    assert blood.majority == pytest.approx(0.25)
    assert blood.prototypes == runs_root / "bloodmnist-quick-seed0" / "figures" / "prototypes.png"
    assert (retina.info.kind, retina.profile, retina.seeds) == ("ordinal, 5 grades", "smoke", [0])
    assert math.isnan(retina.ours["hungarian"]) and math.isnan(retina.pixels["knn"])
    assert retina.prototypes is None
    val_blood, _ = gallery_rows(runs_root, split="val")
    assert val_blood.ours["knn"] == pytest.approx(0.6)


def test_html_shows_scores_floors_and_the_prototypes_thumbnail(runs_root):
    page = gallery_html(gallery_rows(runs_root))
    page = re.sub(r" style=\"[^\"]*\"", "", page)  # the styles aside, the content:
    assert "<b>BloodMNIST</b><br><small>multi-class, 8 classes; quick; seeds 0, 1</small>" in page
    assert "<td>0.650<br><small>pixels 0.450</small></td>" in page  # kNN
    assert "<b>RetinaMNIST</b><br><small>ordinal, 5 grades; smoke; seed 0</small>" in page
    assert "<td>0.400</td>" in page and "<td>&ndash;</td>" in page  # no pixel floor; no Hungarian
    assert "no decoded prototypes drawn" in page
    embedded = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(embedded) == 1
    png = base64.b64decode(embedded[0])
    assert png == (runs_root / "bloodmnist-quick-seed0" / "figures" / "prototypes.png").read_bytes()
    assert Image.open(io.BytesIO(png)).mode in ("RGB", "RGBA")


def test_no_runs_says_how_to_make_one(tmp_path):
    with pytest.raises(CaeError, match="no finished runs under .*cae reproduce"):
        gallery_rows(tmp_path / "missing")
