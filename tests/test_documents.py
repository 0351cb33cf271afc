import codecs
import os
import tracemalloc
from pathlib import Path

import pytest

from qa.documents import (
    collect_files,
    count_items,
    decode_text,
    html_to_text,
    iter_documents,
    load_document,
    make_document,
    read_collection,
)
from qa.errors import DocumentError
from qa.metadata import Limits


def test_bundled_report_metadata_comes_from_its_sidecar(bundled_report):
    doc = load_document(bundled_report, Limits(file_bytes=10**7))
    assert (doc.title, doc.source, doc.date, doc.place) == (
        "Syrian regime, Russia air strikes kill at least 7 civilians in Idlib", "TRT World", "2019-08-29", "Idlib, Syria"
    )
    assert doc.url == "https://www.trtworld.com/middle-east/syrian-regime-russia-air-strikes-kill-at-least-7-civilians-in-idlib-29389"
    assert doc.text == bundled_report.read_text(encoding="utf-8")  # text unchanged
    assert len(doc.doc_id) == 16 and len(doc.content_hash) == 64


def test_front_matter_is_metadata_and_not_text(tmp_path):
    path = tmp_path / "r.md"
    path.write_text(
        "---\ntitle: Shelling in Hama\noutlet: Test Wire\ndate: May 22, 2019\nplace: Hama\n---\nShells fell on Hama.\n"
    )
    doc = load_document(path, Limits(file_bytes=10**6))
    assert (doc.title, doc.source, doc.date, doc.place) == ("Shelling in Hama", "Test Wire", "2019-05-22", "Hama")
    assert doc.text == "Shells fell on Hama.\n"


def test_declared_id_is_kept_and_content_hash_otherwise():
    assert make_document("Some text.", {"id": "report-7"}).doc_id == "report-7"
    plain, titled = make_document("Some text.", {}), make_document("Some text.", {"title": "x"})
    assert plain.doc_id == titled.doc_id  # a file keeps its id when its front matter changes...
    assert plain.content_hash != titled.content_hash  # ...and is stored again with the new fields
    row = {"title": "x", "outlet": "Wire A", "date": "2017-04-02"}
    same_row = make_document("Some text.", row, id_covers_metadata=True)
    assert same_row.doc_id == make_document("Some text.", dict(row), id_covers_metadata=True).doc_id
    # A row with the same text on another day is another report.
    assert same_row.doc_id != make_document("Some text.", {**row, "date": "2017-04-14"}, id_covers_metadata=True).doc_id
    with pytest.raises(DocumentError, match="declared id"):
        make_document("Some text.", {"id": "../etc/passwd"})


def test_html_keeps_visible_text_and_drops_scripts():
    html = (
        "<html><head><title>Strike on market</title><meta property='og:site_name' content='Wire'>"
        "<script>alert(1)</script><style>p{}</style></head><body><h1>Headline</h1>"
        "<p>First &amp; only paragraph\n with a wrap.</p><p>Second one.</p></body></html>"
    )
    text, meta = html_to_text(html)
    assert "alert" not in text and "p{}" not in text
    assert text == "Headline\n\nFirst & only paragraph with a wrap.\n\nSecond one.\n"
    assert meta == {"title": "Strike on market", "source": "Wire"}


def test_legacy_encodings_are_decoded_not_mangled():
    assert decode_text("Caf\u00e9 \u201cquoted\u201d".encode("cp1252"), "f") == "Caf\u00e9 \u201cquoted\u201d"
    assert decode_text("\ufeffBOM text".encode("utf-8"), "f") == "BOM text"


