"""Example questions come from the reports loaded: the bundled report's own, and for each other
report one made from its sentences that the assistant answers from it."""

from qa.config import BUNDLED_CORPUS_DIR
from qa.examples import example_questions, questions_from
from qa.types import Document

BUNDLED = ["How many civilians were killed in Maarat al Numan?", "Where did Erdogan meet Putin?"]


def test_questions_are_made_from_casualty_counts_then_the_place():
    text = (
        "Air strikes hit a market in Douma on Sunday, killing at least 82 people, the monitor said. "
        "Later, 12 children were wounded in Harasta by shelling. Rebels shelled Damascus, killing two soldiers in Jobar."
    )
    made = list(questions_from(Document(doc_id="d", text=text, title="t", place="douma, Damascus countryside")))
    assert made == [
        "How many people were killed in Douma?",
        "How many children were wounded in Harasta?",
        "How many soldiers were killed in Jobar?",
        "What happened in Douma?",
    ]


def test_examples_name_the_reports_loaded(make_assistant, tmp_path):
    (tmp_path / "douma.md").write_text(
        "---\ntitle: Douma market hit\noutlet: Reuters\ndate: 2015-08-16\nplace: Douma\n---\n"
        "Air strikes hit a market in Douma on Sunday, killing at least 82 people, the monitor said.\n"
    )
    assistant = make_assistant()
    assert example_questions(assistant, BUNDLED, BUNDLED_CORPUS_DIR) == []  # nothing loaded, nothing offered
    assistant.ingest([tmp_path / "douma.md"])
    assert example_questions(assistant, BUNDLED, BUNDLED_CORPUS_DIR) == ["How many people were killed in Douma?"]
    assistant.ingest([BUNDLED_CORPUS_DIR])
    offered = example_questions(assistant, BUNDLED, BUNDLED_CORPUS_DIR)
    assert offered == ["How many people were killed in Douma?", *BUNDLED]
    made = assistant.ask(offered[0])
    assert not made.abstained and "82" in made.text


def test_a_made_question_the_report_does_not_answer_is_not_offered(make_assistant, tmp_path):
    # The place is only in the metadata: "What happened in Homs?" finds nothing about Homs.
    (tmp_path / "r.md").write_text("---\ntitle: Bulletin\nplace: Homs\n---\nThe council met and adjourned.\n")
    assistant = make_assistant()
    assistant.ingest([tmp_path / "r.md"])
    assert example_questions(assistant, BUNDLED, BUNDLED_CORPUS_DIR) == []


def test_made_questions_name_the_place_and_stop_before_other_words():
    def made(text: str) -> list[str]:
        return list(questions_from(Document(doc_id="d", text=text, title="t")))

    assert made("Shelling killed 12 civilians in Idlib as Turkish forces advanced.") == ["How many civilians were killed in Idlib?"]
    assert made("Shelling killed 14 civilians in Deir ez-Zor on Friday.") == ["How many civilians were killed in Deir ez-Zor?"]
    assert made("Killing three soldiers in Aleppo Monday, the raid ended.") == ["How many soldiers were killed in Aleppo?"]


def test_a_long_run_of_hyphens_is_read_in_bounded_time():
    import time

    started = time.perf_counter()
    assert list(questions_from(Document(doc_id="d", text="Strikes killed 9 people in " + "A-" * 200_000 + " x", title="t"))) == []
    assert time.perf_counter() - started < 5  # a sentence this long is not read at all (MAX_SENTENCE_CHARS)
