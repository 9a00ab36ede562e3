"""The book's notebooks under papermill: every parameter checked, any setting changeable.

papermill only warns about a parameter the notebook does not declare and runs on, so a
reader who passed `-p temperature 0.2` would believe they changed something they did
not. `check_parameters` makes that an error. `notebook_config` builds a notebook's
`RunConfig` from its plain parameters and an `overrides` dict (any `RunConfig` field,
with the CLI's coercion and validation), `notebook_run_dir` gives a run with overrides a
folder of its own, so a rerun never writes into a committed run, and `notebook_run` does
both and trains or reads the run back.
"""

from __future__ import annotations

import ast
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cae.config import (
    RunConfig,
    changed_from_profile,
    load_config,
    make_config,
    with_scaled_schedule,
)
from cae.errors import CaeError
from cae.infra.runs import RunArtifacts, run_dir_for

PAPERMILL_HEADER = "# Parameters"  # the first line of the cell papermill injects


def assigned_names(source: str) -> list[str]:
    """The names a cell's top-level assignments bind, in order."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, ast.AnnAssign) else [])
        names += [t.id for t in targets if isinstance(t, ast.Name)]
    return names


def check_parameters(history: Sequence[str]) -> None:
    """Stop with one line when papermill injected a parameter this notebook does not declare.

    `history` is IPython's `In`, read in the first cell after the parameters: its last
    entry is that cell, the one before it papermill's injected cell (which starts with
    "# Parameters"), the one before that the notebook's parameters cell. Run by hand,
    without papermill, there is no injected cell and nothing to check.
    """
    if len(history) < 3 or not history[-2].lstrip().startswith(PAPERMILL_HEADER):
        return
    declared = assigned_names(history[-3])
    unknown = [name for name in assigned_names(history[-2]) if name not in declared]
    if unknown:
        raise CaeError(f"unknown notebook parameter(s): {', '.join(unknown)}; this notebook takes "
                       f"{', '.join(declared)} (other settings go in overrides, e.g. "
                       f"-y \"overrides: {{temperature: 0.2}}\")")


def parse_overrides(overrides: Any) -> dict[str, Any]:
    """`overrides` as a dict: given as one (papermill -y), or as its JSON or YAML text (-p)."""
    if overrides is None or overrides == "":
        return {}
    if isinstance(overrides, str):
        import yaml

        try:
            overrides = yaml.safe_load(overrides)  # JSON is YAML too
        except yaml.YAMLError:
            raise CaeError(f"overrides must be a mapping of settings, e.g. "
                           f"'{{\"temperature\": 0.2}}'; got {overrides[:60]!r}") from None
    if not isinstance(overrides, dict) or not all(isinstance(k, str) for k in overrides):
        raise CaeError(f"overrides must be a mapping of setting names to values, got "
                       f"{type(overrides).__name__}")
    return dict(overrides)


def notebook_config(profile: str, overrides: Any = None, **parameters: Any) -> RunConfig:
    """The notebook's RunConfig: the profile, its plain parameters (None: not given), then
    `overrides`. A setting given both ways with different values is refused; a changed
    `epochs` scales the warm-up as the CLI's does."""
    extra = parse_overrides(overrides)
    given = {k: v for k, v in parameters.items() if v is not None or k == "data_dir"}
    for name in set(given) & set(extra):
        if given[name] != extra[name]:
            raise CaeError(f"{name} is given as a parameter ({given[name]!r}) and in overrides "
                           f"({extra[name]!r}); give it once")
    return make_config(profile, **with_scaled_schedule(profile, {**given, **extra}))


def notebook_run(profile: str, overrides: Any, runs_root: str | Path, run_name: str | None = None,
                 retrain: bool = False, **parameters: Any) -> tuple[RunConfig, RunArtifacts]:
    """What a notebook that trains runs: its config (`notebook_config`), trained into or read
    back from its own folder (`notebook_run_dir`) by `cae.pipeline.reproduce`."""
    from cae.pipeline import (
        reproduce,  # the training code, only when a notebook runs one
    )

    cfg = notebook_config(profile, overrides, **parameters)
    artifacts = reproduce(cfg, notebook_run_dir(cfg, runs_root, run_name), retrain=retrain)
    assert artifacts is not None  # None only in torchrun's other processes; a notebook is one
    return cfg, artifacts


def notebook_run_dir(cfg: RunConfig, runs_root: str | Path, run_name: str | None = None) -> Path:
    """The run folder of a notebook's config: `run_name` under runs_root when given; else
    `<dataset>-<profile>-seed<seed>` for the plain profile and, when settings changed,
    `<dataset>-<profile>-<8 hex digits of their hash>-seed<seed>`. A folder that holds a
    run of another config is refused, so no rerun writes into someone else's run."""
    if run_name:
        if Path(run_name).name != run_name or run_name in (".", ".."):
            raise CaeError(f"run_name must be a folder name, without '/', got {run_name!r}")
        run_dir = Path(runs_root) / run_name
    else:
        changed = changed_from_profile(cfg)
        run_dir = run_dir_for(cfg, runs_root)
        if changed:
            digest = hashlib.sha256(json.dumps(changed, sort_keys=True, default=str).encode())
            run_dir = run_dir.with_name(f"{cfg.dataset}-{cfg.profile}-{digest.hexdigest()[:8]}"
                                        f"-seed{cfg.seed}")
    saved = run_dir / "config.json"
    if saved.is_file() and load_config(saved).fingerprint() != cfg.fingerprint():
        raise CaeError(f"{run_dir} holds a run of another configuration; choose another "
                       f"run_name (or none, for a folder named after the settings)")
    return run_dir