@pytest.mark.parametrize(
    "content, message",
    [(b"", "empty"), (b"\x89PNG\r\n\x1a\n....", "PNG image"), (b"abc\x00def", "binary")],
)
def test_unreadable_files_raise_a_clear_error(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(DocumentError, match=message):
        load_document(path, Limits(file_bytes=10**6))


def test_size_limit_names_the_limit(tmp_path):
    path = tmp_path / "big.txt"
    path.write_text("A sentence. " * 100)
    with pytest.raises(DocumentError, match="over the limit of 100"):
        load_document(path, Limits(file_bytes=100))


def test_collect_files_walks_folders_and_reports_bad_paths(tmp_path):
    (tmp_path / "a.txt").write_text("A.")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.html").write_text("<p>B.</p>")
    (tmp_path / "sub" / "README.md").write_text("about this folder")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    (tmp_path / "loop").symlink_to(tmp_path)  # a link loop must not hang the walk
    files, problems = collect_files([tmp_path, tmp_path / "nope.txt", tmp_path / "image.png"])
    assert [f.name for f in files] == ["a.txt", "b.html"]
    assert [(p.split("/")[-1], why.split(";")[0]) for p, why in problems] == [
        ("nope.txt", "no such file or folder"),
        ("image.png", "unsupported file type '.png'"),
    ]


# -- collections: one report per row ---------------------------------------------------------------
def test_csv_columns_are_found_by_common_names_and_bad_rows_are_numbered(tmp_path):
    path = tmp_path / "reports.csv"
    path.write_text(
        "id,headline,body,outlet,date,location\n"
        'a1,Shelling in Hama,"Shells fell on Hama on Monday, killing 4 people.",Test Wire,5/22/2019,Hama\n'
        "a2,Broken row,only three fields\n"
        "a3,Empty,,Test Wire,2019-05-23,Idlib\n"
        "\n"
        'a4,"Convoy, at last","A convoy of 27 trucks\nreached Saraqib.",Other Wire,2019-06-02,Saraqib\n'
    )
    items = list(read_collection(path, Limits(file_bytes=10**6)))
    labels = [label for label, _ in items]
    assert labels == [f"{path}, row {n}" for n in (1, 2, 3, 5)]
    first, broken, empty, last = (item for _, item in items)
    assert (first.doc_id, first.title, first.source, first.date, first.place) == (
        "a1",
        "Shelling in Hama",
        "Test Wire",
        "2019-05-22",
        "Hama",
    )
    assert first.path == f"{path}#a1"
    assert str(broken) == f"{path}, row 2: has 3 fields, the header has 6 (line 3)"
    assert str(empty) == f"{path}, row 3: no text in column 'body'"
    assert last.title == "Convoy, at last" and last.text == "A convoy of 27 trucks\nreached Saraqib."


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_semicolon_and_tab_delimited_csv_files_are_read_like_comma_ones(tmp_path, delimiter):
    path = tmp_path / "reports.csv"
    rows = [
        ["id", "title", "text", "outlet", "date", "place"],
        ["s1", "Shelling in Hama", "Shells fell on Hama on Monday, killing 4 people.", "Test Wire", "5/22/2019", "Hama"],
        ["s2", "Convoy", '"A convoy; 27 trucks\nreached Saraqib."', "Other Wire", "2 June 2019", "Saraqib"],
        ["s3", "Broken"],
    ]
    path.write_text("".join(delimiter.join(row) + "\n" for row in rows))
    items = list(read_collection(path, Limits()))
    hama, convoy, broken = (item for _, item in items)
    assert [(d.doc_id, d.title, d.source, d.date, d.place) for d in (hama, convoy)] == [
        ("s1", "Shelling in Hama", "Test Wire", "2019-05-22", "Hama"),
        ("s2", "Convoy", "Other Wire", "2019-06-02", "Saraqib"),
    ]
    assert hama.text == "Shells fell on Hama on Monday, killing 4 people."
    assert convoy.text == "A convoy; 27 trucks\nreached Saraqib."
    assert str(broken) == f"{path}, row 3: has 2 fields, the header has 6 (line 5)"


def test_the_header_decides_the_delimiter_so_semicolons_in_a_comma_csv_are_text(tmp_path):
    path = tmp_path / "reports.csv"
    path.write_text(
        "title,text,outlet\n"
        "Hama;Idlib,Shells fell on Hama; then on Idlib; 4 people were killed.,Wire; A\n"
        "Convoy,A convoy reached Saraqib.,Wire B\n"
    )
    docs = [item for _, item in read_collection(path, Limits())]
    assert [(d.title, d.text, d.source) for d in docs] == [
        ("Hama;Idlib", "Shells fell on Hama; then on Idlib; 4 people were killed.", "Wire; A"),
        ("Convoy", "A convoy reached Saraqib.", "Wire B"),
    ]
    single = tmp_path / "single.csv"  # one column: no delimiter to tell, read by commas
    single.write_text("text\nShelling hit Kafranbel; two were hurt.\n")
    assert [item.text for _, item in read_collection(single, Limits())] == ["Shelling hit Kafranbel; two were hurt."]


def test_a_document_error_says_where_and_why_in_one_line(tmp_path):
    path = tmp_path / "reports.csv"
    path.write_text("title,text\nGood,Shelling hit Binnish.\nBroken\n")
    _, broken = list(read_collection(path, Limits()))[1]
    assert (broken.path, broken.row, broken.reason) == (str(path), 2, "has 1 fields, the header has 2 (line 3)")
    assert str(broken) == f"{path}, row 2: has 1 fields, the header has 2 (line 3)" and broken.label == f"{path}, row 2"
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(DocumentError) as caught:
        load_document(empty, Limits())
    assert (caught.value.path, caught.value.row) == (str(empty), None)
    assert str(caught.value) == f"{empty}: no text to ingest (the file is empty)"


def test_columns_can_be_named_and_jsonl_rows_are_read(tmp_path):
    path = tmp_path / "reports.jsonl"
    path.write_text(
        '{"story": "Aid reached Douma on Sunday.", "paper": "Wire A", "when": "2018-03-01", "tags": ["x"]}\n'
        "not json\n"
        '["a", "list"]\n'
        '{"story": "Shelling resumed near Douma.", "paper": "Wire B"}\n'
    )
    columns = {"text": "story", "source": "paper", "date": "when"}
    items = list(read_collection(path, Limits(file_bytes=10**6), columns))
    docs = [d for _, d in items if not isinstance(d, Exception)]
    errors = [str(e) for _, e in items if isinstance(e, Exception)]
    assert [(d.source, d.date) for d in docs] == [("Wire A", "2018-03-01"), ("Wire B", "")]
    assert errors[0].startswith(f"{path}, row 2: not valid JSON") and errors[1] == f"{path}, row 3: not a JSON object but a list"
    missing = list(read_collection(path, Limits(file_bytes=10**6), {"text": "body"}))
    assert str(missing[0][1]) == f"{path}, row 1: no key 'body' (keys: story, paper, when, tags)"


def test_a_collection_without_a_text_column_is_one_clear_error(tmp_path):
    path = tmp_path / "numbers.csv"
    path.write_text("a,b\n1,2\n")
    [(_, label, error)] = list(iter_documents([path], Limits(file_bytes=10**6)))
    assert label == str(path) and "no text column (looked for text, content, body" in str(error)
    assert "--text-column" in str(error)


def test_collections_in_cp1252_and_with_long_texts(tmp_path):
    path = tmp_path / "legacy.csv"
    long_text = "Shelling continued. " * 10_000  # 200 kB: over csv's default field limit
    path.write_bytes(
        ("title,text\nCaf\xe9 bombing,Le caf\xe9 de Ma\xe2rat fut touch\xe9.\nLong," + long_text + "\n").encode(
            "cp1252"
        )
    )
    (_, cafe), (_, long) = read_collection(path, Limits(file_bytes=10**6))
    assert cafe.title == "Café bombing" and "Maârat" in cafe.text
    assert long.text == long_text
    [(_, too_long)] = list(read_collection(path, Limits(file_bytes=10**5)))[1:]
    assert "over the limit of 100,000 characters" in str(too_long)


# -- bad input: encodings, binary files, odd names, links, broken collections ---------------------
CP1252_TEXT = "D\u00e9claration du maire d\u2019Alep \u2013 12 civils tu\u00e9s, \u201caide\u201d de 5\u00a0000 \u20ac promise\u2026\n"
LATIN1_TEXT = "Gr\u00fc\u00dfe aus Stra\u00dfburg: le gar\u00e7on \u00e9tait l\u00e0, \u00e7a va. Die Stra\u00dfe ist gesperrt.\n"


@pytest.mark.parametrize(
    "encoded",
    [
        pytest.param(CP1252_TEXT.encode("cp1252"), id="cp1252"),
        pytest.param(CP1252_TEXT.encode("utf-16"), id="utf-16 with BOM"),
        pytest.param(codecs.BOM_UTF16_BE + CP1252_TEXT.encode("utf-16-be"), id="utf-16-be with BOM"),
        pytest.param(CP1252_TEXT.encode("utf-16-le"), id="utf-16-le without BOM"),
        pytest.param(CP1252_TEXT.encode("utf-32"), id="utf-32 with BOM"),
        pytest.param(codecs.BOM_UTF8 + CP1252_TEXT.encode("utf-8"), id="utf-8 with BOM"),
    ],
)
def test_legacy_and_unicode_encodings_are_stored_as_written(tmp_path, encoded):
    path = tmp_path / "alep.txt"
    path.write_bytes(encoded)
    assert load_document(path, Limits(file_bytes=10**6)).text == CP1252_TEXT


def test_latin1_text_is_decoded_not_mangled(tmp_path):
    path = tmp_path / "strassburg.txt"
    path.write_bytes(LATIN1_TEXT.encode("latin-1"))
    assert load_document(path, Limits(file_bytes=10**6)).text == LATIN1_TEXT


def test_a_stray_cp1252_byte_in_utf8_text_does_not_mangle_the_rest():
    raw = "Le maire d\u2019Alep a d\u00e9clar\u00e9 : 12 civils tu\u00e9s.".encode() + b" \x96 fin."
    assert decode_text(raw, "f") == "Le maire d\u2019Alep a d\u00e9clar\u00e9 : 12 civils tu\u00e9s. \u2013 fin."
    # The five bytes cp1252 leaves undefined no longer switch the whole file to latin-1.
    assert decode_text("\u201cQuoted\u201d \u20ac".encode("cp1252") + b"\x81", "f") == "\u201cQuoted\u201d \u20ac\x81"


def test_collections_in_legacy_encodings_and_stray_bytes_late_in_the_file(tmp_path):
    legacy = tmp_path / "legacy.csv"
    legacy.write_bytes(('title,text\nAlep,"' + CP1252_TEXT.strip() + '"\n').encode("cp1252"))
    [(_, doc)] = read_collection(legacy, Limits(file_bytes=10**6))
    assert doc.text == CP1252_TEXT.strip()
    # UTF-8 for its first megabyte (the part looked at), then one cp1252 byte: read on, not stopped.
    mixed = tmp_path / "mixed.csv"
    filler = "".join(f"Row {i},Le caf\u00e9 num\u00e9ro {i} a ferm\u00e9.\n" for i in range(40_000))
    mixed.write_bytes(("title,text\n" + filler).encode() + "Last,Prix : 5 \u20ac pay\u00e9.\n".encode("cp1252"))
    rows = list(read_collection(mixed, Limits(file_bytes=10**6)))
    assert len(rows) == 40_001 and not any(isinstance(d, DocumentError) for _, d in rows)
    assert rows[0][1].text == "Le caf\u00e9 num\u00e9ro 0 a ferm\u00e9." and rows[-1][1].text == "Prix : 5 \u20ac pay\u00e9."


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "no text to ingest (the file is empty)"),
        (b" \n\t\r\n  ", "no text to ingest (only blank space or control characters)"),
        (codecs.BOM_UTF8, "no text to ingest"),
        (b"---\ntitle: Only metadata\n---\n", "no text to ingest after the front matter"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "this is a JPEG image, not a text report"),
        (b"GIF89a\x01\x00\x01\x00", "this is a GIF image, not a text report"),
        (b"%PDF-1.7\n", "this is a PDF (not supported yet)"),
        (b"PK\x03\x04\x14\x00", "this is a zip archive (or docx/xlsx)"),
        (b"\x7fELF\x02\x01\x01\x00", "this is a program (ELF)"),
        (bytes(range(1, 256)) * 8, "binary data (control characters), not a text report"),
        (b"\x00\x01\x02garbage", "binary data (NUL bytes)"),
    ],
)
def test_empty_binary_and_renamed_files_are_refused_with_a_reason(tmp_path, content, message):
    path = tmp_path / "report.txt"
    path.write_bytes(content)
    with pytest.raises(DocumentError) as caught:
        load_document(path, Limits(file_bytes=10**6))
    assert str(caught.value).startswith(f"{path}: {message}")


