"""scripts/check_book.py's typed-number check: numbers in code, maths, notebook outputs and
generated elements pass; a number typed into a paragraph fails."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def check_book():
    sys.path.insert(0, str(ROOT / "scripts"))  # check_book imports its sibling devtools
    try:
        spec = importlib.util.spec_from_file_location("check_book", ROOT / "scripts" / "check_book.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["check_book"] = module  # its dataclasses look their module up
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("check_book", None)
        sys.path.remove(str(ROOT / "scripts"))


PAGE = """<html><body>
<nav>Version 2.14.1 in the sidebar, outside the article</nav>
<article class="bd-article">
<h1>Method<a class="headerlink" href="#method">#</a></h1>
<p>The loss is <span class="math notranslate nohighlight">\\(\\alpha = 0.1\\)</span>, set with
<code class="docutils literal"><span class="pre">--set</span>
<span class="pre">temperature=0.2</span></code>.</p>
<div class="highlight"><pre>cae train --set alpha=0.5</pre></div>
<div class="cell docutils container"><div class="cell_output docutils container">
<table><tr><td>0.813</td></tr></table></div></div>
<div class="cae-generated docutils container"><p>kNN scores <strong>0.906</strong>.</p></div>
<p>The base run scores <span class="cae-generated">0.863</span> on val,
<img src="a.png" alt="0.5"/> and four of five runs agree.</p>
<div class="citation"><p>doi:10.7557/18.6819. arXiv:2209.12005.</p></div>
</article>
<footer>Copyright 2026.</footer>
</body></html>"""


def test_numbers_in_code_maths_outputs_and_generated_elements_pass(check_book):
    assert check_book.typed_numbers(PAGE) == []
    assert "0.863" not in check_book.prose_text(PAGE)
    assert "four of five runs agree" in check_book.prose_text(PAGE)


def test_a_number_typed_into_a_paragraph_fails(check_book):
    planted = PAGE.replace("four of five runs agree", "the chosen run scores 0.813")
    found = check_book.typed_numbers(planted)
    assert len(found) == 1 and found[0].startswith("'0.813'")


@pytest.mark.parametrize("typed", ["0.5", ".5", "2.5e-6", "version 2.14.1"])
def test_every_form_of_decimal_is_caught(check_book, typed):
    page = f"<article><p>a value of {typed} here</p></article>"
    assert len(check_book.typed_numbers(page)) == 1


def test_integers_and_sentence_ends_are_not_decimals(check_book):
    assert check_book.typed_numbers("<article><p>Table 1. It took 4,708 images in 2022.</p></article>") == []


def test_only_an_allow_listed_phrase_passes(check_book):
    allowed = {"alpha 0.1 as": "the paper's constant"}
    assert check_book.typed_numbers("<p>with alpha 0.1 as\n stated</p>", allowed) == []
    assert len(check_book.typed_numbers("<p>a threshold of 0.1 here</p>", allowed)) == 1


def test_the_check_reports_through_the_page_checks(check_book, tmp_path):
    page = check_book.Page("book/method", tmp_path / "method.md", tmp_path / "method.html", "Method")
    dom = check_book.Dom(html="<article><p>kNN 0.906</p></article>")
    [failure] = check_book.check_typed_numbers(page, dom)
    assert "'0.906'" in failure and "TYPED_NUMBERS_ALLOWED" in failure
