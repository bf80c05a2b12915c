"""Articles saved as web pages: their prose, paragraph by paragraph, without the page around it."""

import codecs

import pytest

from pipeline.articles.html_text import article_text, declared_charset


def test_block_elements_are_paragraphs_and_entities_are_characters():
    page = "<h1>Strikes</h1><p>Lavrov said: &ldquo;We help.&rdquo;</p><ul><li>One</li><li>Two &amp; three</li></ul>"
    assert article_text(page) == "Strikes\n\nLavrov said: “We help.”\n\nOne\n\nTwo & three"


def test_a_line_break_inside_a_paragraph_keeps_speaker_and_quote_together():
    page = "<p>Matviyenko added,<br>&ldquo;We could not refuse.&rdquo;</p><p>Next.<br/>Line</p>"
    assert article_text(page) == "Matviyenko added, “We could not refuse.”\n\nNext. Line"


def test_scripts_styles_and_page_furniture_are_dropped_even_when_nested_or_left_open():
    page = (
        "<header><nav><ul><li>Home<li>World</ul></nav><img src=x.png></header>"
        "<script>if (a < b) { document.write('<p>\"x,\" said y</p>') }</script><style>p { color: red }</style>"
        "<p>The article.</p><aside><div><p>A teaser<aside>inner</aside> more</div></aside>"
        '<form><input name=q><select><option>Syria</select></form><p>The <svg class="icon"/>end'
    )
    assert article_text(page) == "The article.\n\nThe end"


def test_whitespace_inside_a_paragraph_is_one_space_and_a_page_without_text_is_empty():
    assert article_text("<p>  one\n   two\t three </p>\n\n<div> </div>") == "one two three"
    assert article_text("<html><head><script>x()</script></head><body><footer>(c)</footer></body></html>") == ""


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (b'<!DOCTYPE html><html><head><meta charset="windows-1252">', "cp1252"),
        (b'<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1">', "cp1252"),  # as browsers read it
        (b"<META CHARSET=utf-8>", "utf-8"),
        (b"<html><head><title>No declaration</title>", None),
        (b'<meta charset="klingon-8">', None),
        (codecs.BOM_UTF8 + b'<meta charset="windows-1252">', None),  # the byte-order mark wins
    ],
)
def test_a_page_is_decoded_as_it_declares(start, expected):
    assert declared_charset(start) == expected


def test_furniture_named_by_class_id_or_role_is_dropped_but_not_a_wrapper_that_mentions_it():
    page = (
        '<body class="has-sidebar"><main class="layout no-comments"><article class="story">'
        "<p>The article.</p>"
        '<div class="sidebar-right"><div><p>"A teaser," said someone.</p></div><img src=x.png><p>More</p></div>'
        '<ul id="related_links"><li>"Stop now," say campaigners</ul><div role="complementary">Box</div>'
        '<section class="c-share">Share this</section>'  # a name that only ends in a furniture word stays
        "<p>The end.</p></article></main></body>"
    )
    assert article_text(page) == "The article.\n\nShare this\n\nThe end."
