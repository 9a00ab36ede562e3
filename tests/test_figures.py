"""Each figure builds with the expected panels and images, and saves as a PNG."""

from __future__ import annotations

import base64
from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.colors import to_hex

from cae.report import figures

RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def no_global_pyplot_state():
    """Drawing a figure opens no pyplot figure and changes no rcParams (seaborn's style
    included). Compared with the state before the test: a library used by an earlier test
    may have left a pyplot figure open."""
    rc, open_before = dict(mpl.rcParams), plt.get_fignums()
    yield
    assert plt.get_fignums() == open_before
    assert dict(mpl.rcParams) == rc


def _images(axes) -> int:
    return sum(len(ax.images) for ax in axes)


def _data_lines(ax) -> list:
    """The drawn curves: seaborn also adds empty lines for its legend, and axvline is vertical."""
    return [line for line in ax.lines if len(line.get_xdata()) > 0 and
            len(set(np.asarray(line.get_xdata(), dtype=float))) > 1]


def test_dataset_montage_one_row_per_class_and_blank_cells():
    images = RNG.integers(0, 256, size=(12, 1, 8, 8), dtype=np.uint8)
    labels = np.array([0] * 9 + [1] * 3)
    fig = figures.dataset_montage(images, torch.from_numpy(labels), ["normal", "pneumonia"],
                                  per_class=4)
    assert len(fig.axes) == 8 and _images(fig.axes) == 4 + 3
    assert [fig.axes[0].get_ylabel(), fig.axes[4].get_ylabel()] == ["normal", "pneumonia"]


def test_display_image_handles_uint8_float_and_rgb():
    grey = figures._display_image(np.full((1, 4, 4), 255, dtype=np.uint8))
    rgb = figures._display_image(np.full((3, 4, 5), 1.5, dtype=np.float32))
    assert grey.shape == (4, 4) and grey.max() == 1.0
    assert rgb.shape == (4, 5, 3) and rgb.max() == 1.0


def test_to_numpy_accepts_bf16_tensors():
    assert figures.to_numpy(torch.ones(2, dtype=torch.bfloat16)).tolist() == [1.0, 1.0]


def test_training_curves_offsets_phase2_and_adds_lr_panel():
    history = {"nt_xent": [5.0, 4.0, 3.5], "mse": [0.1, 0.05, 0.04], "total": [5.1, 4.0, 3.5],
               "phase2_mse": [0.03, 0.02], "lr": [0.01, 0.1, 0.25, 0.2, 0.05]}
    fig = figures.training_curves(history, phase1_epochs=3)
    assert len(fig.axes) == 2
    losses = _data_lines(fig.axes[0])
    assert [line.get_ydata().tolist() for line in losses] == [
        history[name] for name in ("nt_xent", "mse", "total", "phase2_mse")]
    assert [line.get_xdata().tolist() for line in losses] == [[1, 2, 3]] * 3 + [[4, 5]]
    assert [to_hex(line.get_color()).upper() for line in losses] == [
        figures._LINE_COLORS[name] for name in ("nt_xent", "mse", "total", "phase2_mse")]
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["nt_xent", "mse", "total", "phase2_mse", "phase 2 starts"]
    assert fig.axes[0].get_yscale() == "log"
    assert _data_lines(fig.axes[1])[0].get_ydata().tolist() == history["lr"]
    assert len(figures.training_curves({"total": [1.0, 0.5]}, 2).axes) == 1
    empty = figures.training_curves({"total": [1.0, 0.5], "phase2_mse": []}, 2).axes[0]
    assert [t.get_text() for t in empty.get_legend().get_texts()] == ["total", "phase 2 starts"]


