"""Extract quotes and their speakers from news articles.

Wire copy is messy: agencies close a quote with an opening curly mark, nest scare
quotes inside quotes and carry one quote over several paragraphs. So quote marks are
paired by what surrounds them (a mark after a space opens, a mark before a space or
punctuation closes) and only fall back on the glyph when the context is ambiguous.
Standard library only (and the project's error type), so every later stage can import it cheaply.
"""

import bisect
import re
from dataclasses import dataclass, field, replace
from typing import NamedTuple

from pipeline.errors import UserInputError

# Extraction takes one to three seconds per megabyte; a bigger "article" is almost always a mistake (a whole
# archive, a binary file) that would keep the command busy for minutes.
DEFAULT_MAX_ARTICLE_MB = 10.0


def check_article_size(size_bytes: int, name: str, max_mb: float = DEFAULT_MAX_ARTICLE_MB) -> None:
    """Refuse an article above `max_mb` megabytes of UTF-8 text, naming it and the limit."""
    if size_bytes > max_mb * 1_000_000:
        raise UserInputError(
            f"{name}: the article is {size_bytes / 1_000_000:.1f} MB, above the limit of {max_mb:g} MB per article; "
            "split it into articles, or raise the limit (stance-predict --max-article-mb)"
        )


@dataclass(frozen=True)
class Quote:
    text: str  # quoted words; parts of a split quote joined by one space
    start: int  # offset of the first quoted character
    end: int  # offset one past the last quoted character
    speaker: str | None  # resolved speaker, None when the article names nobody
    kind: str  # "direct" or "indirect"
    paragraph: int  # 0-based paragraph where the quote starts


# --- Vocabulary. Names are runs of capitalised words, allowing Arabic, Dutch, German...
# particles and "of"/"for" so that "Syrian Observatory for Human Rights" stays whole.
_UPPER = "A-ZÀ-ÖØ-Þ"
_CAP = rf"(?:(?:[{_UPPER}]\.)+|(?:(?:al|el|ad|as|ash|an|ar|at|az)-)?[{_UPPER}][\w’'-]*)"
_PARTICLE = r"(?:al|el|bin|ibn|bint|abu|de|del|der|den|di|da|du|dos|la|le|van|von|of the|of|for)"
_NAME = rf"(?<![\w’'.-]){_CAP}(?:\s+(?:{_PARTICLE}\s+){{0,2}}{_CAP})*"
_PRONOUN = r"(?:[Hh]e|[Ss]he|[Tt]hey|[Ii]t)"
# Organisations and anonymous sources ("Russia's defence ministry", "the observatory").
_ORG_HEAD = (
    r"(?:ministry|observatory|officials?|spokes(?:man|woman|person)|statement|government|military"
    r"|army|agency|group|commanders?|sources?|office|embassy|council|committee|command|monitor"
    r"|activists?|residents?|witnesses|analysts?|diplomats?|minister|department|coalition"
    r"|police|authorities|leaders?|president|media|report"
    # People named by their role: "the general told reporters", "an aid worker said".
    r"|general|colonel|chief|envoy|ambassador|senator|lawmakers?|chancellor|premier|mayor|governor|secretary"
    r"|negotiators?|officers?|soldiers?|fighters?|rebels?|workers?|doctors?|experts?|observers?)"
)
_MODIFIER = r"(?!(?:said|says|say|told|and|but|that|who|which|of|in|on|at|to|by|for|with)\b)[\w’'.-]+"
_ORG = rf"(?:(?:[Tt]he|[Aa]n?)\s+)?(?:{_MODIFIER}\s+){{0,2}}{_ORG_HEAD}\b"
_SUBJECT = rf"(?:(?P<pron>\b{_PRONOUN}\b)|(?:[Tt]he\s+)?(?P<name>{_NAME})|(?P<org>{_ORG}))"

