"""The bibliography's style (book/_ext/author_year_bibliography.py): labels in the
citations' author-year form, DOIs and arXiv numbers as links."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml
from pybtex.database import parse_file
from pybtex.plugin import find_plugin

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import author_year_bibliography as bibliography  # noqa: E402

BIB = ROOT / "book" / "references.bib"


def _formatted():
    bibliography.register()
    style = find_plugin("pybtex.style.formatting", bibliography.STYLE)()
    return {entry.key: entry for entry in style.format_bibliography(parse_file(BIB))}


def test_the_book_uses_the_style_for_its_bibliography():
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf8"))["sphinx"]
    assert config["local_extensions"]["author_year_bibliography"] == "book/_ext"
    assert config["config"]["bibtex_default_style"] == bibliography.STYLE
    assert config["config"]["bibtex_reference_style"] == "author_year"


def test_labels_name_authors_and_year_as_the_citations_do():
    labels = {key: entry.label for key, entry in _formatted().items()}
    assert labels["ferrante2022contrastive"] == "Ferrante et al., 2022"
    assert labels["vandermaaten2008tsne"] == "van der Maaten and Hinton, 2008"
    assert labels["bengfort2019yellowbrick"] == "Bengfort and Bilbro, 2019"
    assert labels["vangansbeke2020scan"] == "Van Gansbeke et al., 2020"
    assert len(set(labels.values())) == len(labels)


def test_shared_labels_get_a_letter_after_the_year():
    entries = parse_file(BIB).entries
    twice = [entries["chen2020simclr"], entries["chen2020simclr"], entries["he2016deep"]]
    assert list(bibliography.AuthorYearLabelStyle().format_labels(twice)) == [
        "Chen et al., 2020a", "Chen et al., 2020b", "He et al., 2016"]


def test_dois_and_arxiv_numbers_are_links():
    html = {key: entry.text.render_as("html") for key, entry in _formatted().items()}
    assert '<a href="https://doi.org/10.7557/18.6819">doi:10.7557/18.6819</a>' in html[
        "ferrante2022contrastive"]
    assert '<a href="https://arxiv.org/abs/2209.12005">' in html["ferrante2022contrastive"]
    with_doi = [key for key, entry in parse_file(BIB).entries.items() if "doi" in entry.fields]
    assert len(with_doi) >= 5
    for key in with_doi:
        assert f'href="https://doi.org/{parse_file(BIB).entries[key].fields["doi"]}"' in html[key]
    assert all("doi:" not in html[key].replace('">doi:', "") for key in html), \
        "a DOI written as text (in a note) instead of the doi field"