def test_control_characters_and_escape_sequences_are_removed_from_reports(tmp_path):
    path = tmp_path / "ansi.md"
    path.write_bytes(
        b'---\ntitle: "Shelling \\e[31min\\a Hama\\nupdated"\n---\n'
        b"\x1b[1mShells\x1b[0m fell on Hama\x07 on Monday.\x0cA second page.\r\nA third line.\x1a\n"
    )
    doc = load_document(path, Limits(file_bytes=10**6))
    assert doc.text == "Shells fell on Hama on Monday.\nA second page.\nA third line.\n"
    assert doc.title == "Shelling in Hama updated"


def test_a_50_mb_file_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "huge.txt"
    with path.open("wb") as handle:
        handle.truncate(50_000_000)  # 50 MB on paper, no time or disk to write
    tracemalloc.start()
    try:
        with pytest.raises(DocumentError) as caught:
            load_document(path, Limits(file_bytes=25_000_000))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(caught.value) == (
        f"{path}: 50,000,000 bytes is over the limit of 25,000,000 bytes (setting max_file_bytes)"
    )
    assert peak < 1_000_000, f"refusing it took {peak:,} bytes: the file was read"


@pytest.mark.parametrize(
    "name",
    ["a..b.txt", "..txt", "report with spaces.txt", "it's \"quoted\".md", "rapport d'\u00e9t\u00e9 \u0645\u0644\u0641.txt",
     "new\nline.txt", "-report.txt", "x" * 240 + ".txt"],
)
def test_odd_file_names_are_read_when_named(tmp_path, name):
    path = tmp_path / name
    path.write_text("Shelling hit Kafranbel on Monday.\n")
    files, problems = collect_files([path])
    assert files == [path] and problems == []
    assert load_document(path, Limits(file_bytes=10**6)).path == str(path)


