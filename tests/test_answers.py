"""Answers an analyst can check: who says it (attribution), when it happened (event dates
resolved against the report's date), what a question asks for, near misses answered with what the
reports say nearby, short answers first, and follow-ups read against the question before."""

import datetime as dt

import pytest

from qa.answering import analyse_question, asked_count, count_fit, question_kind
from qa.attribution import attribution
from qa.chunking import split_sentences
from qa.eventdates import event_date, event_dates
from qa.followup import is_follow_up, read


class _NoStats:
    def idf(self, term: str) -> float:
        return 1.0


def _info(question: str):
    return analyse_question(question, _NoStats())


def _sentences(bundled_report) -> list[str]:
    text = bundled_report.read_text(encoding="utf-8")
    return [text[s.start : s.end] for s in split_sentences(text)]


# Every sentence of the bundled report that names the source of its claim, by its opening words:
# (the words as written, the short name an answer uses).
ATTRIBUTED = {
    "At least seven civilians were killed": ("according to local sources", "local sources"),
    "Syrian opposition aircraft monitors said": ("Syrian opposition aircraft monitors said", "Syrian opposition aircraft monitors"),
    "According to the monitors": ("According to the monitors", "the monitors"),
    "On Wednesday, regime strikes": (
        "said British-based war monitor, Syrian Observatory for Human Rights (SOHR)",
        "SOHR",
    ),
    "The April offensive has killed": ("according to the UN and US monitors", "the UN and US monitors"),
    "The regime-controlled Syrian Central Military Media said": (
        "The regime-controlled Syrian Central Military Media said",
        "the regime-controlled Syrian Central Military Media",
    ),
    "The UN says": ("The UN says", "the UN"),
    "UN spokesman Stephane Dujarric said": ("UN spokesman Stephane Dujarric said", "UN spokesman Stephane Dujarric"),
    "Dujarric said three-quarters": ("Dujarric said", "Dujarric"),
    "The fighting occurred in the evening": ("according to ground reports", "ground reports"),
}


def test_every_sentence_of_the_bundled_report_gets_its_attribution_or_none(bundled_report):
    seen = set()
    for sentence in _sentences(bundled_report):
        expected = next((v for k, v in ATTRIBUTED.items() if sentence.startswith(k)), None)
        found = attribution(sentence)
        assert (found.words, found.source) == expected if expected else found is None, sentence
        seen |= {k for k in ATTRIBUTED if sentence.startswith(k)}
    assert seen == set(ATTRIBUTED)


@pytest.mark.parametrize(
    ("sentence", "source"),
    [
        ("He said the town fell.", None),  # a pronoun names nobody
        ("Residents said the bakery was hit.", "Residents"),
        ("The bakery was hit, the ministry said.", "the ministry"),
        ("Four people died on Thursday state news agency SANA reported.", "state news agency SANA"),  # commas lost
        ("Meanwhile the monitor said dozens were killed.", "the monitor"),
        ("According to activists the town fell on Monday.", "activists"),
        ("Thirty fighters were killed in the tunnels Konashenkov said.", "Konashenkov"),
        ("The town fell, he said.", None),  # alone, a pronoun names nobody
        ("Two people died, said Reuters.", "Reuters"),
        ("Turkey has raised the alarm over the attacks.", None),
    ],
)
def test_attribution_forms(sentence, source):
    found = attribution(sentence)
    assert (found.source if found else None) == source


def test_a_pronoun_source_is_read_from_the_sentence_before():
    from qa.attribution import attribution_in_context

    before = "UN spokesman Stephane Dujarric said the camps were full."
    assert attribution_in_context("He said aid was blocked.", before).source == "UN spokesman Stephane Dujarric"
    assert attribution_in_context("Aid was blocked, he said.", before).words == "he said"
    assert attribution_in_context("He called for calm.", before) is None  # no claim is reported
    assert attribution_in_context("He said aid was blocked.", "The camps were full.") is None


# Every date the bundled report states, resolved against its date (Thursday 2019-08-29).
EVENT_DATES = [
    ("on Thursday", "2019-08-29"),  # the lede
    ("on August 28, 2019", "2019-08-28"),  # the caption, printed twice
    ("on August 28, 2019", "2019-08-28"),
    ("on Thursday", "2019-08-29"),
    ("On Wednesday", "2019-08-28"),
    ("Since April", "2019-04"),
    ("April", "2019-04"),  # "The April offensive"
    ("in 2017", "2017"),
    ("2018", "2018"),  # "Under a 2018 demilitarisation deal"
    ("on Tuesday", "2019-08-27"),
    ("Last week", "2019-08-19/2019-08-25"),  # the week before the report's
    ("in late April", "2019-04-21/2019-04-30"),
    ("on Wednesday", "2019-08-28"),
    ("in 2016", "2016"),
    ("on Wednesday night", "2019-08-28"),
    ("Since 2016", "2016"),
]