_OUTLET = (
    rf"(?:(?:the|a)\s+)?(?:{_NAME}|reporters|journalists|lawmakers|parliament"
    r"|(?:news|press)\s+conference|state\s+(?:media|television|TV))"
)
_SAY = r"(?:said|says|say|added|adds|asked|replied|stated|declared|warned|insisted|explained|noted|wrote)"
_VERB = rf"\b(?:told\s+{_OUTLET}|{_SAY})\b"
_REPORT_VERB = re.compile(
    rf"\b(?:told\s+{_OUTLET}|said|says|say|added|reported|stated|claimed"
    r"|warned|insisted|announced|argued)\b"
)
_TIME = (
    r"(?:\s+(?:on\s+)?(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|yesterday"
    r"|today|tonight|earlier|later)|\s+in\s+an?\s+(?:statement|interview))*"
)

_MARK = re.compile('["“”]')
_SUBJ_END = re.compile(rf"{_SUBJECT}\s*\Z")
_SUBJ_START = re.compile(rf"\s*{_SUBJECT}")
# Greedy prefix, so the verb found is the last one before the quote; up to six words may
# sit between verb and quote ("said the deal was "dead"", "told Reuters on Thursday:").
_BEFORE = re.compile(rf"\A(?P<pre>.*){_VERB}(?:\s+[^\s.,:;!?\"“”]+){{0,6}}\s*[:,]?\s*\Z", re.S)
_AFTER = re.compile(rf"(?P<pre>[^.!?;:\"“”]{{1,120}}?)\s+(?:also\s+)?{_VERB}{_TIME}")
_INVERTED = re.compile(rf"{_SAY}\s+")
_ACCORDING = re.compile(r"\baccording\s+to\s+", re.I)
_TRAILING = re.compile(rf",\s*(?P<pre>[^,.;:!?\"“”]{{1,80}}?)\s+{_VERB}{_TIME}\s*[.!?]?\s*\Z")
_APPOSITION = re.compile(r",\s+[^,]{1,80},\s*\Z")  # "Hassan Haj Ali, head of X, said"
# Greedy prefix: everything up to the last title before a name goes ("Russian President Putin").
_TITLE = re.compile(
    r"\A.*\b(?:Mr|Mrs|Ms|Miss|Dr|Prof|Professor|Sir|Dame|Lord|MP|MEP|President|Minister|Secretary of State"
    r"|Secretary|Chancellor|Premier|Ambassador|Senator|Sen|Rep|Governor|Gov|Mayor|Judge|King|Queen|Prince"
    r"|Princess|Sheikh|Emir|Ayatollah|Imam|Pope|Rev|Colonel|Col|General|Gen|Lieutenant|Lt|Major|Maj"
    rf"|Captain|Capt|Sergeant|Sgt|Admiral|Adm|Commander|Brigadier|Marshal|Spokes(?:man|woman|person))"
    rf"\.?\s+(?=[{_UPPER}]|(?:al|el)-)",
    re.S,
)
# Capitalised only because they open a sentence ("On Thursday Lavrov said").
_LEADING_WORDS = re.compile(
    r"\A(?:(?:The|A|An|In|On|At|For|From|With|Under|During|Despite|Without|Unlike"
    r"|But|And|Or|So|As|If|When|While|Meanwhile|However|Also|Earlier"
    r"|Later|Yesterday|Today|Then|After|Before|Asked|Speaking|I|We|You|It|This|That|Monday"
    r"|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b\s*)+"
)
_BOUNDARY = re.compile(rf"(?<=[.!?])[\"”“’]?(?:\s+(?=[\"“‘{_UPPER}0-9])|\s*\Z)")
_ABBREVIATION = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|St|Gen|Col|Lt|Sgt|Capt|Maj|Prof|Sen|Rep|Gov"
    r"|Jr|Sr|No|Adm)|\b(?:[A-Z]\.)*[A-Z])\.\Z"
)


# Longest unattributed quote taken for a term or a scare quote, and left out.
SCARE_QUOTE_MAX_WORDS = 3

# Longest abbreviation _ABBREVIATION needs to see: "Capt." plus the word boundary before it.
_ABBREVIATION_REACH = 8


class _Subject(NamedTuple):
    name: str
    kind: str  # "name", "org" or "pron"
    pos: int  # offset in the article, used to look for fuller forms mentioned earlier


