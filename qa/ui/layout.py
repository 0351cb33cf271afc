"""The page: create_app(assistant) -> gr.Blocks, its components and which handler each event runs."""

from collections.abc import Iterator
from typing import Any

import gradio as gr

from qa import Assistant
from qa.config import BUNDLED_CORPUS_DIR, MODES
from qa.documents import SUPPORTED_SUFFIXES
from qa.examples import example_questions
from qa.ui.assets import COMPARE_JS, EXAMPLES_JS, SOURCES_JS, TIMELINE_JS, VIEWER_JS
from qa.ui.handlers import (
    ask_json,
    delete_document,
    deletion_question,
    documents_outputs,
    earlier_sources,
    ingest_uploads,
    open_source,
    respond,
    shown_in_place,
    timeline_choices,
    timeline_outputs,
)
from qa.ui.rendering import (
    empty_document_html,
    examples_html,
    file_size,
    sources_html,
    timeline_html,
    timeline_summary,
)
from qa.ui.uploads import UPLOAD_MAX_AGE_S

UPLOAD_TYPES = list(SUPPORTED_SUFFIXES)
TABLE_HEADERS = ["Title", "Outlet", "Date", "Place", "Chunks", "ID", "Same story in"]
# The chat and the /ask endpoint share one concurrency group, so `concurrency_limit` bounds both
# together; uploads and deletions have their own group of one (an ingest holds the index anyway).
QUESTIONS = "questions"
DOCUMENT_CHANGES = "document-changes"