def test_every_date_in_the_bundled_report_is_resolved_against_its_date(bundled_report):
    found = [(d.words, d.value) for s in _sentences(bundled_report) for d in event_dates(s, "2019-08-29")]
    assert found == EVENT_DATES


def test_relative_dates_elsewhere():
    told = "2019-02-10"  # a Sunday
    assert event_date("In November the town fell", told).value == "2018-11"  # the latest November before
    assert event_date("Yesterday shelling resumed", told).value == "2019-02-09"
    assert event_date("last month", told).value == "2019-01"
    assert event_date("early March", told).value == "2018-03-01/2018-03-10"
    assert event_date("on Sunday", told).value == "2019-02-10"  # the report's own day
    assert event_date("on 5 January 2018", told).value == "2018-01-05"
    assert event_date("on Wednesday", "").__class__.__name__ == "NoneType"  # no report date: not guessed
    assert event_date("on August 28, 2019", "").value == "2019-08-28"
    assert event_date("a 30-year campaign", told) is None
    wednesday = event_date("On Wednesday", "2019-08-29")
    assert (wednesday.start, wednesday.describe()) == (dt.date(2019, 8, 28), "On Wednesday, 28 August 2019")


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How long ago did the FSA clear Al Bab?", "date"),  # not "how long": a number
        ("When did the number of refugees peak?", "date"),  # not "number of"
        ("How long is the M5 highway?", "number"),
        ("What is the population of Idlib city?", "number"),
        ("In which city did the fighting break out?", "place"),
        ("According to whom were seven civilians killed?", "source"),  # not "whom": an entity
        ("Who said so?", "source"),
        ("Who controls Diklabas?", "entity"),
        ("What happened when the warplanes struck?", "other"),  # "when" inside: not a when-question
        ("And when was that?", "date"),
        ("What share of the people who fled live in camps?", "other"),  # "who" inside: not a who-question
        ("By whom was the convoy attacked?", "entity"),
    ],
)
def test_question_type_is_decided_by_the_whole_question(question, kind):
    assert question_kind(question)[0] == kind


@pytest.mark.parametrize(
    ("question", "sentence", "fit"),
    [
        ("How many Turkish soldiers died?", "The regime attacked at least two of Turkey's 12 observation posts.", "other"),
        (
            "How many children were killed in Alteh?",
            "Monitors said four civilians were killed in Maar Shamshah and three others in Alteh.",
            "other",
        ),
        (
            "How many people were killed in Alteh?",
            "Monitors said four civilians were killed in Maar Shamshah and three others in Alteh.",
            "fits",
        ),
        ("How many civilians were injured on Thursday?", "At least seven civilians were killed on Thursday.", "other"),
        ("How many were injured?", "Strikes killed at least 16 civilians and injured 34 others.", "fits"),
        ("How many hospitals were destroyed?", "The offensive has killed hundreds.", "other"),
        ("How much time would the highway save?", "It would cut the trip between the two largest cities by two hours.", "fits"),
        ("How long is the M5 highway?", "It would cut the trip between the two largest cities by two hours.", "other"),
        ("How many trucks reached Saraqib?", "A convoy of 27 trucks reached Saraqib.", "fits"),
        ("How many fled?", "Thousands fled the town.", "fits"),  # the fled are people
        ("How many returned?", "Thousands returned.", ""),  # nothing counted or done asked: not judged
        ("How many tons of wheat were delivered?", "The convoy delivered 1.5 kilotons of wheat.", "fits"),  # a multiple of tons
        ("How many tons of wheat were delivered?", "The convoy delivered 40 trucks of wheat.", "other"),
    ],
)
def test_a_number_must_count_what_the_question_counts(question, sentence, fit):
    assert count_fit(_info(question), sentence) == fit


def test_the_counted_thing_of_a_question():
    assert [asked_count(q) for q in ("How many Turkish soldiers died?", "How many displaced people returned?", "How many were hurt?")] == [
        "soldier",
        "peopl",
        "",
    ]


