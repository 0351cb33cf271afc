"""Answers about the bundled report: short, correct, cited to the exact sentence; or abstentions."""

import pytest

from qa.answering import ABSTAIN_TEXT, QuestionInfo, find_answer_span, names_in, question_kind

# (question, a gold answer, a phrase of the supporting sentence). Paraphrased on purpose.
ANSWERABLE = [
    ("How many civilians were killed in Maarat al Numan on Wednesday?", "16", "killed at least 16 civilians"),
    ("How many civilians died in the regime strike on Maar Shamshah?", "four", "four civilians were killed in a regime air strike"),
    ("Where did Erdogan meet Putin?", "Moscow", "Turkish President Erdogan in Moscow on Tuesday"),
    ("When did the troops capture Khan Shaykhun?", "Last week", "Last week, the troops captured the town of Khan Shaykhun"),
    ("Which monitor reported 16 civilians killed on Wednesday?", "Syrian Observatory for Human Rights", "(SOHR)"),
    ("Who is the UN spokesman?", "Stephane Dujarric", "UN spokesman Stephane Dujarric said"),
    ("How many observation posts does Turkey have?", "12", "Turkey's 12 observation posts"),
    ("Which countries agreed to turn Idlib into a de-escalation zone?", "Turkey, Iran and Russia", "agreed in 2017"),
    ("What did the Free Syria Army do in Qimar?", "repelled", "repelled YPG attacks in the village of Qimar"),
    ("How many people have died in the PKK's campaign against Turkey?", "40,000", "more than 40,000 people"),
]

UNANSWERABLE = [
    "How many people died in the earthquake in Turkey?",
    "Who won the 2018 World Cup final?",
    "What is the population of Paris?",
    "When did the chemical attack on Khan Sheikhoun happen?",
    "How much wheat did Egypt import last year?",
]


@pytest.mark.parametrize("question, gold, evidence", ANSWERABLE)
def test_answers_about_the_bundled_report(corpus_assistant, question, gold, evidence):
    answer = corpus_assistant.ask(question)
    assert not answer.abstained, question
    assert gold.lower() in answer.text.lower()
    assert len(answer.text.split()) <= 60
    assert any(evidence in c.text for c in answer.citations), [c.text for c in answer.citations]


@pytest.mark.parametrize("question", UNANSWERABLE)
def test_abstains_on_what_the_reports_never_mention(corpus_assistant, question):
    answer = corpus_assistant.ask(question)
    assert answer.abstained and answer.text == ABSTAIN_TEXT and answer.citations == []


WEDNESDAY = "How many civilians were killed in Maarat al Numan on Wednesday?"


@pytest.mark.parametrize("mode", ["dense", "bm25"])
def test_other_modes_answer_too(corpus_assistant, mode):
    answer = corpus_assistant.ask(WEDNESDAY, mode=mode)
    assert "at least 16 civilians" in answer.text and answer.mode == mode


def test_short_answer_is_marked(corpus_assistant):
    assert corpus_assistant.ask(WEDNESDAY).short_answer == "at least 16"


def test_a_new_document_is_answerable_next_to_the_bundled_one(make_assistant, corpus_copy, tmp_path):
    (tmp_path / "extra.md").write_text(
        "---\ntitle: Aid convoy\noutlet: Test Wire\ndate: 2019-06-02\n---\n"
        "A United Nations aid convoy of 27 trucks reached the town of Saraqib on Sunday, officials said.\n"
    )
    assistant = make_assistant()
    assistant.ingest([corpus_copy, tmp_path / "extra.md"])
    answer = assistant.ask("How many trucks were in the UN convoy that reached Saraqib?")
    assert "27 trucks" in answer.text
    assert answer.citations[0].title == "Aid convoy" and answer.citations[0].source == "Test Wire"


