"""Quote extraction: one short article per attribution form, plus the founding article."""

from pathlib import Path

import pytest

from pipeline.articles.quotes import Quote, extract_quotes

SEED = Path(__file__).resolve().parents[1] / "seeds" / "000_0a13e2fcd2c43a4f.txt"


def only_quote(article: str, include_indirect: bool = False) -> Quote:
    quotes = extract_quotes(article, include_indirect=include_indirect)
    assert len(quotes) == 1, quotes
    return quotes[0]


def check(article: str, quote: Quote, text: str, speaker: str | None, kind: str = "direct") -> None:
    """The fields users rely on, and offsets that point back at the quoted words."""
    assert quote.text == text
    assert quote.speaker == speaker
    assert quote.kind == kind
    first_words = " ".join(text.split()[:3])
    assert article[quote.start : quote.end].startswith(first_words)


# --- Where the attribution sits ------------------------------------------------------


def test_attribution_before_with_colon():
    article = 'Sergei Lavrov said: "We will not allow a second Libya."'
    check(article, only_quote(article), "We will not allow a second Libya.", "Sergei Lavrov")


def test_attribution_before_with_comma():
    article = 'Valentina Matviyenko added, "We could not refuse."'
    check(article, only_quote(article), "We could not refuse.", "Valentina Matviyenko")


def test_attribution_after_comma_outside_quote():
    article = '"The strikes hit our base", Hassan Haj Ali said.'
    check(article, only_quote(article), "The strikes hit our base", "Hassan Haj Ali")


def test_attribution_after_inverted_with_comma_inside_quote():
    # The comma inside the marks punctuates the attribution sentence, so it is dropped.
    article = '"We saw no Iranian troops," said Steve Warren.'
    check(article, only_quote(article), "We saw no Iranian troops", "Steve Warren")


def test_split_quote_is_one_quote():
    article = '"We did not start this war," Sergei Lavrov said. "But we will finish it."'
    quote = only_quote(article)
    check(article, quote, "We did not start this war, But we will finish it.", "Sergei Lavrov")
    assert article[quote.end - 1] == "."  # the end is that of the second part


def test_according_to():
    article = '"Twelve civilians were killed," according to Rami Abdulrahman.'
    check(article, only_quote(article), "Twelve civilians were killed", "Rami Abdulrahman")


def test_according_to_opening_the_sentence():
    article = 'According to Rami Abdulrahman, the town was "completely destroyed" overnight.'
    check(article, only_quote(article), "completely destroyed", "Rami Abdulrahman")


def test_told_reuters_after_quote():
    article = '"They struck twice in one night," Hassan Haj Ali told Reuters.'
    check(article, only_quote(article), "They struck twice in one night", "Hassan Haj Ali")


def test_told_any_outlet_before_quote():
    article = 'Hassan Haj Ali told The Associated Press: "They struck twice."'
    check(article, only_quote(article), "They struck twice.", "Hassan Haj Ali")


def test_pronoun_refers_to_last_named_speaker():
    article = 'Sergei Lavrov said: "Our aims are limited."\n\n"We will stop when asked," he said.'
    first, second = extract_quotes(article)
    check(article, second, "We will stop when asked", "Sergei Lavrov")
    assert second.paragraph == 1


@pytest.mark.parametrize(
    "article, speaker",
    [
        (
            'Sergei Lavrov said: "Our aims are limited."\n\nBut the academic Ibrahim Sangaré was unconvinced. "It '
            'will not stay limited," he said.',
            "Ibrahim Sangaré",
        ),
        (
            'Britain’s defence secretary, Grant Hollis, defended the raids. "We will not stand by," he told the BBC.',
            "Grant Hollis",
        ),
        ('Russian President Putin met the generals. "The operation will be short," he told reporters.', "Putin"),
        # Not a person introduced: one named inside a quote, one before the last speaker, one paragraphs away.
        (
            'Sergei Lavrov said: "We spoke to President Bashar al-Assad."\n\n"We will stop when asked," he said.',
            "Sergei Lavrov",
        ),
        (
            'The academic Ibrahim Sangaré disagreed. Sergei Lavrov said: "Our aims are limited." "We will stop," he '
            "added.",
            "Sergei Lavrov",
        ),
        (
            'The academic Ibrahim Sangaré disagreed.\n\nSergei Lavrov spoke.\n\nMore fighting.\n\n"We will stop," '
            "he said.",
            None,
        ),
    ],
)
def test_a_pronoun_refers_to_a_person_just_introduced_by_role_or_title(article, speaker):
    assert extract_quotes(article)[-1].speaker == speaker


def test_pronoun_without_named_speaker_gives_none():
    article = '"We will stop when asked," she said.'
    check(article, only_quote(article), "We will stop when asked", None)


# --- Quote marks ----------------------------------------------------------------------


