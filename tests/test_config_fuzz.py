"""Any value a user can type or pass, for any field: a RunConfig or one clear CaeError.

Drawn by hypothesis for every `RunConfig` field, through `--set NAME=VALUE` (text) and
through papermill-style keyword overrides (Python values of every type).
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import fields

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cae.cli import build_parser, config_from_args, main
from cae.config import RunConfig, make_config
from cae.errors import CaeError

FIELDS = [f.name for f in fields(RunConfig)]
TEXT = st.one_of(
    st.text(max_size=30),
    st.from_regex(r"-?[0-9]{1,400}(\.[0-9]*)?(e-?[0-9]{1,4})?", fullmatch=True),
    st.sampled_from(["nan", "inf", "-inf", "none", "true", "no", "1,2", "1,2,3", "0.5,0.9",
                     "a,b,c", "", " ", "1e400", "2.0", "-1"]),
)
VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), TEXT),
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner, inner),
    max_leaves=6,
)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _config_or_cae_error(build) -> None:
    try:
        assert isinstance(build(), RunConfig)
    except CaeError as error:
        message = str(error)
        assert message and "\n" not in message and len(message) < 400


@FUZZ
@given(name=st.sampled_from(FIELDS), text=TEXT)
def test_any_set_text_gives_a_config_or_one_clear_error(name, text):
    if "\n" in text or "\r" in text:  # a shell argument cannot hold a bare newline here
        text = text.replace("\n", " ").replace("\r", " ")
    args = build_parser().parse_args(["train", "--profile", "smoke", "--set", f"{name}={text}"])
    _config_or_cae_error(lambda: config_from_args(args))


@FUZZ
@given(name=st.sampled_from(FIELDS), value=VALUES)
def test_any_papermill_value_gives_a_config_or_one_clear_error(name, value):
    _config_or_cae_error(lambda: make_config("smoke", **{name: value}))


@FUZZ
@given(flag=st.sampled_from(["--seed", "--epochs", "--batch-size", "--dataset", "--device"]),
       flag_value=st.sampled_from(["0", "1", "3", "mnist", "cpu"]), set_value=TEXT)
def test_a_flag_and_a_set_of_the_same_field_agree_or_are_refused(flag, flag_value, set_value):
    name = flag[2:].replace("-", "_")
    set_value = set_value.replace("\n", " ").replace("\r", " ")
    err = io.StringIO()
    try:
        args = build_parser().parse_args(["train", "--profile", "smoke", flag, flag_value,
                                          "--set", f"{name}={set_value}"])
    except SystemExit:  # argparse refused the flag's own value (e.g. --seed mnist): exit 2
        return
    with contextlib.redirect_stderr(err):
        try:
            cfg = config_from_args(args)
        except CaeError:
            return
    assert str(getattr(cfg, name)) == str(make_config("smoke", **{name: flag_value}).__dict__[name])


def test_main_turns_a_bad_value_into_exit_2_and_one_line(capsys):
    assert main(["train", "--profile", "smoke", "--set", "crop_scale=0.5"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "crop_scale must be 2 comma-separated float values" in err