@pytest.mark.parametrize(
    "question, kind",
    [
        ("How many people were killed?", "number"),
        ("When did the offensive start?", "date"),
        ("In which province is Maar Shamshah?", "place"),
        ("Where did the strikes hit?", "place"),
        ("Who carried out the strikes?", "entity"),
        ("What did the monitor say?", "other"),
    ],
)
def test_question_kind(question, kind):
    assert question_kind(question)[0] == kind


@pytest.mark.parametrize(
    "kind, words, sentence, span",
    [
        ("number", {"how", "many", "killed"}, "Strikes killed at least 16 civilians on Wednesday.", "at least 16"),
        ("date", {"when", "offensive"}, "The offensive began on September 19 in Hama.", "September 19"),
        ("place", {"where", "strikes"}, "The strikes hit the village of Alteh overnight.", "Alteh"),
        ("entity", {"who", "agreed"}, "Russian President Vladimir Putin agreed on Thursday.", "Russian President Vladimir Putin"),
    ],
)
def test_find_answer_span(kind, words, sentence, span):
    info = QuestionInfo(" ".join(words), kind, terms={}, words=words)
    found = find_answer_span(info, sentence)
    assert found and sentence[found[0] : found[1]] == span


def test_no_span_repeats_the_question():
    info = QuestionInfo("How many of the 16 civilians?", "number", terms={}, words={"how", "many", "of", "the", "16", "civilians"})
    assert find_answer_span(info, "The 16 civilians were buried.") is None


def test_a_hyphenated_name_matches_its_one_word_spelling(make_assistant, tmp_path):
    (tmp_path / "deir.txt").write_text(
        "Clashes near Deir Ezzor killed 40 soldiers on Monday, the monitor said.\n\n"
        "Aid deliveries to the city resumed on Tuesday after a week.\n"
    )
    assistant = make_assistant()
    assistant.ingest([tmp_path / "deir.txt"])
    answer = assistant.ask("How many soldiers were killed in the clashes near Deir ez-Zor?")
    assert not answer.abstained and "40 soldiers" in answer.text
    assert assistant.ask("How many soldiers were killed in the clashes near Raqqa?").abstained


def test_adjacent_sentences_from_two_chunks_are_cited_as_exact_slices(make_assistant, tmp_path):
    """Two adjacent sentences that no one retrieved chunk holds together are two citations, each
    an exact slice of the report (joined, they would skip the blank line between them)."""
    text = (
        "Regime warplanes struck the market in Kafranbel on Monday morning, killing at least nine civilians and "
        "wounding dozens of shoppers, local rescuers said.\n\n"
        "Rescuers in Kafranbel said that at least nine civilians were killed on Monday when the warplanes struck the "
        "crowded market, and dozens more were wounded.\n\n"
        "The council said schools would stay closed all week.\n"
    )
    (tmp_path / "r.txt").write_text(text)
    assistant = make_assistant(chunk_words=40)  # each long sentence is a chunk of its own
    assistant.ingest([tmp_path / "r.txt"])
    # An open question both sentences answer (a how-many one is answered by one sentence alone).
    answer = assistant.ask("What happened when warplanes struck the market in Kafranbel on Monday?")
    assert len(answer.citations) == 2 and {c.text.split()[0] for c in answer.citations} == {"Regime", "Rescuers"}
    for c in answer.citations:
        assert text[c.start : c.end] == c.text


def test_a_caption_printed_twice_is_quoted_once_in_its_fuller_form(make_assistant, tmp_path):
    (tmp_path / "r.txt").write_text(
        "Shelling hit the old town of Ariha overnight.\n\n"
        "Rubble fills a street in Ariha on May 5.\nRubble fills a street in Ariha on May 5. (AFP)\n\n"
        "Residents said the market was closed.\n"
    )
    assistant = make_assistant()
    assistant.ingest([tmp_path / "r.txt"])
    answer = assistant.ask("What fills a street in Ariha?")
    assert answer.text.count("Rubble fills a street") == 1
    assert [c.text for c in answer.citations if "Rubble" in c.text] == ["Rubble fills a street in Ariha on May 5. (AFP)"]


