"""The words of an ``iam-gov:`` peer comment, read without shlex for the usual comment, are
shlex's words for every comment (white space other than shlex's included)."""

from __future__ import annotations

import shlex

from hypothesis import example, given, settings
from hypothesis import strategies as st

from iam_gov.connectors.wireguard.identities import _words

# shlex's white space, white space it does not split at, its quotes and escape, and words.
ALPHABET = [" ", "\t", "\r", "\n", "\x0b", "\x0c", "\xa0", "\u2003", '"', "'", "\\", "#"]
ALPHABET += ["=", "@", ".", "a", "b", "1", "é"]


@settings(max_examples=400)
@given(st.text(alphabet=st.sampled_from(ALPHABET), max_size=30))
@example("login=jdoe email=j.doe@example.com kind=human")
@example("name=Jane\xa0Doe\x0bkind=human")
@example('name="Jane Doe" kind=human')
@example("name='unclosed")
def test_words_are_shlex_words(text: str) -> None:
    """Same words as ``shlex.split``, or the same refusal (an unclosed quote)."""
    try:
        expected = shlex.split(text, comments=False, posix=True)
    except ValueError:
        try:
            _words(text)
        except ValueError:
            return
        raise AssertionError(f"{text!r}: read, though shlex refuses it") from None
    assert _words(text) == expected
