"""Near misses on real reports: 20 FA-KES articles, one answerable question and one near miss each.

The 20 reports (UNIT_IDS, in order) are written from the FA-KES CSV to a temporary CSV with the
original header and ingested into a fresh temporary index, like any collection (`qa ingest`).
`eval/fakes_nearmiss.jsonl` asks, for each, a question the report answers and one about the
same event that asks for a detail it does not give (the injured when only the dead are counted,
the group when no one claimed the attack, ...); questions name their report by `title`.
`qa.evaluation` scores the run like any gold set, so answer accuracy and abstention precision /
recall come out side by side. Written without looking at the answerer and not tuned on.

The reports were chosen by a fixed rule, not by hand: for each (source, year of the `date`
column) slot below, the first row by unit_id whose title is unique in FA-KES, whose text has
150-700 words, contains " killed" and no U+FFFD (mis-decoded character) in text or title.
Slots: alalam 2011, alalam 2012, reuters 2013, arabiya 2013, manar 2013, ahram 2014, reuters
2014, etilaf 2014, dailysabah 2015, manar 2015, jordantimes 2015, sana 2016, trt 2016, alaraby
2016, tass 2016, asharqalawsat 2016, sputnik 2017, ahram 2017, nna 2017, dailysabah 2017
(15 outlets; the one 2018 row has 141 words). The `date` column is not always the report's own
dateline (the alalam "2011" and "2012" reports are dated 2013 in their text); questions use
the text.

A gold set whose questions carry `unit_id` is run on exactly the rows they name (in order of first
appearance) instead: `eval/fakes_heldout.jsonl` (g01 ... g20, held out: not for tuning) takes, by the
same test, the second qualifying row of each slot above (nna 2017 has one, so nna's 2016 row).

    python eval/fakes_check.py [--data ../shared/data/fa-kes.csv] [--gold eval/fakes_nearmiss.jsonl] [--mode hybrid] [--show] [--json]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
from pathlib import Path

from qa import Assistant
from qa.evaluation import SYSTEMS, check_gold, evaluate, format_table, load_gold

# The chosen reports, in the order of the questions (f01 ... f20).
UNIT_IDS = (
    "1962495633",  # alalam, 2/2/2011: Car bomb kills four in Damascus
    "1962495635",  # alalam, 3/15/2012: Extremism takes hundreds of lives in Latakia
    "1926479037",  # reuters, 8/17/2013: Saudi Arabia calls for emergency U.N. Council meeting on Syria
    "1926479179",  # arabiya, 8/24/2013: French FM: all indications Syria behind chemical attack
    "1965511105",  # manar, 9/16/2013: Extremists in Syria Admit Killing 30 Alawites
    "1923848213",  # ahram, 10/3/2014: Syria regime raids kill 10 in camp for displaced NGO
    "1926479025",  # reuters, 12/16/2014: Death toll in Syrian bombing raid on Aleppo rises to 76: monitor.
    "1926479076",  # etilaf, 11/26/2014: Assads Air Force Kills 65 Civilians in Raqqa
    "1918398776",  # dailysabah, 2/18/2015: Syrian army advances near Aleppo
    "1965511153",  # manar, 2/5/2015: Jaysh al-Islam Fires Rocket Shells at Damascus Kills 3 Wounds 20
    "1924058050",  # jordantimes, 7/15/2015: 13 civilians killed in regime air raids on northern Syria
    "1926478955",  # sana, 10/23/2016: Terrorist attacks kill a woman injure 9 in Hasaka and Aleppo
    "1919191742",  # trt, 7/27/2016: Fatalities expected to increase in suicide blast in Syria
    "1915433695",  # alaraby, 7/2/2016: Syrian regime revenge attack kills scores in Qalamoun
    "1924058217",  # tass, 8/15/2016: Jabhat al-Nusra terrorists execute 40 gunmen their families ...
    "1918150034",  # asharqalawsat, 7/12/2016: Syrian Opposition Sparks Aleppo Front to Relieve North Fractions
    "1965495341",  # sputnik, 10/3/2017: Russian Jets Destroy Daesh Training Center Take Out Seven Commanders in Syria
    "1923848121",  # ahram, 4/27/2017: 10 dead after strikes on rebel-held hospitals in Syria
    "1914947533",  # nna, 4/16/2017: Death toll from Aleppo bomb attack at least 112
    "1924058141",  # dailysabah, 4/10/2017: Opposition forces claim fighter killed others injured by Russian airstrikes ...
)
FIGURES = ("answer_accuracy", "citation_accuracy", "abstention_recall", "abstention_precision", "exact_match", "f1")


def named_units(gold: Path) -> tuple[str, ...]:
    """The unit_ids the gold set's questions name, in order of first appearance (none: empty)."""
    lines = gold.read_text(encoding="utf-8").splitlines()
    units = (str(json.loads(line).get("unit_id") or "") for line in lines if line.strip())
    return tuple(dict.fromkeys(u for u in units if u))