@dataclass
class _Span:
    """A direct quote while it is being assembled (offsets into the article)."""

    paragraph: int
    open_at: int  # index of the opening mark
    parts: list[tuple[int, int]] = field(default_factory=list)
    close_at: int = 0  # index after the closing mark (or the paragraph end)
    last_paragraph: int = 0
    left: tuple[int, int] = (0, 0)  # text between the previous quote and this one
    right: tuple[int, int] = (0, 0)  # text between this quote and the next one
    subject: _Subject | None = None


def extract_quotes(article: str, include_indirect: bool = False) -> list[Quote]:
    """Return the article's quotes in order of appearance."""
    if "‘" in article:
        as_double, quotes_in_single_marks = _single_marks_as_double(article)
        # British style: more quotes in single marks than in double ones.
        if quotes_in_single_marks > article.count("“") + article.count('"') // 2:
            # Found in a copy whose single marks are double ones (the same length, so offsets hold), and read back
            # in the article's own marks.
            quotes = _extract(as_double, include_indirect)
            return [replace(quote, text=quote.text.translate(_BACK_TO_SINGLE)) for quote in quotes]
    return _extract(article, include_indirect)


# --- British style: quotes in single marks (‘…’), any quote inside them in double marks. The opening mark ‘ is
# not an apostrophe (that is ’). Double marks and straight quotes, which open and close quotes in _MARK, become
# inert stand-ins (private-use characters) while single marks take their place, and come back in the quotes' text.
_INERT = {'"': "\ue000", "“": "\ue001", "”": "\ue002"}
_BACK_TO_SINGLE = str.maketrans({"“": "‘", "”": "’", **{inert: mark for mark, inert in _INERT.items()}})


def _single_marks_as_double(article: str) -> tuple[str, int]:
    """The article with its single quote marks as double ones and its double marks inert; how many quotes the
    single marks open.

    ‘ after a space opens. ’ closes an open quote unless it is an apostrophe: inside a word (don’t, Russia’s), or
    a plural possessive (the rebels’ towns: after an s, before a space and a word). A ‘ still open at the end of
    its paragraph stays as it is (‘90s, a stray mark), unless the next paragraph opens with ‘, which carries the
    quote on.
    """
    marks = [_INERT.get(character, character) for character in article]
    paragraphs, quotes = _paragraphs(article), 0
    for p, (start, end) in enumerate(paragraphs):
        still_open = []
        for i in range(start, end):
            if article[i] == "‘" and (i == start or not article[i - 1].isalnum()):
                marks[i] = "“"
                still_open.append(i)
            elif article[i] == "’" and still_open and not _apostrophe(article, i):
                marks[i] = "”"
                still_open.pop()
                quotes += 1
        carried_on = p + 1 < len(paragraphs) and article[paragraphs[p + 1][0]] == "‘"
        if still_open and not carried_on:
            for i in still_open:
                marks[i] = "‘"
    return "".join(marks), quotes


def _apostrophe(article: str, i: int) -> bool:
    before, after = article[i - 1 : i], article[i + 1 : i + 2]
    if before.isalnum() and after.isalnum():
        return True
    return before == "s" and after == " " and article[i + 2 : i + 3].isalpha()


def _extract(article: str, include_indirect: bool) -> list[Quote]:
    paras = _paragraphs(article)
    spans = _scan(article, paras)
    _set_contexts(spans, paras)
    spans = _merge_split_quotes(article, spans)
    found = []
    for sp in spans:
        text, start, end = _trimmed(article, sp.parts)
        subject = sp.subject or _attribute(article, sp)
        # A few words in quote marks that nobody is said to have said are a term or a scare quote, not a statement:
        # 'called it a “precision strike” on a “legitimate target”'.
        if text and (subject or len(text.split()) > SCARE_QUOTE_MAX_WORDS):
            found.append((text, start, end, subject, "direct", sp.paragraph))
    # Spans are in order and do not overlap, so their close offsets rise too: the last span opening before a
    # sentence's end is the only one that can overlap it (a bisection, not a scan of every span per sentence).
    opens = [sp.open_at for sp in spans]
    for p, (ps, pe) in enumerate(paras):  # indirect speech also feeds pronoun resolution
        for s, e in _sentences(article[ps:pe]):
            s, e = ps + s, ps + e
            before = bisect.bisect_left(opens, e)
            inside_quote = before > 0 and spans[before - 1].close_at > s
            if not inside_quote and (hit := _reported_clause(article[s:e], s)):
                subject, c0, c1 = hit
                found.append((article[c0:c1], c0, c1, subject, "indirect", p))
    return _resolve_speakers(article, paras, sorted(found, key=lambda q: q[1]), include_indirect)


