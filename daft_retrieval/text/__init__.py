"""Text processing: the tokenizer shared by lexical indexing and querying."""

from daft_retrieval.text.tokenize import Tokenizer

__all__ = ["Tokenizer"]
