"""The evaluation suite: metrics on hand-made cases, the bundled gold set, real runs, the CLI."""

import json
import os
from collections import Counter
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from qa.chunking import split_sentences
from qa.errors import InputError
from qa.evaluation import (
    BUNDLED_GOLD,
    METRICS,
    GoldQuestion,
    Outcome,
    check_gold,
    evaluate_gold,
    exact_match,
    load_gold,
    load_squad,
    score,
    token_f1,
)
from qa.types import Document
from qa.metadata import Limits

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

REPORT = (
    "Shelling killed 21 civilians in Eastern Ghouta on Saturday. "
    "The convoy of 27 trucks reached Saraqib after a week of delays. "
    "Doctors Without Borders said hospitals had closed."
)
GOLD = [
    GoldQuestion("a", "How many civilians were killed?", ["21"], ["Shelling killed 21 civilians"], title="T"),
    GoldQuestion("b", "How many trucks?", ["27", "27 trucks"], ["The convoy of 27 trucks reached Saraqib"], title="T"),
    GoldQuestion("c", "Which charity?", ["Doctors Without Borders"], ["Doctors Without Borders said"], title="T"),
    GoldQuestion("d", "How many were wounded?", [], title="T"),
    GoldQuestion("e", "Who won the election?", []),
]
OTHER = "An unrelated passage about the weather."


def perfect(q: GoldQuestion) -> Outcome:
    if not q.answerable:
        return Outcome(q.id, "The reports don't say.", True, latency_ms=10)
    return Outcome(q.id, q.evidence[0] + " [1]", False, q.answers[0], q.evidence, [q.evidence[0], OTHER], 10)


def test_a_perfect_answerer_scores_one_everywhere():
    figures = score(GOLD, [perfect(q) for q in GOLD])
    assert set(figures) == set(METRICS)
    assert all(v == 1.0 for k, v in figures.items() if not k.endswith("_ms")), figures
    assert figures["latency_p50_ms"] == figures["latency_p95_ms"] == 10


def test_an_always_abstaining_answerer():
    outcomes = [Outcome(q.id, "The reports don't say.", True, retrieved=q.evidence or [OTHER]) for q in GOLD]
    figures = score(GOLD, outcomes)
    assert figures["answer_accuracy"] == 0 and figures["answer_recall"] == 0
    assert figures["abstention_recall"] == 1.0 and figures["abstention_precision"] == 0.4  # 2 of 5 abstentions right
    assert figures["citation_accuracy"] == 0 and figures["citation_precision"] is None  # no citations at all
    assert figures["exact_match"] is None and figures["f1"] is None  # no short answer marked
    assert figures["hit@1"] == 1.0  # retrieval is scored on its own


def test_a_never_abstaining_answerer():
    outcomes = [perfect(q) if q.answerable else Outcome(q.id, "Something else.", False) for q in GOLD]
    figures = score(GOLD, outcomes)
    assert figures["abstention_recall"] == 0 and figures["abstention_precision"] is None
    assert figures["answer_accuracy"] == 1.0


def test_wrong_citations_and_late_retrieval_lower_their_figures():
    outcomes = [perfect(q) for q in GOLD]
    outcomes[0].citations = [OTHER]  # cites the wrong passage
    outcomes[1].citations = [GOLD[1].evidence[0], OTHER]  # one right, one wrong
    outcomes[2].retrieved = [OTHER, OTHER, GOLD[2].evidence[0]]  # evidence ranked third
    figures = score(GOLD, outcomes)
    assert figures["citation_accuracy"] == pytest.approx(2 / 3, abs=1e-4)
    assert figures["citation_precision"] == pytest.approx(2 / 4)
    assert figures["hit@1"] == pytest.approx(2 / 3, abs=1e-4) and figures["hit@5"] == 1.0
    assert figures["mrr"] == pytest.approx((1 + 1 + 1 / 3) / 3, abs=1e-4)
    assert figures["answer_accuracy"] == 1.0  # the answers themselves are still right


def test_long_answers_are_not_accurate_but_count_for_recall():
    outcomes = [perfect(q) for q in GOLD]
    outcomes[0].answer = "word " * 60 + GOLD[0].evidence[0]
    figures = score(GOLD, outcomes, max_words=60)
    assert figures["answer_accuracy"] == pytest.approx(2 / 3, abs=1e-4)
    assert figures["answer_recall"] == 1.0