def test_a_near_miss_says_what_the_reports_do_say_nearby(corpus_assistant):
    answer = corpus_assistant.ask("How many Turkish soldiers died?")
    assert answer.abstained and answer.short_answer == ""
    assert answer.text.startswith("The reports don't say how many Turkish soldiers died.") and "Not an answer" in answer.text
    (cited,) = answer.citations
    assert "[1]" in answer.text and corpus_assistant.document(cited.doc_id).text[cited.start : cited.end] == cited.text


def test_the_short_answer_leads_with_its_source_and_date(corpus_assistant):
    killed = corpus_assistant.ask("How many civilians were killed in Maarat al Numan on Wednesday?")
    assert killed.short_answer == "at least 16" and killed.text.startswith("At least 16 civilians, according to SOHR.")
    (cited,) = killed.citations  # one sentence answers: nothing padded on
    assert (cited.attributed_to, cited.event_date, cited.event_date_words) == ("SOHR", "2019-08-28", "On Wednesday")
    met = corpus_assistant.ask("When did Erdogan discuss Idlib with Putin?")
    assert met.short_answer == "Tuesday" and met.text.startswith("On Tuesday, 27 August 2019.")
    said = corpus_assistant.ask("According to whom were at least seven civilians killed on Thursday?")
    assert said.short_answer == "local sources" and said.text.startswith("According to local sources.")


def test_follow_ups_are_read_against_the_question_before(corpus_assistant):
    first = "How many civilians were killed in Maarat al Numan on Wednesday?"
    injured = corpus_assistant.ask("And how many were injured?", history=[first])
    assert injured.short_answer == "34" and injured.follow_up_of == first and first in injured.text
    assert injured.question == "And how many were injured?" and "Maarat al Numan" in injured.asked_as
    when = corpus_assistant.ask("When did that happen?", history=[first, "And how many were injured?"])
    assert when.short_answer == "Wednesday" and when.text.startswith("On Wednesday, 28 August 2019")
    who = corpus_assistant.ask("Who said so?", history=[{"role": "user", "content": first}, {"role": "assistant", "content": "…"}])
    assert who.short_answer == "SOHR" and who.follow_up_of == first
    alone = corpus_assistant.ask("And how many were injured?")  # no history: read on its own, as before
    assert injured.follow_up_topic == "civilians were killed in Maarat al Numan on Wednesday"
    assert alone.follow_up_of == "" and alone.asked_as == "" and alone.follow_up_topic == ""


def test_what_counts_as_a_follow_up():
    assert is_follow_up("And how many were injured?") and is_follow_up("Who said so?") and is_follow_up("How many were injured?")
    assert not is_follow_up("How many civilians were killed in Maarat al Numan?")
    assert read("What is the YPG?", ["How many civilians were killed?"]).topic_from == ""


# -- what is asked of the report itself, and names of what was asked --------------------------
@pytest.mark.parametrize(
    "question, sentence, name",
    [
        ("What is the name of the police chief?", "Police chief Ahmad Hallak said the road was closed.", "Ahmad Hallak"),
        ("Which town did the rebels retake?", "The rebels retook Kafr Nabudah, a town in Hama, on Monday.", "Kafr Nabudah"),
        ("Which villages were shelled?", "Artillery shelled the villages of Hish and Kafr Sajna.", "Hish and Kafr Sajna"),
        ("What are the names of the two crossings?", "Aid enters through two crossings on the border: Bab al Hawa and Bab al Salam.", "Bab al Hawa and Bab al Salam"),
        ("Which single did they record together?", 'They recorded the single "Hymn for the Weekend" in 2015.', "Hymn for the Weekend"),
        ("Which weapons did the gunmen use?", "The gunmen attacked the checkpoint with heavy weapons.", None),
        ("What is the name of the driver?", "The driver of the truck was killed.", None),
        ("Which town near Hama did the rebels retake?", "The rebels retook a town near Hama.", None),  # Hama is asked, not answered
        ("Which crossing did they use?", "They crossed from Turkey.", None),  # "crossed" is not the noun "crossing"
    ],
)
def test_a_which_or_name_question_needs_the_name_itself(question, sentence, name):
    from qa.answering import named_as

    found = named_as(sentence, _info(question))
    assert (sentence[found[0] : found[1]] if found else None) == name


