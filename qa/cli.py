"""The `qa` command: ingest reports, ask questions, list and delete documents.

Thin on purpose: it parses options, calls the Python API and turns QAError into one line on
stderr and a non-zero exit code. Longer than the house's ~400 lines for one reason: each
command's docstring is its `--help`, with examples, and they are most of the file.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import textwrap
import time
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from .config import MODES
from .errors import QAError
from .evaluation import SYSTEMS
from .text import per_second, quantity

EXIT_ERROR = 1  # a QAError: the user's input or the environment, explained in one line

# Control characters, line and paragraph separators, and bidi embeddings/overrides/isolates:
# in a file name or a report they could split an error line or rewrite the terminal.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """Text safe to print as one terminal line: control characters shown escaped (a newline in
    a file name as \\n), never acted on."""
    return _UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(text))


def _index_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--index",
        "index_dir",
        type=click.Path(file_okay=False),
        envvar="QA_INDEX_DIR",
        default=None,
        help="Index folder (default .qa-index, or $QA_INDEX_DIR).",
    )(func)


def _clean_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Print a QAError as one line on stderr and exit non-zero, never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except QAError as exc:
            click.echo(f"error: {printable(exc)}", err=True)
            sys.exit(EXIT_ERROR)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)

    return wrapper


def _assistant(index_dir: str | None, **settings: Any) -> Any:
    from .assistant import Assistant

    if index_dir:
        settings["index_dir"] = index_dir
    return Assistant(**settings)  # a bad setting is a ConfigError, printed as one line


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="Log more (-v info, -vv debug).")
@click.version_option(package_name="qa")
def main(verbose: int) -> None:
    """Ask questions about conflict reports; get short answers that cite their sources.

    \b
    Examples:
      qa ingest corpus/ ~/reports/
      qa ask "How many civilians were killed in Maaret al Numan?"
      qa ask --json --mode bm25 "Who reported the strikes?"
      qa docs
      qa delete 3f2a9c0d1e2b4a5c

    Settings can also be given as QA_* environment variables (QA_INDEX_DIR, QA_TOP_K, ...).
    """
    level = {0: logging.ERROR, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def _column_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for field, example in reversed(
        [("text", "article_content"), ("title", "headline"), ("outlet", "source"), ("date", "published"),
         ("place", "location"), ("url", "link"), ("id", "unit_id")]
    ):
        func = click.option(
            f"--{field}-column",
            default=None,
            metavar="NAME",
            help=f"Collections: the column holding the {field} (e.g. {example}).",
        )(func)
    return func


class _PathsCommand(click.Command):
    """A command of paths: a file whose name starts with '-' that is taken for an option gets a hint."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        given = list(args)  # the parser consumes the list it is handed
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption as exc:
            named = next((a for a in given if a.startswith("-") and Path(a).exists()), None)
            if named is not None:
                exc.message += f" To ingest the file {named!r}, write: qa {ctx.info_name} -- {named} (or ./{named})."
            raise