def test_unsupported_types_are_named_when_given_and_skipped_in_a_folder(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "report.txt").write_text("Shelling hit Kafranbel on Monday.\n")
    for name in ("scan.pdf", "notes.docx", "tool.exe", "NOSUFFIX", "..txt"):
        (folder / name).write_bytes(b"%PDF-1.4 whatever")
    named = [folder / n for n in ("scan.pdf", "notes.docx", "tool.exe", "NOSUFFIX")]
    files, problems = collect_files([folder, *named])
    assert files == [folder / "report.txt"]  # in a folder: other types and hidden files, silently
    supported = "supported: .csv, .htm, .html, .jsonl, .markdown, .md, .ndjson, .text, .txt"
    assert problems == [
        (str(folder / "scan.pdf"), f"unsupported file type '.pdf'; {supported}"),
        (str(folder / "notes.docx"), f"unsupported file type '.docx'; {supported}"),
        (str(folder / "tool.exe"), f"unsupported file type '.exe'; {supported}"),
        (str(folder / "NOSUFFIX"), f"unsupported file type '(none)'; {supported}"),
    ]
    empty = tmp_path / "photos"
    empty.mkdir()
    (empty / "a.png").write_bytes(b"\x89PNG")
    assert collect_files([empty]) == ([], [(str(empty), f"no report files in this folder ({supported})")])