def test_elbow_and_accuracy_vs_k_mark_the_choice():
    ks = [2, 3, 4, 5]
    elbow = figures.elbow_curve(ks, [10.0, 5.0, 4.0, 3.5], chosen_k=3)
    assert "elbow at $k=3$" in elbow.axes[0].get_legend().get_texts()[-1].get_text()
    assert "Distortion" in elbow.axes[0].get_title()
    assert elbow.axes[0].lines[0].get_ydata().tolist() == [10.0, 5.0, 4.0, 3.5]
    silhouette = figures.elbow_curve(ks, [0.2, 0.5, 0.4, 0.3], chosen_k=3, metric="silhouette")
    assert "Silhouette" in silhouette.axes[0].get_title()
    values = [[0.7, 0.8, 0.85, 0.9], [0.2, 0.25, 0.3, 0.3], [0.1, 0.15, 0.1, 0.05]]
    scores = figures.accuracy_vs_k(ks, *values, chosen_k=3).axes[0]
    labels = [t.get_text() for t in scores.get_legend().get_texts()]
    assert labels == ["mapped accuracy", "NMI", "ARI", "elbow: k = 3"]
    curves = _data_lines(scores)
    assert [line.get_ydata().tolist() for line in curves] == values
    assert all(line.get_xdata().tolist() == ks for line in curves)
    assert [to_hex(line.get_color()).upper() for line in curves] == [
        figures.PALETTE[0], figures.PALETTE[2], figures.PALETTE[6]]
    assert [t.get_text() for t in scores.get_xticklabels()] == ["2", "3", "4", "5"]


