"""Sentences with character offsets, and chunks made of runs of sentences.

Offsets always index the document's stored text, so `text[s.start:s.end]` is the sentence itself.
"""

from __future__ import annotations

import re

from .types import Chunk, Sentence

# Words that end with a full stop without ending the sentence. Lower-case, without the stop.
ABBREVIATIONS = frozenset(
    """
    mr mrs ms dr prof gen lt col maj capt cpt sgt adm cmdr brig st jr sr rep sen gov pres
    hon rev fr inc ltd co corp bros dept univ assn est approx vs etc al e.g i.e cf viz
    no nos vol fig op pp jan feb mar apr jun jul aug sep sept oct nov dec mt ft
    a.m p.m u.s u.n u.k e.u u.s.a ph.d
    """.split()
)

_TERMINATORS = ".!?…"
_CLOSERS = "\"'”’)]»"
# A candidate end: terminal punctuation, optional closing quotes/brackets, then white space.
_END = re.compile(r"[.!?…]+[\"'”’)\]»]*(?=\s)")
# What may start a sentence: a capital or digit, possibly behind an opening quote or bracket.
_START = re.compile(r"\s+[\"'“‘(\[«]*[A-Z0-9\u00C0-\u024F\u0400-\u04FF\u0600-\u06FF]")
_BLOCK_SEP = re.compile(r"\n[ \t]*\n\s*")
# A photo or wire credit in brackets after a caption's full stop: "... August 28, 2019. (AFP)";
# short and without a sentence of its own inside ("(The UN denied it.)" is text).
_BRACKETED = re.compile(r"\([^()\n.!?]{1,40}\)")
# Lines that say where a report or its picture came from rather than what happened. Only a
# line of its own, without digits, counts (see sentence_kind): "Sources: 16 civilians were
# killed ..." is text.
_NAME = r"(?-i:[A-Z][\w'’./&-]*)"
_CREDIT = re.compile(
    r"(?:sources?|credits?|(?:photo|image|picture)\s+credits?|copyright)\s*:"
    rf"|(?:photo|image|picture|photograph)\s*:\s*{_NAME}(?:\s+(?:{_NAME}|/)){{0,4}}\s*$"  # Photo: AFP / Omar Haj
    r"|\(?(?:additional\s+)?(?:reporting|editing|writing|compiled|edited|written|translated)\s+by\b"
    rf"|(?-i:By\s+{_NAME}(?:\s+(?:{_NAME}|and|in|for))*\s*$)"  # a byline: By Staff Writer
    r"|©"
    rf"|{_BRACKETED.pattern}\s*$",
    re.IGNORECASE,
)
_CLOSED = re.compile(rf"[{re.escape(_TERMINATORS)}][{re.escape(_CLOSERS)}]*$")  # ends as a sentence ends
_TRAILING_CREDIT = re.compile(rf"\s*{_BRACKETED.pattern}$")  # "Sixteen died. (SOHR)"
# A labelled caption ("Photo: A man walks past rubble ...") is text even without a full stop.
_CAPTION = re.compile(r"(?:photo|image|picture|photograph|caption|file photo)\s*:", re.IGNORECASE)
HEADING_WORDS = 12  # a line without closing punctuation up to this long is a heading, not text
# Longer "sentences" (text without full stops) are cut into pieces of at most this many words.
MAX_SENTENCE_WORDS = 100
CREDIT_WORDS = 16
_LINE_MARKUP = re.compile(r"(?:#{1,6}\s+|[-*•·]\s+|>\s*)")
# Items of a list are text whatever their punctuation ("- 550 civilians killed", "2) ...").
_BULLET = re.compile(r"\s*[-*•·]\s*")
_NUMBERED = re.compile(r"\(?\d{1,3}[.)]\s")
#: One letter per kind, as chunks store their sentences' kinds.
KIND_CODES = {"text": "t", "heading": "h", "credit": "c"}
_KINDS_OF = {code: kind for kind, code in KIND_CODES.items()}
_WORD = re.compile(r"\S+")