def test_the_noun_whose_name_is_asked():
    assert _info("Which war monitor is based in Britain?").head == "monitor"
    assert _info("What is the name of the UN envoy quoted in the article?").head == "envoy"
    assert _info("Which villages were shelled?").head == "village"
    assert _info("What kind of weapons were used?").head == ""  # too general to need a name
    assert _info("What danger to civilians has Turkey warned about?").head == ""  # "to civilians" is not the asked noun
    assert _info("How many villages were shelled?").head == ""  # a number is asked, not a name


@pytest.mark.parametrize(
    "question, asks",
    [
        ("Who took the photo?", "photo-credit"),
        ("Which agency is the picture credited to?", "photo-credit"),
        ("What sources is the article based on?", "report-credit"),
        ("Who wrote the report?", "report-credit"),
        ("Under which heading does the report describe the convoy?", "heading"),
        ("Which agency reported the strike?", ""),  # a claim's source: attribution, not a credit line
        ("What was the title of the film program that debuted in 1962?", ""),  # a name, not a heading
        ("What is the title of the section on the talks?", "heading"),
        ("What did the report say about the convoy?", ""),
    ],
)
def test_what_a_question_asks_of_the_report_itself(question, asks):
    assert _info(question).asks == asks


def test_credits_are_read_where_reports_print_them():
    from qa.answering import credit_span

    caption = "Rescuers search the rubble in Ariha on May 5. (AFP)"
    a, b = credit_span("photo-credit", caption, "text")
    assert caption[a:b] == "AFP"
    line = "Photo: Omar Haj Kadour"
    a, b = credit_span("photo-credit", line, "credit")
    assert line[a:b] == "Omar Haj Kadour"
    source = "Source: Reuters and agencies"
    a, b = credit_span("report-credit", source, "credit")
    assert source[a:b] == "Reuters and agencies"
    assert credit_span("report-credit", "The source said 12 died.", "text") is None  # only a line of its own
    assert credit_span("", caption, "text") is None


_SECTIONED = (
    "Shelling hit the old town of Ariha overnight, killing five civilians, rescuers said.\n\n"
    "Rescuers search the rubble of a bakery in Ariha on May 5. (AFP)\n\n"
    "Aid convoy reaches Saraqib\n\n"
    "A convoy of 27 trucks carrying flour reached Saraqib on Tuesday, the World Food Programme said.\n\n"
    "The trucks crossed from Turkey at Bab al Hawa.\n\n"
    "Talks in Geneva\n\n"
    "Envoys met in Geneva to discuss a ceasefire, but no date was set for a second round.\n\n"
    "Source: Reuters and agencies\n"
)


def test_headings_credits_and_sources_are_answered_from_the_report(make_assistant, tmp_path):
    (tmp_path / "r.md").write_text(f"---\ntitle: Ariha shelled\noutlet: Wire\ndate: 2020-05-06\n---\n{_SECTIONED}")
    assistant = make_assistant()
    assistant.ingest([tmp_path / "r.md"])
    text = assistant.document(assistant.documents()[0].doc_id).text

    heading = assistant.ask("Under which heading does the report describe the flour deliveries?")
    assert heading.short_answer == "Aid convoy reaches Saraqib" and not heading.abstained, heading.text
    assert heading.text.startswith('Under the heading "Aid convoy reaches Saraqib" [1]: A convoy of 27 trucks')
    for cited in heading.citations:
        assert text[cited.start : cited.end] == cited.text
    assert assistant.ask("What is the title of the section about the Geneva talks?").short_answer == "Talks in Geneva"

    photo = assistant.ask("Who took the photo?")
    assert photo.short_answer == "AFP" and "(AFP) [1]" in photo.text, photo.text
    sources = assistant.ask("What sources is the article based on?")
    assert sources.short_answer == "Reuters and agencies", sources.text

    driver = assistant.ask("What is the name of the envoy who met in Geneva?")  # no envoy is named
    assert driver.abstained and driver.citations and "Not an answer" in driver.text, driver.text
    crossing = assistant.ask("Which crossing did the trucks use?")  # "crossed" is no mention of a crossing
    assert not crossing.abstained and "Bab al Hawa" in crossing.text, crossing.text


