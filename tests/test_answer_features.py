"""The answerer's features, one test each: hand-made questions and sentences where a reader knows
which sentence should score higher on the feature, and by roughly how much."""

from collections import Counter

import pytest

from qa.answer_features import (
    FEATURES,
    Candidate,
    features,
    rank_candidates,
    score,
    support,
    support_features,
    term_share,
)
from qa.answer_spans import find_answer_span
from qa.answer_weights import WEIGHTS, Weights
from qa.question import analyse_question
from qa.lexical import TermStats
from qa.retrieval import Hit
from qa.text import content_terms, stem


class _EvenStats:
    """Every term equally informative."""

    def idf(self, term: str) -> float:
        return 1.0


def _info(question: str, stats=None):
    return analyse_question(question, stats or _EvenStats())


def _chunk(sentences: list[str], rank: int = 0, doc_id: str = "d") -> Hit:
    """A retrieved chunk holding `sentences`, one space apart, at retrieval rank `rank` (0 = first)."""
    text = " ".join(sentences)
    spans, start = [], 0
    for sentence in sentences:
        spans.append(f"{start}-{start + len(sentence)}")
        start += len(sentence) + 1
    meta = {"start": 0, "end": len(text), "sentences": ",".join(spans), "first_sentence": 0}
    return Hit.of(f"{doc_id}:{rank}", text, meta, 1.0, rank)


def _values(question: str, sentence: str, before: str = "", rank: int = 0, stats=None) -> dict[str, float]:
    """The feature values of `sentence` (after `before` in its report) for `question`."""
    info = _info(question, stats)
    cand = Candidate("d", 0, len(sentence), sentence, 1, _chunk([sentence], rank))
    cand.span = find_answer_span(info, sentence)
    return features(info, cand, set(content_terms(sentence)), set(content_terms(before)))


def test_every_feature_is_named_and_weighed():
    values = _values("How many civilians were killed in Idlib?", "At least 16 civilians were killed in Idlib.")
    assert tuple(values) == FEATURES
    # The score is each feature times its weight, the chunk's rank a prior falling as 1/rank.
    expected = sum(getattr(WEIGHTS, "rank" if n == "chunk_rank" else n) * (1 / v if n == "chunk_rank" else v)
                   for n, v in values.items())
    assert score(values) == pytest.approx(expected)


def test_dense_prefers_the_sentence_that_means_what_was_asked(embedder):
    question = "How many people were forced to leave their homes?"
    sentences = [
        "The football match in the capital ended in a draw.",
        "Over 400,000 residents have been displaced by the fighting.",
    ]
    hit = _chunk(sentences)
    vectors = dict(zip(["d:s0", "d:s1"], embedder.encode(sentences)))
    ranked = rank_candidates(_info(question), embedder.encode([question])[0], [hit], vectors)
    dense = {c.text: c.dense for c in ranked}
    assert dense[sentences[1]] > dense[sentences[0]] + 0.1
    assert ranked[0].text == sentences[1]  # and the ranking follows


def test_lexical_is_the_share_of_the_key_terms_the_sentence_holds():
    question = "Which town did the regime shell near Idlib?"
    full = _values(question, "The regime shelled the town of Kafr Sajna near Idlib.")["lexical"]
    part = _values(question, "The regime shelled a town in the south.")["lexical"]
    none = _values(question, "Rain fell over the coast on Tuesday.")["lexical"]
    assert full == pytest.approx(1.0) and 0 < part < full and none == 0.0


def test_lexical_weighs_rare_terms_more():
    stats = TermStats(chunks=100, df=Counter({stem("town"): 90, stem("idlib"): 2}))
    question = "Which town near Idlib was shelled?"
    rare = _values(question, "Idlib was quiet.", stats=stats)["lexical"]
    common = _values(question, "The town was quiet.", stats=stats)["lexical"]
    assert rare > common