def test_matching_is_by_whole_words_and_any_evidence_counts():
    question = GoldQuestion(
        "m", "Which month? How many?", ["May", "12"], ["struck in May", "12 dead", "in May 12 dead"]
    )
    wrong = Outcome("m", "The mayor said 128 died. [1]", False, citations=["The mayor said 128 died"])
    assert score([question], [wrong])["answer_accuracy"] == 0 and score([question], [wrong])["citation_accuracy"] == 0
    right = Outcome("m", "The agreement was struck in May. [1]", False, citations=["It was struck in May."])
    assert (
        score([question], [right])["answer_accuracy"] == 1.0 and score([question], [right])["citation_accuracy"] == 1.0
    )
    assert score([question], [replace(right, citations=["12 dead, the monitor said"])])["citation_accuracy"] == 1.0


def test_short_answer_span_scores():
    assert exact_match("the 21", ["21"]) == 1.0 and exact_match("21 civilians", ["21"]) == 0.0
    assert token_f1("21 civilians", ["21"]) == pytest.approx(2 / 3)
    assert token_f1("Doctors Without Borders", ["MSF", "Doctors Without Borders"]) == 1.0
    outcomes = [perfect(q) for q in GOLD]
    outcomes[1].short_answer = "27 trucks reached"
    figures = score(GOLD, outcomes)
    assert figures["exact_match"] == pytest.approx(2 / 3, abs=1e-4)
    assert figures["f1"] == pytest.approx((1 + 0.8 + 1) / 3, abs=1e-4)


def test_accuracy_by_tag_is_in_the_report(tmp_path):
    from qa.evaluation import EvalReport, SystemReport, tag_accuracy, write_report

    tagged = [replace(q, tags=["number"] if q.id in ("a", "b") else ["unanswerable"] if not q.answerable else []) for q in GOLD]
    outcomes = [perfect(q) for q in tagged]
    outcomes[1] = Outcome("b", "Something else.", False)  # one of the two "number" questions wrong
    system = SystemReport("hybrid", score(tagged, outcomes), outcomes, ["b"])
    report = EvalReport("gold.jsonl", len(tagged), 2, 1, [system])
    assert tag_accuracy(report, tagged) == {"number": (2, {"hybrid": 0.5}), "unanswerable": (2, {"hybrid": 1.0})}
    _, md = write_report(report, tagged, tmp_path)
    assert "| number | 2 | 0.50 |" in md.read_text() and "| unanswerable | 2 | 1.00 |" in md.read_text()


def test_latency_percentiles_are_nearest_rank():
    outcomes = [perfect(q) for q in GOLD]
    for i, o in enumerate(outcomes):
        o.latency_ms = [5, 1, 4, 2, 3][i]
    figures = score(GOLD, outcomes)
    assert figures["latency_p50_ms"] == 3 and figures["latency_p95_ms"] == 5


def test_check_gold_finds_unfair_questions():
    doc = Document("d1", REPORT, "T")
    assert check_gold(GOLD, [doc]) == []
    bad = [
        GoldQuestion("x", "?", ["21"], ["Shelling killed 22 civilians"]),
        GoldQuestion("y", "?", ["28", "2"], ["Shelling killed 21 civilians"]),
        GoldQuestion("x", "?", []),
        GoldQuestion("z", "?", ["21"], ["Shelling killed 21 civilians"], doc_id="nope"),
    ]
    problems = check_gold(bad, [doc])
    assert any(p.startswith("x: evidence is not in the report") for p in problems)
    assert any(p.startswith("y: answer '28' is not in its evidence") for p in problems)
    assert any(p.startswith("y: answer '2' is not in its evidence") for p in problems)  # "21" is another number
    assert "x: id used twice" in problems and "z: no report 'nope'" in problems