def test_link_loops_dangling_links_and_pipes_in_a_folder_are_each_reported_once(tmp_path):
    folder = tmp_path / "reports"
    (folder / "sub").mkdir(parents=True)
    (folder / "good.txt").write_text("A convoy of 27 trucks reached Saraqib on Sunday.\n")
    (folder / "sub" / "also-good.md").write_text("Shelling hit Kafranbel on Monday.\n")
    (folder / "a.txt").symlink_to(folder / "b.txt")  # a -> b -> a
    (folder / "b.txt").symlink_to(folder / "a.txt")
    (folder / "gone.txt").symlink_to(folder / "nowhere.txt")
    (folder / "sub" / "up").symlink_to(folder)  # a folder link to its own parent
    (folder / "sub" / "self").symlink_to(folder / "sub")
    os.mkfifo(folder / "pipe.txt")  # would block a plain read forever
    files, problems = collect_files([folder])
    assert problems == []
    results = {Path(label).name: item for _, label, item in iter_documents(files, Limits(file_bytes=10**6))}
    assert sorted(results) == ["a.txt", "also-good.md", "b.txt", "gone.txt", "good.txt", "pipe.txt"]
    errors = {name: str(item).split(": ", 1)[1] for name, item in results.items() if isinstance(item, DocumentError)}
    assert errors == {
        "a.txt": "a symbolic link loop",
        "b.txt": "a symbolic link loop",
        "gone.txt": f"a broken symbolic link (to {str(folder / 'nowhere.txt')!r})",
        "pipe.txt": "not a regular file (a named pipe)",
    }


