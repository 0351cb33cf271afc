"""Who a sentence says is the source of its claim: "according to local sources", "The UN says".

Rules over the sentence's own words, in the forms news reports use: "according to X", "X said
(that) ...", "..., said X.", "X told ..." and "..., X said." (`attribution`); a pronoun's
source ("He said ...") is read from the sentence before (`attribution_in_context`). The words
found are kept as written (what a citation shows) with a short name for the source (what an
answer says: "according to SOHR").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SAY = r"(?:said|says|say|reported|reports|stated|states|told|claimed|claims|announced|confirmed|added|estimated|estimates)"
_SAY_BASE = r"(?:say|report|state|tell|claim|announce|confirm|comment|estimate|give)"
# "according to local sources", "According to the monitors," up to the clause's end.
# (Where commas are missing, the source ends where its clause's subject begins: "According to AFP
# the Druze are ...".)
_ACCORDING = re.compile(
    r"\baccording to\s+(?P<who>[^,.;:!?\"“”\s]+(?:\s+(?!(?:the|this|that|these|those|it|they|he|she|there)\b)[^,.;:!?\"“”\s]+)*)",
    re.IGNORECASE,
)
# "..., said British-based war monitor, Syrian Observatory for Human Rights (SOHR)." at the end.
_SAID_AFTER = re.compile(rf",\s*{_SAY}\s+(?P<who>(?:the\s+)?[A-Z][^.;:!?\"“”]*?)\s*[.!?]?\s*$")
# "The regime-controlled Syrian Central Military Media said troops ...": a subject of up to eight
# words that starts the sentence (or its quote) and names a source by a capital or a source noun.
# (A leading "Meanwhile" or "However," is not the source, nor a closing "also" or "did not".)
_SAID_BEFORE = re.compile(
    rf"^(?:(?:meanwhile|however|also|separately|earlier|later|still|moreover|in addition),?\s+)?"
    rf"(?P<who>(?:[\w'’().-]+\s+){{0,7}}?[\w'’().-]+?)(?:\s+(?:also|later|earlier|previously|had|has|did not|did))?\s+{_SAY}\b",
    re.IGNORECASE,
)
_SOURCE_NOUN = re.compile(
    r"\b(?:sources?|monitors?|officials?|spokes(?:man|woman|person)|ministry|agency|media|observatory|"
    r"activists?|residents?|witnesses|police|army|military|government|reports?|group|council|committee|UN|"
    r"network|television|TV|channel|newspaper|radio|outlet|statement|"
    r"WHO|UNICEF|OCHA)\b",
    re.IGNORECASE,
)
_PRONOUN = re.compile(r"^(?:he|she|they|it|we|i|you|this|that)$", re.IGNORECASE)
# "... on Thursday, state news agency SANA reported." / "..., the Observatory said." / "...
# Observatory chief Rami Abdel Rahman told AFP.": a source named just before a closing
# reporting verb, with what may follow it ("told AFP", "on Monday", "in a statement").
_SAID_AT_END = re.compile(
    rf"\s(?P<verb>{_SAY})(?:\s+(?:to\s+)?[A-Z][\w.]*|\s+(?:on|late on|early on)\s+\w+|\s+in\s+a\s+statement|\s+\w+ly)?\s*[.!?\"”]*\s*$"
)
# Words a source named at the end cannot reach back past: "... on Thursday state news agency
# SANA reported" stops at "Thursday"; "among the FSA the Observatory said" at "the".
_STOP_BACK = re.compile(
    r"^(?:in|on|at|by|to|from|with|after|before|as|when|while|and|or|but|that|which|who|where|since|during|among|"
    r"into|near|over|under|was|were|is|are|has|have|had|been|be|not|its|their|his|her|it|they|he|she|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|\d[\d,.]*)$",
    re.IGNORECASE,
)
# An opening "subject" that holds these is the claim itself: "Thirty fighters were killed ... X said".
_CLAIM_WORDS = re.compile(r"\b(?:was|were|is|are|been|be|\d[\d,.]*)\b", re.IGNORECASE)
_DETERMINER = re.compile(r"^(?:the|a|an)$", re.IGNORECASE)
_SOURCE_ADJECTIVE = re.compile(r"^(?:state|local|official|opposition|government|military|security|rebel|medical|rescue|pro-government)$", re.IGNORECASE)
_PRONOUN_SAID = re.compile(rf"^(?:he|she|they|it)\s+{_SAY}\b|,\s*(?:he|she|they|it)\s+{_SAY}\s*[.!?]?\s*$", re.IGNORECASE)
_ACRONYM = re.compile(r"\(([A-Z][A-Za-z]{1,9})\)")


@dataclass(frozen=True)
class Attribution:
    words: str  # as written in the sentence: "according to local sources", "The UN says"
    source: str  # who, shortly: "local sources", "SOHR", "the UN"

    def phrase(self) -> str:
        """How an answer names it: "according to SOHR"."""
        return f"according to {self.source}"


# "The UN did not say how many died": a source that says nothing is no source of the claim
# (unless it says something after all: "... did not say what agent was used but said ...").
_NOT_SAID = re.compile(r"\b(?:did not|does not|do not|didn't|doesn't|don't|would not|could not|declined to|refused to)\s+$", re.IGNORECASE)


def attribution(sentence: str) -> Attribution | None:
    """The source the sentence attributes its claim to, or None when it names none."""
    text = " ".join(sentence.split())
    verbs = list(re.finditer(rf"\b(?:{_SAY}|{_SAY_BASE})\b", text, re.IGNORECASE))
    if verbs and all(_NOT_SAID.search(text, 0, v.start()) for v in verbs) and not _ACCORDING.search(text):
        return None
    found = _ACCORDING.search(text)
    if found:
        return Attribution(found.group().strip(), _short(found.group("who")))
    found = _SAID_AFTER.search(text)
    if found:
        who = found.group("who")
        return Attribution(found.group().lstrip(", ").rstrip(" .!?"), _short(who))
    found = _SAID_BEFORE.search(text)
    if found and _names_a_source(found.group("who")) and not _CLAIM_WORDS.search(found.group("who")):
        return Attribution(found.group(), _short(found.group("who")))
    return _said_at_end(text)


def _said_at_end(text: str) -> Attribution | None:
    """"..., the ministry said.": the words before a closing reporting verb, back to a comma, a
    preposition, a day, a number or the determiner that opens them (at most eight words), when
    they name a source."""
    found = _SAID_AT_END.search(text)
    if not found or found.start() == 0:
        return None
    before = text[: found.start()]
    words: list[str] = []
    split = before.split()
    for i in range(len(split) - 1, -1, -1):
        word = split[i]
        bare = word.strip("\"“”'’")
        if word.rstrip("\"”’'").endswith((",", ";", ":", ".", "!", "?")) or word.endswith(("\"", "”")) or _STOP_BACK.match(bare) or len(words) == 8:
            break  # a comma, or the end of a quotation: '"We will stay," Commander Ali said.'

        # "of" and "for" inside a name ("Ministry of Defence") but not before one ("the city of Homs").
        if bare.lower() in ("of", "for") and not (words and words[0][:1].isupper() and i > 0 and split[i - 1][:1].isupper()):
            break
        words.insert(0, bare)
        if _DETERMINER.match(bare):
            break
    # "the underground tunnels Konashenkov said": a name after words that name no source is the source.
    names = next((i for i, w in enumerate(words) if w[:1].isupper()), None)
    if names is not None and names > 0 and not _SOURCE_NOUN.search(" ".join(words[:names])):
        words = words[names:]
    # Lower-case words before the source proper are the claim's own: "... keeping them alive
    # Observatory chief Rami Abdel Rahman told AFP" starts at "Observatory".
    opens = next((i for i, w in enumerate(words) if w[:1].isupper() or _DETERMINER.match(w) or _SOURCE_NOUN.match(w) or _SOURCE_ADJECTIVE.match(w)), len(words))
    words = words[opens:]
    if not words or (len(words) == 1 and _DETERMINER.match(words[0])) or not _names_a_source(" ".join(words)):
        return None
    who = " ".join(words)
    said = text[found.start("verb") :].rstrip(' .!?"”')
    return Attribution(f"{who} {said}", _short(who))


def attribution_in_context(sentence: str, before: str = "") -> Attribution | None:
    """The sentence's attribution; where it cites a pronoun ("He said", "It said ..., the
    network added" aside), the source the sentence before names: "Dujarric said ... He said ..."."""
    found = attribution(sentence)
    if found is not None or not before:
        return found
    pronoun = _PRONOUN_SAID.search(" ".join(sentence.split()))
    earlier = attribution(before) if pronoun else None
    return Attribution(pronoun.group().strip(" ,.!?"), earlier.source) if earlier else None


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