def write_rows(data: Path, target: Path, unit_ids: tuple[str, ...] = UNIT_IDS) -> None:
    """The unit_ids rows of the FA-KES CSV, in order, as a CSV with the original header."""
    with data.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        header = list(reader.fieldnames or [])
        rows = {row["unit_id"]: row for row in reader if row.get("unit_id") in unit_ids}
    missing = [u for u in unit_ids if u not in rows]
    if missing:
        sys.exit(f"{data}: no row with unit_id {', '.join(missing)} (not the FA-KES file this set was written on?)")
    with target.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)  # CRLF line ends, like the original
        writer.writeheader()
        writer.writerows(rows[u] for u in unit_ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[2] / "shared/data/fa-kes.csv"
    parser.add_argument("--data", type=Path, default=default)
    parser.add_argument("--gold", type=Path, default=Path(__file__).resolve().parent / "fakes_nearmiss.jsonl")
    parser.add_argument("--mode", default="hybrid", choices=SYSTEMS)
    parser.add_argument("--show", action="store_true", help="also print each question with the answer given")
    parser.add_argument("--json", action="store_true", help="print the figures (and with --show the answers) as JSON")
    args = parser.parse_args()
    if not args.data.is_file():
        sys.exit(f"{args.data}: FA-KES not found (it sits in ../shared/data beside the checkout; or give --data)")

    questions = load_gold(args.gold)
    units = named_units(args.gold) or UNIT_IDS
    with tempfile.TemporaryDirectory() as tmp:
        rows = Path(tmp) / "fa-kes-20.csv"
        write_rows(args.data, rows, units)
        # A fresh index is a private folder even when QA_CHROMA_URL names a shared server.
        assistant = Assistant(index_dir=Path(tmp) / "index", auto_ingest_corpus=False, chroma_url=None)
        ingested = assistant.ingest([rows])
        for failure in ingested.failed:
            print(f"warning: not ingested: {failure.error}", file=sys.stderr)
        documents = [assistant.document(d.doc_id) for d in assistant.documents()]
        for problem in check_gold(questions, documents):
            print(f"warning: gold set: {problem}", file=sys.stderr)
        report = evaluate(assistant, questions, [args.mode], gold_name=f"{args.gold.name} (FA-KES, {len(units)} reports)")

    system = report.systems[0]
    figures = system.metrics
    answerable = [q for q in questions if q.answerable]
    near = [q for q in questions if not q.answerable]
    right = {q.id for q in questions} - set(system.failures)
    counts = {
        "answerable_correct": f"{sum(q.id in right for q in answerable)}/{len(answerable)}",
        "near_misses_abstained": f"{sum(q.id in right for q in near)}/{len(near)}",
    }
    shown = []
    if args.show:
        for q, o in zip(questions, system.outcomes):
            shown.append(
                {
                    "id": q.id,
                    "question": q.question,
                    "expected": q.answers or "(not in the report: abstain)",
                    "correct": q.id in right,
                    "abstained": o.abstained,
                    "answer": " ".join(o.answer.split()),
                    "short_answer": o.short_answer,
                }
            )
    if args.json:
        out = {"questions": report.questions, "unanswerable": report.unanswerable, "documents": report.documents,
               "mode": args.mode, **{k: figures[k] for k in FIGURES}, **counts}
        if args.show:
            out["answers"] = shown
        print(json.dumps(out, ensure_ascii=False))
        return
    for item in shown:
        mark = "ok  " if item["correct"] else "FAIL"
        expected = item["expected"] if isinstance(item["expected"], str) else " | ".join(item["expected"])
        given = "(abstained)" if item["abstained"] else item["answer"]
        print(f"{mark} {item['id']}: {item['question']}")
        print(f"       expected: {expected}")
        print(f"       given: {given}")
        if item["short_answer"] and not item["abstained"]:
            print(f"       short answer: {item['short_answer']}")
    print(format_table(report))
    print(f"answerable correct {counts['answerable_correct']}, near misses abstained {counts['near_misses_abstained']}")


if __name__ == "__main__":
    main()
