import pytest

from qa.chunking import chunk_sentences, sentence_kind, split_sentences
from qa.documents import load_document
from qa.metadata import Limits


def texts(text):
    return [text[s.start : s.end] for s in split_sentences(text)]


def test_offsets_round_trip_on_the_bundled_report(bundled_report):
    doc = load_document(bundled_report, Limits(file_bytes=10**7))
    sentences = split_sentences(doc.text)
    assert len(sentences) > 15
    for s in sentences:
        piece = doc.text[s.start : s.end]
        assert piece == piece.strip() and piece
    # Every word of the report is inside some sentence, in order, with nothing invented.
    assert " ".join(doc.text[s.start : s.end] for s in sentences).split() == doc.text.split()
    chunks = chunk_sentences(doc.text, doc.doc_id, sentences, max_words=120, overlap=1)
    for c in chunks:
        assert doc.text[c.start : c.end] == c.text
        assert c.sentences[0].start == c.start and c.sentences[-1].end == c.end
    assert chunks[0].start == sentences[0].start and chunks[-1].end == sentences[-1].end


def test_abbreviations_initials_and_decimals_do_not_end_sentences():
    text = "Mr. Abdel Rahman met Gen. Smith at 10 a.m. on Monday. George W. Bush said 3.5 million fled the U.N. zone. Then it ended."
    assert texts(text) == [
        "Mr. Abdel Rahman met Gen. Smith at 10 a.m. on Monday.",
        "George W. Bush said 3.5 million fled the U.N. zone.",
        "Then it ended.",
    ]


def test_quotes_stay_with_their_sentence():
    text = '"Residents are still scared," stallholder Khaled Ahmad said. He added: "We will stay." "Where would we go?" she asked. It rained.'
    assert texts(text) == [
        '"Residents are still scared," stallholder Khaled Ahmad said.',
        'He added: "We will stay."',
        '"Where would we go?" she asked.',
        "It rained.",
    ]


def test_headings_and_captions_are_units_of_their_own():
    text = (
        "# Regime strikes kill 16 in Idlib\n\n"
        "By Staff Writer\n"
        "Photo: A man walks past rubble in Maaret al-Numan, May 2019\n"
        "On Wednesday, strikes killed at least 16 civilians. The monitor said so.\n\n"
        "Residents fled\n\n"
        "Text wrapped at a fixed width goes on over\nthe line and ends here."
    )
    assert texts(text) == [
        "Regime strikes kill 16 in Idlib",
        "By Staff Writer",
        "Photo: A man walks past rubble in Maaret al-Numan, May 2019",
        "On Wednesday, strikes killed at least 16 civilians.",
        "The monitor said so.",
        "Residents fled",
        "Text wrapped at a fixed width goes on over\nthe line and ends here.",
    ]


def test_chunks_respect_the_word_limit_and_overlap():
    text = " ".join(f"Sentence number {i} has exactly six words." for i in range(20))
    sentences = split_sentences(text)
    chunks = chunk_sentences(text, "d", sentences, max_words=20, overlap=1)
    assert all(len(c.text.split()) <= 20 for c in chunks)
    for before, after in zip(chunks, chunks[1:]):
        assert after.first_sentence == before.first_sentence + len(before.sentences) - 1  # one shared sentence
    assert chunks[-1].sentences[-1] == sentences[-1]


def test_a_sentence_longer_than_the_limit_is_a_chunk_of_its_own():
    long = "Word " + "word " * 50 + "end."
    text = f"Short one. {long} Short two."
    chunks = chunk_sentences(text, "d", split_sentences(text), max_words=20, overlap=1)
    assert [c.text for c in chunks] == ["Short one.", long.strip(), "Short two."]


@pytest.mark.parametrize(
    "unit, kind",
    [
        ("Humanitarian crisis", "heading"),
        ("FSA pushes back YPG in Al Bab", "heading"),
        ("Regime strikes kill 16 in Idlib", "heading"),
        ("Source: TRTWorld and agencies", "credit"),
        ("Sources: AFP, Reuters", "credit"),
        ("(AFP)", "credit"),
        ("Reporting by Suleiman Al-Khalidi; Editing by Tom Brown", "credit"),
        ("By Staff Writer", "credit"),
        ("Photo: AFP", "credit"),
        ("Photo: A man walks past rubble in Maaret al-Numan, May 2019", "text"),
        ("The FSA pushed back the attacks.", "text"),
        ('He said: "We will stay."', "text"),
        ("Residents say the shelling went on for three days and that nobody came to help them at all", "text"),
        ("By Sunday, 40 people had died.", "text"),
        ("(The UN later denied this.)", "text"),
        ("(AP Photo/Hussein Malla)", "credit"),
        # Sentences that look like credits or headings but are text:
        ("Regime strikes killed 16 civilians in Maarat al Numan on Wednesday. (AFP)", "text"),
        ("Sixteen died. (SOHR)", "text"),
        ("Written statements by the ministry said 40 people died.", "text"),
        ("Reporting by state media said 12 soldiers were killed.", "text"),
        ("Sources: 16 civilians were killed in Maarat al Numan, the monitor said.", "text"),
        ("Photo: Rubble in Idlib", "text"),
        ("(16 killed)", "text"),
        ("Bills pass through Parliament in a number of stages:", "text"),
    ],
)
def test_sentence_kind(unit, kind):
    assert sentence_kind(unit) == kind


