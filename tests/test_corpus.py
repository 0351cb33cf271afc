"""The bundled report (a TRT World article on the 2019 Idlib offensive): shipped byte for byte,
read into the right units, and answered with citations that respect its shape."""

import hashlib
import re

import yaml

from qa.answering import ASKS_ABOUT
from qa.chunking import chunk_sentences, split_sentences
from qa.config import BUNDLED_CORPUS_DIR
from qa.documents import load_document
from qa.evaluation import BUNDLED_GOLD, load_gold
from qa.metadata import Limits

# From the report's README in ../shared/seed (not read here: nothing in the project needs ../shared).
SHA256 = "9063159c573e100d799161dce6be90f0e95d39c20807154f8de9ac683e30b175"
TITLE = "Syrian regime, Russia air strikes kill at least 7 civilians in Idlib"
URL = "https://www.trtworld.com/middle-east/syrian-regime-russia-air-strikes-kill-at-least-7-civilians-in-idlib-29389"
HEADINGS = ["Syrian army presses on in Idlib", "Humanitarian crisis", "FSA pushes back YPG in Al Bab"]
CAPTION = (
    "A man wearing a blood-stained shirt watches as members of the Syrian Civil Defence (White Helmets) search for "
    "victims following a reported air strike by Syrian regime forces in Maaret al Numan in Idlib province on "
    "August 28, 2019."
)
SOURCE_LINE = "Source: TRTWorld and agencies"


def test_the_corpus_is_the_report_byte_for_byte_with_its_metadata(bundled_report):
    assert [p.name for p in sorted(BUNDLED_CORPUS_DIR.iterdir())] == [
        "trtworld-2019-08-29-idlib-regime-russia-air-strikes.meta.yaml",
        "trtworld-2019-08-29-idlib-regime-russia-air-strikes.txt",
    ]
    raw = bundled_report.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == SHA256 and not raw.endswith(b"\n")
    sidecar = yaml.safe_load(bundled_report.with_name(bundled_report.stem + ".meta.yaml").read_text())
    assert sidecar["sha256"] == SHA256
    doc = load_document(bundled_report, Limits(file_bytes=10**6))
    assert doc.text == raw.decode("utf-8")  # stored exactly as shipped: offsets index the file itself
    assert (doc.title, doc.source, doc.date, doc.place, doc.url) == (TITLE, "TRT World", "2019-08-29", "Idlib, Syria", URL)
    assert doc.doc_id == SHA256[:16]  # a file's id is the hash of its text


def test_the_stored_report_is_the_file(corpus_assistant, bundled_report):
    (listed,) = corpus_assistant.documents()
    stored = corpus_assistant.document(listed.doc_id)
    assert stored.text == bundled_report.read_text(encoding="utf-8")
    assert (stored.title, stored.source, stored.date, stored.url) == (TITLE, "TRT World", "2019-08-29", URL)


def test_nothing_in_the_product_reads_the_shared_folder():
    """Only help text may name ../shared (an example command); no code path opens it."""
    product = [*BUNDLED_CORPUS_DIR.parent.joinpath("qa").rglob("*.py"), BUNDLED_CORPUS_DIR.parent / "app.py"]
    for path in product:
        for line in path.read_text(encoding="utf-8").splitlines():
            if re.search(r"shared[/\\]|\bSHARED\b|shared_data", line):
                assert line.strip().startswith("qa eval --squad ../shared/"), (path, line)


def test_its_shape_headings_caption_and_source_line(bundled_report):
    text = bundled_report.read_text(encoding="utf-8")
    sentences = split_sentences(text)
    units = [text[s.start : s.end] for s in sentences]
    kinds = [s.kind for s in sentences]  # as ingest stores them
    assert [u for u, k in zip(units, kinds) if k == "heading"] == HEADINGS
    assert [u for u, k in zip(units, kinds) if k == "credit"] == [SOURCE_LINE]
    # The caption twice, the second time with its credit: one unit each, the credit not cut off.
    assert units[1:3] == [CAPTION, CAPTION + " (AFP)"]
    assert units.count("(AFP)") == 0 and len(units) == 39
    # Each section starts a chunk of its own, headed by its heading; no chunk ends on a heading.
    chunks = chunk_sentences(text, "d", split_sentences(text), max_words=120, overlap=1)
    for heading in HEADINGS:
        (opening,) = [c for c in chunks if heading in c.text]
        assert opening.text.startswith(heading + "\n\n")
    assert all(c.sentences[-1].kind != "heading" for c in chunks)


