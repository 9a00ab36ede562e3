"""The book's figures: data montage, training curves, elbow, clusters, t-SNE, reconstructions.

Every function returns a `matplotlib.figure.Figure` built without pyplot, so no global
state is touched, nothing leaks and a notebook shows each figure once (as the cell's
value, through `_repr_png_`); the CLI writes it with `save_figure`. The statistical
plots (curves, composition heatmap) are seaborn's, drawn onto the figure's own axes;
the elbow is yellowbrick's.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
import torch
from matplotlib import colormaps, patheffects
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator
from sklearn.manifold import TSNE

from cae.errors import CaeError
from cae.infra.files import atomic_write
from cae.method.clustering import elbow_visualizer

ArrayLike = np.ndarray | torch.Tensor | Sequence

# Paul Tol's "muted" palette (its pale grey darkened to show on white): colourblind-safe.
PALETTE = ("#332288", "#88CCEE", "#44AA99", "#117733", "#999933",
           "#DDCC77", "#CC6677", "#882255", "#AA4499", "#777777")
_LINE_COLORS = {"nt_xent": PALETTE[0], "mse": PALETTE[2], "total": PALETTE[6],
                "phase2_mse": PALETTE[7]}


class BookFigure(Figure):
    """A Figure that Jupyter displays as PNG even when pyplot's inline backend is not loaded."""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()


def _figure(width: float, height: float) -> BookFigure:
    """An empty figure of the given size (inches) with constrained layout."""
    return BookFigure(figsize=(width, height), layout="constrained")


def to_numpy(x: ArrayLike) -> np.ndarray:
    """A numpy view of an array, list or (possibly bf16, GPU) tensor."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        return (x.float() if x.dtype == torch.bfloat16 else x).numpy()
    return np.asarray(x)


def _colors(n: int) -> list:
    """n categorical colours: the palette up to 10, a 20-colour map beyond."""
    if n <= len(PALETTE):
        return list(PALETTE[:n])
    return [colormaps["tab20"](i % 20) for i in range(n)]


def _display_image(image: np.ndarray) -> np.ndarray:
    """(C, H, W) or (H, W), uint8 or float, to (H, W) or (H, W, 3) floats in [0, 1]."""
    image = image.astype(np.float32) / 255 if image.dtype == np.uint8 else image.astype(np.float32)
    if image.ndim == 3:
        image = image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)
    return image.clip(0, 1)


def _show(ax: Axes, image: np.ndarray) -> None:
    """Draw one image on a frameless axis (greyscale for one channel)."""
    ax.imshow(_display_image(image), cmap="gray", vmin=0, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.spines[:].set_visible(False)


def dataset_montage(images: ArrayLike, labels: ArrayLike, class_names: Sequence[str],
                    per_class: int = 8) -> Figure:
    """A grid of the first `per_class` images of each class, one row per class."""
    images, labels = to_numpy(images), to_numpy(labels)
    fig = _figure(1.1 * per_class + 1.2, 1.1 * len(class_names))
    axes = fig.subplots(len(class_names), per_class, squeeze=False)
    for c, (row, name) in enumerate(zip(axes, class_names)):
        members = np.flatnonzero(labels == c)[:per_class]
        for ax, i in zip(row, members):
            _show(ax, images[i])
        for ax in row[len(members):]:
            ax.axis("off")
        row[0].set_ylabel(name, rotation=0, ha="right", va="center")
    return fig


def training_curves(history: dict[str, list[float]], phase1_epochs: int) -> Figure:
    """Per-epoch losses (log scale) with the start of phase 2 marked; lr in its own panel.

    Keys prefixed "phase2_" hold one value per phase-2 epoch and are drawn from epoch
    phase1_epochs + 1; every other key starts at epoch 1.
    """
    losses = {k: v for k, v in history.items() if k != "lr"}
    n_panels = 1 + ("lr" in history)
    fig = _figure(7, 2.6 * n_panels + 0.4)
    axes = fig.subplots(n_panels, 1, sharex=True, squeeze=False)[:, 0]
    palette = {name: _LINE_COLORS.get(name, color)
               for name, color in zip(losses, _colors(len(losses))) if losses[name]}
    long = pd.DataFrame([{"epoch": i + (phase1_epochs + 1 if name.startswith("phase2_") else 1),
                          "loss": value, "curve": name}
                         for name in palette for i, value in enumerate(losses[name])])
    if palette:
        sns.lineplot(long, x="epoch", y="loss", hue="curve", hue_order=list(palette),
                     palette=palette, estimator=None, ax=axes[0])
    axes[0].set_yscale("log")
    axes[0].set_ylabel("loss")
    if "lr" in history:
        sns.lineplot(x=np.arange(1, len(history["lr"]) + 1), y=history["lr"], color=PALETTE[0],
                     estimator=None, ax=axes[1])
        axes[1].set_ylabel("learning rate")
    for ax in axes:
        ax.axvline(phase1_epochs + 0.5, color="0.4", linestyle="--", linewidth=1,
                   label="phase 2 starts" if ax is axes[0] else None)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize="small")
    axes[-1].set_xlabel("epoch")
    axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))
    return fig


def elbow_curve(ks: Sequence[int], scores: Sequence[float], chosen_k: int,
                metric: str = "distortion") -> Figure:
    """The elbow search as yellowbrick's KElbowVisualizer draws it: the score against k,
    with the elbow's choice marked (drawn from stored scores; nothing is refitted)."""
    ks, scores = list(ks), [float(v) for v in scores]
    fig = _figure(5, 3.5)
    visualizer = elbow_visualizer(metric, ks, ax=fig.subplots())
    visualizer.k_values_, visualizer.k_scores_ = ks, scores
    visualizer.elbow_value_, visualizer.elbow_score_ = chosen_k, scores[ks.index(chosen_k)]
    visualizer.draw()
    visualizer.finalize()
    visualizer.ax.set_title(f"{metric.replace('_', ' ').title()} elbow for KMeans (yellowbrick)",
                            fontsize="medium")
    visualizer.ax.set_xticks(ks if len(ks) <= 15 else ks[::2])
    return fig


