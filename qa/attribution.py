"""Who a sentence says is the source of its claim: "according to local sources", "The UN says".

Rules over the sentence's own words, in the forms news reports use: "according to X", "X said
(that) ...", "..., said X." and "X told ...". The words found are kept as written (what a
citation shows) with a short name for the source (what an answer says: "according to SOHR").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SAY = r"(?:said|says|say|reported|reports|stated|states|told|claimed|claims|announced|confirmed|added|estimated|estimates)"
# "according to local sources", "According to the monitors," up to the clause's end.
_ACCORDING = re.compile(r"\baccording to\s+(?P<who>[^,.;:!?\"“”]+)", re.IGNORECASE)
# "..., said British-based war monitor, Syrian Observatory for Human Rights (SOHR)." at the end.
_SAID_AFTER = re.compile(rf",\s*{_SAY}\s+(?P<who>(?:the\s+)?[A-Z][^.;:!?\"“”]*?)\s*[.!?]?\s*$")
# "The regime-controlled Syrian Central Military Media said troops ...": a subject of up to eight
# words that starts the sentence (or its quote) and names a source by a capital or a source noun.
_SAID_BEFORE = re.compile(rf"^(?P<who>(?:[\w'’().-]+\s+){{0,7}}?[\w'’().-]+)\s+{_SAY}\b")
_SOURCE_NOUN = re.compile(
    r"\b(?:sources?|monitors?|officials?|spokes(?:man|woman|person)|ministry|agency|media|observatory|"
    r"activists?|residents?|witnesses|police|army|military|government|reports?|group|council|committee|UN|"
    r"WHO|UNICEF|OCHA)\b",
    re.IGNORECASE,
)
_PRONOUN = re.compile(r"^(?:he|she|they|it|we|i|you|this|that)$", re.IGNORECASE)
_ACRONYM = re.compile(r"\(([A-Z][A-Za-z]{1,9})\)")


@dataclass(frozen=True)
class Attribution:
    words: str  # as written in the sentence: "according to local sources", "The UN says"
    source: str  # who, shortly: "local sources", "SOHR", "the UN"

    def phrase(self) -> str:
        """How an answer names it: "according to SOHR"."""
        return f"according to {self.source}"


def attribution(sentence: str) -> Attribution | None:
    """The source the sentence attributes its claim to, or None when it names none."""
    text = " ".join(sentence.split())
    found = _ACCORDING.search(text)
    if found:
        return Attribution(found.group().strip(), _short(found.group("who")))
    found = _SAID_AFTER.search(text)
    if found:
        who = found.group("who")
        return Attribution(found.group().lstrip(", ").rstrip(" .!?"), _short(who))
    found = _SAID_BEFORE.search(text)
    if found and _names_a_source(found.group("who")):
        return Attribution(found.group(), _short(found.group("who")))
    return None


def _names_a_source(who: str) -> bool:
    """A sentence-opening subject names a source when it has a capitalised word after its first
    (a name: "UN spokesman Stephane Dujarric"), is one capitalised name ("Dujarric"), or holds a
    source noun ("Syrian opposition aircraft monitors"); a pronoun ("He said") does not."""
    words = who.split()
    if len(words) == 1:
        return not _PRONOUN.match(words[0]) and words[0][:1].isupper()
    return bool(_SOURCE_NOUN.search(who) or any(w[:1].isupper() for w in words[1:]))


def _short(who: str) -> str:
    """The source's short name: its acronym where it gives one ("(SOHR)"), else its words."""
    acronym = _ACRONYM.search(who)
    if acronym:
        return acronym.group(1)
    short = who.strip(" ,")
    return short[0].lower() + short[1:] if short.startswith("The ") else short