def test_lexical_lends_a_pronoun_the_sentence_before():
    question = "What did Erdogan demand in Moscow?"
    said = "He demanded an immediate ceasefire."
    alone = _values(question, said)["lexical"]
    after_name = _values(question, said, before="Erdogan met Putin in Moscow on Tuesday.")["lexical"]
    # The sentence before says who "he" is and where, discounted against saying it oneself.
    assert alone == pytest.approx(1 / 3) and after_name == pytest.approx(WEIGHTS.context_discount * 1.0)
    # A sentence that does not open with a pronoun is judged on its own words.
    named = "Turkey demanded an immediate ceasefire."
    after = _values(question, named, before="Erdogan met Putin in Moscow.")
    assert after["lexical"] == _values(question, named)["lexical"]


def test_typed_counts_an_answer_of_the_asked_type():
    question = "How many civilians were killed in the strike?"
    counting = _values(question, "The strike killed at least 16 civilians.")["typed"]
    other_count = _values(question, "The strike hit three hospitals.")["typed"]
    no_number = _values(question, "The strike killed civilians.")["typed"]
    assert (counting, other_count, no_number) == (2.0, 1.0, 0.0)
    # A when-question's answer is a date, not a number.
    assert _values("When did the strike happen?", "The strike happened on Thursday.")["typed"] == 1.0
    assert _values("When did the strike happen?", "The strike killed 16.")["typed"] == 0.0


def test_chunk_rank_favours_sentences_from_the_better_retrieved_chunk():
    question, sentence = "Who shelled Idlib?", "Regime forces shelled Idlib."
    first, third = _values(question, sentence, rank=0), _values(question, sentence, rank=2)
    assert (first["chunk_rank"], third["chunk_rank"]) == (1, 3)
    assert score(first) - score(third) == pytest.approx(WEIGHTS.rank * (1 - 1 / 3))


def test_neighbour_credits_a_sentence_after_one_about_the_question():
    question = "How many civilians were killed in Maarat al Numan?"
    sentence = "At least 16 died, the monitor said."
    about = _values(question, sentence, before="Air strikes hit Maarat al Numan on Wednesday.")["neighbour"]
    unrelated = _values(question, sentence, before="The weather was cold.")["neighbour"]
    assert about > 0 and unrelated == 0.0
    assert _values(question, sentence)["neighbour"] == 0.0  # no sentence before in the chunk


def _best(question: str, sentence: str, stats, dense: float = 0.5) -> dict[str, float]:
    """The support features of `sentence` as the best candidate for `question`."""
    info = _info(question, stats)
    cand = Candidate("d", 0, len(sentence), sentence, 0, _chunk([sentence]), dense=dense)
    cand.lexical = cand.context_lexical = term_share(info, set(content_terms(sentence)))
    return support_features(info, cand, stats)


def test_missing_counts_the_names_no_report_mentions():
    stats = TermStats(chunks=10, df=Counter({stem(w): 1 for w in "maarat numan idlib civilians killed".split()}))
    sentence = "Strikes killed 16 civilians in Maarat al Numan."
    known = _best("How many civilians were killed in Maarat al Numan?", sentence, stats)
    unknown = _best("How many civilians were killed in Paris?", sentence, stats)
    variant = _best("How many civilians were killed in Maaret al Numan?", sentence, stats)  # another spelling
    assert known["missing"] == 0.0 and unknown["missing"] == 1.0 and variant["missing"] == 0.0
    assert support(unknown) < support(known)
    assert support(known) - support(unknown) >= WEIGHTS.missing * 1.0 - 1e-9


def test_support_adds_meaning_and_shared_terms():
    stats = TermStats(chunks=10, df=Counter({stem(w): 1 for w in "strike hospital idlib".split()}))
    values = _best("Which hospital did the strike hit in Idlib?", "A strike hit a hospital in Idlib.", stats, 0.6)
    assert values["lexical"] == pytest.approx(1.0)
    assert support(values) == pytest.approx(0.6 * WEIGHTS.dense + WEIGHTS.support_lexical * 1.0)


def test_the_weights_given_are_the_weights_used():
    values = _values("How many civilians were killed?", "At least 16 civilians were killed.")
    no_type = Weights(typed=0.0)
    assert score(values) - score(values, no_type) == pytest.approx(WEIGHTS.typed * values["typed"])
    with pytest.raises(AttributeError):
        WEIGHTS.typed = 1.0  # the shipped weights are one frozen object
