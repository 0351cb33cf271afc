"""Follow-up questions in a conversation: "And how many were injured?" after "How many civilians
were killed in Maarat al Numan on Wednesday?" asks about the same event.

A question is read as a follow-up when it leans on what came before: it opens with "and", "but",
"what about" or "how about", or it refers back ("that", "it", "they", "so") or names nothing of
its own (at most one key term beyond its question words, no name). It is then searched with the
topic of the earlier question (that question without its question words), and the answer says
which earlier question it took the topic from. Earlier questions that were follow-ups themselves
are read the same way first, so a chain keeps its topic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

from .text import STOPWORDS, tokens

_OPENS = re.compile(r"^\s*(?:and|but|also|then|so|what about|how about|and what about)\b", re.IGNORECASE)
_REFERS = frozenset(
    "that this it its they them their those these there then he him his she her so such same".split()
)
# Question words and verbs that ask rather than say what about: not a topic of their own.
_ASKING = frozenset(
    "how many much long when where who whom whose what which why happen happened happens occur occurred "
    "date day year time place source sources say said says report reported give gave".split()
)


@dataclass(frozen=True)
class Reading:
    """How a question is searched: `text`, and the earlier question its topic came from ("" when
    it stands alone)."""

    text: str
    topic_from: str = ""
    about: str = ""  # the topic added to a follow-up (kept along a chain of them)


def read(question: str, history: Iterable[Any] | None) -> Reading:
    """The question as searched, given the earlier questions of the conversation (oldest first:
    texts, chat messages {"role": "user", "content": ...}, or answers with a `question`)."""
    earlier = [q for q in map(_question_of, history or ()) if q]
    reading = Reading(question)
    previous: Reading | None = None
    for asked in earlier:
        previous = _resolve(asked, previous)
    return _resolve(question, previous) if previous else reading


def is_follow_up(question: str) -> bool:
    """Whether the question leans on an earlier one (see the module's docstring)."""
    words = [w for w, _, _ in tokens(question)]
    if _OPENS.match(question) or any(w in _REFERS for w in words):
        return True
    own = [w for w in words if w not in STOPWORDS and w not in _ASKING]
    names = [question[s:e] for i, (w, s, e) in enumerate(tokens(question)) if i > 0 and question[s:s + 1].isupper()]
    return len(own) <= 1 and not names


def _resolve(question: str, previous: Reading | None) -> Reading:
    if previous is None or not is_follow_up(question):
        return Reading(question)
    about = previous.about or topic(previous.text)
    return Reading(f"{question.strip()} ({about})", previous.topic_from or previous.text, about)


def topic(question: str) -> str:
    """What a question is about: its words without the question words ("civilians were killed in
    Maarat al Numan on Wednesday" from "How many civilians were killed in ...?")."""
    from .answering import question_kind

    _, cue = question_kind(question)
    text = question.replace(cue, " ", 1) if cue else question
    return " ".join(text.replace("?", " ").split())


def _question_of(item: Any) -> str:
    if isinstance(item, str):
        return item.strip()
    if isinstance(item, dict):
        if item.get("role") not in (None, "user"):
            return ""
        content = item.get("content", item.get("question", ""))
        return content.strip() if isinstance(content, str) else ""
    asked = getattr(item, "question", "")
    return asked.strip() if isinstance(asked, str) else ""