@pytest.mark.skipif(os.geteuid() == 0, reason="running as root: chmod 000 does not stop root from reading a file")
def test_an_unreadable_file_or_folder_is_reported(tmp_path):
    (tmp_path / "good.txt").write_text("Shelling hit Kafranbel on Monday.\n")
    locked = tmp_path / "locked.txt"
    locked.write_text("Secret.\n")
    closed = tmp_path / "closed"
    closed.mkdir()
    locked.chmod(0)
    closed.chmod(0)
    try:
        files, problems = collect_files([tmp_path])
        results = [(Path(label).name, str(item)) for _, label, item in iter_documents(files, Limits(file_bytes=10**6))]
    finally:
        locked.chmod(0o644)
        closed.chmod(0o755)
    assert problems == [(str(closed), "cannot read the folder: Permission denied")]
    assert results[1] == ("locked.txt", f"{locked}: cannot read: Permission denied")


# A CSV with every kind of broken row, between good ones; row numbers count data rows (header excluded).
BROKEN_CSV = (
    "title,text,outlet\n"
    "Good one,Shelling hit Saraqib on Sunday.,Wire A\n"  # row 1
    "Too few,only two\n"  # row 2
    'Stray quote,"He said "hi" there",Wire B\n'  # row 3
    "Empty,,Wire C\n"  # row 4
    "Nul,Text with \x00 a NUL,Wire D\n"  # row 5
    "Big," + "x" * 300 + ",Wire E\n"  # row 6: over a 200-byte limit
    'Multi,"A convoy\nof trucks reached Idlib.",Wire F\n'  # row 7, lines 8-9
    "Control,\x07\x1b[0m,Wire G\n"  # row 8
    'Unterminated,"this quote never closes,Wire H\n'  # row 9, line 11
    "After,Rain fell on Afrin on Monday.,Wire I\n"  # row 10
    "Last,Aid arrived in Douma.,Wire J\n"  # row 11
)


