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
# Lines that say where a report or its picture came from rather than what happened.
_CREDIT = re.compile(
    r"(?:sources?|credits?|(?:photo|image|picture)\s+credits?|copyright)\s*:"
    r"|(?:photo|image|picture|photograph)\s*:\s*\S+(?:\s+\S+){0,3}\s*$"
    r"|\(?(?:additional\s+)?(?:reporting|editing|writing|compiled|edited|written|translated)(?:\s+\w+)?\s+by\b"
    r"|(?-i:By\s+[A-Z][\w'’.-]*(?:\s+(?:[A-Z][\w'’.-]*|and|in|for))*\s*$)"  # a byline: By Staff Writer
    r"|©"
    rf"|{_BRACKETED.pattern}\s*$",
    re.IGNORECASE,
)
# A labelled caption ("Photo: A man walks past rubble ...") is text even without a full stop.
_CAPTION = re.compile(r"(?:photo|image|picture|photograph|caption|file photo)\s*:", re.IGNORECASE)
HEADING_WORDS = 12  # a line without closing punctuation up to this long is a heading, not text
CREDIT_WORDS = 16
_LINE_MARKUP = re.compile(r"(?:#{1,6}\s+|[-*•·]\s+|>\s*)")
# Items of a list are text whatever their punctuation ("- 550 civilians killed", "2) ...").
_BULLET = re.compile(r"\s*[-*•·]\s*")
_NUMBERED = re.compile(r"\(?\d{1,3}[.)]\s")
#: One letter per kind, as chunks store their sentences' kinds.
KIND_CODES = {"text": "t", "heading": "h", "credit": "c"}
_WORD = re.compile(r"\S+")


def split_sentences(text: str) -> list[Sentence]:
    """Split text into sentences, headings and captions, each a span of `text`.

    Blank lines always end a unit. Inside a paragraph, a short line without closing punctuation
    (a heading, a photo caption, a byline) is a unit of its own; wrapped lines are joined.
    """
    sentences: list[Sentence] = []
    for block_start, block_end in _blocks(text):
        for seg_start, seg_end in _line_segments(text, block_start, block_end):
            sentences.extend(_split_segment(text, seg_start, seg_end))
    for s in sentences:
        s.kind = _unit_kind(text, s)
    return sentences


def _unit_kind(text: str, s: Sentence) -> str:
    """`sentence_kind` of a unit, seen in its line: a list item is text, however short."""
    unit = text[s.start : s.end]
    before = text[text.rfind("\n", 0, s.start) + 1 : s.start]
    if _BULLET.fullmatch(before) or _NUMBERED.match(unit):
        return "text"
    return sentence_kind(unit)


def sentence_kind(sentence: str) -> str:
    """What a unit of a report is: "text" (a sentence), "heading" (a short line without closing
    punctuation: "Humanitarian crisis") or "credit" (where the report or a picture came from:
    "Source: TRTWorld and agencies", "(AFP)", "Reporting by ...", a byline).

    Headings and credits are units of their own (see `split_sentences`); the answerer quotes
    them only when a question asks about them.
    """
    sentence = sentence.strip()
    words = len(sentence.split())
    if words <= CREDIT_WORDS and _CREDIT.match(sentence):
        return "credit"
    if words <= HEADING_WORDS and not re.search(r"[.!?…][\"'”’)\]»]*$", sentence) and not _CAPTION.match(sentence):
        return "heading"
    return "text"


def chunk_sentences(text: str, doc_id: str, sentences: list[Sentence], max_words: int, overlap: int) -> list[Chunk]:
    """Group consecutive sentences into chunks of at most `max_words` words.

    Each chunk after the first repeats the last `overlap` sentences of the one before, so an
    answer that spans a chunk boundary is still found whole in one chunk. A heading that opens a
    section (text follows it) starts a new chunk, with no overlap back into the section before:
    a chunk never ends on the heading of the next section. Runs of short lines are not cut up,
    so a text of headings alone makes no more chunks than the word limit does.
    """
    words = [len(_WORD.findall(text[s.start : s.end])) for s in sentences]
    kinds = [s.kind for s in sentences]

    def opens_section(i: int, first: int) -> bool:
        return (
            kinds[i] == "heading"
            and i + 1 < len(kinds)
            and kinds[i + 1] == "text"
            and "text" in kinds[first:i]
        )

    chunks: list[Chunk] = []
    first = 0
    while first < len(sentences):
        last, total = first, words[first]
        while last + 1 < len(sentences) and total + words[last + 1] <= max_words and not opens_section(last + 1, first):
            last += 1
            total += words[last]
        start, end = sentences[first].start, sentences[last].end
        chunks.append(
            Chunk(
                doc_id=doc_id,
                index=len(chunks),
                start=start,
                end=end,
                text=text[start:end],
                first_sentence=first,
                sentences=sentences[first : last + 1],
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