def tsne_embedding(h: ArrayLike, prototypes: ArrayLike, seed: int,
                   max_points: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """t-SNE of a seeded subsample of h together with the prototypes, so both share one map.

    Both are L2-normalised first: the clustering and protocol (a) compare them by cosine,
    and a prototype fitted on normalised vectors would otherwise sit far inside the cloud of
    raw latents, with every prototype mapped to one spot. Returns (points_2d, proto_2d,
    index): index selects the subsampled rows of h (and of any per-row labels), in their
    original order.
    """
    def unit(x: ArrayLike) -> np.ndarray:
        x = to_numpy(x).astype(np.float32)
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    h, prototypes = unit(h), unit(prototypes)
    rng = np.random.default_rng(seed)
    index = (np.sort(rng.choice(len(h), max_points, replace=False)) if len(h) > max_points
             else np.arange(len(h)))
    stacked = np.concatenate([h[index], prototypes])
    perplexity = min(30.0, (len(stacked) - 1) / 3)
    embedded = TSNE(n_components=2, init="pca", perplexity=perplexity,
                    random_state=seed).fit_transform(stacked)
    return embedded[:len(index)], embedded[len(index):], index


def _cluster_classes(clusters: np.ndarray, mapped_labels: np.ndarray, k: int) -> list[int | None]:
    """The class each cluster maps to, read off the points (None for an empty cluster)."""
    return [int(mapped_labels[clusters == j][0]) if np.any(clusters == j) else None
            for j in range(k)]


def tsne_panels(points_2d: ArrayLike, proto_2d: ArrayLike, true_labels: ArrayLike,
                clusters: ArrayLike, mapped_labels: ArrayLike,
                class_names: Sequence[str]) -> Figure:
    """The paper's t-SNE figure: (A) true labels, (B) clusters, (C) clusters mapped to labels.

    Prototypes are drawn on every panel as black-edged stars numbered by cluster.
    """
    points, protos = to_numpy(points_2d), to_numpy(proto_2d)
    true_labels, clusters, mapped_labels = (to_numpy(a).astype(int) for a in
                                            (true_labels, clusters, mapped_labels))
    k = len(protos)
    class_colors, cluster_colors = _colors(len(class_names)), _colors(k)
    cluster_class = _cluster_classes(clusters, mapped_labels, k)
    mapped_star = ["white" if c is None else class_colors[c] for c in cluster_class]
    panels = [("(A) true labels", true_labels, list(class_names), class_colors, ["white"] * k),
              ("(B) cluster labels", clusters, [f"cluster {j}" for j in range(k)],
               cluster_colors, cluster_colors),
              ("(C) clusters mapped to labels", mapped_labels, list(class_names), class_colors,
               mapped_star)]
    fig = _figure(7, 7.4)  # the book's column: three panels and a legend panel, 2 x 2
    grid = fig.subplots(2, 2)
    handles: dict[str, dict] = {"classes": {}, "clusters": {}}
    for ax, (title, values, names, colors, star_colors), kind in zip(
            grid.flat, panels, ("classes", "clusters", "classes")):
        for v, (name, color) in enumerate(zip(names, colors)):
            member = values == v
            if member.any():
                handles[kind][name] = ax.scatter(points[member, 0], points[member, 1], s=5,
                                                 alpha=0.7, color=color, label=name, linewidths=0)
        stars = ax.scatter(protos[:, 0], protos[:, 1], marker="*", s=260, c=star_colors,
                           edgecolors="black", linewidths=1.2, zorder=3, label="prototypes")
        for j, (x, y) in enumerate(protos):
            ax.annotate(str(j), (x, y), xytext=(6, 6), textcoords="offset points",
                        fontweight="bold", fontsize="small", zorder=4,
                        path_effects=[patheffects.withStroke(linewidth=3, foreground="white")])
        ax.set_title(title, fontsize="medium")
        ax.set_xticks([])
        ax.set_yticks([])
    legend_ax = grid[1, 1]
    legend_ax.axis("off")
    first = legend_ax.legend(handles=[*handles["classes"].values(), stars], loc="upper left",
                             title="classes (A, C)", fontsize="small", markerscale=2.5,
                             ncols=2 if len(handles["classes"]) > 6 else 1)
    first.legend_handles[-1].set_sizes([120])
    legend_ax.add_artist(first)
    legend_ax.legend(handles=list(handles["clusters"].values()), loc="lower left",
                     title="clusters (B; stars numbered alike)", fontsize="small", markerscale=2.5,
                     ncols=3 if len(handles["clusters"]) > 8 else 2)
    return fig


def reconstruction_grid(originals: ArrayLike, reconstructions: ArrayLike, n: int = 8) -> Figure:
    """Originals (top row) above their reconstructions (bottom row)."""
    originals, reconstructions = to_numpy(originals), to_numpy(reconstructions)
    n = min(n, len(originals))
    fig = _figure(1.1 * n + 1.5, 2.6)
    axes = fig.subplots(2, n, squeeze=False)
    for row, images, name in zip(axes, (originals, reconstructions), ("original", "reconstructed")):
        for ax, image in zip(row, images[:n]):
            _show(ax, image)
        row[0].set_ylabel(name, rotation=0, ha="right", va="center")
    return fig


def decoded_prototypes(images: ArrayLike, titles: Sequence[str]) -> Figure:
    """One decoded prototype image per cluster, each with its title."""
    images = to_numpy(images)
    fig = _figure(1.8 * len(images), 2.2)
    for ax, image, title in zip(fig.subplots(1, len(images), squeeze=False)[0], images, titles):
        _show(ax, image)
        ax.set_title(title, fontsize="small")
    return fig


def sample_grid(samples: ArrayLike, row_titles: Sequence[str]) -> Figure:
    """Images drawn from each cluster: clusters as rows, samples as columns."""
    samples = to_numpy(samples)
    rows, cols = samples.shape[:2]
    fig = _figure(1.0 * cols + 2.2, 1.05 * rows + 0.3)
    axes = fig.subplots(rows, cols, squeeze=False)
    for row, images, title in zip(axes, samples, row_titles):
        for ax, image in zip(row, images):
            _show(ax, image)
        row[0].set_ylabel(title, rotation=0, ha="right", va="center", fontsize="small")
    return fig


def _score_axes(ax: Axes, ks: Sequence[int]) -> None:
    """Ticks at every k, axis labels, grid and legend of a score-against-k plot."""
    ax.set_xticks(list(ks))
    ax.set_xlabel("number of clusters k")
    ax.set_ylabel("score")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")


def accuracy_vs_k(ks: Sequence[int], mapped_acc: Sequence[float], nmi: Sequence[float],
                  ari: Sequence[float], chosen_k: int) -> Figure:
    """Mapped accuracy, NMI and ARI against k: more clusters inflate the mapped accuracy."""
    scores = {"mapped accuracy": mapped_acc, "NMI": nmi, "ARI": ari}
    long = pd.DataFrame([{"k": k, "score": float(value), "metric": name}
                         for name, values in scores.items() for k, value in zip(ks, values)])
    fig = _figure(5.5, 3.5)
    ax = fig.subplots()
    sns.lineplot(long, x="k", y="score", hue="metric", hue_order=list(scores), marker="o",
                 palette=dict(zip(scores, (PALETTE[0], PALETTE[2], PALETTE[6]))),
                 estimator=None, ax=ax)
    ax.axvline(chosen_k, color="0.4", linestyle="--", linewidth=1, label=f"elbow: k = {chosen_k}")
    _score_axes(ax, ks)
    return fig


def against_k_comparison(ks: Sequence[int], curves: dict[str, dict[str, Sequence[float]]]) -> Figure:
    """Mapped accuracy (solid) and NMI (dashed) against k for several named runs.

    One labelled line per run and score, so the legend reads "run: score".
    """
    fig = _figure(5.5, 3.5)
    ax = fig.subplots()
    for (name, scores), color in zip(curves.items(), _colors(len(curves))):
        for key, shown, marker, linestyle in (("accuracy", "mapped accuracy", "o", "-"),
                                              ("nmi", "NMI", "s", "--")):
            sns.lineplot(x=list(ks), y=[float(v) for v in scores[key]], marker=marker,
                         linestyle=linestyle, color=color, label=f"{name}: {shown}",
                         estimator=None, ax=ax)
    _score_axes(ax, ks)
    return fig


def short_label(name: str, width: int = 16) -> str:
    """A class name cut to `width` characters (with an ellipsis), for tick labels: MedMNIST
    names such as 'adipose tissue' or long organ names would otherwise overlap."""
    name = str(name)
    return name if len(name) <= width else name[:width - 1].rstrip() + "…"


def composition_heatmap(counts: ArrayLike, class_names: Sequence[str]) -> Figure:
    """Each cluster's members by true class (row fractions), clusters ordered by their
    majority class. Drawn for the book's column: at least 4.5 inches wide (540 px at
    `save_figure`'s 120 dpi), class names slanted and cut to 16 characters, so that
    neither the title nor the class names overlap."""
    counts = to_numpy(counts).astype(np.float64)
    fractions = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    order = np.lexsort((-fractions.max(1), fractions.argmax(1)))
    k, n_classes = counts.shape
    shown = fractions[order]
    fig = _figure(max(4.5, 2.2 + 0.5 * n_classes), 1.6 + 0.35 * k)
    ax = fig.subplots()
    annotations = np.where(shown >= 0.05, np.char.lstrip(np.char.mod("%.2f", shown), "0"), "")
    sns.heatmap(shown, ax=ax, cmap="Blues", vmin=0, vmax=1, cbar_kws={"shrink": 0.8},
                annot=annotations if n_classes <= 12 else False, fmt="",
                annot_kws={"fontsize": "small"},
                xticklabels=[short_label(name) for name in class_names],
                yticklabels=[f"{cluster} (n={int(counts[cluster].sum())})" for cluster in order])
    ax.tick_params(axis="y", labelrotation=0)
    if max(len(short_label(name)) for name in class_names) > 3:  # words, not digits: slant them
        ax.tick_params(axis="x", labelrotation=30)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")
            label.set_rotation_mode("anchor")
    ax.set_xlabel("true class")
    ax.set_ylabel("cluster (size)")
    ax.set_title(f"k = {k}: each cluster's images by class", fontsize="medium")
    return fig


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write fig as a 120-dpi PNG, creating the folder, atomically (`files.atomic_write`: a
    full disk is one CaeError line and the previous PNG is kept); pyplot holds no reference
    to close."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CaeError(f"cannot write {path}: cannot create its folder ({exc.strerror or exc})"
                       ) from None
    atomic_write(path, lambda handle: fig.savefig(handle, dpi=120, format="png"), binary=True)
    return path


COLUMN_PX = 700  # the book's text column at a desktop width (check_book measures 704 px)
MIN_TEXT_PX = 9.0  # the smallest text a figure may show at that width: the body's small print


def smallest_text_px(fig: Figure, dpi: float = 120, column_px: int = COLUMN_PX) -> float:
    """The pixel height of the figure's smallest visible text once shown in the book: saved
    at `dpi`, then scaled down to the column when wider than it (a narrower image is shown at
    its own size). `inf` for a figure without text."""
    fig.canvas.draw()  # lay out, so that tick labels exist
    width = fig.get_size_inches()[0]
    scale = min(dpi, column_px / width) / 72  # pixels per point as displayed
    sizes = [float(t.get_fontsize()) for t in fig.findobj(Text)
             if t.get_visible() and str(t.get_text()).strip()]
    return min(sizes) * scale if sizes else float("inf")