def test_nested_quotes_stay_inside_the_outer_quote():
    article = 'Josh Earnest said: "They call it a "limited operation", but it is a war."'
    text = 'They call it a "limited operation", but it is a war.'
    check(article, only_quote(article), text, "Josh Earnest")


def test_opening_curly_mark_used_as_closing_mark():
    # Wire copy from the founding article: a nested curly pair, closed by a stray opening mark.
    article = "Josh Earnest said: “We will “deconflict” our operations“. Officials agreed."
    check(article, only_quote(article), "We will “deconflict” our operations", "Josh Earnest")


def test_curly_quote_closed_by_straight_mark():
    article = 'Sergei Lavrov said: “We are helping the Syrian army."'
    check(article, only_quote(article), "We are helping the Syrian army.", "Sergei Lavrov")


def test_straight_and_curly_quotes_in_one_article():
    article = '"Straight marks here," Sergei Lavrov said.\n\n“Curly marks there,” John Kerry said.'
    first, second = extract_quotes(article)
    check(article, first, "Straight marks here", "Sergei Lavrov")
    check(article, second, "Curly marks there", "John Kerry")


def test_quote_spanning_paragraphs_is_one_quote():
    # The first paragraph leaves the quote open; the next re-opens it with a mark.
    article = 'Josh Earnest said: "We will keep flying.\n\n"And we will keep talking to Moscow."'
    quote = only_quote(article)
    check(article, quote, "We will keep flying. And we will keep talking to Moscow.", "Josh Earnest")
    assert quote.paragraph == 0
    assert article[quote.end - 7 : quote.end] == "Moscow."


BRITISH_STYLE = (
    "Britain’s defence secretary, Grant Hollis, defended the raids. ‘We will not stand by while the rebels’ towns "
    "burn,’ Hollis told the BBC.\n\n"
    "‘This is a dangerous escalation,’ said Amira Haddad, a lecturer at Leeds. ‘Nobody has asked what the “end "
    "state” looks like.’\n\n"
    "The minister’s critics called it ‘reckless’. Labour MP Margaret Ellery said: ‘The government hasn’t made its "
    "case to Parliament.\n\n"
    "‘It must vote first.’"
)


def in_double_marks(article: str) -> str:
    """The same article as an American outlet prints it: quotes in double marks, quotes inside them in single."""
    swapped = article.replace("“", "\0open").replace("”", "\0close")
    for opening in ("‘We", "‘This", "‘Nobody", "‘reckless", "‘The", "‘It"):
        swapped = swapped.replace(opening, "“" + opening[1:])
    for closing in ("burn,’", "escalation,’", "like.’", "reckless’", "first.’"):
        swapped = swapped.replace(closing, closing[:-1] + "”")
    return swapped.replace("\0open", "‘").replace("\0close", "’")


def test_quotes_in_single_marks_are_found_as_quotes_in_double_marks_are():
    """British style: single marks around quotes, double marks inside them, and the same ’ as the apostrophe
    (hasn’t, the minister’s, the rebels’ towns)."""
    quotes = extract_quotes(BRITISH_STYLE)
    american = extract_quotes(in_double_marks(BRITISH_STYLE))
    assert [(q.start, q.end, q.speaker, q.paragraph) for q in quotes] == [
        (q.start, q.end, q.speaker, q.paragraph) for q in american
    ]
    assert [q.text for q in quotes] == [
        "We will not stand by while the rebels’ towns burn",
        "This is a dangerous escalation, Nobody has asked what the “end state” looks like.",
        "The government hasn’t made its case to Parliament. It must vote first.",
    ]
    assert [q.speaker for q in quotes] == ["Grant Hollis", "Amira Haddad", "Margaret Ellery"]
    assert [q.text for q in american][
        1
    ] == "This is a dangerous escalation, Nobody has asked what the ‘end state’ looks like."


def test_a_single_opening_mark_that_is_not_a_quote_changes_nothing():
    article = "Since the ‘90s and the ‘00s, the region has seen wars. “We will win this one,” the general said."
    check(article, only_quote(article), "We will win this one", "general")
    assert extract_quotes("Since the ‘90s the region has seen three wars and many more promised, officials said.") == []


# --- Speaker names --------------------------------------------------------------------


def test_speaker_resolved_to_fullest_earlier_name():
    article = 'Hassan Haj Ali leads the rebel group.\n\n"They struck twice," Haj Ali said.'
    check(article, only_quote(article), "They struck twice", "Hassan Haj Ali")


def test_title_dropped_before_surname():
    article = 'In comments after the meeting, Mr Lavrov said: "We are helping."'
    check(article, only_quote(article), "We are helping.", "Lavrov")