def test_a_bracketed_credit_stays_with_the_caption_it_follows():
    text = "A man walks past rubble in Idlib on May 5, 2019. (AFP)\n\nShelling went on. (Reuters) was told so.\n(AFP)"
    assert texts(text) == [
        "A man walks past rubble in Idlib on May 5, 2019. (AFP)",
        "Shelling went on.",
        "(Reuters) was told so.",
        "(AFP)",  # on a line of its own: a unit of its own (a credit)
    ]


def test_a_section_heading_starts_a_chunk_without_overlapping_back():
    text = (
        "Strikes hit the town. Residents fled north.\n\nHumanitarian crisis\n\n"
        "Aid stopped. Camps filled up.\n\nFighting in Al Bab\n\nClashes broke out. The attack was repelled."
    )
    chunks = chunk_sentences(text, "d", split_sentences(text), max_words=20, overlap=1)
    assert [c.text.split("\n")[0] for c in chunks] == [
        "Strikes hit the town. Residents fled north.", "Humanitarian crisis", "Fighting in Al Bab"
    ]
    assert chunks[-1].text.endswith("The attack was repelled.")
    # A section too short to stand alone (under a quarter of max_words) stays with the next.
    assert len(chunk_sentences(text, "d", split_sentences(text), max_words=120, overlap=1)) == 1


def test_a_run_of_headings_opens_one_section_and_no_chunk_ends_on_a_heading():
    text = "Strikes hit the town and residents fled north overnight.\n\n## Part two\n\n### Humanitarian crisis\n\n" \
        "Photo: AFP\n\nAid stopped at the border and the camps filled up."
    sentences = split_sentences(text)
    assert [s.kind for s in sentences] == ["text", "heading", "heading", "credit", "text"]
    chunks = chunk_sentences(text, "d", sentences, max_words=20, overlap=1)
    assert [c.text.split("\n")[0] for c in chunks] == ["Strikes hit the town and residents fled north overnight.", "## Part two"[3:]]
    assert all(c.sentences[-1].kind == "text" for c in chunks)


def test_short_lines_between_sentences_do_not_multiply_chunks():
    text = "".join(f"Idlib {i}\nSixteen died in the strike on the market.\n" for i in range(3000))
    sentences = split_sentences(text)
    words = sum(len(text[s.start : s.end].split()) for s in sentences)
    chunks = chunk_sentences(text, "d", sentences, max_words=120, overlap=1)
    # Each chunk but the last holds at least a quarter of max_words of text (3,000 four-word
    # sections would otherwise be 3,000 chunks).
    assert all(sum(len(text[s.start : s.end].split()) for s in c.sentences if s.kind == "text") >= 30 for c in chunks[:-1])
    assert len(chunks) <= words // 30


def test_lines_of_headings_alone_make_no_more_chunks_than_the_word_limit():
    text = "\n\n".join(f"Line {i}" for i in range(100))  # 200 words, every line a "heading"
    chunks = chunk_sentences(text, "d", split_sentences(text), max_words=120, overlap=1)
    assert len(chunks) == 2


def test_list_items_are_text_and_a_markdown_heading_is_a_heading():
    text = "## Key figures\n\n- 550 civilians killed\n- 400,000 people displaced\n\n1) Schools closed in Idlib\n\nBy Sunday, 40 people had died."
    assert [(text[s.start : s.end], s.kind) for s in split_sentences(text)] == [
        ("Key figures", "heading"),
        ("550 civilians killed", "text"),
        ("400,000 people displaced", "text"),
        ("1) Schools closed in Idlib", "text"),
        ("By Sunday, 40 people had died.", "text"),  # a sentence that starts with "By" is not a byline
    ]


def test_a_run_on_text_is_cut_into_bounded_pieces_that_keep_every_word():
    text = " ".join(f"word{i}" + ("," if i % 70 == 69 else "") for i in range(1000)) + " end"
    sentences = split_sentences(text)
    assert all(len(text[s.start : s.end].split()) <= 100 for s in sentences)
    assert " ".join(text[s.start : s.end] for s in sentences).split() == text.split()
    assert text[sentences[0].start : sentences[0].end].endswith("word69,")  # cut after the comma near the end
    chunks = chunk_sentences(text, "d", sentences, max_words=120, overlap=1)
    assert all(len(c.text.split()) <= 120 for c in chunks)


def test_a_passage_repeated_word_for_word_is_one_chunk():
    text = "\n\n".join(["Aid reached Saraqib. Trucks unloaded flour."] * 5 + ["Shelling hit Ariha on Friday."])
    chunks = chunk_sentences(text, "d", split_sentences(text), max_words=6, overlap=0)
    assert [c.text for c in chunks] == ["Aid reached Saraqib. Trucks unloaded flour.", "Shelling hit Ariha on Friday."]
    assert [c.index for c in chunks] == [0, 1] and chunks[1].start == text.rindex("Shelling")


def test_only_a_line_of_its_own_is_a_heading():
    text = "He finished the course in three years, graduating in 1873.:33 Shelling went on.\nRead Also\n\nMore text here."
    assert [(text[s.start : s.end], s.kind) for s in split_sentences(text)] == [
        ("He finished the course in three years, graduating in 1873.:33 Shelling went on.", "text"),
        ("Read Also", "heading"),
        ("More text here.", "text"),
    ]
    one_line = " ".join(["Read Also Shelling hit Idlib on Monday."] * 3)
    assert {s.kind for s in split_sentences(one_line)} == {"text"}  # nothing alone on a line: all text