def create_app(assistant: Assistant) -> gr.Blocks:
    """Build the UI around an Assistant (nothing is loaded until the page or a question asks)."""
    settings = assistant.settings
    # Files uploaded but never handed to a handler (a direct POST to the upload route, a type the
    # page refuses) are deleted by Gradio after UPLOAD_MAX_AGE_S, checked every minute.
    with gr.Blocks(title="Conflict reports Q&A", analytics_enabled=False, delete_cache=(60, UPLOAD_MAX_AGE_S)) as demo:
        gr.Markdown(
            "# Conflict reports Q&A\nAsk about the ingested reports. Answers quote the reports and cite them; "
            "when the reports don't say, the answer says so."
        )
        with gr.Tab("Ask"):
            with gr.Row():
                with gr.Column(scale=3):
                    chat = gr.Chatbot(
                        label="Chat",
                        show_label=False,
                        buttons=["copy", "copy_all"],
                        height=460,
                        latex_delimiters=[],
                        sanitize_html=True,
                        elem_id="qa-chat",
                    )
                    question = gr.Textbox(
                        label="Question",
                        placeholder="e.g. How many civilians were killed?",
                        max_length=settings.limits.max_question_chars,
                        submit_btn="Ask",
                        elem_id="qa-question",
                    )
                    ask_notice = gr.HTML("", elem_id="qa-ask-notice")
                    by_source = gr.Checkbox(
                        label="Compare outlets",
                        info="also answer from each outlet's reports alone, side by side",
                        value=False,
                        elem_id="qa-compare-toggle",
                    )
                    # The last question answered per outlet, under the chat (empty with the box off).
                    comparison = gr.HTML("", js_on_load=COMPARE_JS, elem_id="qa-compare")
                    # Questions about the reports loaded, in full (Gradio's examples cut them at 60
                    # characters); a click puts one in the box.
                    examples = gr.HTML(examples_html([]), js_on_load=EXAMPLES_JS, elem_id="qa-examples")
                    with gr.Accordion("Filters", open=False):
                        # Outlets and places as the index has them, each with its number of reports.
                        with gr.Row():
                            outlets = gr.Dropdown(
                                choices=[],
                                multiselect=True,
                                label="Outlets",
                                info="any of these",
                                elem_id="qa-filter-source",
                            )
                            place = gr.Dropdown(
                                choices=[],
                                multiselect=True,
                                label="Places",
                                info="any of these",
                                elem_id="qa-filter-place",
                            )
                        # (Text, not Gradio's date picker: that one takes only whole days, and text it
                        # cannot read it drops without a word, keeping the date before.)
                        with gr.Row():
                            date_from = gr.Textbox(
                                label="From",
                                info="a day, month or year",
                                placeholder="YYYY-MM-DD, YYYY-MM or YYYY",
                                elem_id="qa-filter-from",
                            )
                            date_to = gr.Textbox(
                                label="To",
                                info="a day, month or year",
                                placeholder="YYYY-MM-DD, YYYY-MM or YYYY",
                                elem_id="qa-filter-to",
                            )
                        undated = gr.Checkbox(
                            label="With dates set, also search reports that have no date",
                            value=False,
                            elem_id="qa-filter-undated",
                        )
                    with gr.Accordion("Retrieval settings", open=False):
                        mode = gr.Radio(MODES, value=settings.retrieval.mode, label="Mode", info="hybrid fuses dense and BM25")
                        top_k = gr.Slider(1, 20, value=settings.retrieval.top_k, step=1, label="Passages retrieved (top-k)")
                with gr.Column(scale=2):
                    sources = gr.HTML(sources_html(None), js_on_load=SOURCES_JS, elem_id="qa-sources")
                    viewer = gr.HTML(empty_document_html(), js_on_load=VIEWER_JS, elem_id="qa-document")
        with gr.Tab("Documents"):
            counts = gr.Markdown(elem_id="qa-document-counts")
            # Every column in view at 1280 px, titles wrapping (a phone scrolls it sideways); a header
            # click sorts, the box searches.
            table = gr.Dataframe(
                headers=TABLE_HEADERS,
                datatype="str",
                interactive=False,
                wrap=True,
                column_widths=["360px", "140px", "110px", "170px", "80px", "170px", "190px"],
                show_search="search",
                buttons=["copy"],
                max_height=520,
                label="Ingested reports",
                elem_id="qa-documents",
            )
            with gr.Row():
                upload = gr.File(
                    label=f"Add reports ({', '.join(UPLOAD_TYPES)}; up to {file_size(settings.limits.max_file_bytes)} each)",
                    file_count="multiple",
                    file_types=UPLOAD_TYPES,
                    elem_id="qa-upload",
                )
                with gr.Column():
                    to_delete = gr.Dropdown(label="Report to delete", choices=[], elem_id="qa-delete-choice")
                    delete = gr.Button("Delete report…", variant="secondary", elem_id="qa-delete")
                    # A deletion is confirmed, naming the report, before it is done.
                    with gr.Group(visible=False, elem_id="qa-delete-confirm") as confirm:
                        confirm_text = gr.Markdown(elem_id="qa-delete-question")
                        with gr.Row():
                            confirmed = gr.Button("Delete it", variant="stop", elem_id="qa-delete-yes")
                            cancelled = gr.Button("Keep it", elem_id="qa-delete-no")
            with gr.Row():
                status = gr.Markdown(elem_id="qa-status")
                refresh = gr.Button("Refresh list", size="sm", scale=0)

        with gr.Tab("Timeline"):
            # The figures and events of the reports by the day they happened: a chart of the figures
            # per day by outlet, and the list of every entry, each opening its sentence in its report.
            with gr.Row():
                tl_place = gr.Dropdown(
                    choices=[], value=None, allow_custom_value=True, label="Place", info="reports or figures there",
                    elem_id="qa-tl-place",
                )
                tl_source = gr.Dropdown(
                    choices=[], value=None, allow_custom_value=True, label="Outlet", elem_id="qa-tl-source"
                )
                tl_from = gr.Textbox(label="From", placeholder="YYYY-MM-DD, YYYY-MM or YYYY", elem_id="qa-tl-from")
                tl_to = gr.Textbox(label="To", placeholder="YYYY-MM-DD, YYYY-MM or YYYY", elem_id="qa-tl-to")
            tl_show = gr.Button("Show timeline", variant="primary", elem_id="qa-tl-show")
            tl_notice = gr.HTML("", elem_id="qa-tl-notice")
            tl_count = gr.HTML(timeline_summary(None), elem_id="qa-tl-summary")
            tl_chart = gr.ScatterPlot(
                None,
                x="Day",
                y="Figure",
                color="Outlet",
                colors_in_legend=[],  # the legend is HTML above it, which wraps (see legend_html)
                tooltip=["Day", "What", "Place", "Outlet"],
                x_title="Day of the event",
                y_title="Figure (people)",
                label="Figures dated to their day, by outlet",
                height=420,
                elem_id="qa-tl-chart",
            )
            with gr.Row():
                with gr.Column(scale=3):
                    tl_list = gr.HTML(timeline_html(None), js_on_load=TIMELINE_JS, elem_id="qa-tl-list")
                with gr.Column(scale=2):
                    tl_viewer = gr.HTML(
                        empty_document_html().replace("Click a source", "Click an entry"),
                        js_on_load=VIEWER_JS,
                        elem_id="qa-tl-document",
                    )

        private = {"api_visibility": "private"}
        made: dict[tuple[str, ...], list[str]] = {}  # example questions by the reports loaded

        def on_examples() -> str:
            loaded = tuple(sorted(f"{d.doc_id}:{d.content_hash}" for d in assistant.documents()))
            questions = made.get(loaded)
            if questions is None:
                questions = example_questions(assistant, settings.app.example_questions, BUNDLED_CORPUS_DIR)
                made.clear()
                made[loaded] = questions
            return examples_html(questions)

        panels = gr.State({})

        def on_question(
            q: str,
            h: list[dict[str, Any]],
            m: str,
            k: float,
            p: dict[int, str],
            o: list[str],
            pl: list[str],
            f: str,
            t: str,
            u: bool,
            s: str,
            b: bool,
        ) -> Iterator[Any]:
            yield from respond(assistant, q, h, m, k, p, o, pl, f, t, u, shown=s, by_source=b)

        questions = {"concurrency_id": QUESTIONS, "concurrency_limit": settings.app.concurrency_limit}
        changes = {"concurrency_id": DOCUMENT_CHANGES, "concurrency_limit": 1}
        # A mistake (an empty question, a bad date) is one line under the question box; the
        # question stays in the box to be mended, and the chat and sources keep what they show.
        question.submit(
            shown_in_place(on_question, 5),
            [question, chat, mode, top_k, panels, outlets, place, date_from, date_to, undated, sources, by_source],
            [question, chat, sources, panels, comparison, ask_notice],
            **private,
            **questions,
        )

        def on_message_click(p: dict[int, str], evt: gr.SelectData) -> Any:
            return earlier_sources(p, evt.index)

        chat.select(on_message_click, panels, sources, **private)
        # The chat's own Clear empties every part of the conversation: its sources, the open
        # passage, a notice.
        chat.clear(
            lambda: ({}, sources_html(None), empty_document_html(), "", ""),
            None,
            [panels, sources, viewer, ask_notice, comparison],
            **private,
        )

        def on_source_click(evt: gr.EventData) -> str:
            data = getattr(evt, "_data", None) or {}
            if not data.get("doc_id"):  # the answer shown has no passage
                return empty_document_html()
            return open_source(assistant, data.get("doc_id"), data.get("start"), data.get("end"))

        # The last passage asked for is the one shown, however fast they are asked for.
        sources.click(shown_in_place(on_source_click, 1, notice=0), None, viewer, trigger_mode="always_last", **private)

        def on_upload(files: list[Any], progress: gr.Progress = gr.Progress()) -> tuple[str, Any, Any, Any, str, Any]:
            return ingest_uploads(assistant, files, progress)

        # Empty the file box either way, so a failed file is not sent again with the next upload.
        listed = [status, table, to_delete, outlets, counts, place]
        # A mistake there shows in the status line beside them, in place of the last status.
        uploaded = upload.upload(shown_in_place(on_upload, len(listed), notice=0), upload, listed, **private, **changes)
        uploaded.success(lambda: None, None, upload, **private).then(on_examples, None, examples, **private)
        uploaded.failure(lambda: None, None, upload, **private)  # (a fault of the app's own, not a mistake)

        def on_delete_asked(doc_id: str | None) -> tuple[Any, str, str]:
            return gr.update(visible=True), deletion_question(assistant, doc_id), ""

        def on_delete(doc_id: str | None) -> tuple[Any, ...]:
            return (*delete_document(assistant, doc_id), gr.update(visible=False))

        asked = shown_in_place(on_delete_asked, 3, notice=2)
        delete.click(asked, to_delete, [confirm, confirm_text, status], **private)
        deleted = confirmed.click(
            shown_in_place(on_delete, len(listed) + 1, notice=0), to_delete, [*listed, confirm], **private, **changes
        )
        deleted.then(on_examples, None, examples, **private)
        cancelled.click(lambda: gr.update(visible=False), None, confirm, **private)
        to_delete.change(lambda: gr.update(visible=False), None, confirm, **private)  # another choice: ask again
        # Reports ingested by another process (qa ingest) show up on load or on refresh.
        demo.load(lambda: documents_outputs(assistant, "")[1:], None, listed[1:], **private).then(
            on_examples, None, examples, **private
        )
        refresh.click(lambda: documents_outputs(assistant, "")[1:], None, listed[1:], **private).then(
            on_examples, None, examples, **private
        )

        shown_frame = gr.State(None)

        def on_timeline(pl: str | None, so: str | None, f: str, t: str) -> tuple[Any, str, str, Any]:
            frame, colors, count, listed = timeline_outputs(assistant, pl, so, f, t)
            return gr.update(color_map=colors), count, listed, frame

        # The chart's colours first, then its data: Gradio 6.31's plot given both in one update
        # draws the data it had before (seen in the browser: each timeline showed the one before it).
        # A mistake (a bad date, an unknown place) is one line under the button; the chart and list stay.
        shown_timeline = shown_in_place(on_timeline, 4)
        for ask_for in (tl_show.click, tl_from.submit, tl_to.submit):
            ask_for(
                shown_timeline,
                [tl_place, tl_source, tl_from, tl_to],
                [tl_chart, tl_count, tl_list, shown_frame, tl_notice],
                trigger_mode="always_last",
                **private,
                **questions,
            ).then(lambda frame: frame if frame is not None else gr.update(), shown_frame, tl_chart, **private)

        def on_entry_click(evt: gr.EventData) -> str:
            data = getattr(evt, "_data", None) or {}
            return open_source(assistant, data.get("doc_id"), data.get("start"), data.get("end"))

        opened = shown_in_place(on_entry_click, 1, notice=0)
        tl_list.click(opened, None, tl_viewer, trigger_mode="always_last", **private)
        demo.load(lambda: timeline_choices(assistant), None, [tl_place, tl_source], **private)
        refresh.click(lambda: timeline_choices(assistant), None, [tl_place, tl_source], **private)

        def ask(
            question: str,
            top_k: int = settings.retrieval.top_k,
            mode: str = settings.retrieval.mode,
            source: list[str] | None = None,
            place: str | None = None,
            date_from: str | None = None,
            date_to: str | None = None,
            history: list[str] | None = None,
            undated: bool = False,
            by_source: bool = False,
        ) -> dict[str, Any]:
            """Answer a question from the reports: the same JSON as `qa ask --json`; the filters
            are optional, `history` (the conversation's earlier questions) reads a follow-up, and
            `by_source` answers per outlet too (`by_source` in the JSON)."""
            return ask_json(
                assistant,
                question,
                top_k,
                mode,
                history,
                by_source,
                source=source,
                place=place,
                date_from=date_from,
                date_to=date_to,
                undated=undated,
            )

        gr.api(ask, api_name="ask", **questions)
    return demo
