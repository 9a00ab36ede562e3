"""The JSON files of a run directory, read back and checked against their shape.

Every file a command or a book page reads back from a run folder goes through
`read_run_json`: a file that is not JSON, or JSON of another shape (a required key
missing, a value of the wrong type), is refused with one line naming the file and the
field, never a traceback. The checks are light (keys and types, in plain Python): they
catch a damaged or foreign file, not a wrong number. `config.json` is checked field by
field by `cae.config.load_config`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cae.errors import CaeError

_NUMBER = (int, float)
_MD5 = re.compile(r"[0-9a-f]{32}")


def _is_number(value: Any) -> bool:
    return isinstance(value, _NUMBER) and not isinstance(value, bool)


def _number_or_none(value: Any) -> bool:
    return value is None or _is_number(value)


def _list_of(check: Callable[[Any], bool], non_empty: bool = False) -> Callable[[Any], bool]:
    return lambda value: (isinstance(value, list) and (bool(value) or not non_empty)
                          and all(check(item) for item in value))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_md5_map(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(v, str) and _MD5.fullmatch(v) for v in value.values())


def _is_wall_times(value: Any) -> bool:
    return isinstance(value, dict) and _is_number(value.get("total")) and all(
        _is_number(v) for v in value.values())


# A shape: required key -> (test, what the value must be, as a refusal says it)
Shape = dict[str, tuple[Callable[[Any], bool], str]]

ELBOW: Shape = {"k": (_is_int, "a whole number"),
                "ks": (_list_of(_is_int, non_empty=True), "a non-empty list of whole numbers")}
PROVENANCE: Shape = {
    "dataset": (lambda v: isinstance(v, str), "text"),
    "data_md5": (_is_md5_map, "a mapping of file names to MD5 hex digests"),
    "device": (lambda v: isinstance(v, str), "text"),
    "device_name": (lambda v: isinstance(v, str), "text"),
    "precision": (lambda v: isinstance(v, str), "text"),
    "wall_time_s": (_is_wall_times, "a mapping of phases to seconds, with a total"),
}
# keys of provenance.json that older runs lack, checked when present
PROVENANCE_OPTIONAL: Shape = {
    "packages": (lambda v: isinstance(v, dict), "a mapping of package versions"),
    "steps": (lambda v: isinstance(v, dict) and _is_number(v.get("total")),
              "a mapping of step counts, with a total"),
    "peak_rss_mb": (_is_number, "a number"),
    "peak_rss_mb_after": (lambda v: isinstance(v, dict) and all(_is_number(x) for x in v.values()),
                          "a mapping of phases to numbers"),
}
RESULTS_CONFIG: Shape = {"fingerprint": (lambda v: isinstance(v, str), "text"),
                         "config": (lambda v: isinstance(v, dict), "a mapping of settings")}
DECODER: Shape = {
    "run": (lambda v: isinstance(v, str), "text"),
    "dataset": (lambda v: isinstance(v, str), "text"),
    "class_names": (_list_of(lambda v: isinstance(v, str), non_empty=True), "a list of names"),
    "prototypes": (_list_of(lambda v: isinstance(v, dict)), "a list of prototypes"),
}
METRICS_ROW: Shape = {"model": (lambda v: isinstance(v, str), "text"),
                      "split": (lambda v: isinstance(v, str), "text"),
                      "protocol": (lambda v: isinstance(v, str), "text"),
                      "seed": (_is_int, "a whole number")}
# metrics.json columns that hold a number or null (and their interval bounds, NAME_lo and
# NAME_hi); any other column holds one plain value (text, a number or null)
METRICS_NUMBERS = ("accuracy", "precision_macro", "recall_macro", "precision_weighted",
                   "recall_weighted", "auc", "nmi", "ari", "k")
CURVES: Shape = {name: (_list_of(_number_or_none), "a list of numbers")
                 for name in ("accuracy", "nmi", "ari")}


def _check_shape(path: Path, data: Any, shape: Shape, where: str = "",
                 optional: Shape | None = None) -> None:
    if not isinstance(data, dict):
        raise CaeError(f"{path}{where} is not a JSON object ({type(data).__name__}); "
                       f"{_AFTER}")
    for key, (test, kind) in {**shape, **(optional or {})}.items():
        if key not in data:
            if key in shape:
                raise CaeError(f"{path}{where} has no field {key!r}; {_AFTER}")
            continue
        if not test(data[key]):
            raise CaeError(f"{path}{where}: field {key!r} must be {kind}, got "
                           f"{_shown(data[key])}; {_AFTER}")


_AFTER = ("the file is damaged or not written by cae; write the run again (`--overwrite`) "
          "or move it out of the runs folder")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_history(path: Path, data: Any) -> None:
    if not isinstance(data, dict) or not data:
        raise CaeError(f"{path} is not a mapping of loss names to per-epoch values; {_AFTER}")
    for key, values in data.items():
        if not _list_of(_number_or_none)(values):
            raise CaeError(f"{path}: field {key!r} must be a list of numbers; {_AFTER}")


def _check_metrics(path: Path, data: Any) -> None:
    if not isinstance(data, list) or not data:
        raise CaeError(f"{path} is not a non-empty list of metrics rows; {_AFTER}")
    for i, row in enumerate(data):
        _check_shape(path, row, METRICS_ROW, f" (row {i})")
        for key, value in row.items():
            number = key.removesuffix("_lo").removesuffix("_hi") in METRICS_NUMBERS
            ok = _number_or_none(value) if number else not isinstance(value, (list, dict))
            if not ok:
                raise CaeError(f"{path} (row {i}): field {key!r} must be "
                               f"{'a number or null' if number else 'one value'}, got "
                               f"{_shown(value)}; {_AFTER}")


def _check_against_k(path: Path, data: Any) -> None:
    _check_shape(path, data, {"ks": ELBOW["ks"]})
    for split, curves in data.items():
        if split != "ks":
            _check_shape(path, curves, CURVES, f" (split {split!r})")


CHECKS: dict[str, Callable[[Path, Any], None]] = {
    "history.json": _check_history,
    "elbow.json": lambda path, data: _check_shape(path, data, ELBOW),
    "metrics.json": _check_metrics,
    "provenance.json": lambda path, data: _check_shape(path, data, PROVENANCE,
                                                       optional=PROVENANCE_OPTIONAL),
    "mapping_vs_k.json": _check_against_k,
    "results_config.json": lambda path, data: _check_shape(path, data, RESULTS_CONFIG),
    "decoder.json": lambda path, data: _check_shape(path, data, DECODER),
}


def read_run_json(path: str | Path) -> Any:
    """A run file's JSON, checked against the shape of files of its name (`CHECKS`).

    A missing file raises FileNotFoundError (callers say which command writes it); one
    that cannot be read, is not JSON or has another shape raises CaeError naming it."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise CaeError(f"cannot read {path} ({reason}); {_AFTER}") from None
    check = CHECKS.get(path.name)
    if check is not None:
        check(path, data)
    return data