@pytest.mark.parametrize(
    ("article", "speaker"),
    [
        ('White House press secretary Josh Earnest said: "We talk."', "Josh Earnest"),
        ('Russian President Vladimir Putin said: "We talk."', "Vladimir Putin"),
        ('At the Pentagon, spokesman Colonel Steve Warren said: "We talk."', "Steve Warren"),
        ('Dr. Jane Smith said: "We talk."', "Jane Smith"),
        ('In London, the Labour MP Margaret Ellery said: "We talk."', "Margaret Ellery"),
        # A role, then the person's name in apposition: the name is the speaker.
        ('A Nato spokesman, Colonel Ward Hensley, told reporters: "We talk."', "Ward Hensley"),
        ('The prime minister, Robert Ashdown, told parliament: "We talk."', "Robert Ashdown"),
        # A preposition that opens the sentence is not part of the name.
        ('For Moussa Traoré, the mayor of Konna, said: "We talk."', "Moussa Traoré"),
    ],
)
def test_job_title_and_rank_dropped_in_favour_of_the_name(article, speaker):
    check(article, only_quote(article), "We talk.", speaker)


def test_organisation_returned_as_written_without_the():
    article = '"Twelve civilians were killed," the observatory said.'
    check(article, only_quote(article), "Twelve civilians were killed", "observatory")


@pytest.mark.parametrize(
    ("article", "speaker"),
    [
        ('"We talk," the general told reporters on Friday.', "general"),
        ('"We talk," said an aid worker in Aleppo.', "aid worker"),
        ('"We talk," a rebel commander said.', "rebel commander"),
        ('"We talk," the UN envoy said.', "UN envoy"),
    ],
)
def test_people_named_by_their_role_are_the_speaker(article, speaker):
    check(article, only_quote(article), "We talk", speaker)


def test_scare_quotes_are_not_statements_but_short_attributed_quotes_are():
    article = 'The ministry called it a “precision strike” on a “legitimate target”.\n\n"Never," Lavrov said.'
    check(article, only_quote(article), "Never", "Lavrov")


def test_quote_without_attribution_has_no_speaker():
    article = 'Sergei Lavrov arrived in Paris.\n\n"Nobody will win this war."'
    check(article, only_quote(article), "Nobody will win this war.", None)


# --- Indirect speech ------------------------------------------------------------------


INDIRECT = "Hassan Haj Ali told Reuters that the base was struck by 20 missiles."


def test_indirect_speech_is_off_by_default():
    assert extract_quotes(INDIRECT) == []


def test_indirect_speech_when_asked_for():
    quote = only_quote(INDIRECT, include_indirect=True)
    check(INDIRECT, quote, "the base was struck by 20 missiles", "Hassan Haj Ali", kind="indirect")


def test_indirect_speech_with_said_and_no_that():
    article = "Sergei Lavrov said Moscow would keep bombing until the job was done."
    quote = only_quote(article, include_indirect=True)
    check(article, quote, "Moscow would keep bombing until the job was done", "Sergei Lavrov", "indirect")


def test_indirect_speech_is_not_taken_from_inside_quote_marks():
    article = 'Sergei Lavrov said: "Kerry said the talks would fail."'
    assert [q.kind for q in extract_quotes(article, include_indirect=True)] == ["direct"]


# --- The founding article -------------------------------------------------------------

SEED_QUOTES = [  # (first words, speaker) of every direct quote, in order
    ("The discussion focused on", "Josh Earnest"),
    ("We believe that the Free Syrian Army", "Lavrov"),
    ("Russia’s recent military build-up", None),
    ("In response to a request by the Syrian leadership", "Lavrov"),
    ("In this situation, we could not refuse", "Matviyenko"),
    ("Russia is challenging everyone", "Hassan Haj Ali"),
]


def test_founding_article_direct_quotes():
    article = SEED.read_text(encoding="utf-8")
    quotes = extract_quotes(article)
    assert len(quotes) == len(SEED_QUOTES), [(q.text[:40], q.speaker) for q in quotes]
    for quote, (words, speaker) in zip(quotes, SEED_QUOTES, strict=True):
        assert quote.text.startswith(words)
        assert quote.speaker == speaker
        assert quote.kind == "direct"
        assert article[quote.start :].startswith(words)


def test_founding_article_keeps_nested_deconflict_and_drops_stray_mark():
    article = SEED.read_text(encoding="utf-8")
    earnest = extract_quotes(article)[0]
    assert earnest.text.endswith("effectively “deconflict” our operations inside of Syria")


def test_founding_article_indirect_pronoun_follows_last_speaker():
    # "He said claims that Russian jets killed civilians…" comes right after Haj Ali's quote.
    article = SEED.read_text(encoding="utf-8")
    last = extract_quotes(article, include_indirect=True)[-1]
    assert (last.kind, last.speaker) == ("indirect", "Hassan Haj Ali")
    assert last.text.startswith("claims that Russian jets killed civilians")