def _paragraphs(article: str) -> list[tuple[int, int]]:
    """Runs of non-blank lines; one paragraph per line when the article has no blank line."""
    line = r"\S(?:[^\n]*\S)?"
    blank_lines = re.search(r"\n[ \t\r]*\n", article)
    pattern = rf"{line}(?:[ \t\r]*\n[ \t]*{line})*" if blank_lines else line
    return [m.span() for m in re.finditer(pattern, article)]


def _opens(article: str, i: int, ps: int, pe: int, depth: int) -> bool:
    """Does the quote mark at i open a quote? Context first, glyph as a tie-breaker."""
    before = article[i - 1] if i > ps else " "
    after = article[i + 1] if i + 1 < pe else " "
    open_side = before.isspace() or before in "([{—–-/"
    close_side = after.isspace() or after in ".,;:!?)]}—–-/"
    if open_side != close_side:
        return open_side
    if open_side:  # a mark standing alone between spaces closes whatever is open
        return depth == 0
    return article[i] == "“" or (article[i] == '"' and depth == 0)


def _scan(article: str, paras: list[tuple[int, int]]) -> list[_Span]:
    """Pair quote marks, counting depth so nested quotes stay inside the outer one."""
    spans, depth, current, part_start = [], 0, None, 0
    for p, (ps, pe) in enumerate(paras):
        carried = ps if depth else -1  # the mark re-opening a quote left open last paragraph
        part_start = ps + 1 if depth else part_start
        for m in _MARK.finditer(article, ps, pe):
            i = m.start()
            if i == carried:
                continue
            if _opens(article, i, ps, pe, depth):
                if depth == 0:
                    current, part_start = _Span(paragraph=p, open_at=i), i + 1
                depth += 1
            elif depth:  # a closing mark with nothing open is a stray: ignore it
                depth -= 1
                if depth == 0:
                    current.parts.append((part_start, i))
                    current.close_at, current.last_paragraph = i + 1, p
                    spans.append(current)
        if depth:
            current.parts.append((part_start, pe))
            nxt = paras[p + 1][0] if p + 1 < len(paras) else None
            if nxt is None or article[nxt] not in '"“”':  # not carried over: ends here
                current.close_at, current.last_paragraph, depth = pe, p, 0
                spans.append(current)
    return spans


def _set_contexts(spans: list[_Span], paras: list[tuple[int, int]]) -> None:
    """Attribution is sought only in the quote's paragraph, and not past a neighbouring quote."""
    for i, sp in enumerate(spans):
        prev_end = spans[i - 1].close_at if i else 0
        next_start = spans[i + 1].open_at if i + 1 < len(spans) else paras[-1][1]
        sp.left = (max(paras[sp.paragraph][0], prev_end), sp.open_at)
        sp.right = (sp.close_at, min(paras[sp.last_paragraph][1], next_start))


def _ends_sentence(article: str, sp: _Span) -> bool:
    """A quote ending in a full stop is not followed by its attribution ('"…." He said…')."""
    s, e = sp.parts[-1]
    return article[s:e].rstrip().endswith(".")


