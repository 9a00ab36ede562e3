"""The dataset chapter under papermill with `-p dataset`: a generated RGB set gives a page
built from its own metadata; a generated multi-label set ends in a one-line refusal."""

import re
from pathlib import Path

import nbformat
import papermill
import pytest

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "02_pneumoniamnist.ipynb"


def execute(dataset: str, tmp_path: Path) -> Path:
    out = tmp_path / f"{dataset}.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOK), str(out), cwd=str(NOTEBOOK.parent), kernel_name="python3",
        progress_bar=False, parameters=dict(dataset=dataset, profile="smoke", data_dir=str(tmp_path),
                                            runs_root=str(tmp_path / "runs")))
    return out


def page_text(nb: nbformat.NotebookNode) -> list[str]:
    """What a reader reads: Markdown cells and every text output (code itself left out)."""
    texts = [c.source for c in nb.cells if c.cell_type == "markdown"]
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            texts += [output.get("text", "")] + [v for k, v in output.get("data", {}).items()
                                                 if k.startswith("text/")]
    return texts


def markdown_outputs(nb: nbformat.NotebookNode) -> list[str]:
    return [o.data["text/markdown"] for c in nb.cells for o in c.get("outputs", [])
            if "text/markdown" in o.get("data", {})]


@pytest.mark.slow
def test_rgb_dataset_page_comes_from_its_metadata(tmp_path, monkeypatch, medmnist_npz):
    medmnist_npz("bloodmnist")
    monkeypatch.setenv("CAE_UNOFFICIAL_DATA", "1")
    nb = nbformat.read(execute("bloodmnist", tmp_path), as_version=4)
    shown = markdown_outputs(nb)
    assert shown[0].startswith("## BloodMNIST\n\n> The BloodMNIST is based on")
    assert "3 × 28 × 28, colour (RGB)" in shown[0]
    assert any("Run `bloodmnist-smoke-seed0`" in text for text in shown)
    assert any("macro-averaged over the 8 classes" in text for text in shown)
    text = "\n".join(page_text(nb))
    assert not re.search("pneumonia|chest|radiograph|lung", text, re.IGNORECASE)
    assert "positive" not in text
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 8  # montage, curves, elbow, k, composition, t-SNE, reconstructions, prototypes


def test_multi_label_dataset_ends_in_a_one_line_refusal(tmp_path, monkeypatch, medmnist_npz):
    medmnist_npz("chestmnist")
    monkeypatch.setenv("CAE_UNOFFICIAL_DATA", "1")
    with pytest.raises(papermill.PapermillExecutionError) as err:
        execute("chestmnist", tmp_path)
    assert err.value.ename == "CaeError" and "multi-label" in err.value.evalue
    nb = nbformat.read(tmp_path / "chestmnist.ipynb", as_version=4)
    errors = [(i, o) for i, c in enumerate(nb.cells) for o in c.get("outputs", [])
              if o.output_type == "error"]
    assert len(errors) == 1
    index, error = errors[0]
    assert len(error.traceback) <= 2 and "one class per image" in error.traceback[-1]
    assert all(c.get("execution_count") is None for c in nb.cells[index + 1:] if c.cell_type == "code")
    assert not (tmp_path / "runs").exists()
