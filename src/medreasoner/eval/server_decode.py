"""Incremental detokenization for ``medreasoner serve``: each step decodes a few tokens, not the reply.

Decoding a row's whole token list at every step (to stream it or to look for stop strings) makes a
reply of n tokens cost O(n²). :class:`IncrementalDecoder` decodes only a short window instead, the
offset scheme of Hugging Face TGI and vLLM: the window starts at the tokens of the previous piece
(``prefix``) and the new piece is what decoding the window adds to decoding its old part
(``read``). The context tokens make the difference exact for decoders whose output for a token
depends on its neighbours (SentencePiece drops the leading space of a first token; byte-level BPE
splits one character across tokens). A byte-level tokenizer decodes half of a multi-byte character
to U+FFFD, so while the window's text ends in U+FFFD nothing is returned: the next tokens may
complete the character. The pieces then add up to the decoding of all tokens at once, for every
decoder whose output does not change what it already produced (byte-level BPE, SentencePiece).

A model that emits bytes which never form a character keeps the window growing (and its text held)
until a complete character follows; the reply's final text is decoded whole anyway.
"""

from __future__ import annotations

from collections.abc import Callable

REPLACEMENT = "\ufffd"  # what a byte-level tokenizer decodes half of a multi-byte character to


class IncrementalDecoder:
    """The text of a growing token list, one new piece per token.

    Args:
        decode: token ids -> text (the tokenizer's decode, special tokens kept).

    >>> pieces = {1: b"\\xe8", 2: b"\\x82\\xba", 3: b"!"}
    >>> decoder = IncrementalDecoder(lambda ids: b"".join(pieces[i] for i in ids).decode(errors="replace"))
    >>> [decoder.push(token) for token in (1, 2, 3)]
    ['', '肺', '!']
    """

    def __init__(self, decode: Callable[[list[int]], str]):
        self.decode = decode
        self.tokens: list[int] = []
        self.prefix = 0  # the window starts here: the tokens of the last returned piece, as context
        self.read = 0  # tokens before this are in the returned text
        self.prefix_text = ""  # decode(tokens[prefix:read])

    def push(self, token: int) -> str:
        """The text ``token`` completes (often ``""`` inside a multi-byte character)."""
        self.tokens.append(token)
        text = self.decode(self.tokens[self.prefix:])
        if len(text) <= len(self.prefix_text) or text.endswith(REPLACEMENT):
            return ""
        piece = text[len(self.prefix_text):]
        self.prefix, self.read = self.read, len(self.tokens)
        self.prefix_text = self.decode(self.tokens[self.prefix:self.read])
        return piece
