"""papermill reruns that can change any setting (issue 26): overrides with the CLI's
validation, unknown parameters stopped in one line, and run folders of their own."""

from pathlib import Path

import nbformat
import papermill
import pytest

from cae.config import changed_from_profile, load_config, make_config
from cae.errors import CaeError
from cae.notebook_params import (
    assigned_names,
    check_parameters,
    notebook_config,
    notebook_run_dir,
    parse_overrides,
)
from cae.report.readouts import config_note

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
PARAMETERS = 'dataset = "mnist"\nprofile = "paper"  # a comment\nseed = 0\noverrides = {}\n'


def test_assigned_names_reads_a_cells_top_level_assignments():
    assert assigned_names(PARAMETERS) == ["dataset", "profile", "seed", "overrides"]
    assert assigned_names("x: int = 1\nif y:\n    z = 2\n") == ["x"]
    assert assigned_names("not python (") == []


def test_check_parameters_stops_only_on_an_undeclared_injected_name():
    check_parameters(["", PARAMETERS, "check_parameters(In)"])  # run by hand: no injected cell
    check_parameters(["", PARAMETERS, '# Parameters\nseed = 3\n', "check_parameters(In)"])
    with pytest.raises(CaeError, match=r"unknown notebook parameter\(s\): temperature, epochs; "
                                       r"this notebook takes dataset, profile, seed, overrides"):
        check_parameters(["", PARAMETERS, '# Parameters\ntemperature = 0.2\nepochs = 3\nseed = 1\n',
                          "check_parameters(In)"])


def test_overrides_come_as_a_dict_json_or_yaml():
    assert parse_overrides({"temperature": 0.2}) == {"temperature": 0.2}
    assert parse_overrides('{"temperature": 0.2}') == {"temperature": 0.2}
    assert parse_overrides("{temperature: 0.2, epochs: 200}") == {"temperature": 0.2, "epochs": 200}
    assert parse_overrides(None) == parse_overrides("") == parse_overrides({}) == {}
    for bad in ("[1, 2]", "{a: [", 3):
        with pytest.raises(CaeError, match="overrides must be a mapping"):
            parse_overrides(bad)


def test_notebook_config_validates_overrides_as_the_cli_does():
    cfg = notebook_config("paper", {"temperature": "0.2", "epochs": 200}, dataset="mnist",
                          seed=1, batch_size=None)
    assert (cfg.temperature, cfg.epochs, cfg.warmup_epochs, cfg.lr_warmup_epochs) == (0.2, 200, 100, 20)
    assert cfg.batch_size == make_config("paper").batch_size and cfg.seed == 1
    assert notebook_config("paper", None, epochs=10).warmup_epochs == 5
    with pytest.raises(CaeError, match="unknown configuration field"):
        notebook_config("paper", {"temprature": 0.2})
    with pytest.raises(CaeError, match="temperature must be > 0"):
        notebook_config("paper", {"temperature": -1})
    with pytest.raises(CaeError, match="epochs is given as a parameter .* and in overrides"):
        notebook_config("paper", {"epochs": 3}, epochs=4)


def test_run_folders_carry_a_hash_of_the_changed_settings(tmp_path):
    plain = notebook_config("paper", None, dataset="mnist")
    changed = notebook_config("paper", {"temperature": 0.2}, dataset="mnist")
    assert notebook_run_dir(plain, tmp_path) == tmp_path / "mnist-paper-seed0"
    name = notebook_run_dir(changed, tmp_path).name
    assert name.startswith("mnist-paper-") and name.endswith("-seed0") and len(name) == len("mnist-paper-12345678-seed0")
    assert notebook_run_dir(notebook_config("paper", '{"temperature": 0.2}', dataset="mnist"),
                            tmp_path).name == name  # the same settings, the same folder
    assert notebook_run_dir(changed, tmp_path, "mine") == tmp_path / "mine"
    assert changed_from_profile(changed) == {"temperature": 0.2} and changed_from_profile(plain) == {}
    assert "`temperature=0.2`" in config_note(changed) and config_note(plain) == ""
    for bad in ("a/b", "..", "."):
        with pytest.raises(CaeError, match="run_name must be a folder name"):
            notebook_run_dir(plain, tmp_path, bad)


def test_a_folder_holding_another_config_is_never_reused(tmp_path):
    committed = tmp_path / "mnist-paper-seed0"
    committed.mkdir()
    make_config("paper", dataset="mnist").save(committed / "config.json")
    changed = notebook_config("paper", {"temperature": 0.2}, dataset="mnist")
    with pytest.raises(CaeError, match="holds a run of another configuration"):
        notebook_run_dir(changed, tmp_path, "mnist-paper-seed0")
    assert notebook_run_dir(make_config("paper", dataset="mnist", device="cpu"), tmp_path) == committed
    assert load_config(committed / "config.json").temperature == 0.5


def execute(name: str, tmp_path: Path, **parameters) -> nbformat.NotebookNode:
    out = tmp_path / f"{name}.ipynb"
    try:
        papermill.execute_notebook(str(NOTEBOOKS / f"{name}.ipynb"), str(out), cwd=str(NOTEBOOKS),
                                   kernel_name="python3", progress_bar=False, parameters=parameters)
    finally:
        nb = nbformat.read(out, as_version=4) if out.exists() else None
    return nb


@pytest.mark.slow
def test_papermill_overrides_reach_the_run_folder(tmp_path, monkeypatch, medmnist_npz):
    medmnist_npz("bloodmnist")
    monkeypatch.setenv("CAE_UNOFFICIAL_DATA", "1")
    # -y "overrides: {temperature: 0.2, epochs: 4}" hands papermill this dict
    nb = execute("02_pneumoniamnist", tmp_path, dataset="bloodmnist", profile="smoke",
                 data_dir=str(tmp_path), runs_root=str(tmp_path / "runs"),
                 overrides={"temperature": 0.2, "epochs": 4})
    (run,) = [d for d in (tmp_path / "runs").iterdir() if d.name != "floors"]
    assert run.name.startswith("bloodmnist-smoke-") and run.name != "bloodmnist-smoke-seed0"
    cfg = load_config(run / "config.json")
    assert (cfg.temperature, cfg.epochs, cfg.warmup_epochs) == (0.2, 4, 3)
    shown = [o.data["text/markdown"] for c in nb.cells for o in c.get("outputs", [])
             if "text/markdown" in o.get("data", {})]
    assert any("Settings changed from the `smoke` profile" in text and "`temperature=0.2`" in text
               for text in shown)


def test_papermill_stops_on_an_unknown_parameter_in_one_line(tmp_path):
    with pytest.raises(papermill.PapermillExecutionError) as err:
        execute("05_gallery", tmp_path, runs_root=str(tmp_path), temperature=0.2)
    assert err.value.ename == "CaeError"
    assert "unknown notebook parameter(s): temperature" in err.value.evalue
    nb = nbformat.read(tmp_path / "05_gallery.ipynb", as_version=4)
    (error,) = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert len(error.traceback) <= 2 and "this notebook takes runs_root, split" in error.traceback[-1]