def test_a_sentence_dated_otherwise_is_about_another_event(make_assistant, tmp_path):
    from qa.answering import calendar_words, dated_otherwise

    assert calendar_words("How many were wounded in Thursday's strikes in 2016?") == {"thursday", "2016"}
    assert dated_otherwise({"thursday"}, "On Saturday an air raid wounded five people.")
    assert not dated_otherwise({"thursday"}, "On Thursday and Saturday raids wounded five.")  # it names the asked day too
    assert not dated_otherwise({"thursday"}, "In July raids wounded five.")  # a month says nothing against a day
    assert not dated_otherwise({"thursday"}, "Raids wounded five.")

    (tmp_path / "r.md").write_text(
        "---\ntitle: Ariha\ndate: 2020-05-09\n---\n"
        "On Thursday, strikes on the market in Ariha killed 12 people and wounded 30, rescuers said.\n\n"
        "On Saturday, an air raid on the hospital in Ariha wounded five people, the monitor said.\n"
    )
    assistant = make_assistant()
    assistant.ingest([tmp_path / "r.md"])
    assert assistant.ask("How many people were wounded in Thursday's strikes on Ariha?").short_answer == "30"
    # Thursday's sentence holds the strikes, Ariha and a count of the killed, but not Saturday.
    killed = assistant.ask("How many people were killed in Saturday's strikes on Ariha?")
    assert killed.abstained and "Not an answer" in killed.text, killed.text  # 12 were killed on Thursday


def test_a_count_from_another_event_is_no_answer(make_assistant, tmp_path):
    (tmp_path / "r.md").write_text(
        "---\ntitle: Aleppo\ndate: 2014-12-15\n---\n"
        "Helicopters dropped barrel bombs on the Maadi district of Aleppo on Sunday, killing 28 children, the monitor said.\n\n"
        "Separately, barrel bombs also hit a camp for displaced people near Habeet on Monday.\n"
    )
    assistant = make_assistant()
    assistant.ingest([tmp_path / "r.md"])
    maadi = assistant.ask("How many children were killed by the barrel bombs on the Maadi district?")
    assert maadi.short_answer == "28", maadi.text
    # The one count of children is the Maadi district's; of the camp's toll the report says nothing.
    camp = assistant.ask("How many children were killed when barrel bombs hit the displaced camp near Habeet?")
    assert camp.abstained and "Not an answer" in camp.text, camp.text


def test_the_event_words_of_a_number_question():
    from qa.answering import Candidate, event_coverage
    from qa.text import content_terms

    def candidate(text):
        return Candidate("d", 0, 0, text, 0, hit=None, context_terms=set(content_terms(text)))

    info = _info("How many children were killed when barrel bombs hit the camp near Habeet?")
    maadi = candidate("Barrel bombs on the Maadi district killed 28 children.")
    camp = candidate("Barrel bombs hit the camp near Habeet, killing 28 children.")
    assert event_coverage(info, camp) == 1.0 and event_coverage(info, maadi) < 0.5  # children and killed are not the event
    assert event_coverage(_info("How many were killed?"), maadi) == 1.0  # no event named: nothing to hold


def test_numbers_and_names_as_answers_read_them():
    from qa.answering import names_in, numbers_in

    def numbers(text):
        return [text[a:b] for a, b in numbers_in(text)]

    def names(text):
        return [text[a:b] for a, b in names_in(text)]

    assert numbers("On 2 July 2016 at 10:07, 4.81 million people had fled.") == ["4.81 million"]
    assert numbers("As many as 40 may have died at 3 pm.") == ["As many as 40"]  # "may" is no month here
    assert numbers("At most 2000 km of road.") == ["At most 2000"]  # a bare year-like number may count
    assert names("The Turkish military and the YPG-led militia met Erdogan and Brian in Pakistan.") == ["Erdogan and Brian", "Pakistan"]
    assert names("Residents of al-Foua and Kefraya fled.") == ["Residents", "al-Foua and Kefraya"]


def test_a_stored_section_is_read_or_ignored():
    from qa.chunking import read_section
    from qa.types import Sentence

    assert read_section({"section": "Talks in Geneva", "section_at": "10-25"}) == (Sentence(10, 25, "heading"), "Talks in Geneva")
    for broken in ({"section": "X", "section_at": "12"}, {"section": "X", "section_at": "a-b"}, {"section": "X", "section_at": "5-2"}, {}):
        assert read_section(broken) is None  # not as written: no section, and no error for the question


@pytest.mark.parametrize(
    ("sentence", "source"),
    [
        ('"We will stay," Commander Ali said.', "Commander Ali"),
        ("The UN did not say how many died.", None),  # says nothing
        ("A ministry spokesman did not say which agent was used but said rebels had used it.", "A ministry spokesman"),
    ],
)
def test_attribution_of_quotes_and_denials(sentence, source):
    found = attribution(sentence)
    assert (found.source if found else None) == source