def _merge_split_quotes(article: str, spans: list[_Span]) -> list[_Span]:
    """Join '"First part," X said. "Second part."' into one quote spoken by X."""
    merged: list[_Span] = []
    for sp in spans:
        prev = merged[-1] if merged else None
        if prev and prev.right[1] == sp.open_at:
            gap = article[prev.close_at : sp.open_at]
            hit = _after(gap, prev.close_at, _ends_sentence(article, prev))
            own = _after(article[slice(*sp.right)], sp.right[0], _ends_sentence(article, sp))
            if hit and not own and gap[hit[1] :].strip() in ("", ".", ",", ":"):
                prev.parts += sp.parts
                prev.close_at, prev.last_paragraph, prev.right = sp.close_at, sp.last_paragraph, sp.right
                prev.subject = hit[0]
                continue
        merged.append(sp)
    return merged


def _trimmed(article: str, parts: list[tuple[int, int]]) -> tuple[str, int, int]:
    """Quote text without edge spaces; a final comma belongs to the attribution."""
    kept = []
    for k, (s, e) in enumerate(parts):
        last = k == len(parts) - 1
        while s < e and article[s].isspace():
            s += 1
        while e > s and (article[e - 1].isspace() or (last and article[e - 1] == ",")):
            e -= 1
        if e > s:
            kept.append((s, e))
    if not kept:
        return "", 0, 0
    return " ".join(article[s:e] for s, e in kept), kept[0][0], kept[-1][1]


def _attribute(article: str, sp: _Span) -> _Subject | None:
    """Speaker named just before the quote, just after it, or in its own sentence."""
    left, right = article[slice(*sp.left)], article[slice(*sp.right)]
    if (m := _BEFORE.match(left)) and (found := _subject_ending(m["pre"], sp.left[0])):
        return found[0]
    if found := _after(right, sp.right[0], _ends_sentence(article, sp)):
        return found[0]
    return _near(left, sp.left[0], right, sp.right[0])


def _after(right: str, offset: int, ends_sentence: bool) -> tuple[_Subject, int] | None:
    """'"…", X said' / '"…," said X' / '"…", according to X'; returns (subject, chars used)."""
    sep = re.match(r"\s*[,—–-]\s*|\s*", right)
    if ends_sentence and not sep.group().strip():
        return None
    rest, base = right[sep.end() :], offset + sep.end()
    for lead in (_INVERTED.match(rest), _ACCORDING.match(rest)):
        if lead and (found := _subject_starting(rest[lead.end() :], base + lead.end())):
            return found[0], sep.end() + lead.end() + found[1]
    m = _AFTER.match(rest)
    if m and (found := _subject_ending(m["pre"], base)) and found[1] == 0:
        return found[0], sep.end() + m.end()
    return None


def _near(left: str, loff: int, right: str, roff: int) -> _Subject | None:
    """'According to X, …"…"', 'X told Reuters that … "…"', '… "…" …, X said.'"""
    ls = _sentences(left)[-1][0]
    rsent = right[: _sentences(right)[0][1]]
    for text, off in ((left[ls:], loff + ls), (rsent, roff)):
        for a in _ACCORDING.finditer(text):
            if found := _subject_starting(text[a.end() :], off + a.end()):
                return found[0]
    if hit := _reporting(left[ls:], loff + ls):
        return hit[0]
    if m := _TRAILING.search(rsent):
        found = _subject_ending(m["pre"], roff + m.start("pre"))
        if found and found[1] == 0:
            return found[0]
    return None


def _subject(m: re.Match, offset: int) -> _Subject | None:
    kind = m.lastgroup
    raw = m.group(kind)
    if kind == "pron":
        name = raw.lower()
    elif kind == "org":
        name = re.sub(r"\A(?:[Tt]he|[Aa]n?)\s+", "", raw)
    else:
        name = re.sub(r"[’']s\Z", "", _LEADING_WORDS.sub("", _TITLE.sub("", raw)))
    return _Subject(name.strip(), kind, offset + m.start(kind)) if name.strip() else None


def _subject_ending(text: str, offset: int) -> tuple[_Subject, int] | None:
    """The subject that ends `text`, and where its phrase starts in `text`."""
    text = re.sub(r"\s+(?:also|later|earlier|then|previously|further)\s*\Z", " ", text)
    candidates = [text]
    if appos := _APPOSITION.search(text):
        candidates.append(text[: appos.start()])
    for cand in candidates:
        if (m := _SUBJ_END.search(cand)) and (subject := _subject(m, offset)):
            if appos and cand is not text and subject.kind == "org" and (named := _name_in(appos, offset)):
                return named, m.start()
            return subject, m.start()
    return None


