"""Many users at once: 20 gradio_clients asking through /ask while the browser uploads, and a full
queue refusing more at once instead of hanging."""

import os
import statistics
import threading
import time

import pytest

gr = pytest.importorskip("gradio", reason="the web app needs the UI extra: pip install -e '.[ui]'")

import app  # noqa: E402
from app_helpers import ANSWER, QUESTION, free_port  # noqa: E402
from qa import Assistant  # noqa: E402
from qa.config import BUNDLED_CORPUS_DIR  # noqa: E402

pytestmark = pytest.mark.slow


LOAD_REPORTS = {
    "saraqib-convoy.md": "---\ntitle: Aid convoy reaches Saraqib\noutlet: Test Wire\ndate: 2019-06-02\n"
    "place: Saraqib, Idlib province\n---\nA United Nations aid convoy of 27 trucks reached the town of Saraqib "
    "on Sunday, carrying flour and medicine for 40,000 people. The convoy had waited four days at the Bab al-Hawa "
    "crossing. Local council head Ahmad Khalil said bakeries would reopen on Monday.\n",
    "aleppo-water.md": "---\ntitle: Water pumping resumes in Aleppo\noutlet: Relief Daily\ndate: 2018-03-14\n"
    "place: Aleppo\n---\nEngineers repaired the Suleiman al-Halabi pumping plant in Aleppo on Wednesday after "
    "shelling cut water to 1.5 million residents for nine days. The Red Crescent said pumping resumed at noon.\n",
    "raqqa-mines.md": "---\ntitle: Mines kill returning families in Raqqa\noutlet: Relief Daily\ndate: 2017-11-20\n"
    "place: Raqqa\n---\nLandmines left in homes killed 14 civilians returning to Raqqa over the past week, "
    "Handicap International said on Monday. Demining teams cleared 300 houses in the old city.\n",
}


# Answerable and not, in every mode, with and without filters (one filter matches nothing).
LOAD_QUESTIONS = [
    {"question": QUESTION},
    {"question": "How many civilians were killed in Maarat al Numan on Wednesday?"},
    {"question": "Which countries agreed in 2017 to make Idlib a de-escalation zone?"},
    {"question": "How many people have been displaced since the offensive began?", "top_k": 3},
    {"question": "How many trucks were in the aid convoy to Saraqib?"},
    {"question": "When did water pumping resume in Aleppo?", "top_k": 3},
    {"question": "How many civilians were killed by landmines in Raqqa?", "mode": "bm25"},
    {"question": "Who said bakeries would reopen?", "mode": "dense"},
    {"question": "Whose air strike hit the village of Alteh?", "top_k": 2, "mode": "dense"},
    {"question": "How many houses did demining teams clear?", "top_k": 4, "mode": "bm25"},
    {"question": "How many were killed?", "source": ["Relief Daily"]},
    {"question": "How many people were killed?", "place": "Idlib"},
    {"question": "How many observation posts does Turkey have?", "date_from": "2019-08", "date_to": "2019-08"},
    {"question": "Which crossing did the convoy wait at?", "source": ["Test Wire"], "date_from": "2019"},
    {"question": "How many were killed in Aleppo?", "date_to": "2016"},
    {"question": "Who won the 2018 World Cup final?"},
    {"question": "What is the capital of Australia?", "mode": "dense"},
    {"question": "How many shops were destroyed in Zarzour?"},
]


def harvest_collection(rows: int) -> str:
    """A collection of reports about nothing the load questions ask (olive harvests)."""
    lines = ["title,text,outlet,date"]
    for n in range(1, rows + 1):
        text = (
            f"Growers in the hill village of Tel Kawkab {n} picked {100 + 7 * n} crates of olives this week. "
            f"The rain gauge read {n % 9 + 2} millimetres and the cooperative pressed oil for {n + 20} households."
        )
        lines.append(f'Harvest note {n},"{text}",Farm Notes,2021-10-{n % 28 + 1:02d}')
    return "\n".join(lines) + "\n"


def without_timings(answer: dict) -> dict:
    return {k: v for k, v in answer.items() if k != "timings_ms"}


def ask_each_alone(url: str, questions: list[dict]) -> list[dict]:
    from gradio_client import Client

    client = Client(url, verbose=False)
    return [without_timings(client.predict(api_name="/ask", **q)) for q in questions]


class Load:
    """`users` threads, each with its own gradio_client, ask `each` questions through /ask (cycling
    through the list from their own offset); the caller's thread stays free (for an upload)."""

    def __init__(self, url: str, questions: list[dict], users: int, each: int) -> None:
        from gradio_client import Client

        self.questions, self.each = questions, each
        self.clients = [Client(url, verbose=False) for _ in range(users)]
        self.answers: list[tuple[int, dict, float, float]] = []  # (question index, answer, sent, answered)
        self.errors: list[str] = []
        self._go = threading.Barrier(users + 1)
        self._threads = [threading.Thread(target=self._user, args=(n,)) for n in range(users)]

    def _user(self, n: int) -> None:
        self._go.wait()
        for i in range(self.each):
            k = (n + i) % len(self.questions)
            sent = time.perf_counter()
            try:
                answer = self.clients[n].predict(api_name="/ask", **self.questions[k])
            except Exception as exc:  # every error is a failure of the test, reported with its question
                self.errors.append(f"user {n}, question {k}: {exc!r}")
            else:
                self.answers.append((k, without_timings(answer), sent, time.perf_counter()))

    def start(self) -> None:
        for thread in self._threads:
            thread.start()
        self._go.wait()
        self.started = time.perf_counter()

    def wait_for_answers(self, count: int) -> None:
        while len(self.answers) + len(self.errors) < count and any(t.is_alive() for t in self._threads):
            time.sleep(0.05)

    def join(self) -> None:
        for thread in self._threads:
            thread.join(timeout=900)
        self.seconds = time.perf_counter() - self.started

    def summary(self, settings) -> str:
        latencies = sorted(answered - sent for _, _, sent, answered in self.answers)
        cuts = statistics.quantiles(latencies, n=100)
        return (
            f"{len(self.answers)} questions from {len(self.clients)} clients in {self.seconds:.1f} s: "
            f"{len(self.answers) / self.seconds:.1f} questions/s, latency p50 {cuts[49] * 1000:.0f} ms, "
            f"p95 {cuts[94] * 1000:.0f} ms (concurrency_limit={settings.app.concurrency_limit}, "
            f"queue_max_size={settings.app.queue_max_size}, {os.cpu_count()} CPUs)"
        )