def test_the_same_sentence_in_two_reports_is_two_sources(make_assistant, tmp_path):
    # Two reports of their own that share one sentence (not copies of one story: see
    # tests/test_groups.py, where a story carried twice is cited once).
    rest = {
        "Wire A": "Rescuers searched the rubble of the bakery through the night, and the council closed the schools.",
        "Wire B": "In Geneva, envoys met to discuss a truce for the province, but no date was set for new talks.",
    }
    for name, outlet in (("a.md", "Wire A"), ("b.md", "Wire B")):
        (tmp_path / name).write_text(f"---\noutlet: {outlet}\n---\nShelling killed 12 civilians in Ariha on Friday.\n\n{rest[outlet]}\n")
    assistant = make_assistant()
    assistant.ingest([tmp_path])
    answer = assistant.ask("How many civilians were killed in Ariha on Friday?")
    assert {c.source for c in answer.citations} == {"Wire A", "Wire B"}, answer.text  # each outlet's copy cited


def test_no_answer_is_longer_than_its_word_limit(make_assistant, tmp_path):
    """The lead, every quotation, its ellipses and its [n] markers together stay within
    `answer_max_words`: for two rival counts quoted after their lead, and for a long question not answered."""
    (tmp_path / "a.txt").write_text(
        "Regime warplanes struck the crowded vegetable market in the centre of Kafranbel on Monday morning, killing "
        "at least nine civilians and wounding dozens of shoppers and traders, local rescuers said.\n"
    )
    (tmp_path / "b.txt").write_text(
        "Regime warplanes struck the crowded vegetable market in the centre of Kafranbel on Monday, killing eleven "
        "civilians, among them two bakers, and wounding dozens more, the monitor said.\n"
    )
    assistant = make_assistant()
    assistant.ingest([tmp_path])
    rivals = assistant.ask("How many civilians were killed when warplanes struck the vegetable market in Kafranbel on Monday?")
    # Two reports, two figures: side by side (qa.figures), each report named by its title's first words.
    assert not rivals.abstained and len(rivals.citations) == 2 and rivals.text.startswith("Reports differ:"), rivals.text
    assert [f.claim.figure for f in rivals.figures] == ["eleven", "at least nine"] and "…" in rivals.text, rivals.text
    assert len(rivals.text.split()) <= assistant.settings.answer.max_words, rivals.text
    tight = make_assistant(answer_max_words=20).ask(rivals.question)
    assert len(tight.text.split()) <= 20 and len(tight.figures) == 2, tight.text
    long_question = (
        "How many ambulances were sent to the crowded vegetable market in the centre of Kafranbel on Monday morning "
        "after the regime warplanes struck it, killing civilians and wounding dozens of shoppers and traders there, "
        "according to the local rescuers and the monitor who counted the dead and the wounded?"
    )
    missed = assistant.ask(long_question)
    assert missed.abstained and missed.citations, missed.text
    assert missed.text.startswith("The reports don't say that.") and len(missed.text.split()) <= assistant.settings.answer.max_words


def test_a_name_does_not_start_with_the_sentence_opening_word():
    sentences = ("But Stephen Eilmann argues", "In Kafranbel the market burned")
    assert [s[a:b] for s in sentences for a, b in names_in(s)] == ["Stephen Eilmann", "Kafranbel"]


def test_a_misspelled_place_still_finds_the_event(make_assistant, tmp_path):
    (tmp_path / "r.txt").write_text(
        "Shelling killed 14 civilians in Kafranbel on Friday, the monitor said.\n\n"
        "Aid convoys reached Saraqib on Saturday.\n"
    )
    assistant = make_assistant()
    assistant.ingest([tmp_path / "r.txt"])
    answer = assistant.ask("How many civilians were killed in Kafranbul?")
    assert not answer.abstained and answer.short_answer == "14", answer.text
    assert assistant.ask("How many civilians were killed in Saraqib?").abstained  # another event's place