def _name_in(appos: re.Match, offset: int) -> _Subject | None:
    """The person an apposition names after a role: "a Nato spokesman, Colonel Ward Hensley, said"."""
    inner = re.search(r"[^,\s](?:[^,]*[^,\s])?", appos.group())
    if inner and (m := re.fullmatch(_SUBJECT, inner.group())) and m.lastgroup == "name":
        return _subject(m, offset + appos.start() + inner.start())
    return None


def _subject_starting(text: str, offset: int) -> tuple[_Subject, int] | None:
    """The subject that opens `text`, and how many characters it (and any apposition) uses."""
    if (m := _SUBJ_START.match(text)) and (subject := _subject(m, offset)):
        appos = re.match(r",\s+[^,.;:!?\"“”]{1,80}", text[m.end() :])
        return subject, m.end() + (appos.end() if appos else 0)
    return None


def _sentences(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for m in _BOUNDARY.finditer(text):
        # An abbreviation ending here is at most a few characters long, and a chain of initials ("U.S.") also
        # matches from its last letter, so looking back a little gives the same answer as searching from 0, which
        # made splitting a long paragraph quadratic. (\b and look-behinds still see the text before `pos`.)
        if not _ABBREVIATION.search(text, max(0, m.start() - _ABBREVIATION_REACH), m.start()):
            spans.append((start, m.start()))
            start = m.end()
    if start < len(text) or not spans:
        spans.append((start, len(text)))
    return spans


def _reporting(sentence: str, offset: int) -> tuple[_Subject, int, int] | None:
    """'X said …' whose subject opens the sentence or follows an introductory phrase."""
    for verb in _REPORT_VERB.finditer(sentence):
        found = _subject_ending(sentence[: verb.start()], offset)
        if found:
            intro = sentence[: found[1]].strip()
            if not intro or intro.endswith(","):
                return found[0], verb.end(), found[1]
    return None


def _reported_clause(sentence: str, offset: int) -> tuple[_Subject, int, int] | None:
    """Indirect speech: (speaker, clause start, clause end) for 'X said (that) …'."""
    if not (hit := _reporting(sentence, offset)):
        return None
    subject, verb_end, subject_start = hit
    c0 = verb_end + re.match(rf"{_TIME}(?:\s+that\b)?\s*", sentence[verb_end:]).end()
    stripped = sentence.rstrip()
    c1 = len(stripped) if _ABBREVIATION.search(stripped) else len(stripped.rstrip(".!?"))
    if len(sentence[c0:c1].split()) < 3 and subject_start:  # "…, Putin said Thursday."
        c0, c1 = 0, sentence.rindex(",", 0, subject_start)
    if len(sentence[c0:c1].split()) < 3:
        return None
    return subject, offset + c0, offset + c1


# A person brought into the story by their role or title: "the academic Ibrahim Sangaré", "Britain's defence
# secretary, Grant Hollis,", "Russian President Vladimir Putin". The role tells a person from a place or a group.
_PERSON_ROLE = (
    r"(?:academic|analyst|lecturer|professor|researcher|historian|commentator|scholar|economist|journalist|writer"
    r"|activist|campaigner|lawyer|doctor|cleric|imam|priest|bishop|veteran|spokes(?:man|woman|person)|minister"
    r"|secretary|ambassador|envoy|diplomat|negotiator|general|colonel|commander|officer|senator|governor|mayor"
    r"|president|premier|chancellor|leader|chief|director|chair(?:man|woman)?|advis[eo]r|MP|MEP)"
)
_INTRODUCED = re.compile(rf"(?i:\b(?P<role>{_PERSON_ROLE}))\b,?\s+(?P<name>{_NAME})(?![’']s\b)")


def _introductions(article: str, paras: list[tuple[int, int]], quoted: list[tuple[int, int]]) -> list[_Subject]:
    """People introduced by role or title outside quote marks, in article order. A lone surname counts only after a
    capitalised title ("President Putin"), a lower-case role needs a full name ("the academic Ibrahim Sangaré")."""
    introduced = []
    for ps, pe in paras:
        for m in _INTRODUCED.finditer(article, ps, pe):
            position = m.start("name")
            if any(start <= position < end for start, end in quoted):
                continue
            name = _LEADING_WORDS.sub("", m.group("name")).strip()
            if name and (" " in name or m.group("role")[0].isupper()):
                introduced.append(_Subject(name, "name", position))
    return introduced


def _resolve_speakers(article, paras, found, include_indirect) -> list[Quote]:
    """Expand names to their fullest earlier form. Point a pronoun at the person last introduced by role or title
    in its paragraph or the one before, when that came after the last speaker was named; else at the last
    speaker ("The academic Ibrahim Sangaré was unconvinced. '…,' he said." is Sangaré's, not the quote before's)."""
    fuller_names = _FullerNames()
    for ps, pe in paras:
        for m in re.finditer(rf"(?:[Tt]he\s+)?(?P<name>{_NAME})", article[ps:pe]):
            subject = _subject(m, ps)
            if subject and " " in subject.name:
                fuller_names.add(subject)
    quoted = [(start, end) for _, start, end, _, kind, _ in found if kind == "direct"]
    introduced = _introductions(article, paras, quoted)
    introduced_at = [person.pos for person in introduced]
    paragraph_starts = [ps for ps, _ in paras]
    quotes, last, last_named_at = [], None, -1
    for text, start, end, subject, kind, paragraph in found:
        speaker = None
        if subject and subject.kind == "pron":
            speaker = last
            latest = bisect.bisect_left(introduced_at, start) - 1
            nearby = paragraph_starts[max(paragraph - 1, 0)]
            if latest >= 0 and introduced_at[latest] > max(last_named_at, nearby - 1):
                person = introduced[latest]
                speaker = last = fuller_names.longest_before(person.name, person.pos + 1) or person.name
                last_named_at = person.pos
        elif subject:
            speaker = subject.name
            if subject.kind == "name":
                speaker = fuller_names.longest_before(speaker, subject.pos) or speaker
            last, last_named_at = speaker, subject.pos
        if kind == "direct" or include_indirect:
            quotes.append(Quote(text, start, end, speaker, kind, paragraph))
    return quotes


class _FullerNames:
    """Multi-word names by their last words, to expand "Assad" to "Bashar al-Assad" in time linear in the article.

    `longest_before(short, pos)` is the longest name mentioned before `pos` that ends with " " + short (the first
    such name on ties). Each name is filed under its last one to `max_tail_words` words; a longer short form (only
    in odd text) falls back to scanning every mention.
    """

    max_tail_words = 8

    def __init__(self) -> None:
        self.mentions: list[_Subject] = []
        self.positions: dict[str, list[int]] = {}
        self.longest_so_far: dict[str, list[str]] = {}

    def add(self, mention: _Subject) -> None:
        # Mentions arrive in article order, so each list of positions stays sorted.
        self.mentions.append(mention)
        name, space = mention.name, len(mention.name)
        for _ in range(self.max_tail_words):
            space = name.rfind(" ", 0, space)
            if space < 0:
                break
            tail = name[space + 1 :]
            positions = self.positions.setdefault(tail, [])
            longest = self.longest_so_far.setdefault(tail, [])
            best = longest[-1] if longest else ""
            positions.append(mention.pos)
            longest.append(name if len(name) > len(best) else best)

    def longest_before(self, short: str, pos: int) -> str | None:
        if short.count(" ") >= self.max_tail_words:
            fuller = [m.name for m in self.mentions if m.pos < pos and m.name.endswith(" " + short)]
            return max(fuller, key=len, default=None)
        positions = self.positions.get(short)
        if not positions:
            return None
        count = bisect.bisect_left(positions, pos)
        return self.longest_so_far[short][count - 1] if count else None
