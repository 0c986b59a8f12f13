"""Tokenizer: hand-checked examples (accents, Hebrew, stopwords, stems) and token-for-token parity with bm25s."""

from __future__ import annotations

import daft
import pytest
from daft import col

from daft_retrieval.load import load_beir
from daft_retrieval.schema import TERM, document_text
from daft_retrieval.text.stopwords import STOPWORDS
from daft_retrieval.text.tokenize import Tokenizer
from tests.conftest import shared_dataset


def _tokens(tokenizer: Tokenizer, texts: list[str | None]) -> list[list[str]]:
    return daft.from_pydict({"t": texts}).select(tokenizer.tokens(col("t"))).to_pydict()["t"]


def test_default_splits_runs_of_two_or_more_word_characters():
    # "a" and "I" are one character: dropped; "x_y" keeps the underscore; "3.14" splits at the dot into "14" only
    assert _tokens(Tokenizer(), ["I saw a x_y at 3.14 GHz!"]) == [["saw", "x_y", "at", "14", "ghz"]]


def test_accents_and_other_scripts_are_word_characters():
    assert _tokens(Tokenizer(), ["Café NAÏVE Straße ΟΔΟΣ"]) == [["café", "naïve", "straße", "οδος"]]


def test_hebrew_words_and_niqqud():
    # plain Hebrew words stay whole; niqqud (combining marks) are not word characters in Python's \w, so a
    # pointed word splits where bm25s (Python re) splits it: שָׁלוֹם -> ש ָׁ ל וֹ ם -> only "לו" has 2+ letters
    assert _tokens(Tokenizer(), ["שלום עולם", "שָׁלוֹם"]) == [["שלום", "עולם"], ["לו"]]


def test_lowercase_off_keeps_case():
    assert _tokens(Tokenizer(lowercase=False), ["The Cat"]) == [["The", "Cat"]]


def test_stopwords_are_removed_before_stemming():
    # "the", "are", "it", "is" are in the English list; stems are not checked against it again
    tok = Tokenizer(stopwords="en", stemmer="english")
    assert _tokens(tok, ["The cats are running; it is theirs", None, ""]) == [["cat", "run", "their"], [], []]
    assert "their" in STOPWORDS["en"]


def test_custom_stopwords_and_serialisation():
    tok = Tokenizer(stopwords=["cat"])
    assert tok.stopwords == ("cat",)
    assert _tokens(tok, ["cat dog"]) == [["dog"]]
    assert Tokenizer.from_dict(tok.to_dict()) == tok
    stem = Tokenizer(stopwords="en", stemmer="english")
    assert Tokenizer.from_dict(stem.to_dict()) == stem


def test_terms_explode_to_one_row_per_token():
    df = daft.from_pydict({"id": ["a", "b", "c"], "t": ["The dogs and the dogs", "", None]})
    rows = Tokenizer(stopwords="en", stemmer="english").terms(df, "id", col("t")).to_pydict()
    assert rows == {"id": ["a", "a"], TERM: ["dog", "dog"]}


def test_bad_settings_fail_early():
    with pytest.raises(ValueError, match="unknown stopword list"):
        Tokenizer(stopwords="klingon")
    with pytest.raises(ValueError, match="unknown stemmer"):
        Tokenizer(stemmer="klingon")


@pytest.mark.parametrize("name", ["scifact", "heq"])
@pytest.mark.parametrize("settings", [{}, {"stopwords": "en", "stemmer": "english"}])
def test_same_tokens_as_bm25s(name, settings):
    bm25s = pytest.importorskip("bm25s")
    stemmer_module = pytest.importorskip("Stemmer")
    corpus = load_beir(str(shared_dataset(name))).corpus
    texts = corpus.select(document_text()).to_pydict()["document"]
    texts.append("İstanbul ΟΔΟΣ Straße café naïve שָׁלוֹם עולם x_y a1 ² ½ ǅa ﬁne ÀÉ ‿x")
    stemmer = stemmer_module.Stemmer(settings["stemmer"]) if "stemmer" in settings else None
    expected = bm25s.tokenize(
        texts, stopwords=settings.get("stopwords"), stemmer=stemmer, return_ids=False, show_progress=False
    )
    assert _tokens(Tokenizer(**settings), texts) == expected