def test_a_csv_with_broken_rows_reports_each_by_number_and_keeps_the_rest(tmp_path):
    path = tmp_path / "broken.csv"
    path.write_bytes(BROKEN_CSV.encode())
    items = list(read_collection(path, Limits(file_bytes=200)))
    docs = {label.rsplit(" ", 1)[1]: d.text for label, d in items if not isinstance(d, DocumentError)}
    errors = [str(e).removeprefix(f"{path}, ") for _, e in items if isinstance(e, DocumentError)]
    assert docs == {
        "1": "Shelling hit Saraqib on Sunday.",
        "7": "A convoy\nof trucks reached Idlib.",
        "10": "Rain fell on Afrin on Monday.",
        "11": "Aid arrived in Douma.",
    }
    assert errors == [
        "row 2: has 2 fields, the header has 3 (line 3)",
        "row 3: malformed CSV (line 4): ',' expected after '\"'",
        "row 4: no text in column 'text'",
        "row 5: binary data (NUL bytes) in column 'text'",
        "row 6: the row is over the limit of 200 characters (setting max_file_bytes)",
        "row 8: no text to ingest (only blank space or control characters)",
        "row 9: a quote opened on line 11 is never closed; the rows after it are read from line 12",
    ]
    assert count_items([path], Limits(file_bytes=200)) == len(items)  # the progress total


def test_a_row_over_the_limit_is_skipped_to_its_end_without_being_kept(tmp_path):
    path = tmp_path / "long.csv"
    long_field = "Shelling continued.\n" * 5_000  # 100 kB over many lines, inside quotes
    path.write_text(f'title,text\nFirst,Aid reached Douma.\nHuge,"{long_field}"\nLast,Rain fell on Afrin.\n')
    items = list(read_collection(path, Limits(file_bytes=10_000)))
    shown = [(label.rsplit(" ", 1)[1], str(d).split(": ", 1)[1] if isinstance(d, DocumentError) else d.title) for label, d in items]
    assert shown == [
        ("1", "First"),
        ("2", "the row is over the limit of 10,000 characters (setting max_file_bytes)"),
        ("3", "Last"),
    ]


@pytest.mark.slow
def test_a_30_mb_field_is_refused_row_wise_at_the_default_limit(tmp_path):
    from qa.config import Settings

    limit = Settings().limits.max_file_bytes
    path = tmp_path / "fa-kes-like.csv"
    with path.open("w") as out:
        out.write("title,text\nFirst,Aid reached Douma.\n")
        out.write('Huge,"' + "Shelling continued.\n" * 1_500_000 + '"\n')  # one 30 MB field
        out.write("Last,Rain fell on Afrin.\n")
    items = list(read_collection(path, Limits(file_bytes=limit)))
    assert [getattr(d, "title", None) for _, d in items] == ["First", None, "Last"]
    assert str(items[1][1]) == (
        f"{path}, row 2: the row is over the limit of 1,008,000 characters (setting max_report_chars and max_field_chars)"
    )


def test_jsonl_bad_lines_are_numbered_and_the_rest_land(tmp_path):
    path = tmp_path / "reports.jsonl"
    path.write_text(
        '{"text": "Aid reached Douma on Sunday.", "title": "Douma"}\n'
        "[1, 2]\n"
        "{broken\n"
        '{"text": 42}\n'
        '{"text": ["a", "list"]}\n'
        '{"title": "no text"}\n'
        + "[" * 100_000 + "\n"
        '{"text": "With a \\u0000 NUL"}\n'
        '{"text": "' + "y" * 500 + '"}\n'
        '{"text": "Shelling \\u001b[31mhit\\u001b[0m Hama.", "title": "T\\u0007itle\\non two lines"}'
    )
    items = list(read_collection(path, Limits(file_bytes=300)))
    docs = [(d.title, d.text) for _, d in items if not isinstance(d, DocumentError)]
    errors = [str(e).removeprefix(f"{path}, ") for _, e in items if isinstance(e, DocumentError)]
    assert docs == [("Douma", "Aid reached Douma on Sunday."), ("Title on two lines", "Shelling hit Hama.")]
    assert errors == [
        "row 2: not a JSON object but a list",
        "row 3: not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        "row 4: column 'text' holds a number, not text",
        "row 5: column 'text' holds a list, not text",
        "row 6: no text key (looked for text, content, body, article_content, article_text, article, story, full_text); "
        "name it with --text-column (keys: title)",
        "row 7: the line is over the limit of 300 characters (setting max_file_bytes)",
        "row 8: binary data (NUL bytes) in column 'text'",
        "row 9: the line is over the limit of 300 characters (setting max_file_bytes)",
    ]


