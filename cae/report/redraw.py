"""`python -m cae.report.redraw RUN_DIR ...`: redraw a finished run's figures that its files hold.

The composition heatmaps need only `mapping_vs_k.json` (each cluster's members by class,
at every k) and the dataset's class names, so a committed run whose checkpoint is not
committed can still get them redrawn when the figure code changes. Figures that need
the encoder (t-SNE, reconstructions, prototypes) are not redrawn here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from cae.data.dataset_info import describe
from cae.errors import CaeError
from cae.infra.runs import RunArtifacts, composition_ks, read_against_k
from cae.report.figures import composition_heatmap, save_figure


def redraw_compositions(run_dir: Path) -> list[Path]:
    """Rewrite figures/composition_<split>_k<k>.png of a finished run; the files written."""
    run = RunArtifacts.read(run_dir)
    against_k = read_against_k(run_dir)
    class_names = describe(run.config.dataset).class_names
    written = []
    for split, scores in against_k.items():
        if split == "ks" or "composition" not in scores:
            continue
        for k in composition_ks(run.elbow, len(class_names)):
            counts = np.array(scores["composition"][against_k["ks"].index(k)])
            written.append(save_figure(composition_heatmap(counts, class_names),
                                       run_dir / "figures" / f"composition_{split}_k{k}.png"))
    return written


def main(argv: list[str] | None = None) -> int:
    """Redraw the composition heatmaps of each finished run directory given."""
    parser = argparse.ArgumentParser(prog="python -m cae.report.redraw", description=main.__doc__)
    parser.add_argument("run_dirs", type=Path, nargs="+", help="finished run directories")
    args = parser.parse_args(argv)
    try:
        for run_dir in args.run_dirs:
            print(f"{run_dir}: {len(redraw_compositions(run_dir))} composition figure(s) redrawn")
    except (CaeError, OSError) as exc:
        print(f"cae.report.redraw: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
