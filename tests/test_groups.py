"""One story, counted once: near-duplicate groups (qa.groups) from signatures to the index, the
answer's citations, `qa docs` and FA-KES."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from qa.groups import SHINGLE_WORDS, THRESHOLD, GroupIndex, Groups, shingles, signature, similarity
from qa.store import SCHEMA_VERSION

REPO = Path(__file__).resolve().parent.parent
FAKES = REPO.parent / "shared" / "data" / "fa-kes.csv"
QA = [sys.executable, "-m", "qa.cli"]

# One wire story (as an agency files it), then what outlets and updates make of it.
WIRE = (
    "Shelling killed 12 civilians in the town of Saraqib in Idlib province on Sunday, local medics said. "
    "The shells hit a crowded vegetable market in the centre of the town shortly after nine in the morning. "
    "Rescue workers pulled survivors from the rubble of two collapsed buildings and took the wounded to a field hospital. "
    "The town has been hit repeatedly in recent weeks as fighting between government forces and rebels intensified. "
    "A monitoring group said the death toll was likely to rise because several of the wounded were in critical condition."
)
# Re-filed: the toll changed and a paragraph added.
UPDATE = WIRE.replace("killed 12 civilians", "killed 15 civilians") + (
    " Later on Sunday the local council said three more bodies had been found under the rubble of the market."
)
# Another story about the same event: other words, the same facts.
OTHER_STORY = (
    "Residents of Saraqib buried their dead on Monday after a bombardment that struck the market a day earlier. "
    "Families said they had no warning before the attack, which medics in Idlib say left 12 people dead. "
    "Aid groups appealed for safe access to the province, where hospitals are short of blood and fuel. "
    "Government officials did not comment on the strike, and the rebels accused Damascus of targeting civilians."
)
CONVOY = "A convoy of 27 aid trucks reached Kafranbel on Monday, the UN said. The trucks carried flour and medicine."


def report(path: Path, text: str, outlet: str, title: str, date: str = "2019-06-02", doc_id: str = "") -> Path:
    declared = f"id: {doc_id}\n" if doc_id else ""
    path.write_text(f"---\n{declared}title: {title}\noutlet: {outlet}\ndate: {date}\nplace: Saraqib\n---\n{text}\n")
    return path


def groups_of(texts: dict[str, tuple[str, str]]) -> Groups:
    """Groups of {id: (text, date)}."""
    return Groups({i: (signature(t), {"date": d, "source": i.split("-")[0]}) for i, (t, d) in texts.items()})


def test_the_bands_are_datasketchs_and_find_its_candidates():
    """The LSH bands are datasketch's optimal ones for the candidate threshold, and propose the same
    candidates its MinHashLSH does."""
    from datasketch import LeanMinHash, MinHashLSH

    from qa.groups import BANDS, CANDIDATE_THRESHOLD, PERMUTATIONS, ROWS, SCHEME, SEED, _Bands, hash_values

    reference = MinHashLSH(threshold=CANDIDATE_THRESHOLD, num_perm=PERMUTATIONS)
    assert (reference.b, reference.r) == (BANDS, ROWS)
    texts = [WIRE, UPDATE, OTHER_STORY, CONVOY, WIRE[:200], UPDATE[100:], OTHER_STORY + CONVOY]
    ours = _Bands()
    for n, text in enumerate(texts):
        values = hash_values(signature(text))
        ours.insert(str(n), values)
        reference.insert(str(n), LeanMinHash(seed=SEED, hashvalues=values, scheme=SCHEME))
    for text in texts + ["Clashes near Hama left four fighters dead."]:
        values = hash_values(signature(text))
        assert ours.query(values) == set(reference.query(LeanMinHash(seed=SEED, hashvalues=values, scheme=SCHEME)))
    ours.remove("0", hash_values(signature(WIRE)))
    assert "0" not in ours.query(hash_values(signature(WIRE)))


def test_groups_updated_report_by_report_are_the_groups_built_from_scratch():
    """Adds, replacements (a new text under the same id) and deletions, in batches, regroup only
    what they touch; after each step the groups equal those built from every report at once."""
    import random

    rng = random.Random(5)
    stories = [WIRE, OTHER_STORY, CONVOY, "Clashes near Hama left four fighters dead, a monitor said on Friday evening."]
    variants = []
    for n, story in enumerate(stories):
        variants += [story, story.replace("said", "reported"), story + f" Update {n}: the toll was revised.", story]  # one exact copy
    index, current = GroupIndex(), {}
    for step in range(40):
        touched = {}
        for _ in range(rng.randint(1, 4)):
            doc_id = f"r{rng.randrange(25)}"
            if doc_id in current and rng.random() < 0.3:
                current.pop(doc_id)
                touched[doc_id] = None
            else:
                text = rng.choice(variants)
                current[doc_id] = (signature(text), {"date": f"2019-06-{rng.randint(1, 28):02d}", "source": f"Outlet {doc_id}"})
                touched[doc_id] = current[doc_id]
        got = index.replace(touched, {d: r for d, r in touched.items() if r is not None})
        fresh = Groups(current)
        assert got.groups() == fresh.groups(), step
        assert all(got.of(d) == fresh.of(d) and got.also_carried_by(d) == fresh.also_carried_by(d) for d in current), step


@pytest.mark.slow
def test_a_signature_is_the_same_in_every_process():
    here = signature(WIRE)
    code = "import sys; from qa.groups import signature; print(signature(sys.stdin.read()))"
    env = {**os.environ, "PYTHONHASHSEED": "123", "PYTHONPATH": str(REPO)}
    there = subprocess.run([sys.executable, "-c", code], input=WIRE, capture_output=True, text=True, env=env, check=True)
    assert there.stdout.strip() == here and len(here) < 1000  # fits a Chroma metadata field
    assert signature("  ") == "" and similarity(signature(""), here) == 0.0
    assert signature(WIRE.upper()) == here  # words are compared lower-cased


def test_a_wire_story_under_two_outlets_is_one_group_and_a_re_filed_update_joins_it():
    groups = groups_of({"wire-a": (WIRE, "2019-06-02"), "paper-b": (WIRE, "2019-06-03"), "wire-u": (UPDATE, "2019-06-02")})
    assert similarity(signature(WIRE), signature(UPDATE)) >= THRESHOLD
    assert groups.members("paper-b") == ["wire-a", "wire-u", "paper-b"]  # by date, then id
    assert {groups.of(i) for i in ("wire-a", "paper-b", "wire-u")} == {"wire-a"}
    assert groups.groups() == [["wire-a", "wire-u", "paper-b"]] and len(groups) == 1
    assert groups.also_carried_by("wire-a") == ["paper"]  # the other outlets, not its own


def test_two_stories_on_one_event_are_two_groups():
    grams = shingles(WIRE) & shingles(OTHER_STORY)
    assert similarity(signature(WIRE), signature(OTHER_STORY)) < THRESHOLD, grams
    groups = groups_of({"wire-a": (WIRE, "2019-06-02"), "paper-b": (OTHER_STORY, "2019-06-03"), "un-c": (CONVOY, "")})
    assert groups.groups() == [] and len(groups) == 3
    assert groups.of("paper-b") == "paper-b" and groups.members("un-c") == ["un-c"]
    assert groups.of("not-stored") == "not-stored" and groups.also_carried_by("wire-a") == []


def test_a_report_shorter_than_a_shingle_is_still_signed():
    assert shingles("Two dead.") == {"two dead"} and len(shingles(WIRE)) == len(re.findall(r"\w+", WIRE)) - SHINGLE_WORDS + 1
    assert groups_of({"a-1": ("Two dead.", ""), "b-2": ("two DEAD", "")}).groups() == [["a-1", "b-2"]]


@pytest.mark.slow
def test_delete_and_replace_keep_groups_right(make_assistant, tmp_path):
    folder = tmp_path / "reports"
    folder.mkdir()
    report(folder / "a.md", WIRE, "Wire A", "Shelling kills 12 in Saraqib")
    report(folder / "b.md", "BEIRUT (Paper B).\n\n" + WIRE, "Paper B", "Twelve killed in Saraqib market", doc_id="paper-b")
    report(folder / "c.md", UPDATE, "Wire A", "Toll rises to 15 in Saraqib", "2019-06-03")
    assistant = make_assistant()
    assistant.ingest([folder])
    docs = {d.title: d for d in assistant.documents()}
    first = docs["Shelling kills 12 in Saraqib"].doc_id
    assert {(d.group, d.group_size) for d in docs.values()} == {(first, 3)}
    assert assistant.groups().members("paper-b")[0] == first

    # Paper B's report replaced by another story (its declared id stays): it leaves the group.
    report(folder / "b.md", OTHER_STORY, "Paper B", "Saraqib buries its dead", doc_id="paper-b")
    assert assistant.ingest([folder]).replaced == ["paper-b"]
    assert assistant.groups().of("paper-b") == "paper-b"
    assert sorted(d.group_size for d in assistant.documents()) == [1, 2, 2]

    # The group's first report deleted: the update is a report alone, and names itself.
    assistant.delete(first)
    (update,) = [d for d in assistant.documents() if d.title.startswith("Toll")]
    assert (update.group, update.group_size) == (update.doc_id, 1) and assistant.groups().groups() == []


@pytest.mark.slow
def test_questions_at_once_on_a_fresh_process_build_the_groups_once(make_assistant, tmp_path, monkeypatch):
    import threading
    import time

    report(tmp_path / "a.md", WIRE, "Wire A", "Shelling kills 12 in Saraqib")
    report(tmp_path / "b.md", UPDATE, "Paper B", "Toll rises to 15")
    make_assistant().ingest([tmp_path])
    store = make_assistant().store  # another process's view: nothing built yet
    view = store._groups
    built, real = [], view.rebuild

    def slow_build():
        built.append(threading.get_ident())
        time.sleep(0.3)  # long enough for every thread to arrive while it runs
        return real()

    monkeypatch.setattr(view, "rebuild", slow_build)
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(store.groups())) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(built) == 1 and len(seen) == 6 and all(g is seen[0] for g in seen)
    assert [len(g) for g in seen[0].groups()] == [2]


def test_an_index_of_schema_4_gets_signatures_in_place(make_assistant, tmp_path):
    report(tmp_path / "a.md", WIRE, "Wire A", "Shelling kills 12 in Saraqib")
    report(tmp_path / "b.md", UPDATE, "Paper B", "Toll rises to 15")
    assistant = make_assistant()
    assistant.ingest([tmp_path / "a.md", tmp_path / "b.md"])
    store = assistant.store
    docs = store.collection("docs")
    ids = docs.get(include=[])["ids"]
    # What schema 4 stored: document records without a signature.
    docs.update(ids=ids, metadatas=[{"minhash": None}] * len(ids))
    assert all("minhash" not in m for m in docs.get(include=["metadatas"])["metadatas"])
    state = store.log.state()
    store.collection("state").upsert(ids=["state"], embeddings=[[1.0]], metadatas=[{**state, "schema": 4}])

    reopened = make_assistant()
    assert [len(g) for g in reopened.groups().groups()] == [2]
    metas = reopened.store.collection("docs").get(include=["metadatas"])["metadatas"]
    assert all(m["minhash"] for m in metas) and reopened.store.log.state()["schema"] == SCHEMA_VERSION
    assert all("minhash" not in d.to_dict() for d in reopened.documents())


@pytest.mark.slow
def test_a_story_carried_by_two_outlets_is_cited_once_with_who_else_carried_it(make_assistant, tmp_path):
    # The same sentence in two reports of other stories is two sources saying it (both cited);
    # in two copies of one wire story it is one source, carried twice.
    report(tmp_path / "a.md", WIRE, "Wire A", "Shelling kills 12 in Saraqib")
    report(tmp_path / "b.md", "BEIRUT (Paper B).\n\n" + WIRE, "Paper B", "Twelve killed in Saraqib market")
    report(tmp_path / "c.md", CONVOY, "UN News", "Aid convoy")
    assistant = make_assistant()
    assistant.ingest([tmp_path])
    answer = assistant.ask("How many civilians were killed by shelling in Saraqib?")
    assert "12 civilians" in answer.text and len(answer.citations) == 1, answer.text
    (cited,) = answer.citations
    other = "Paper B" if cited.source == "Wire A" else "Wire A"
    assert cited.also_carried_by == [other]
    assert list(cited.to_dict())[-1] == "also_carried_by"

    from qa.cli import format_answer

    assert f"also carried by: {other}" in format_answer(answer)

    index = tmp_path / "index"
    env = {**os.environ, "QA_INDEX_DIR": str(index), "PYTHONPATH": str(REPO)}
    listed = subprocess.run([*QA, "docs"], capture_output=True, text=True, env=env, timeout=300)
    assert listed.returncode == 0, listed.stderr
    grouped = [line for line in listed.stdout.splitlines() if "[one story in 2 reports: group " in line]
    assert len(grouped) == 2 and "Aid convoy" not in " ".join(grouped)
    rows = json.loads(subprocess.run([*QA, "docs", "--json"], capture_output=True, text=True, env=env, timeout=300).stdout)
    by_title = {r["title"]: r for r in rows}
    assert by_title["Twelve killed in Saraqib market"]["group"] == by_title["Shelling kills 12 in Saraqib"]["group"]
    assert (by_title["Aid convoy"]["group_size"], list(by_title["Aid convoy"])[-2:]) == (1, ["group", "group_size"])
    assert not any("minhash" in r for r in rows)


@pytest.mark.slow
def test_fa_kes_has_the_groups_docs_groups_md_reports():
    """The groups of FA-KES (computed from the collection with `signature`, as eval/groups_fakes.py
    does) are as many as docs/groups.md says."""
    if not FAKES.exists():
        pytest.skip(f"{FAKES} is not here (shared test data)")
    sys.path.insert(0, str(REPO / "eval"))
    try:
        from groups_fakes import load
    finally:
        sys.path.remove(str(REPO / "eval"))
    written = (REPO / "docs" / "groups.md").read_text()
    said = re.search(r"(\d+) groups of 2 or more reports, holding (\d+) reports", written)
    assert said, "docs/groups.md no longer states the group count"
    docs = load(FAKES)
    groups = Groups({i: (signature(d.text), {"date": d.date}) for i, d in docs.items()})
    found = groups.groups()
    assert (len(found), sum(len(g) for g in found)) == (int(said[1]), int(said[2]))