def test_a_lone_surrogate_in_a_field_is_replaced_and_the_rows_after_it_land(tmp_path):
    """JSON can spell a surrogate that UTF-8 cannot store: it becomes U+FFFD, in metadata as in text."""
    path = tmp_path / "reports.jsonl"
    path.write_text(
        '{"text": "Aid reached Douma.", "title": "Bad \\ud800 title", "place": "Douma \\udfff"}\n'
        "null\n"
        '{"text": "Rain fell on Afrin \\ud800.", "title": "Afrin"}\n'
    )
    items = list(read_collection(path, Limits(file_bytes=10**6)))
    docs = [d for _, d in items if not isinstance(d, DocumentError)]
    assert [(d.title, d.place, d.text) for d in docs] == [
        ("Bad \ufffd title", "Douma \ufffd", "Aid reached Douma."),
        ("Afrin", "", "Rain fell on Afrin \ufffd."),
    ]
    assert [str(e) for _, e in items if isinstance(e, DocumentError)] == [f"{path}, row 2: not a JSON object but null"]


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00", "this is a PNG image, not a collection of reports"),
        ("noise.jsonl", bytes(range(1, 256)) * 8, "binary data (control characters), not a collection of reports"),
        ("empty.csv", b"", "empty collection (no header row)"),
        ("header.csv", b'title,"text\nA,b\n', "the header row is not valid CSV"),
    ],
)
def test_a_collection_that_cannot_be_read_at_all_is_one_error(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    [(_, label, error)] = list(iter_documents([path], Limits(file_bytes=10**6)))
    assert label == str(path) and str(error).startswith(f"{path}: {message}")


def test_a_reports_address_comes_from_its_metadata_and_never_changes_a_rows_id(tmp_path):
    (tmp_path / "a.md").write_text("---\nlink: https://example.org/a\n---\nShelling hit Ariha.\n")
    (tmp_path / "b.txt").write_text("Floods hit Atmeh.\n")
    (tmp_path / "b.meta.yaml").write_text("url: https://example.org/b\n")
    (tmp_path / "c.html").write_text(
        '<html><head><meta property="og:url" content="https://example.org/c"><link rel="canonical" href="https://x/other">'
        "</head><body><p>Aid reached Saraqib.</p></body></html>"
    )
    (tmp_path / "d.html").write_text('<html><head><link rel="canonical" href="/relative/d"></head><body><p>Rain.</p></body></html>')
    limits = Limits(file_bytes=10**6)
    urls = [load_document(tmp_path / name, limits).url for name in ("a.md", "b.txt", "c.html", "d.html")]
    assert urls == ["https://example.org/a", "https://example.org/b", "https://example.org/c", ""]
    plain, addressed = tmp_path / "plain.csv", tmp_path / "addressed.csv"
    plain.write_text("text,title\nShelling hit Ariha.,Ariha\n")
    addressed.write_text("text,title,address\nShelling hit Ariha.,Ariha,https://example.org/ariha\n")
    ((_, row),) = read_collection(plain, limits)
    ((_, with_url),) = read_collection(addressed, limits, {"url": "address"})
    assert with_url.url == "https://example.org/ariha" and with_url.doc_id == row.doc_id  # same report, now addressed
    assert with_url.content_hash != row.content_hash  # so the address is stored on the next ingest