@main.command(cls=_PathsCommand)
@click.argument("paths", nargs=-1, required=True)
@_index_option
@click.option("--json", "as_json", is_flag=True, help="Print the ingest report as JSON.")
@click.option(
    "--prune", is_flag=True, help="Remove the reports these files, folders and collections no longer hold (kept otherwise)."
)
@_column_options
@_clean_errors
def ingest(
    paths: tuple[str, ...], index_dir: str | None, as_json: bool, prune: bool, **column_options: str | None
) -> None:
    """Ingest report files (.txt, .md, .html), folders of them, and collections (.csv, .jsonl).

    A collection holds one report per row; its text, title, outlet, date, place, url and id
    columns are found by common names (text/content/body/article_content, title/headline,
    outlet/source, date/published, place/location, url/link, id) or named with the --*-column
    options.

    A report is its content: one already stored is unchanged wherever it is now (a file moved
    or copied, a row moved), and nothing is ever removed unless you ask: a report that these
    files, folders and collections no longer hold (a file edited or deleted, a row removed) is
    listed and kept, and --prune removes it. A file or row that cannot be read is reported on a
    line of its own (rows by number) while the others still land (exit code 1 if any failed).
    In a folder, files of other types, hidden files and README/LICENSE are skipped without a
    word, and links to folders are not followed; a file named directly must be of a supported
    type. Sizes are bounded by settings: a file (QA_MAX_FILE_BYTES, 25 MB) is refused unread, a
    collection is read as a stream, one report's text is at most QA_MAX_REPORT_CHARS (1,000,000).

    \b
    Examples:
      qa ingest corpus/
      qa ingest report.md notes/ --index /data/qa-index
      qa ingest --prune notes/          (also remove what notes/ no longer holds)
      qa ingest fa-kes.csv --text-column article_content --place-column location
      qa ingest -- -report.txt        (a name starting with '-')
    """
    fields = {"text": "text", "title": "title", "outlet": "source", "date": "date", "place": "place", "url": "url", "id": "doc_id"}
    columns = {fields[k.removesuffix("_column")]: v for k, v in column_options.items() if v}
    assistant = _assistant(index_dir, auto_ingest_corpus=False)
    bar = _ProgressBar() if sys.stderr.isatty() and not as_json else None
    try:
        report = assistant.ingest(list(paths), progress=bar, columns=columns or None, prune=prune)
    finally:
        if bar:
            bar.close()
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(report.summary())
        for doc_id in report.missing[:20]:
            gone = assistant.document(doc_id)
            click.echo(printable(f"  no longer in the input, kept: {doc_id}  {gone.title[:70]}  (last seen at {gone.path})"))
        if len(report.missing) > 20:
            click.echo(f"  ... and {len(report.missing) - 20} more (qa ingest --json lists them all)")
    for failure in report.failed:
        click.echo(f"error: {printable(failure.error)}", err=True)
    if report.failed:
        sys.exit(EXIT_ERROR)


