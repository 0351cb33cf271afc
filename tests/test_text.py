"""Words, stems and cleaning (qa/text.py): what a question or a report is reduced to before it is
matched, shown or stored."""

import pytest

from qa.text import clean_question, clean_text, content_terms, one_line, quantity, spelled_like, stem, tokens


def test_tokens_are_words_and_numbers_with_their_offsets():
    text = "At least 1,500.5 fled; 40% of Ma'arrat’s people."
    found = tokens(text)
    assert [word for word, _, _ in found] == ["at", "least", "1,500.5", "fled", "40%", "of", "ma'arrat’s", "people"]
    assert all(text[start:end].lower() == word for word, start, end in found), "offsets point back into the text"


def test_tokens_read_cyrillic_and_arabic_script_words():
    assert [word for word, _, _ in tokens("Идлиб إدلب Idlib")] == ["идлиб", "إدلب", "idlib"]


@pytest.mark.parametrize(
    "word, same_as",
    [
        ("killed", "kill"),
        ("killing", "kill"),
        ("civilians", "civilian"),
        ("began", "begin"),  # irregular forms a stemmer cannot join
        ("took", "take"),
        ("fled", "flee"),
        ("died", "die"),
        ("deaths", "die"),
        ("dead", "die"),
    ],
)
def test_forms_of_one_word_share_a_stem(word, same_as):
    assert stem(word) == stem(same_as)


def test_a_country_and_its_adjective_stay_apart():
    # Joining them let a question about an earthquake in Turkey be answered from "the Turkish state".
    assert stem("turkish") != stem("turkey")


def test_content_terms_drop_the_words_that_carry_no_meaning():
    assert content_terms("How many civilians were killed in the attack?") == ("civilian", "kill", "attack")
    assert content_terms("Who said they were told?") == ()
    assert content_terms("Killed, KILLED and killing") == ("kill", "kill", "kill"), "any case, any form, in order"


def test_spelled_like_accepts_a_transliteration_or_typo_and_nothing_further():
    assert spelled_like("maaret", ["maarat", "idlib"])
    assert spelled_like("idlib", ["idleb"])
    assert not spelled_like("maaret", ["naarat"]), "the first two letters must agree"
    assert not spelled_like("aleppo", ["idlib", "raqqa"])
    assert not spelled_like("idlib", [])


def test_quantity_puts_the_noun_in_the_number_it_takes():
    assert [quantity(n, "chunk") for n in (0, 1, 2, 11)] == ["0 chunks", "1 chunk", "2 chunks", "11 chunks"]
    assert quantity(12_000, "report") == "12,000 reports"


def test_clean_text_keeps_the_report_as_written_but_for_controls_and_escapes():
    raw = "line1\r\nline2\rline3\x0bx\x0cy\x85z\ttab \x1b[2J\x1b]0;title\x07ok\x00 \u200bzero-width \ud800"
    assert clean_text(raw) == "line1\nline2\nline3\nx\ny\nz\ttab ok \u200bzero-width \ufffd"
    assert clean_text("\x9b31mred and \x1b[1mbold\x1b[0m") == "red and bold", "8-bit and 7-bit escapes go whole"
    text = "Shelling hit Saraqib.\n\n\tThe market burned."
    assert clean_text(text) == text, "ordinary text is untouched"


def test_one_line_makes_a_title_a_single_line():
    assert one_line("  Air strikes\nhit\r\n\tDouma  ") == "Air strikes hit Douma"
    assert one_line("T\x07itle \x1b[31mred\x1b[0m") == "Title red", "a hidden control does not split a word"
    assert one_line("broken \ud800 text") == "broken \ufffd text"


def test_clean_question_reduces_a_pasted_question_to_what_it_says():
    pasted = "Who\u200b killed\u00ad ﬁve \x1b[1mpeople\x1b[0m\n in Idlib?\x00 \ufeff"
    assert clean_question(pasted) == "Who killed five people in Idlib?"
    assert clean_question("Ｈｏｗ many?") == "How many?", "full-width letters are read as letters"
    assert clean_question("\u202eevil\u202c text \U000e0041") == "evil text", "bidi overrides and tag characters go"
    assert clean_question("mai\u200bson") == "maison", "a zero-width space inside a word does not split it"
    assert clean_question("مقتل ١٢ مدنياً") == "مقتل ١٢ مدنياً", "other scripts are kept"
    assert clean_question(" \u200b\x00\x1b[2J ") == ""


def test_a_rate_is_items_per_second_since_the_start():
    import time

    from qa.text import per_second

    assert float(per_second(10, time.monotonic() - 2.0)) == pytest.approx(5.0, abs=0.5)
    assert per_second(0, time.monotonic()) == "0.0"
