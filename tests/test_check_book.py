"""The browser check's pure parts (scripts/check_book.py): the "Next" link of every page
against _toc.yml's order, on built HTML and on the pages' sources."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import check_book  # noqa: E402

TOC = {"format": "jb-book", "root": "book/intro",
       "chapters": [{"file": "notebooks/04_table1"}, {"file": "notebooks/05_gallery"},
                    {"file": "book/explorer.md"}]}


def test_toc_successors_follow_the_reading_order():
    assert check_book.toc_successors(TOC) == {
        "book/intro": "notebooks/04_table1", "notebooks/04_table1": "notebooks/05_gallery",
        "notebooks/05_gallery": "book/explorer", "book/explorer": None}


def _page(next_paragraph: str) -> str:
    return (f'<html><body><article><p>See <a href="../book/explorer.html">the explorer</a>.</p>'
            f'{next_paragraph}</article><footer><p class="prev-next-subtitle">next</p>'
            f'<a href="https://example.org/x.html">x</a></footer></body></html>')


def test_next_pages_html_reads_the_closing_paragraph_relative_to_the_page():
    html = _page('<p><strong>Next:</strong> the <a class="reference internal" '
                 'href="05_gallery.html#top"><span>Gallery</span></a>; then '
                 '<a href="../book/reproducibility.html">Reproducibility</a> and '
                 '<a href="https://doi.org/10.1/x">a paper</a>.</p>')
    assert check_book.next_pages_html(html, "notebooks/04_table1") == [
        "notebooks/05_gallery", "book/reproducibility"]
    assert check_book.next_pages_html(_page(""), "notebooks/04_table1") is None


def test_next_pages_markdown_reads_links_and_doc_roles_in_order():
    text = ("# Gallery\n\nSome text, **Next:** not at a paragraph's start.\n\n"
            "**Next:** the {doc}`live explorer <../book/explorer>`; the numbers in\n"
            "[Table 1](04_table1.ipynb) and {doc}`/book/reproducibility`.\n")
    assert check_book.next_pages_markdown(text, "notebooks/05_gallery") == [
        "book/explorer", "notebooks/04_table1", "book/reproducibility"]
    assert check_book.next_pages_markdown("# Title\n\nNo next.\n", "book/intro") is None


def test_next_link_problems_fails_a_next_that_names_another_page():
    assert check_book.next_link_problems(["notebooks/05_gallery", "book/reproducibility"],
                                         "notebooks/05_gallery") == []
    wrong = check_book.next_link_problems(["book/reproducibility", "notebooks/05_gallery"],
                                          "notebooks/05_gallery")
    assert wrong == ["'Next:' leads to book/reproducibility, but the next page in _toc.yml "
                     "is notebooks/05_gallery"]
    assert "no closing '**Next:**' paragraph" in check_book.next_link_problems(None, "book/explorer")[0]
    assert "links no page" in check_book.next_link_problems([], "book/explorer")[0]
    assert check_book.next_link_problems(None, None) == []  # the last page
    assert "last page" in check_book.next_link_problems(["book/intro"], None)[0]


def test_a_planted_wrong_next_fails_on_the_built_html():
    """The check as check_book.py runs it on a page that names the wrong successor."""
    page = check_book.Page("notebooks/04_table1", Path("04_table1.ipynb"), Path("04_table1.html"),
                           "Table 1")
    html = _page('<p><strong>Next:</strong> <a href="../book/reproducibility.html">'
                 'Reproducibility</a>.</p>')
    check = check_book.check_next(check_book.toc_successors(
        {"root": "book/intro", "chapters": [{"file": "notebooks/04_table1"},
                                            {"file": "notebooks/05_gallery"}]}))
    assert check(page, check_book.parse_dom(html)) == [
        "'Next:' leads to book/reproducibility, but the next page in _toc.yml is notebooks/05_gallery"]


@pytest.mark.parametrize("docname", check_book.toc_docnames(
    yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf8"))))
def test_every_page_of_the_book_closes_with_a_next_to_its_successor(docname):
    """The book's own sources: each page's "**Next:**" leads to the page after it in _toc.yml."""
    successors = check_book.toc_successors(yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf8")))
    source = next(s for s in (ROOT / f"{docname}.md", ROOT / f"{docname}.ipynb") if s.is_file())
    pages = check_book.next_pages_markdown(check_book.source_markdown(source), docname)
    assert check_book.next_link_problems(pages, successors[docname]) == []


def test_the_overflow_check_covers_a_phone_where_tables_may_scroll_in_place():
    assert 420 in check_book.OVERFLOW_WIDTHS and {1300, 1024} <= set(check_book.OVERFLOW_WIDTHS)
    measure = {"page": 0, "spill": [], "cut": [{"element": 'table.dataframe ""', "px": 80}]}
    assert check_book.overflow_failures(measure, 420) == []
    assert check_book.overflow_failures(measure, 1024) == [
        'table.dataframe "" is cut off: 80 px hidden behind a scrollbar']
    sideways = {"page": 12, "spill": [{"element": 'code.literal "x"', "px": 12}], "cut": []}
    assert check_book.overflow_failures(sideways, 420) == [
        "the page scrolls sideways by 12 px", 'code.literal "x" reaches 12 px past the column']