def _filter_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--source/--place (repeatable: either value), --from/--to and --undated, as the API's filter keywords."""
    options = [
        click.option("--source", "--outlet", "source", multiple=True, help="Only reports from this outlet (repeat for either of several)."),
        click.option("--place", multiple=True, help="Only reports whose place names this (e.g. Idlib; repeat for either)."),
        click.option("--from", "date_from", default=None, help="Only reports dated on or after this day (YYYY-MM-DD, YYYY-MM or YYYY)."),
        click.option("--to", "date_to", default=None, help="Only reports dated on or before this day (a month or year counts whole)."),
        click.option("--undated", is_flag=True, help="With --from/--to, keep reports without a date too."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _filters(
    source: tuple[str, ...], place: tuple[str, ...], date_from: str | None, date_to: str | None, undated: bool = False
) -> dict[str, Any]:
    return {"source": list(source), "place": list(place), "date_from": date_from, "date_to": date_to, "undated": undated}


@main.command()
@click.argument("question")
@_index_option
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON (question, answer, abstained, citations, timings_ms, figures).")
@click.option("--top-k", type=click.IntRange(1, 100), default=None, help="Passages to retrieve (default 5).")
@click.option("--mode", type=click.Choice(MODES), default=None, help="Retrieval mode (default hybrid).")
@click.option(
    "--by-source",
    "by_source",
    is_flag=True,
    help="Compare outlets: also answer from each outlet's reports alone, for the outlets retrieved.",
)
@_filter_options
@_clean_errors
def ask(
    question: str,
    index_dir: str | None,
    as_json: bool,
    top_k: int | None,
    mode: str | None,
    by_source: bool,
    **filters: Any,
) -> None:
    """Answer QUESTION from the ingested reports, with numbered citations.

    On an empty index the bundled corpus/ is ingested first. The filters keep the answer to
    some outlets, places or dates; they apply inside retrieval, so no passage comes from
    outside them.

    \b
    Examples:
      qa ask "How many civilians were killed on Wednesday?"
      qa ask --json --top-k 8 "Who carried out the strikes?"
      qa ask --source reuters --source sana --place Aleppo --from 2017-01 --to 2017-06 "Who was killed?"
      qa ask --by-source "How many were killed in the strike on the Saraqib market?"
    """
    answer = _assistant(index_dir).ask(question, top_k=top_k, mode=mode, by_source=by_source, **_filters(**filters))
    if as_json:
        click.echo(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(format_answer(answer))
        if answer.by_source is not None:
            click.echo(format_by_source(answer.by_source))


@main.command()
@_index_option
@click.option(
    "--place", multiple=True, help="Reports whose place names this, and claims or events in it (repeat for either)."
)
@click.option(
    "--source", "--outlet", "source", multiple=True, help="Only reports from this outlet (repeat for either of several)."
)
@click.option(
    "--from", "date_from", default=None, help="Only entries placed on or after this day (YYYY-MM-DD, YYYY-MM or YYYY)."
)
@click.option("--to", "date_to", default=None, help="Only entries placed on or before this day (a month or year counts whole).")
@click.option("--limit", type=click.IntRange(1), default=None, help="Most entries shown (default 500; all are counted).")
@click.option("--json", "as_json", is_flag=True, help="Print the timeline as JSON (filters, counts, entries).")
@_clean_errors
def timeline(
    index_dir: str | None,
    place: tuple[str, ...],
    source: tuple[str, ...],
    date_from: str | None,
    date_to: str | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """The figures and events the reports state, by the day they happened.

    Each line is a day, what happened (a figure and what it counts, or an event's verb), where,
    the outlet, the sentence cut to a line and its citation [doc id:start-end]. An entry whose
    sentence dates it to no day is placed on its report's date, marked "(report date)".

    \b
    Examples:
      qa timeline --place aleppo
      qa timeline --place idlib --from 2017-04 --to 2017-04 --source reuters
      qa timeline --place aleppo --limit 50 --json
    """
    line = _assistant(index_dir).timeline(
        place=list(place), date_from=date_from, date_to=date_to, source=list(source), limit=limit
    )
    if as_json:
        click.echo(json.dumps(line.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(format_timeline(line))


@main.command()
@_index_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of documents.")
@_clean_errors
def docs(index_dir: str | None, as_json: bool) -> None:
    """List the ingested documents: id, title, outlet, date, chunk count, and the group of
    near-duplicates each is in (the same story carried by several outlets, or re-filed), named by
    its earliest report."""
    documents = _assistant(index_dir).documents()
    if as_json:
        keys = ("doc_id", "title", "source", "date", "place", "url", "path", "locations", "chunks", "group", "group_size")
        rows = [
            {k: d.info()[k] for k in keys}
            for d in documents
        ]
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not documents:
        click.echo("no documents; add some with: qa ingest PATH")
        return
    for d in documents:
        outlet = ", ".join(x for x in (d.source, d.date, d.place) if x)
        gone = "  (no longer in its input: qa ingest --prune removes it)" if not d.locations else ""
        group = f"  [one story in {d.group_size} reports: group {d.group}]" if d.group_size > 1 else ""
        click.echo(
            printable(f"{d.doc_id}  {d.title[:70]}{f' ({outlet})' if outlet else ''}  [{quantity(d.chunks, 'chunk')}]{group}{gone}")
        )


@main.command()
@click.argument("doc_id")
@_index_option
@_clean_errors
def delete(doc_id: str, index_dir: str | None) -> None:
    """Delete the document DOC_ID (see `qa docs`) with its chunks and vectors."""
    _assistant(index_dir, auto_ingest_corpus=False).delete(doc_id)
    click.echo(f"deleted {doc_id}")


@main.command()
@_index_option
@click.option("--top-k", type=click.IntRange(1, 100), default=None, help="Passages to retrieve (default 5).")
@click.option("--mode", type=click.Choice(MODES), default=None, help="Retrieval mode.")
@_filter_options
@_clean_errors
def chat(index_dir: str | None, top_k: int | None, mode: str | None, **filters: Any) -> None:
    """Ask questions one after another in the terminal (empty line or Ctrl-D to quit); the filters hold for every question."""
    assistant = _assistant(index_dir)
    click.echo("Loading the model and the index...", err=True)
    assistant.warm_up()
    count = len(assistant.documents())
    click.echo(f"Ready: {count} report(s). Ask a question; an empty line quits.", err=True)
    asked: list[str] = []  # follow-ups ("And how many were injured?") are read against these
    while True:
        try:
            question = input("\n? ")
        except EOFError:
            break
        if not question.strip():
            break
        try:
            click.echo(format_answer(assistant.ask(question, top_k=top_k, mode=mode, history=asked, **_filters(**filters))))
            asked.append(question)
        except QAError as exc:
            click.echo(f"error: {printable(exc)}", err=True)


@main.command("eval")
@click.argument("gold", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--index",
    "index_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Evaluate this existing index (default: a fresh temporary one; QA_INDEX_DIR is not read here).",
)
@click.option(
    "--corpus",
    multiple=True,
    type=click.Path(exists=True),
    help="Reports for the fresh index (repeatable; default: the bundled corpus/). Ignored with --index.",
)
@click.option("--mode", type=click.Choice(SYSTEMS), default=None, help="One system (default hybrid).")
@click.option("--compare", is_flag=True, help="hybrid, dense, bm25 and the plain LlamaIndex baseline, side by side.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON instead of a table.")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Write report.json and report.md (every failed question) here.")
@click.option("--squad", type=click.Path(dir_okay=False), default=None, help="Evaluate a SQuAD v1.1 file instead (each article a document).")
@click.option("--limit", type=click.IntRange(1), default=None, help="With --squad: a deterministic sample of N questions.")
@click.option("--seed", type=int, default=0, show_default=True, help="With --limit: the sample's shuffle seed.")
@_clean_errors
def eval_command(
    gold: str | None,
    index_dir: str | None,
    corpus: tuple[str, ...],
    mode: str | None,
    compare: bool,
    as_json: bool,
    out: str | None,
    squad: str | None,
    limit: int | None,
    seed: int,
) -> None:
    """Measure retrieval, answers, citations, abstention and latency on a gold question set.

    GOLD is a JSON Lines file (default eval/gold.jsonl); each line has id, question, answers
    (empty: unanswerable), evidence (an exact substring of a report) and doc_id or title.
    Without --index the questions run against a fresh index of --corpus (or the bundled
    corpus/), so two runs give the same figures (latencies aside).

    \b
    Examples:
      qa eval --compare
      qa eval my-gold.jsonl --index /data/qa-index --json
      qa eval --squad ../shared/data/squad-dev-v1.1-subset.json --limit 300 --out eval/squad
    """
    import shutil
    import tempfile

    from .evaluation import BUNDLED_GOLD, SYSTEMS, check_gold, evaluate, format_table, load_gold, load_squad, write_report

    if squad and gold:
        raise QAError("give a gold set or --squad FILE, not both")
    if limit and not squad:
        raise QAError("--limit samples SQuAD questions; use it with --squad")
    if squad and index_dir:
        raise QAError("--squad builds its own fresh index; it never writes SQuAD articles into --index")
    fresh = None if index_dir else tempfile.mkdtemp(prefix="qa-eval-")
    try:
        # A fresh index is a private folder even when QA_CHROMA_URL names a shared server.
        assistant = _assistant(index_dir or fresh, auto_ingest_corpus=False, **({"chroma_url": None} if fresh else {}))
        if squad:
            documents, questions = load_squad(squad, limit=limit, seed=seed)
            name = Path(squad).name
            assistant.add_documents(documents)
        else:
            questions = load_gold(gold or BUNDLED_GOLD)
            name = Path(gold or BUNDLED_GOLD).name
            if fresh:
                report = assistant.ingest(list(corpus) or [assistant.settings.index.corpus_dir])
                for failure in report.failed:
                    click.echo(f"warning: not ingested: {failure.error}", err=True)
            documents = [assistant.document(d.doc_id) for d in assistant.documents()]
        problems = check_gold(questions, documents)
        for problem in problems[:10]:
            click.echo(f"warning: gold set: {problem}", err=True)
        if len(problems) > 10:
            click.echo(f"warning: gold set: {len(problems) - 10} more problems", err=True)
        systems = list(SYSTEMS) if compare else [mode or assistant.settings.retrieval.mode]
        say = (lambda system: click.echo(f"evaluating {system}...", err=True)) if sys.stderr.isatty() else None
        result = evaluate(assistant, questions, systems, gold_name=name, progress=say)
    finally:
        if fresh:
            shutil.rmtree(fresh, ignore_errors=True)
    if as_json:
        data = result.to_dict()
        keys = ("gold", "questions", "unanswerable", "documents", "settings", "metrics")
        click.echo(json.dumps({k: data[k] for k in keys}, indent=2))
    else:
        click.echo(format_table(result))
    if out:
        json_path, md_path = write_report(result, questions, out)
        click.echo(f"wrote {json_path} and {md_path}", err=True)


@main.command()
@_index_option
@click.option("--host", default=None, help="Address to bind (default 127.0.0.1, or $QA_HOST; 0.0.0.0 opens it to the network).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (default 7860, or $QA_PORT).")
@_clean_errors
def serve(index_dir: str | None, host: str | None, port: int | None) -> None:
    """Start the web app: chat with cited answers, source viewer, upload and delete reports.

    It binds 127.0.0.1 unless --host says otherwise. QA_AUTH turns on a login: user:password
    pairs separated by commas, or the path of a file with one user:password per line.
    QA_CONCURRENCY_LIMIT questions are answered at once; QA_QUEUE_MAX_SIZE more may wait.

    \b
    Examples:
      qa serve
      qa serve --port 8080 --index /data/qa-index
      QA_AUTH=/etc/qa/logins qa serve --host 0.0.0.0
    """
    app = _load_app()
    assistant = _assistant(index_dir)
    host, port = host or assistant.settings.app.host, port or assistant.settings.app.port
    # Before anything loads or is printed, so a taken port or a malformed QA_AUTH fails at once.
    _check_port_free(host, port)
    app.parse_auth(assistant.settings.app.auth)
    login = " (login required)" if assistant.settings.app.auth else ""
    click.echo(f"Loading the model and the index, then serving on http://{host}:{port}{login}", err=True)
    try:
        app.serve(assistant, host=host, port=port, warn=lambda warning: click.echo(f"warning: {warning}", err=True))
    except OSError as exc:
        raise QAError(f"cannot serve on {host}:{port}: {exc}") from exc


def _load_app() -> Any:
    """The web app module, app.py, installed beside the qa package (never another app.py on sys.path)."""
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "app.py"
    spec = importlib.util.spec_from_file_location("app", path)
    if spec is None or spec.loader is None or not path.is_file():
        raise QAError(f"the web app is missing: no {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("app", module)
    try:
        spec.loader.exec_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] == "gradio":
            raise QAError(f"the web app needs the UI extra ({exc.name} is missing): pip install -e '.[ui]'") from exc
        raise
    return module


def _check_port_free(host: str, port: int) -> None:
    import socket

    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.bind((host, port))
    except OSError as exc:
        raise QAError(
            f"cannot serve on {host}:{port}: {exc.strerror or exc} (choose another with --port or QA_PORT)"
        ) from exc


class _ProgressBar:
    """A terminal progress bar fed by the API's progress callback: counts and reports per second."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._started = time.monotonic()

    def __call__(self, done: int, total: int, path: str) -> None:
        if self._bar is None:
            self._bar = click.progressbar(
                length=total,
                label="Ingesting",
                file=sys.stderr,
                show_pos=True,
                item_show_func=lambda rate: rate,
            )
            self._bar.__enter__()
        rate = per_second(done, self._started)
        self._bar.length = max(self._bar.length, total)
        self._bar.update(1, f"{rate} reports/s")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)


def format_answer(answer: Any) -> str:
    """An answer and its numbered sources, as the terminal shows them."""
    lines = [textwrap.fill(printable(" ".join(answer.text.split())), width=100)]
    if answer.figures:
        verdict = "all agree" if answer.figures_agree else "they differ"
        lines.append(f"Figures from {len(answer.figures)} reports ({verdict}):")
        for f in answer.figures:
            claim = f.claim
            row = " | ".join(
                x or "-"
                for x in (claim.describe(), claim.place, claim.event_date, claim.attributed_to, ", ".join(y for y in (f.source, f.date) if y))
            )
            also = f" (also carried by: {', '.join(f.also_carried_by)})" if f.also_carried_by else ""
            lines.append(textwrap.fill(printable(f"  [{f.n}] {row}{also}"), width=100, subsequent_indent="      "))
    for c in answer.citations:
        where = ", ".join(x for x in (c.source, c.date) if x)
        said = "; ".join(x for x in (c.attribution, f"event {c.event_date}" if c.event_date else "") if x)
        head = f"[{c.n}] {c.title}{f' ({where})' if where else ''}{f' [{said}]' if said else ''}: "
        quote = " ".join(c.text.split())
        lines.append(textwrap.fill(printable(f'{head}"{quote}"'), width=100, subsequent_indent="    "))
        if c.also_carried_by:
            lines.append(textwrap.fill(printable("also carried by: " + ", ".join(c.also_carried_by)), width=100,
                                       initial_indent="    ", subsequent_indent="    "))
    return "\n".join(lines)


def format_by_source(answers: list[Any]) -> str:
    """The question answered per outlet, as the terminal shows it: one block per outlet under its name."""
    if not answers:
        return "\nBy outlet: no retrieved report names its outlet."
    blocks = [f"\n== {printable(a.outlet)} ==\n{format_answer(a)}" for a in answers]
    return "\n".join(blocks)


def format_timeline(line: Any) -> str:
    """A timeline as the terminal shows it: a count, then one line per entry."""
    about = f" ({line.filters.describe()})" if line.filters else ""
    shown = f", the first {len(line.entries):,} shown (--limit)" if line.truncated else ""
    head = (
        f"{line.total:,} {'entry' if line.total == 1 else 'entries'} from {quantity(line.reports, 'report')}{about}: "
        f"{quantity(line.claims, 'figure')}, {quantity(line.events, 'event')}{shown}"
    )
    if line.carried_again:
        copies = f"{line.carried_again:,} {'copy' if line.carried_again == 1 else 'copies'}"
        head += f" ({copies} of a story's entries under other outlets not repeated)"
    if not line.entries:
        return head
    lines = [printable(head)]
    for e in line.entries:
        item = e.item
        marked = " (report date)" if e.placed_by == "report" else ""
        where = f" in {item.place}" if item.place else ""
        also = f" (also carried by: {', '.join(e.also_carried_by)})" if e.also_carried_by else ""
        said = f"{e.day}{marked}  {e.describe()}{where}  {e.source or e.title or item.doc_id}{also}"
        quote = " ".join(item.text.split())
        quote = quote if len(quote) <= 90 else quote[:89] + "…"
        lines.append(printable(f'{said}  "{quote}" [{item.doc_id}:{item.start}-{item.end}]'))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