def test_load_gold_names_the_bad_line(tmp_path):
    path = tmp_path / "gold.jsonl"
    path.write_text('{"id": "1", "question": "Q?", "answers": ["a"], "evidence": "a b"}\n\n{"id": "2", "question"\n')
    with pytest.raises(InputError, match="line 3: not a gold question"):
        load_gold(path)
    path.write_text('{"id": "1", "question": "Q?", "answers": ["a"]}\n')
    with pytest.raises(InputError, match="line 1: question '1' has answers but no evidence"):
        load_gold(path)
    path.write_text('{"id": "1", "question": "Q?", "answers": "a", "evidence": "a"}\n')
    with pytest.raises(InputError, match="must be a list"):
        load_gold(path)
    path.write_text('{"id": "1", "question": "Q?", "answers": ["a"], "evidence": ["a b", ""]}\n')
    with pytest.raises(InputError, match="'evidence' must be a string or a list of non-empty strings"):
        load_gold(path)
    path.write_text('{"id": "1", "question": "Q?", "answers": ["a"], "evidence": ["a b", "a c"]}\n')
    assert load_gold(path)[0].evidence == ["a b", "a c"]
    path.write_text('{"id": "1", "question": "Q?", "answers": [], "tags": "near-miss"}\n')
    with pytest.raises(InputError, match="'tags' must be a list of non-empty strings"):
        load_gold(path)
    with pytest.raises(InputError, match="cannot read the gold set"):
        load_gold(tmp_path / "missing.jsonl")


# -- the bundled gold set ------------------------------------------------------------------------
def test_the_bundled_gold_set_is_consistent_with_the_bundled_report(bundled_report):
    from qa.documents import load_document

    questions = load_gold(BUNDLED_GOLD)
    report = load_document(bundled_report, Limits(file_bytes=10**7))
    unanswerable = [q for q in questions if not q.answerable]
    assert len(questions) >= 60 and len(unanswerable) >= 15
    assert sum("near-miss" in q.tags for q in unanswerable) >= 10
    # The forms the gold set must vary over, each asked more than once.
    tags = Counter(t for q in questions for t in q.tags)
    for tag in ("number", "who", "where", "when", "which", "why", "paraphrase", "spelling", "relative-day",
                "attribution", "caption", "near-miss"):
        assert tags[tag] >= 2, tag
    assert check_gold(questions, [report]) == []
    assert all(q.doc_id == report.doc_id for q in questions)
    # Spread over the whole report: some evidence lies in every sentence with content (both copies of
    # the caption among them, one with its credit), and a heading and the source line are asked about.
    sentences = split_sentences(report.text)
    units = [report.text[s.start : s.end] for s in sentences]
    touched = {i for q in questions for e in q.evidence for i, unit in enumerate(units) if e in unit}
    content = {i for i, s in enumerate(sentences) if s.kind == "text"}
    assert len(content) == 35 and not content - touched, [units[i] for i in sorted(content - touched)]
    assert {sentences[i].kind for i in touched} == {"text", "heading", "credit"}


# -- real runs ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_real_run_is_deterministic_and_beats_nothing(corpus_assistant):
    first = evaluate_gold(corpus_assistant, BUNDLED_GOLD, ["hybrid", "llamaindex"])
    second = evaluate_gold(corpus_assistant, BUNDLED_GOLD, ["hybrid", "llamaindex"])

    def quality(report):
        return {r.system: {k: v for k, v in r.metrics.items() if not k.endswith("_ms")} for r in report.systems}

    assert quality(first) == quality(second)
    hybrid, baseline = first.systems
    assert hybrid.metrics["answer_accuracy"] >= 0.6 and hybrid.metrics["hit@5"] >= 0.9
    assert baseline.metrics["answer_accuracy"] == 0  # its "answer" is whole retrieved chunks, over 60 words
    assert baseline.metrics["answer_recall"] >= 0.9 and baseline.metrics["abstention_recall"] == 0
    assert len(hybrid.outcomes) == first.questions == len(load_gold(BUNDLED_GOLD))
    assert set(hybrid.failures) <= {q.id for q in load_gold(BUNDLED_GOLD)}


