import pytest

from qa.documents import collect_files, decode_text, html_to_text, load_document, make_document, normalize_date
from qa.errors import DocumentError


def test_bundled_report_metadata_comes_from_its_sidecar(bundled_report):
    doc = load_document(bundled_report, max_bytes=10**7)
    assert doc.title and doc.source and doc.date == "2017-09-30"
    assert doc.text == bundled_report.read_text(encoding="utf-8")  # text unchanged
    assert len(doc.doc_id) == 16 and doc.content_hash.startswith(doc.doc_id)


def test_front_matter_is_metadata_and_not_text(tmp_path):
    path = tmp_path / "r.md"
    path.write_text("---\ntitle: Shelling in Hama\noutlet: Test Wire\ndate: May 22, 2019\nplace: Hama\n---\nShells fell on Hama.\n")
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