@pytest.fixture
def load_server(tmp_path, embedder):
    """The app with its default queue settings, on its own index: the bundled corpus and three more reports."""
    for name, text in LOAD_REPORTS.items():
        (tmp_path / "reports" / name).parent.mkdir(exist_ok=True)
        (tmp_path / "reports" / name).write_text(text)
    assistant = Assistant(embedder=embedder, index_dir=tmp_path / "index", auto_ingest_corpus=False)
    assert not assistant.ingest([BUNDLED_CORPUS_DIR, tmp_path / "reports"]).failed
    port = free_port()
    demo = app.serve(assistant, host="127.0.0.1", port=port, block=False)
    yield assistant, f"http://127.0.0.1:{port}/"
    demo.close()


def test_twenty_users_at_once_during_an_upload_get_the_answers_they_would_alone(load_server, browser, tmp_path):
    """20 clients x 25 questions through /ask while the browser uploads a 40-report collection:
    no errors, and every answer is the one the same question gets alone, before or after the
    upload (the upload is about olive harvests, so only the term statistics behind the scores may
    change). `pytest -s` prints throughput and latency."""
    assistant, url = load_server
    before = ask_each_alone(url, LOAD_QUESTIONS)
    assert sum(not a["abstained"] for a in before) >= 10 and sum(a["abstained"] for a in before) >= 4
    collection = tmp_path / "harvest-notes.csv"
    collection.write_text(harvest_collection(40))
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    page.goto(url)
    page.get_by_role("tab", name="Documents").click()

    load = Load(url, LOAD_QUESTIONS, users=20, each=25)
    load.start()
    load.wait_for_answers(20)  # the upload lands in the middle of the questions
    upload_sent = time.perf_counter()
    page.set_input_files("#qa-upload input[type=file]", str(collection))
    page.wait_for_function(
        "() => document.querySelector('#qa-status')?.innerText.includes('40 added')", timeout=600_000
    )
    upload_done = time.perf_counter()
    load.join()
    page.close()
    after = ask_each_alone(url, LOAD_QUESTIONS)
    print("\n" + load.summary(assistant.settings))

    assert load.errors == []
    assert len(load.answers) == 20 * 25
    during = [a for a in load.answers if a[2] < upload_done and a[3] > upload_sent]
    assert during, "the questions and the upload overlapped"
    assert len(assistant.documents()) == 1 + len(LOAD_REPORTS) + 40
    changed = [k for k, answer, _, _ in load.answers if answer != before[k] and answer != after[k]]
    assert changed == [], f"answers that neither the question alone before nor after the upload got: {changed}"
    # 40 more chunks change BM25's and the answerer's term statistics, so a few answers pick
    # another sentence of the same passages afterwards; none is about olives.
    print(
        f"{sum(a == b for a, b in zip(before, after))} of {len(before)} questions get the same answer after the "
        f"upload as before; {len(during)} were answered while it ran"
    )
    assert not any("olives" in a["answer"] for a in after)


class GatedAssistant(Assistant):
    """An Assistant whose questions wait at a gate the test opens, so the server stays busy for
    exactly as long as the test needs (answers are still the real ones)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.gate = threading.Event()
        self.entered = threading.Semaphore(0)

    def ask(self, *args, **kwargs):
        self.entered.release()
        self.gate.wait(timeout=300)
        return super().ask(*args, **kwargs)


def test_a_full_queue_refuses_more_at_once_instead_of_hanging(tmp_path, embedder):
    from gradio_client import Client
    from gradio_client.utils import QueueError, Status

    assistant = GatedAssistant(
        embedder=embedder, index_dir=tmp_path / "index", auto_ingest_corpus=False, concurrency_limit=1, queue_max_size=2
    )
    assert not assistant.ingest([BUNDLED_CORPUS_DIR]).failed
    port = free_port()
    demo = app.serve(assistant, host="127.0.0.1", port=port, block=False)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        working = client.submit(QUESTION, api_name="/ask")
        assert assistant.entered.acquire(timeout=120), "the first question reached the assistant"
        waiting = [client.submit(QUESTION, api_name="/ask") for _ in range(2)]
        for job in waiting:
            for _ in range(1200):
                if job.status().code == Status.IN_QUEUE:
                    break
                time.sleep(0.05)
            assert job.status().code == Status.IN_QUEUE
        # One answered, two waiting: the queue is full, so more are refused at once, while the gate
        # is still closed (a refusal that waited for a free slot would time out here).
        for _ in range(4):
            with pytest.raises(QueueError, match="Queue is full"):
                client.submit(QUESTION, api_name="/ask").result(timeout=120)
        assistant.gate.set()
        answers = [job.result(timeout=300) for job in [working, *waiting]]
        assert all(ANSWER in a["answer"] for a in answers)
        assert ANSWER in client.predict(QUESTION, api_name="/ask")["answer"]  # room again
    finally:
        assistant.gate.set()
        demo.close()
