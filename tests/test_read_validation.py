"""Every file read back from a run folder is checked (issue 25, item 5): a damaged or foreign
file is refused with one line naming the file and the field, the reporting pages skip and
name such runs, and text from run files is escaped before it reaches Markdown or HTML."""

from __future__ import annotations

import json

import pytest
from conftest import metrics_row, write_run

from cae.cli import main
from cae.config import load_config, make_config
from cae.errors import CaeError
from cae.infra.run_files import read_run_json
from cae.infra.runs import RunArtifacts, finished_under, record_results_config
from cae.report import readouts, table1
from cae.report.gallery import gallery_html, gallery_rows


def _run(root, seed=0, **overrides):
    return write_run(root, "mnist", seed, [metrics_row("CAE (ours)", "test", "knn", seed, 0.9)],
                     **overrides)


@pytest.mark.parametrize("text, field", [
    ("[1, 2]", "JSON object"),
    ('{"foo": 1}', "foo"),
    ("{}", r"field\(s\) missing: dataset"),
    (json.dumps({**make_config("smoke").to_dict(), "epochs": "many"}), "epochs must be a whole"),
    (json.dumps({**make_config("smoke").to_dict(), "latent_dim": 10**6}), "latent_dim must be <="),
    ("not json", "cannot read config"),
])
def test_config_json_that_is_not_a_run_config_is_one_line_naming_the_file(tmp_path, text, field):
    path = tmp_path / "config.json"
    path.write_text(text)
    with pytest.raises(CaeError, match=field) as caught:
        load_config(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_evaluate_on_a_foreign_config_json_ends_in_one_line(tmp_path, capsys):
    (tmp_path / "config.json").write_text(json.dumps({"model": "resnet", "lr": 0.1}))
    assert main(["evaluate", "--run-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "config.json" in err and "model" in err


def test_evaluate_refuses_a_damaged_metrics_json_before_any_work(tmp_path, capsys):
    make_config("smoke", dataset="mnist").save(tmp_path / "config.json")
    (tmp_path / "metrics.json").write_text('[{"model": 3}]')
    assert main(["evaluate", "--run-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "metrics.json (row 0): field 'model'" in err


DAMAGED = {
    "history.json": ('{"total": "high"}', "'total'"),
    "elbow.json": ('{"k": 3}', "'ks'"),
    "metrics.json": ('[{"model": "CAE (ours)", "split": "test", "protocol": "knn", "seed": 0, '
                     '"accuracy": "0.9"}]', "'accuracy'"),
    "provenance.json": ('{"dataset": "mnist", "data_md5": {"a": "x"}, "device": "cpu", '
                        '"device_name": "x", "precision": "fp32", "wall_time_s": {"total": 1}}',
                        "'data_md5'"),
    "mapping_vs_k.json": ('{"ks": [2], "test": {"accuracy": [0.5]}}', "'nmi'"),
    "results_config.json": ('{"fingerprint": 3, "config": {}}', "'fingerprint'"),
    "decoder.json": ('{"run": "r", "dataset": "mnist"}', "'class_names'"),
}


@pytest.mark.parametrize("name", sorted(DAMAGED))
def test_each_run_file_of_the_wrong_shape_names_the_file_and_field(tmp_path, name):
    text, field = DAMAGED[name]
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(CaeError, match=field) as caught:
        read_run_json(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_optional_provenance_fields_are_checked_when_present(tmp_path):
    run = _run(tmp_path)
    provenance = json.loads((run / "provenance.json").read_text())
    (run / "provenance.json").write_text(json.dumps({**provenance, "steps": {"total": "many"}}))
    with pytest.raises(CaeError, match="field 'steps' must be"):
        read_run_json(run / "provenance.json")


@pytest.mark.parametrize("name", sorted(DAMAGED))
def test_each_truncated_run_file_names_the_file(tmp_path, name):
    path = tmp_path / name
    path.write_text('{"k": [1, 2')
    with pytest.raises(CaeError, match="cannot read") as caught:
        read_run_json(path)
    assert str(path) in str(caught.value)


def test_table1_skips_and_names_a_run_with_damaged_metrics(tmp_path, capsys):
    _run(tmp_path, 0)
    bad = _run(tmp_path, 1)
    (bad / "metrics.json").write_text('[{"model": "CAE (ours)", "split": "te')
    rows = table1.collect_runs(tmp_path, "smoke")
    assert rows["seed"].tolist() == [0]
    assert f"skipped run {bad.name}" in capsys.readouterr().out
    skipped: list[str] = []
    assert len(table1.finished_runs(tmp_path, "smoke", skipped)) == 1
    assert len(skipped) == 1 and "metrics.json" in skipped[0]
    note = table1.runs_note(tmp_path, "smoke")
    assert "Left out" in note and "mnist-smoke-seed1" in note


def test_runs_whose_files_disagree_are_skipped_and_named(tmp_path):
    _run(tmp_path, 0)
    other_dataset = _run(tmp_path, 1)
    provenance = json.loads((other_dataset / "provenance.json").read_text())
    (other_dataset / "provenance.json").write_text(json.dumps({**provenance, "dataset": "pathmnist"}))
    relabelled = _run(tmp_path, 2)
    record_results_config(make_config("smoke", dataset="mnist", seed=2, temperature=0.2), relabelled)
    wrong_seed = write_run(tmp_path, "mnist", 3, [metrics_row("CAE (ours)", "test", "knn", 0, 0.5)])
    skipped: list[str] = []
    assert [r.config.seed for r in finished_under(tmp_path, skipped)] == [0]
    assert [note.split(":")[0] for note in skipped] == [
        f"skipped run {d.name}" for d in (other_dataset, relabelled, wrong_seed)]
    assert "temperature" in skipped[1] and "seed" in skipped[2]
    with pytest.raises(CaeError, match="another config than its config.json"):
        RunArtifacts.read(relabelled)


def test_two_configs_of_one_profile_and_dataset_still_refused(tmp_path):
    _run(tmp_path, 0)
    _run(tmp_path, 1, temperature=0.2)
    with pytest.raises(CaeError, match="differ in more than the seed"):
        table1.collect_runs(tmp_path, "smoke")


def test_gallery_skips_and_names_a_damaged_run(tmp_path, capsys):
    write_run(tmp_path, "mnist", 0, [metrics_row("CAE (ours)", "test", "stat", 0, 0.9)],
              elbow={"k": 3, "ks": [2, 3, 4]})
    bad = _run(tmp_path, 1)
    (bad / "config.json").write_text('{"not": "a config"}')
    rows = gallery_rows(tmp_path)
    assert [r.seeds for r in rows] == [[0]]
    assert f"skipped run {bad.name}" in capsys.readouterr().out
    assert "<table>" in gallery_html(rows)


def test_a_profile_outside_the_named_ones_is_refused(tmp_path):
    run = _run(tmp_path, 0)
    saved = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**saved, "profile": "<b>smoke</b>"}))
    with pytest.raises(CaeError, match="profile must be one of"):
        load_config(run / "config.json")


def test_markdown_from_run_files_is_escaped(tmp_path):
    assert readouts.markdown_text("a*b_c`d[e]|f<g>") == r"a\*b\_c\`d\[e\]\|f\<g\>"
    assert readouts.markdown_code("mnist.npz") == "`mnist.npz`"
    assert readouts.markdown_code("x`y|z") == r"x\`y\|z"
    run = write_run(tmp_path, "mnist", 0, [metrics_row("CAE (ours)", "test", "knn", 0, 0.9)],
                    name="run`*bold*")
    provenance = json.loads((run / "provenance.json").read_text())
    provenance.update(device_name="<script>alert(1)</script>", data_md5={"a`b|c.npz": "0" * 32})
    (run / "provenance.json").write_text(json.dumps(provenance))
    note = readouts.provenance_note(RunArtifacts.read(run))
    assert "<script>" not in note and r"\<script\>" in note
    assert r"run\`\*bold\*" in note and r"a\`b\|c.npz" in note
    runs = table1.runs_note(tmp_path, "smoke")
    assert r"a\`b\|c.npz" in runs and "a`b|c.npz" not in runs