def split_sentences(text: str) -> list[Sentence]:
    """Split text into sentences, headings and captions, each a span of `text`.

    Blank lines always end a unit. Inside a paragraph, a short line without closing punctuation
    (a heading, a photo caption, a byline) is a unit of its own; wrapped lines are joined.
    """
    sentences: list[Sentence] = []
    for block_start, block_end in _blocks(text):
        for seg_start, seg_end in _line_segments(text, block_start, block_end):
            for sentence in _split_segment(text, seg_start, seg_end):
                sentences.extend(_cut_long(text, sentence))
    for s in sentences:
        s.kind = unit_kind(text, s.start, s.end)
    return sentences


def unit_kind(text: str, start: int, end: int) -> str:
    """`sentence_kind` of the unit text[start:end], seen in its line: only a unit alone on its
    line (markup such as "## " before it aside) can be a heading or a credit, and a list item
    ("- 550 civilians killed") is text however short. Looks at most a few characters around it,
    so classifying every unit of a long one-line text stays linear."""
    unit = text[start:end]
    window = text[max(0, start - 8) : start]  # a line's markup fits in 8 characters
    line_start = window.rfind("\n")
    before = window[line_start + 1 :] if line_start >= 0 or start <= 8 else None  # None: text before it
    ahead = text[end : end + 200]
    line_end = ahead.find("\n")
    after = ahead[:line_end] if line_end >= 0 else (ahead if end + 200 >= len(text) else "…")
    if (before is not None and _BULLET.fullmatch(before)) or _NUMBERED.match(unit):
        return "text"
    alone = before is not None and (not before.strip() or bool(_LINE_MARKUP.fullmatch(before.lstrip()))) and not after.strip()
    return sentence_kind(unit, own_line=alone)