# Questions of our own beside the gold set's, written for this test: the caption's subject, a
# section by its heading's words, the source.
EXTRA = [
    "What is the man in the blood-stained shirt watching?",
    "Who searched for victims after the air strike in Maaret al Numan?",
    "What happened during the humanitarian crisis?",
    "What does the section on the Syrian army pressing on in Idlib say?",
    "Did the FSA push back the YPG in Al Bab?",
    "Which agencies did TRT World draw on?",
]
# The questions, of the gold set's and these, that ask for a heading or for where the report
# came from: written out here, not taken from the answerer's own patterns.
ASKS_FOR_A_HEADING = {
    "Under which heading does the report give the UN's figures on the dead and displaced?",
    "Which section heading covers the capture of Khan Shaykhun?",
    "What is the title of the section on the fighting around Al Bab?",
}
ASKS_FOR_A_CREDIT = {
    "Which agency is credited for the photo?",
    "What sources is the report based on?",
    "Which agencies did TRT World draw on?",
}


def test_the_answerer_tells_the_questions_about_headings_and_credits_apart():
    questions = [q.question for q in load_gold(BUNDLED_GOLD)] + EXTRA
    assert {q for q in questions if ASKS_ABOUT["heading"].search(q)} == ASKS_FOR_A_HEADING
    assert {q for q in questions if ASKS_ABOUT["credit"].search(q)} == ASKS_FOR_A_CREDIT


def test_answers_respect_the_shape_of_the_report(corpus_assistant):
    """On every gold question and a few more: a heading or the source line is never quoted unless
    the question asks for one, the caption printed twice is cited once, and every citation is an
    exact slice of the report with its outlet and date (also where an abstention points nearby)."""
    (listed,) = corpus_assistant.documents()
    report = corpus_assistant.document(listed.doc_id).text
    questions = [q.question for q in load_gold(BUNDLED_GOLD)] + EXTRA
    answered = 0
    for question in questions:
        answer = corpus_assistant.ask(question)
        if answer.abstained:  # silent, or pointing at one passage nearby, marked as not an answer
            assert len(answer.citations) <= 1 and (not answer.citations or "Not an answer" in answer.text)
        else:
            answered += 1
        cited = [c.text for c in answer.citations]
        for c in answer.citations:
            assert report[c.start : c.end] == c.text and (c.source, c.date, c.url) == ("TRT World", "2019-08-29", URL)
        if question not in ASKS_FOR_A_HEADING:
            assert not set(cited) & set(HEADINGS), question
        if question not in ASKS_FOR_A_CREDIT:
            assert not any(SOURCE_LINE in t for t in cited), question
        assert sum(t.count(CAPTION) for t in cited) <= 1, question
        assert answer.text.count("A man wearing a blood-stained shirt") <= 1, question
    assert answered >= 0.6 * len(questions)


def test_the_fuller_caption_is_the_one_quoted(corpus_assistant):
    answer = corpus_assistant.ask("What is the man in the blood-stained shirt watching?")
    assert not answer.abstained
    (cited,) = [c for c in answer.citations if CAPTION in c.text]
    assert cited.text == CAPTION + " (AFP)"


def test_a_heading_is_quoted_when_a_question_asks_for_it(make_assistant, tmp_path):
    path = tmp_path / "convoy.txt"
    path.write_text(
        "Aid convoy reaches Saraqib\n\nTwenty-seven trucks carried flour and medicine into the town on Sunday.\n\n"
        "Bakeries reopen\n\nThree bakeries opened their doors on Monday, the local council said.\n"
    )
    assistant = make_assistant()
    assistant.ingest([path])
    content = assistant.ask("Did the aid convoy reach Saraqib?")
    assert all(c.text != "Aid convoy reaches Saraqib" for c in content.citations)
    heading = assistant.ask("What is the heading of the section about the bakeries opening?")
    assert any(c.text.startswith("Bakeries reopen") for c in heading.citations), heading.text


def test_the_source_line_is_quoted_for_a_question_about_sources(corpus_assistant):
    answer = corpus_assistant.ask("What is the source of this report?")
    assert [c.text for c in answer.citations] == [SOURCE_LINE]


def test_the_example_questions_the_app_offers_are_answered_from_the_report(corpus_assistant):
    from qa import Settings

    for question in Settings().app.example_questions:
        answer = corpus_assistant.ask(question)
        assert not answer.abstained and answer.citations, question
        assert len(question) <= 55, "long examples are cut with '…' on the page"