@pytest.mark.slow
def test_other_question_sets_in_the_same_format(make_assistant, tmp_path):
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "convoy.md").write_text(f"---\ntitle: Convoy\noutlet: Test Wire\n---\n{REPORT}\n")
    assistant = make_assistant()
    assistant.ingest([reports])
    gold = tmp_path / "mine.jsonl"
    gold.write_text(
        "\n".join(
            json.dumps(row)
            for row in [
                {
                    "id": "t1",
                    "question": "How many trucks were in the convoy?",
                    "answers": ["27"],
                    "evidence": "The convoy of 27 trucks",
                    "title": "Convoy",
                },
                {"id": "t2", "question": "What is the capital of Peru?", "answers": [], "title": "Convoy"},
            ]
        )
    )
    report = evaluate_gold(assistant, gold, ["bm25"])
    assert report.gold == "mine.jsonl" and report.questions == 2 and report.unanswerable == 1
    assert report.systems[0].metrics["answer_accuracy"] == 1.0
    assert report.systems[0].metrics["abstention_recall"] == 1.0
    with pytest.raises(InputError, match="unknown system 'gpt'"):
        evaluate_gold(assistant, gold, ["gpt"])


def run_cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "qa.cli", "eval", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
        env={k: v for k, v in os.environ.items() if k != "QA_INDEX_DIR"},
    )


@pytest.mark.slow
def test_cli_compare_prints_one_table_writes_reports_and_repeats(tmp_path):
    done = run_cli("--compare", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    n = len(load_gold(BUNDLED_GOLD))
    lines = done.stdout.splitlines()
    unanswerable = sum(not q.answerable for q in load_gold(BUNDLED_GOLD))
    assert lines[0].startswith(f"gold.jsonl: {n} questions ({unanswerable} unanswerable), 1 documents")
    assert lines[1].split() == ["hybrid", "dense", "bm25", "llamaindex"]
    assert [line.split()[0] for line in lines[2:]] == list(METRICS)
    data = json.loads((tmp_path / "out" / "report.json").read_text())
    assert list(data["metrics"]) == ["hybrid", "dense", "bm25", "llamaindex"]
    assert data["settings"]["embedding_model"] == "all-MiniLM-L6-v2" and data["settings"]["judged_at_words"] == 60
    markdown = (tmp_path / "out" / "report.md").read_text()
    failed = data["systems"][0]["failures"]
    assert f"## hybrid: {len(failed)} failed of {n}" in markdown
    assert all(f"- **{qid}**" in markdown for qid in failed) and "expected:" in markdown and "given (" in markdown

    # A second run on its own fresh index prints the same figures, latencies aside.
    again = run_cli("--compare", "--json")
    assert again.returncode == 0, again.stderr

    def quality(metrics):
        return {s: {k: v for k, v in m.items() if not k.endswith("_ms")} for s, m in metrics.items()}

    assert quality(json.loads(again.stdout)["metrics"]) == quality(data["metrics"])


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.jsonl"], "cannot read the gold set"),
        (["--limit", "5"], "--limit samples SQuAD questions"),
        (["--squad", "nope.json"], "not a readable SQuAD v1.1 file"),
        (["--squad", "x.json", "--index", "idx"], "--squad builds its own fresh index"),
    ],
)
def test_cli_mistakes_are_one_line(args, message, tmp_path):
    done = run_cli(*args, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and message in done.stderr


SQUAD = SHARED_DATA / "squad-dev-v1.1-subset.json"


@pytest.fixture
def squad_sample(tmp_path):
    """Three articles of the shared SQuAD subset, in SQuAD format (the whole file takes minutes)."""
    if not SQUAD.exists():
        pytest.skip(f"{SQUAD} is not here (shared test data); the SQuAD import is tested with it")
    data = json.loads(SQUAD.read_text())
    path = tmp_path / "squad-3.json"
    path.write_text(json.dumps({"version": data.get("version", "1.1"), "data": data["data"][:3]}))
    return path


def test_squad_import_is_a_deterministic_sample(squad_sample):
    documents, questions = load_squad(squad_sample)
    assert len(documents) == 3 and len(questions) > 100
    assert check_gold(questions, documents) == []
    first = [q.id for q in load_squad(squad_sample, limit=20)[1]]
    assert first == [q.id for q in load_squad(squad_sample, limit=20)[1]] and len(first) == 20
    assert first != [q.id for q in load_squad(squad_sample, limit=20, seed=1)[1]]


@pytest.mark.slow
def test_cli_evaluates_a_squad_file(squad_sample):
    done = run_cli("--squad", str(squad_sample), "--limit", "40", "--json")
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert figures["questions"] == 40 and figures["documents"] == 3 and figures["unanswerable"] == 0
    hybrid = figures["metrics"]["hybrid"]
    assert hybrid["abstention_recall"] is None and hybrid["answer_accuracy"] >= 0.5