def _cut_long(text: str, sentence: Sentence) -> list[Sentence]:
    """A sentence of more than MAX_SENTENCE_WORDS words (a run-on text without full stops) as
    pieces of at most that many, cut after a comma, semicolon or colon where one is near the end
    of a piece: so no unit, chunk or citation grows with the length of a report."""
    words = [(m.start(), m.end()) for m in _WORD.finditer(text, sentence.start, sentence.end)]
    if len(words) <= MAX_SENTENCE_WORDS:
        return [sentence]
    pieces = []
    first = 0
    while first < len(words):
        last = min(first + MAX_SENTENCE_WORDS, len(words)) - 1
        if last + 1 < len(words):
            soft = next(
                (i for i in range(last, first + MAX_SENTENCE_WORDS * 2 // 3, -1) if text[words[i][1] - 1] in ",;:"), None
            )
            last = soft if soft is not None else last
        pieces.append(Sentence(words[first][0], words[last][1]))
        first = last + 1
    return pieces


def sentence_kind(sentence: str, own_line: bool = True) -> str:
    """What a unit of a report is: "text" (a sentence), "heading" (a short line without closing
    punctuation: "Humanitarian crisis") or "credit" (where the report or a picture came from:
    "Source: TRTWorld and agencies", "(AFP)", "Reporting by ...", a byline).

    Only a unit on a line of its own (`own_line`, see `unit_kind`) is a heading or a credit; a
    credit has no digits, and a unit ending in ":", "," or ";", or in a full stop before a
    bracketed credit ("Sixteen died. (SOHR)"), is text. The answerer quotes headings and
    credits only when a question asks about them.
    """
    sentence = sentence.strip()
    if not own_line:
        return "text"
    words = len(sentence.split())
    core = _TRAILING_CREDIT.sub("", sentence)
    if not core:  # a bracket and nothing else: "(AFP)" is a credit, "(16 killed)" is text
        return "credit" if _CREDIT.match(sentence) and not any(ch.isdigit() for ch in sentence) else "text"
    if words <= CREDIT_WORDS and _CREDIT.match(sentence) and not any(ch.isdigit() for ch in sentence):
        if not _CLOSED.search(core):
            return "credit"
    if words <= HEADING_WORDS and not _CLOSED.search(core) and not core.endswith((":", ",", ";")):
        if not _CAPTION.match(sentence):
            return "heading"
    return "text"


def section_headings(sentences: list[Sentence]) -> list[int]:
    """For each unit, the index of the last heading at or before it (the section it is in), or -1."""
    heading_of, last = [], -1
    for i, sentence in enumerate(sentences):
        last = i if sentence.kind == "heading" else last
        heading_of.append(last)
    return heading_of


def chunk_sentences(text: str, doc_id: str, sentences: list[Sentence], max_words: int, overlap: int) -> list[Chunk]:
    """Group consecutive sentences into chunks of at most `max_words` words.

    Each chunk after the first repeats the last `overlap` sentences of the one before, so an
    answer that spans a chunk boundary is still found whole in one chunk. A heading that opens a
    section (text follows it) starts a new chunk, with no overlap back into the section before:
    a chunk never ends on the heading of the next section. A section starts a chunk only once
    the chunk before holds a quarter of `max_words` of text, so short lines between sentences,
    or a text of headings alone, never make chunks smaller than that. A chunk whose
    text an earlier chunk of the document already has, word for word, is left out: repeated
    boilerplate (or junk) is retrieved once instead of crowding out other passages.
    """
    words = [len(_WORD.findall(text[s.start : s.end])) for s in sentences]
    kinds = [s.kind for s in sentences]
    # text_words[i]: words of text units before unit i; text_after[i]: some unit after i is text.
    # Both in one pass each, so deciding where a section starts stays linear in the units.
    text_words = [0]
    for w, k in zip(words, kinds):
        text_words.append(text_words[-1] + (w if k == "text" else 0))
    text_after = [False] * len(kinds)
    for i in range(len(kinds) - 2, -1, -1):
        text_after[i] = text_after[i + 1] or kinds[i + 1] == "text"
    heading_of = section_headings(sentences)

    def opens_section(i: int, first: int) -> bool:
        """Whether unit i is the first heading of a run that text follows, with enough text in
        the chunk so far (a quarter of max_words) to end it there."""
        if kinds[i] != "heading" or (i > first and kinds[i - 1] == "heading") or not text_after[i]:
            return False
        return text_words[i] - text_words[first] >= max(1, max_words // 4)

    chunks: list[Chunk] = []
    seen: set[str] = set()
    first = 0
    while first < len(sentences):
        last, total = first, words[first]
        while last + 1 < len(sentences) and total + words[last + 1] <= max_words and not opens_section(last + 1, first):
            last += 1
            total += words[last]
        start, end = sentences[first].start, sentences[last].end
        if text[start:end] not in seen:  # a passage repeated word for word is retrieved once, where it first stands
            seen.add(text[start:end])
            chunks.append(
                Chunk(
                    doc_id=doc_id,
                    index=len(chunks),
                    start=start,
                    end=end,
                    text=text[start:end],
                    first_sentence=first,
                    sentences=sentences[first : last + 1],
                    section=sentences[heading_of[first]] if heading_of[first] >= 0 else None,
                    section_text=text[sentences[heading_of[first]].start : sentences[heading_of[first]].end] if heading_of[first] >= 0 else "",
                )
            )
        if last + 1 >= len(sentences):
            break
        nxt = max(last + 1 - overlap, first + 1)
        # Overlap only where it leaves room for new text (otherwise a chunk would repeat its
        # predecessor's tail and nothing else), and never back across a section's heading.
        if sum(words[nxt : last + 2]) > max_words or opens_section(last + 1, first):
            nxt = last + 1
        first = nxt
    return chunks


def _blocks(text: str) -> list[tuple[int, int]]:
    """Paragraph spans: text between blank lines."""
    spans, pos = [], 0
    for sep in _BLOCK_SEP.finditer(text):
        spans.append((pos, sep.start()))
        pos = sep.end()
    spans.append((pos, len(text)))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def _line_segments(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split a paragraph into runs of lines that may hold running text.

    A line is cut off on its own when it cannot be the middle of a sentence: it is markup
    (heading, bullet, quote), or it has no closing punctuation, is short next to its neighbours
    and the next line starts a new sentence.
    """
    lines: list[tuple[int, int]] = []
    pos = start
    for raw in text[start:end].split("\n"):
        lines.append((pos, pos + len(raw)))
        pos += len(raw) + 1
    lines = [(s, e) for s, e in lines if text[s:e].strip()]
    if len(lines) <= 1:
        return lines
    longest = max(len(text[s:e].strip()) for s, e in lines)
    segments: list[tuple[int, int]] = []
    seg_start = lines[0][0]
    for i, (s, e) in enumerate(lines):
        line = text[s:e].strip()
        is_last = i == len(lines) - 1
        nxt = text[lines[i + 1][0] : lines[i + 1][1]].strip() if not is_last else ""
        standalone = (
            bool(_LINE_MARKUP.match(line))
            or (nxt and bool(_LINE_MARKUP.match(nxt)))
            or (
                not line.endswith(tuple(_TERMINATORS + _CLOSERS + ",;:-–—"))
                and nxt[:1].isupper()
                and (len(line.split()) <= 12 or len(line) < 0.7 * longest)
            )
        )
        if standalone or is_last:
            segments.append((seg_start, e))
            if not is_last:
                seg_start = lines[i + 1][0]
    return segments


def _split_segment(text: str, start: int, end: int) -> list[Sentence]:
    """Sentence spans inside one run of text (no hard breaks inside)."""
    segment = text[start:end]
    cuts = [0]
    for match in _END.finditer(segment):
        after = match.end()
        if not _START.match(segment, after):
            continue
        if segment[match.start()] == "." and _is_abbreviation(segment, match.start()):
            continue
        cuts.append(after)
    cuts.append(len(segment))
    spans: list[Sentence] = []
    for a, b in zip(cuts, cuts[1:]):
        s, e = _trim(text, start + a, start + b)
        if not (e > s and any(ch.isalnum() for ch in text[s:e])):
            continue
        if spans and _BRACKETED.fullmatch(text[s:e]) and "\n" not in text[spans[-1].end : s]:
            spans[-1].end = e  # a credit after the full stop stays with its caption
        else:
            spans.append(Sentence(s, e))
    return spans


def _is_abbreviation(segment: str, dot: int) -> bool:
    """Whether the full stop at `dot` closes an abbreviation or an initial, not a sentence."""
    word_start = dot
    while word_start > 0 and not segment[word_start - 1].isspace() and segment[word_start - 1] not in "(\"'“‘[":
        word_start -= 1
    word = segment[word_start:dot].lower()
    if not word:
        return False
    if word in ABBREVIATIONS:
        return True
    # A single capital letter is an initial ("George W. Bush"); dotted acronyms ("U.N.") too.
    if len(word) == 1 and word.isalpha() and segment[word_start].isupper():
        return True
    return bool(re.fullmatch(r"(?:[a-z]\.)+[a-z]", word))


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink a span to drop surrounding white space and leading line markup (#, bullets)."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    markup = _LINE_MARKUP.match(text, start, end)
    if markup:
        start = markup.end()
    return start, end


# -- how a chunk's sentences are stored in its metadata (one definition, for writing and reading) --
def stored_sentences(sentences: list[Sentence]) -> dict[str, str]:
    """A chunk's sentences as metadata: "sentences" (document offsets "a-b,c-d") and "kinds"
    (one letter each, see KIND_CODES)."""
    return {
        "sentences": ",".join(f"{s.start}-{s.end}" for s in sentences),
        "kinds": "".join(KIND_CODES[s.kind] for s in sentences),
    }


def stored_section(section: Sentence | None, text: str) -> dict[str, object]:
    """The heading a chunk's section opens with, as metadata ("section": its text, "section_at":
    its document offsets); nothing before a report's first heading."""
    return {"section": text, "section_at": f"{section.start}-{section.end}"} if section else {}


def read_section(meta: dict[str, object]) -> tuple[Sentence, str] | None:
    """A stored chunk's section heading (see `stored_section`); None where it has none, or was
    stored before sections were."""
    found = re.fullmatch(r"(\d+)-(\d+)", str(meta.get("section_at", "")))
    text = str(meta.get("section", ""))
    if not found or not text or int(found.group(1)) >= int(found.group(2)):
        return None  # none stored, or not as stored_section writes it: no section rather than no answer
    return Sentence(int(found.group(1)), int(found.group(2)), "heading"), text


def read_sentences(meta: dict[str, object], text: str = "", start: int = 0) -> list[Sentence]:
    """A stored chunk's sentences (see `stored_sentences`). A chunk stored before kinds were has
    them worked out again from its `text` (which begins at document offset `start`)."""
    spans = []
    for part in str(meta.get("sentences", "")).split(","):
        if part:
            a, b = part.split("-")
            spans.append((int(a), int(b)))
    codes = str(meta.get("kinds", ""))
    if len(codes) == len(spans):
        return [Sentence(a, b, _KINDS_OF.get(code, "text")) for (a, b), code in zip(spans, codes)]
    return [Sentence(a, b, unit_kind(text, a - start, b - start)) for a, b in spans]

