"""Settings: sections by concern, flat names and QA_* variables, and one clear error for a bad value."""

import pytest

from qa import Assistant, Settings
from qa.config import FLAT, MODES, SECTIONS, IndexSettings, describe
from qa.errors import ConfigError


@pytest.fixture(autouse=True)
def no_qa_variables(monkeypatch):
    import os

    for name in [n for n in os.environ if n.upper().startswith("QA_")]:
        monkeypatch.delenv(name)


def test_flat_and_section_keywords_set_the_same_field():
    flat = Settings(top_k=3, answer_max_words=40, host="0.0.0.0")
    nested = Settings(retrieval={"top_k": 3}, answer={"max_words": 40}, app={"host": "0.0.0.0"})
    assert flat == nested
    assert (flat.retrieval.top_k, flat.answer.max_words, flat.app.host) == (3, 40, "0.0.0.0")


def test_a_flat_keyword_beats_its_sections_value():
    assert Settings(retrieval={"top_k": 3, "mode": "bm25"}, top_k=7).retrieval.model_dump() == {
        "top_k": 7,
        "mode": "bm25",
        "candidates_per_retriever": 10,
        "compare_outlets": 6,
        "compare_pool": 3,
    }


def test_flat_and_nested_variables_are_read(monkeypatch):
    monkeypatch.setenv("QA_TOP_K", "7")
    monkeypatch.setenv("QA_ANSWER__MIN_SUPPORT", "0.5")
    monkeypatch.setenv("QA_EXAMPLE_QUESTIONS", '["Who shelled Saraqib?"]')
    monkeypatch.setenv("QA_AUTH", "")
    settings = Settings()
    assert settings.retrieval.top_k == 7 and settings.answer.min_support == 0.5
    assert settings.app.example_questions == ["Who shelled Saraqib?"] and settings.app.auth is None


def test_keywords_beat_variables_and_a_section_variable_beats_a_flat_one(monkeypatch):
    monkeypatch.setenv("QA_TOP_K", "7")
    assert Settings(top_k=2).retrieval.top_k == 2
    monkeypatch.setenv("QA_RETRIEVAL__TOP_K", "9")
    assert Settings().retrieval.top_k == 9


def test_every_flat_name_is_one_field_and_has_its_variable():
    fields = {(section, name) for section, model in SECTIONS.items() for name in model.model_fields}
    assert set(FLAT.values()) == fields  # each field once, none left out
    assert FLAT["answer_max_words"] == ("answer", "max_words") and FLAT["index_dir"] == ("index", "index_dir")


def test_a_bad_value_is_one_line_naming_the_setting_and_its_variable(monkeypatch):
    with pytest.raises(ConfigError) as caught:
        Assistant(top_k=0)
    assert str(caught.value) == (
        "bad setting top_k (QA_TOP_K or QA_RETRIEVAL__TOP_K): Input should be greater than or equal to 1, got 0"
    )
    monkeypatch.setenv("QA_ANSWER_MAX_WORDS", "many")
    with pytest.raises(ConfigError, match=r"^bad setting answer_max_words \(QA_ANSWER_MAX_WORDS or QA_ANSWER__MAX_WORDS\): .*integer.*'many'$"):
        Assistant()
    monkeypatch.delenv("QA_ANSWER_MAX_WORDS")
    with pytest.raises(ConfigError, match=r"^bad setting colour \(QA_COLOUR\): Extra inputs are not permitted"):
        Assistant(colour="red")


def test_describe_names_a_section_field_by_its_flat_name():
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as caught:
        Settings(retrieval={"mode": "fuzzy"})
    assert describe(caught.value).startswith(
        "bad setting mode (QA_MODE or QA_RETRIEVAL__MODE): Input should be 'hybrid', 'dense' or 'bm25'"
    )


def test_a_misspelt_section_variable_or_a_section_given_whole_is_one_line(monkeypatch):
    monkeypatch.setenv("QA_INDEX__DIRECTORY", "/tmp/elsewhere")
    with pytest.raises(ConfigError, match=r"^bad setting index.directory \(QA_INDEX__DIRECTORY\): Extra inputs"):
        Assistant()
    monkeypatch.delenv("QA_INDEX__DIRECTORY")
    monkeypatch.setenv("QA_INDEX", "/tmp/elsewhere")  # meant QA_INDEX_DIR
    with pytest.raises(ConfigError, match=r"^bad setting: error parsing value for field \"index\""):
        Assistant()


def test_a_section_keyword_changes_only_the_fields_it_names(monkeypatch):
    monkeypatch.setenv("QA_TOP_K", "9")
    assistant = Assistant(Settings(top_k=3), retrieval={"mode": "dense"})
    assert (assistant.settings.retrieval.top_k, assistant.settings.retrieval.mode) == (3, "dense")


def test_the_modes_are_the_settings_choices():
    assert MODES == ("hybrid", "dense", "bm25")
    for mode in MODES:
        assert Settings(mode=mode).retrieval.mode == mode


def test_the_index_key_changes_with_what_shapes_vectors_and_chunks_only():
    base = IndexSettings()
    assert IndexSettings(index_dir="/elsewhere", device="cpu").key() == base.key()
    assert IndexSettings(chunk_words=80).key() != base.key()
    assert IndexSettings(chunk_overlap_sentences=0).key() != base.key()


def test_a_settings_object_and_keywords_combine_in_the_assistant(tmp_path):
    assistant = Assistant(Settings(top_k=3, mode="bm25"), index_dir=tmp_path, mode="dense")
    assert (assistant.settings.retrieval.top_k, assistant.settings.retrieval.mode) == (3, "dense")
    assert assistant.settings.index.index_dir == tmp_path
