"""Turning retrieved passages into a short cited answer, or an honest abstention.

The default answerer is extractive and offline: it ranks the sentences of the retrieved
chunks by how well they answer the question (meaning, shared key terms, an answer of the
expected type), quotes the best one or two, and cites each by its character span.

The answerer is split by reason to change: what a question asks (`qa.question`), numbers and
what they count (`qa.answer_counts`), where a sentence holds the short answer (`qa.answer_spans`),
the ranking's features and scores (`qa.answer_features`) and its constants (`qa.answer_weights`).
This module composes the answer; it re-exports the names callers import from it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .answer_counts import (
    DATE,
    NUMBER,
    OTHERS,
    count_fit,
    counted,
    counts_asked_thing,
    number_action,
    numbers_in,
)
from .answer_features import (
    FEATURES,
    Candidate,
    event_coverage,
    features,
    rank_candidates,
    score,
    support,
    support_features,
)
from .answer_spans import ENTITY, credit_span, dated_otherwise, find_answer_span, mentions_noun, named_as, names_in
from .answer_weights import WEIGHTS, Weights
from .question import (
    ASKS_ABOUT,
    ASKS_FOR,
    CALENDAR,
    QUESTION_TYPES,
    QuestionInfo,
    analyse_question,
    asked_action,
    asked_count,
    asked_measure,
    asked_of_report,
    calendar_words,
    entity_terms,
    question_kind,
)
from .text import STOPWORDS, tokens
from .types import Answer, Citation, Sentence

if TYPE_CHECKING:
    import numpy as np

    from .config import AnswerSettings
    from .lexical import TermStats
    from .retrieval import Hit

# The names callers import from here (the answerer's parts live in the modules above).
__all__ = [
    "ABSTAIN_TEXT", "ASKS_ABOUT", "ASKS_FOR", "DATE", "ENTITY", "FEATURES", "NUMBER", "QUESTION_TYPES", "WEIGHTS",
    "Candidate", "ExtractiveAnswerer", "QuestionInfo", "Weights", "abstain_text", "analyse_question", "asked_action",
    "asked_count",
    "asked_measure", "asked_of_report", "calendar_words", "count_fit", "counted", "counts_asked_thing", "credit_span",
    "dated_otherwise", "entity_terms", "event_coverage", "features", "find_answer_span", "named_as", "names_in",
    "number_action", "numbers_in", "question_kind", "rank_candidates", "score", "support", "support_features",
]

ABSTAIN_TEXT = "The reports don't say: nothing in the ingested reports answers this question."


def abstain_text(outlet: str = "") -> str:
    """The abstention's text: over every report (ABSTAIN_TEXT), or over one outlet's reports."""
    if not outlet:
        return ABSTAIN_TEXT
    return f"The reports from {outlet} here don't say: nothing in them answers this question."


class ExtractiveAnswerer:
    """Picks and cites the sentence(s) that answer the question; abstains when none does."""

    def __init__(self, max_words: int, max_sentences: int, min_support: float, weights: Weights = WEIGHTS) -> None:
        self.max_words = max_words
        self.max_sentences = max_sentences
        self.min_support = min_support
        self.weights = weights

    @classmethod
    def from_settings(cls, answer: AnswerSettings, weights: Weights = WEIGHTS) -> ExtractiveAnswerer:
        """The answerer the answer settings describe (with the shipped weights unless given others)."""
        return cls(answer.max_words, answer.max_sentences, answer.min_support, weights)

    def answer(
        self,
        question: str,
        query_vector: "np.ndarray",
        hits: list["Hit"],
        sentence_vectors: dict[str, "np.ndarray"],
        stats: "TermStats",
        mode: str = "hybrid",
        shown: str | None = None,
        outlet: str = "",
    ) -> Answer:
        """The answer to `question` (as searched); `shown` is the question as the user asked it,
        where a follow-up was searched with an earlier question's topic. `outlet`: the hits are
        that outlet's reports only, and an abstention says whose reports don't say."""
        info = analyse_question(question, stats, shown)
        candidates = self.rank(info, query_vector, hits, sentence_vectors, stats)
        # A photo's credit or the report's sources: read off the report, as asked; where the
        # question says which photo ("of the camp"), a caption that says nothing of it is not it.
        credited = [c for c in candidates if c.credit and (not info.terms or max(c.lexical, c.context_lexical) > 0)]
        if credited:
            return self.compose(question, info, [credited[0]], mode, hits, credited[0])
        if info.asks == "heading":
            candidates = [c for c in candidates if c.kind in ("text", "heading")]
        if not candidates or self.support(candidates[0], info, stats) < self.min_support:
            return Answer(question=question, text=abstain_text(outlet), abstained=True, mode=mode)
        if info.asks == "heading":
            return self.under_heading(shown or question, info, candidates[0], mode, hits, outlet)
        best = self.answering(info, candidates)
        if best is None:  # about the asked event, but without the detail asked for
            return self.not_said(shown or question, info, candidates[0], mode, hits, outlet)
        chosen = self.choose([best, *(c for c in candidates if c is not best)], info)
        return self.compose(question, info, chosen, mode, hits, best)

    def answering(self, info: QuestionInfo, candidates: list[Candidate]) -> Candidate | None:
        """The best candidate that holds what was asked, or None when those close to the best
        lack it (see `holding`); a how-many answer must also be about the asked event: the
        sentence, with the one before it, must share `Weights.event_coverage` of the question's words for
        the event ("in the barrel bomb attack on the camp"), besides what it counts."""
        found = self.holding(info, candidates)
        if found is not None and info.kind == "number" and event_coverage(info, found) < self.weights.event_coverage:
            return None
        return found

    def holding(self, info: QuestionInfo, candidates: list[Candidate]) -> Candidate | None:
        """The best candidate that holds what was asked, or None when those close to the best
        lack it. A how-many question needs a number counting what it counts (soldiers, not
        observation posts); a when-question a date; a number question a number."""
        best = candidates[0]
        w = self.weights
        near = [c for c in candidates[: w.considered] if c.score >= best.score - w.rescue_margins * w.second_margin]
        if info.kind != "date" and info.dated:
            # "How many were wounded in Thursday's strikes?" is not answered by "On Saturday an
            # air raid ... wounded five": a sentence that dates its event otherwise is about another.
            near = [c for c in near if not dated_otherwise(info.dated, c.text)]
            if not near:
                return None
            best = near[0]
        if info.head:
            # "Which villages did the troops capture?" is not answered by "three small villages":
            # where the sentence names the asked kind of thing, it must also name which one.
            if info.names_role or mentions_noun(best.text, info.head):
                for cand in near:
                    span = named_as(cand.text, info)
                    if span is not None:
                        cand.span = span
                        return cand
                # A "which team / group / city" question may still be answered by a name the
                # sentence gives elsewhere; other kinds ("which weapons") need the naming.
                return best if info.kind in ("entity", "place") and best.span is not None and not info.names_role else None
            return best
        if info.kind == "entity" and best.span is None and re.match(r"(?i)\s*(?:which|what)\b", info.cue):
            # "Which group claimed the bombing?": a sentence that names none does not answer it.
            # ("Who ...?" may be answered by "the owner", "a doctor".)
            return next((c for c in near if c.span is not None), None)
        if info.kind not in ("number", "date"):
            return best
        if count_fit(info, best.text) == "other" or (info.kind == "date" and best.span is None and CALENDAR.search(info.text)):
            return next((c for c in near if c.span is not None and count_fit(info, c.text) != "other"), None)
        if best.span is None and info.kind == "number" and count_fit(info, best.text) != "":
            return next((c for c in near if c.span is not None and count_fit(info, c.text) != "other"), None)
        return best

    def not_said(
        self, question: str, info: QuestionInfo, nearby: Candidate, mode: str, hits: list["Hit"], outlet: str = ""
    ) -> Answer:
        """An abstention that points at what the reports do say nearby, cited and marked as not
        an answer: "The reports don't say how many Turkish soldiers died. They say ... [1]"
        ("The reports from SANA don't say ..." for one outlet's)."""
        asked = re.sub(r"^(?:and|but|also|so|then)\s+", "", question.strip().rstrip("?.! "), flags=re.I)
        asked = asked[0].lower() + asked[1:] if asked[:2] != asked[:2].upper() else asked
        citation = self._citation(1, [nearby], nearby.hit)
        reports = f"The reports from {outlet}" if outlet else "The reports"
        said = f"{reports} don't say {asked}. Not an answer, but nearby they say:"
        if self.max_words - _count_words(said) - 1 < self.weights.least_quote_words:  # a long question is not repeated
            said = f"{reports} don't say that. Not an answer, but nearby they say:"
        [quote] = _fit_all([(" ".join(nearby.text.split()), nearby.span, nearby.text)], self.max_words - _count_words(said) - 1)
        text = f"{said} {quote} [1]"
        return Answer(question=question, text=text, abstained=True, citations=[citation], mode=mode)

    def under_heading(
        self, question: str, info: QuestionInfo, best: Candidate, mode: str, hits: list["Hit"], outlet: str = ""
    ) -> Answer:
        """The heading of the section holding what was asked about, cited with that sentence:
        'Under the heading "Humanitarian crisis" [1]: The UN says ... [2]'."""
        if best.kind == "heading":
            heading = Sentence(best.start, best.end, "heading"), best.text
        elif best.heading is not None:
            heading = best.heading
        else:
            return self.not_said(question, info, best, mode, hits, outlet)
        sentence, text = heading
        first = self._citation(1, [best], best.hit, span=(sentence.start, sentence.end, text))
        if best.kind == "heading":
            return Answer(question=question, text=f'"{text}" [1]', abstained=False, citations=[first], short_answer=text, mode=mode)
        second = self._citation(2, [best], best.hit)
        [quote] = _fit_all([(" ".join(best.text.split()), None, best.text)], self.max_words - 5 - _count_words(text))
        answer = f'Under the heading "{text}" [1]: {quote} [2]'
        return Answer(question=question, text=answer, abstained=False, citations=[first, second], short_answer=text, mode=mode)

    # -- ranking -------------------------------------------------------------------------
    def rank(
        self,
        info: QuestionInfo,
        query_vector: "np.ndarray",
        hits: list["Hit"],
        sentence_vectors: dict[str, "np.ndarray"],
        stats: "TermStats",
    ) -> list[Candidate]:
        """The candidate sentences, best first (see qa.answer_features.rank_candidates)."""
        return rank_candidates(info, query_vector, hits, sentence_vectors, self.weights)

    def support(self, best: Candidate, info: QuestionInfo, stats: "TermStats") -> float:
        """How strongly the best sentence supports an answer; below `min_support`, abstain (see
        qa.answer_features.support_features)."""
        return support(support_features(info, best, stats, self.weights), self.weights)

    def choose(self, candidates: list[Candidate], info: QuestionInfo) -> list[Candidate]:
        """The best sentence, and a second only where it may carry part of the answer: not when
        the best already holds a short answer of the asked type."""
        best = candidates[0]
        chosen = [best]
        if best.span is not None or (info.kind == "source" and _attributed(best.text)):
            # The same statement in another report is another source saying it; a sentence about
            # as strong that gives a different answer of the asked type is a rival answer the
            # reader must see. Both are quoted; nothing else is padded on.
            words = [w for w, _, _ in tokens(best.text)]
            close = best.score - self.weights.second_margin
            # A report of the best one's group (the same wire story, re-filed) is not another source.
            rivals = [
                c
                for c in candidates[1 : self.weights.considered]
                if (c.doc_id != best.doc_id and not _same_story(c, best) and [w for w, _, _ in tokens(c.text)] == words)
                or (c.span is not None and c.score >= close and _span_text(c) != _span_text(best)
                    and _count_words(best.text) + _count_words(c.text) + 2 <= self.max_words)
            ]
            chosen += rivals[: self.max_sentences - 1]
            if len({c.doc_id for c in chosen}) == 1:
                chosen.sort(key=lambda c: c.index)
            return chosen
        w = self.weights
        words = _count_words(best.text)
        for cand in candidates[1 : w.considered]:
            if len(chosen) >= self.max_sentences:
                break
            if any(_same_story(cand, c) for c in chosen):
                continue  # the same story in another outlet's copy adds nothing
            close = cand.score >= best.score - w.second_margin
            adjacent = cand.doc_id == best.doc_id and abs(cand.index - best.index) == 1
            rescue = not best.typed and cand.typed and cand.score >= best.score - w.rescue_margins * w.second_margin
            # Each quoted sentence also carries its "[n]" marker, which counts as a word.
            if (close or rescue or (adjacent and cand.score >= best.score - w.adjacent_margins * w.second_margin)) and (
                words + _count_words(cand.text) + len(chosen) + 1 <= self.max_words
            ):
                chosen.append(cand)
                words += _count_words(cand.text)
        # Quote in reading order when the sentences come from one report.
        if len({c.doc_id for c in chosen}) == 1:
            chosen.sort(key=lambda c: c.index)
        return chosen

    # -- composing -----------------------------------------------------------------------
    def compose(self, question: str, info: QuestionInfo, chosen: list[Candidate], mode: str, hits: list["Hit"], best: Candidate) -> Answer:
        """The answer text with its [n] markers; adjacent sentences share one citation where one
        retrieved chunk holds them both, so every citation is an exact slice of its report."""
        citations: list[Citation] = []
        pieces: list[str] = []
        i = 0
        while i < len(chosen):
            group = [chosen[i]]
            hit = group[0].hit
            while i + 1 < len(chosen) and chosen[i + 1].doc_id == group[-1].doc_id and chosen[i + 1].index == group[-1].index + 1:
                holder = _holding(hits, group[0].doc_id, group[0].start, chosen[i + 1].end)
                if holder is None:
                    break
                i += 1
                group.append(chosen[i])
                hit = holder
            i += 1
            n = len(citations) + 1
            citations.append(self._citation(n, group, hit))
            quote = " ".join(" ".join(c.text.split()) for c in group)
            pieces.append((quote, group[0], n))
            if best in group:
                best_citation = citations[-1]
        lead, short = self.lead(info, best, best_citation)
        # The lead and each quotation's "[n]" marker count as words too.
        fitted = _fit_all([(quote, first.span, first.text) for quote, first, _ in pieces], self.max_words - _count_words(lead) - len(pieces))
        quoted = " ".join(f"{quote} [{n}]" for quote, (_, _, n) in zip(fitted, pieces))
        text = f"{lead}. {quoted}" if lead else quoted
        return Answer(question=question, text=text, abstained=False, citations=citations, short_answer=short, mode=mode)

    def lead(self, info: QuestionInfo, best: Candidate, citation: Citation) -> tuple[str, str]:
        """The short answer the text leads with, and the span a person would underline: "At
        least 16 civilians, according to SOHR" / "at least 16"; "On Wednesday, 28 August 2019";
        for who-said questions the source ("SOHR"). ("", "") when no span answers."""
        if info.kind == "source" and citation.attributed_to:
            return f"According to {citation.attributed_to}", citation.attributed_to
        if best.span is None:
            return "", ""
        short = best.text[best.span[0] : best.span[1]]
        lead = short
        if info.kind == "date" and citation.event_date and citation.event_date_words:
            words = citation.event_date_words
            if short.lower() in words.lower() or words.lower().endswith(short.lower()):
                from .eventdates import event_date

                resolved = event_date(words, citation.date)
                lead = resolved.describe() if resolved else short
        if info.kind == "number":
            # "at least 16" + "civilians": what it counts, when the sentence says it right after.
            after = re.match(r"(?:\s+[^\W\d_][\w'’-]*){1,3}", best.text[best.span[1] :])
            words = counted(best.text, best.span)
            if after and words and not words & OTHERS:
                named = []
                for word in after.group().split():
                    if word.lower() in STOPWORDS:
                        break
                    named.append(word)
                lead = " ".join([short, *named])
            if citation.attributed_to:
                lead = f"{lead}, according to {citation.attributed_to}"
        return _capital(lead), short

    def _citation(self, n: int, group: list[Candidate], hit: "Hit", span: tuple[int, int, str] | None = None) -> Citation:
        """The citation of a run of sentences of one chunk, or of `span` (start, end, text) of its
        report, such as its section's heading."""
        from .attribution import attribution_in_context
        from .eventdates import event_date

        start, end = group[0].start, group[-1].end
        text = hit.text[start - hit.start : end - hit.start]
        said_in = [(c.text, _sentence_before(c)) for c in group]
        if span is not None:
            (start, end, text), said_in = span, []
        meta = hit.metadata
        report_date = str(meta.get("date", ""))
        said = next((a for a in (attribution_in_context(t, before) for t, before in said_in) if a is not None), None)
        when = next((d for d in (event_date(t, report_date) for t, _ in said_in) if d is not None), None)
        return Citation(
            n=n,
            doc_id=hit.doc_id,
            title=str(meta.get("title", "")),
            source=str(meta.get("source", "")),
            date=report_date,
            text=text,
            start=start,
            end=end,
            score=round(max(c.score for c in group), 4),
            url=str(meta.get("url", "")),
            attribution=said.words if said else "",
            attributed_to=said.source if said else "",
            event_date=when.value if when else "",
            event_date_words=when.words if when else "",
        )


def _sentence_before(cand: Candidate) -> str:
    """The sentence before the candidate's, where its chunk holds it ("" otherwise)."""
    hit = cand.hit
    k = cand.index - int(hit.metadata.get("first_sentence", 0)) - 1
    if not 0 <= k < len(hit.sentences):
        return ""
    sentence = hit.sentences[k]
    return hit.text[sentence.start - hit.start : sentence.end - hit.start]


def _holding(hits: list["Hit"], doc_id: str, start: int, end: int) -> "Hit | None":
    """A retrieved chunk of the document that holds the whole span, if any."""
    return next((h for h in hits if h.doc_id == doc_id and h.start <= start and end <= h.end), None)


def _same_story(a: Candidate, b: Candidate) -> bool:
    """Whether two candidates come from two reports of one group of near-duplicates (see
    qa.groups; the hits' `group`, which Assistant.ask sets). Without groups, never."""
    group = a.hit.metadata.get("group")
    return a.doc_id != b.doc_id and bool(group) and group == b.hit.metadata.get("group")


def _span_text(cand: Candidate) -> str:
    return cand.text[cand.span[0] : cand.span[1]].lower() if cand.span else ""


def _attributed(sentence: str) -> bool:
    from .attribution import attribution

    return attribution(sentence) is not None


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _count_words(text: str) -> int:
    return len(text.split())


# A cut quotation costs an ellipsis at each end.
_ELLIPSES = 2


def _fit_all(quotes: list[tuple[str, tuple[int, int] | None, str]], room: int) -> list[str]:
    """Cut quotations (text, answer span, the sentence the span is in) to hold `room` words in
    all, ellipses included: the longest is cut first, each around its span."""
    allowed = [_count_words(text) for text, _, _ in quotes]
    while sum(allowed) > room and max(allowed) > _ELLIPSES + 1:
        allowed[allowed.index(max(allowed))] -= 1
    return [
        text if words >= _count_words(text) else _fit(text, words - _ELLIPSES, span, sentence)
        for (text, span, sentence), words in zip(quotes, allowed)
    ]


def _fit(text: str, max_words: int, span: tuple[int, int] | None, sentence: str) -> str:
    """Shorten a quotation to `max_words` words around its answer span, marking cuts with '…'."""
    words = text.split()
    if len(words) <= max_words:
        return text
    centre = len(sentence[: span[0]].split()) if span else 0
    lo = max(0, min(centre - max_words // WEIGHTS.quote_context_share, len(words) - max_words))
    hi = lo + max_words
    return ("… " if lo > 0 else "") + " ".join(words[lo:hi]) + (" …" if hi < len(words) else "")