def test_composition_heatmap_orders_clusters_and_annotates_fractions():
    counts = np.array([[0, 9, 1], [8, 2, 0], [0, 0, 0], [1, 0, 99]])  # cluster 2 is empty
    fig = figures.composition_heatmap(counts, ["a", "b", "c"])
    ax = fig.axes[0]
    assert len(fig.axes) == 2  # the heatmap and its colour bar
    assert [t.get_text() for t in ax.get_yticklabels()] == ["1 (n=10)", "2 (n=0)", "0 (n=10)",
                                                            "3 (n=100)"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert all(t.get_rotation() == 0 for t in ax.get_yticklabels())
    np.testing.assert_allclose(ax.collections[0].get_array().reshape(4, 3),
                               [[0.8, 0.2, 0], [0, 0, 0], [0, 0.9, 0.1], [0.01, 0, 0.99]])
    # shares under 0.05 are left blank; the rest read without a leading zero
    assert [t.get_text() for t in ax.texts] == [".80", ".20", "", "", "", "", "", ".90", ".10",
                                                "", "", ".99"]
    assert ax.get_title() == "k = 4: each cluster's images by class"


def test_tsne_embedding_is_seeded_subsamples_and_maps_prototypes():
    h = torch.randn(40, 6, generator=torch.Generator().manual_seed(0))
    prototypes = h[:3] + 0.01
    a_points, a_protos, a_index = figures.tsne_embedding(h, prototypes, seed=1, max_points=20)
    b_points, b_protos, b_index = figures.tsne_embedding(h, prototypes, seed=1, max_points=20)
    assert a_points.shape == (20, 2) and a_protos.shape == (3, 2)
    assert len(np.unique(a_index)) == 20 and np.all(np.diff(a_index) > 0)
    np.testing.assert_array_equal(a_index, b_index)
    np.testing.assert_allclose(a_points, b_points)
    np.testing.assert_allclose(a_protos, b_protos)
    assert np.all(np.isfinite(a_protos))
    _, _, all_index = figures.tsne_embedding(h[:10], prototypes, seed=1, max_points=20)
    assert all_index.tolist() == list(range(10))


def test_tsne_panels_three_panels_with_numbered_prototypes_and_a_legend_panel():
    points = RNG.normal(size=(30, 2))
    true_labels = RNG.integers(0, 2, size=30)
    clusters = np.arange(30) % 3
    mapping = np.array([0, 1, 1])
    fig = figures.tsne_panels(points, RNG.normal(size=(4, 2)), true_labels, clusters,
                              mapping[clusters], ["normal", "pneumonia"])
    panels, legend_panel = fig.axes[:3], fig.axes[3]  # 2 x 2: three panels, then the legends
    assert [ax.get_title() for ax in panels] == [
        "(A) true labels", "(B) cluster labels", "(C) clusters mapped to labels"]
    for ax in panels:
        assert [t.get_text() for t in ax.texts] == ["0", "1", "2", "3"]
        assert ax.get_legend() is None  # legends sit in their own panel, off the points
    classes, clusters = legend_panel.artists[0], legend_panel.get_legend()
    assert [t.get_text() for t in classes.get_texts()] == ["normal", "pneumonia", "prototypes"]
    assert [t.get_text() for t in clusters.get_texts()] == ["cluster 0", "cluster 1", "cluster 2"]


def test_reconstruction_grid_and_decoded_prototypes():
    originals = torch.rand(5, 1, 8, 8)
    grid = figures.reconstruction_grid(originals, originals * 0.9, n=8)
    assert len(grid.axes) == 10 and _images(grid.axes) == 10
    decoded = figures.decoded_prototypes(RNG.random((3, 3, 8, 8)),
                                         [f"cluster {j} -> normal" for j in range(3)])
    assert len(decoded.axes) == 3 and decoded.axes[2].get_title() == "cluster 2 -> normal"


@pytest.mark.parametrize("build", [
    lambda: figures.elbow_curve([2, 3, 4], [3.0, 2.0, 1.5], 3),
    lambda: figures.reconstruction_grid(np.zeros((2, 1, 8, 8)), np.ones((2, 1, 8, 8))),
])
def test_save_figure_writes_png(tmp_path, build):
    path = figures.save_figure(build(), tmp_path / "sub" / "fig.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 1000


def test_returned_figure_renders_in_jupyter_without_pyplot():
    from IPython.core.interactiveshell import InteractiveShell

    fig = figures.elbow_curve([2, 3], [2.0, 1.0], 2)
    data, _ = InteractiveShell.instance().display_formatter.format(fig)
    png = data["image/png"]
    assert (base64.b64decode(png) if isinstance(png, str) else png)[:4] == b"\x89PNG"


def test_against_k_comparison_draws_accuracy_and_nmi_per_run():
    curves = {"a": {"accuracy": [0.5, 0.6], "nmi": [0.1, 0.2]},
              "b": {"accuracy": [0.4, 0.7], "nmi": [0.2, 0.3]}}
    ax = figures.against_k_comparison([2, 3], curves).axes[0]
    labels = [line.get_label() for line in ax.lines]
    assert labels == ["a: mapped accuracy", "a: NMI", "b: mapped accuracy", "b: NMI"]
    assert [line.get_ydata().tolist() for line in ax.lines] == [
        [0.5, 0.6], [0.1, 0.2], [0.4, 0.7], [0.2, 0.3]]
    assert [line.get_linestyle() for line in ax.lines] == ["-", "--", "-", "--"]
    assert ax.lines[0].get_color() == ax.lines[1].get_color() != ax.lines[2].get_color()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == labels


def test_composition_heatmap_fits_long_class_names_and_its_title():
    names = ["adipose tissue and fat", "background", "debris", "lymphocytes"]
    fig = figures.composition_heatmap(np.array([[5, 1, 0, 0], [0, 2, 7, 1]]), names)
    width, _ = fig.get_size_inches()
    assert width >= 4.5  # the title fits at 120 dpi
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[0] == "adipose tissue…" and all(len(label) <= 16 for label in labels)
    assert all(t.get_rotation() == 30 for t in ax.get_xticklabels())
    digits = figures.composition_heatmap(np.eye(3), ["0", "1", "2"]).axes[0]
    assert all(t.get_rotation() == 0 for t in digits.get_xticklabels())


def test_redraw_rewrites_a_committed_runs_compositions(tmp_path):
    from cae.report import redraw

    source = Path(__file__).resolve().parent.parent / "artifacts" / "pneumoniamnist-validated-seed0"
    run = tmp_path / source.name
    (run / "figures").mkdir(parents=True)
    for name in ("config.json", "history.json", "elbow.json", "metrics.json", "provenance.json",
                 "mapping_vs_k.json"):
        (run / name).write_bytes((source / name).read_bytes())
    written = redraw.redraw_compositions(run)
    assert sorted(p.name for p in written) == sorted(
        p.name for p in (source / "figures").glob("composition_*.png"))
    assert redraw.main([str(tmp_path / "missing")]) == 2


def test_tsne_places_each_prototype_among_its_own_points_whatever_the_scale():
    """Prototypes fitted on unit vectors beside raw latents 50 times longer: compared by
    direction, as the clustering does, each prototype lands in its own cluster's region."""
    rng = np.random.default_rng(0)
    centres = np.eye(4, 16) * 50
    h = np.concatenate([c + rng.normal(size=(60, 16)) for c in centres])
    points, protos, _ = figures.tsne_embedding(h, np.eye(4, 16), seed=0, max_points=240)
    owners = [np.argmin(np.linalg.norm(points - p, axis=1)) // 60 for p in protos]
    assert owners == [0, 1, 2, 3]
