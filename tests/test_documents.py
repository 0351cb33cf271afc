import pytest

from qa.documents import (
    collect_files,
    decode_text,
    html_to_text,
    iter_documents,
    load_document,
    make_document,
    normalize_date,
    read_collection,
)
from qa.errors import DocumentError


def test_bundled_report_metadata_comes_from_its_sidecar(bundled_report):
    doc = load_document(bundled_report, max_bytes=10**7)
    assert doc.title and doc.source and doc.date == "2017-09-30"
    assert doc.text == bundled_report.read_text(encoding="utf-8")  # text unchanged
    assert len(doc.doc_id) == 16 and doc.content_hash.startswith(doc.doc_id)


def test_front_matter_is_metadata_and_not_text(tmp_path):
    path = tmp_path / "r.md"
    path.write_text(
        "---\ntitle: Shelling in Hama\noutlet: Test Wire\ndate: May 22, 2019\nplace: Hama\n---\nShells fell on Hama.\n"
    )
    doc = load_document(path, max_bytes=10**6)
    assert (doc.title, doc.source, doc.date, doc.place) == ("Shelling in Hama", "Test Wire", "2019-05-22", "Hama")
    assert doc.text == "Shells fell on Hama.\n"


def test_declared_id_is_kept_and_content_hash_otherwise():
    assert make_document("Some text.", {"id": "report-7"}).doc_id == "report-7"
    assert make_document("Some text.", {}).doc_id == make_document("Some text.", {"title": "x"}).doc_id
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
        load_document(path, max_bytes=10**6)


def test_size_limit_names_the_limit(tmp_path):
    path = tmp_path / "big.txt"
    path.write_text("A sentence. " * 100)
    with pytest.raises(DocumentError, match="over the limit of 100"):
        load_document(path, max_bytes=100)


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


def test_dates_are_normalised_where_recognised():
    assert normalize_date("9/30/2017") == "2017-09-30"
    assert normalize_date("30 September 2017") == "2017-09-30"
    assert normalize_date("2019-05-22T10:00:00Z") == "2019-05-22"
    assert normalize_date("spring 2019") == "spring 2019"


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
    items = list(read_collection(path, 10**6))
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


def test_columns_can_be_named_and_jsonl_rows_are_read(tmp_path):
    path = tmp_path / "reports.jsonl"
    path.write_text(
        '{"story": "Aid reached Douma on Sunday.", "paper": "Wire A", "when": "2018-03-01", "tags": ["x"]}\n'
        "not json\n"
        '["a", "list"]\n'
        '{"story": "Shelling resumed near Douma.", "paper": "Wire B"}\n'
    )
    columns = {"text": "story", "source": "paper", "date": "when"}
    items = list(read_collection(path, 10**6, columns))
    docs = [d for _, d in items if not isinstance(d, Exception)]
    errors = [str(e) for _, e in items if isinstance(e, Exception)]
    assert [(d.source, d.date) for d in docs] == [("Wire A", "2018-03-01"), ("Wire B", "")]
    assert errors[0].startswith(f"{path}, row 2: not valid JSON") and errors[1] == f"{path}, row 3: not a JSON object"
    missing = list(read_collection(path, 10**6, {"text": "body"}))
    assert str(missing[0][1]).startswith(f"{path}: no column 'body' (columns: story, paper, when, tags)")


def test_a_collection_without_a_text_column_is_one_clear_error(tmp_path):
    path = tmp_path / "numbers.csv"
    path.write_text("a,b\n1,2\n")
    [(label, error)] = list(iter_documents([path], 10**6))
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
    (_, cafe), (_, long) = read_collection(path, 10**6)
    assert cafe.title == "Café bombing" and "Maârat" in cafe.text
    assert long.text == long_text
    [(_, too_long)] = list(read_collection(path, 10**5))[1:]
    assert "over the limit of 100,000 bytes" in str(too_long)
