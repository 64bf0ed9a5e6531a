"""Questions asking what something is ("What is Acme?", "Who are the Digital Buddies?", "Tell me about
the Eastfield branch"): a knowledge base says it where the document titled after it begins, which the
retriever's words rarely single out, since every chunk of that document carries the title."""

import re

from functions.core.llm.base import Passage
from functions.core.text.terms import content_terms

_ASKS_WHAT_IT_IS = re.compile(
    r"^\W*(?:(?:what|who)(?:'s|\s+(?:is|are))|tell\s+me\s+about)\s+(?P<subject>[^?!.]+?)\W*$", re.IGNORECASE
)


def defined(question: str, passages: list[Passage]) -> Passage | None:
    """The first passage of a document titled after what `question` asks about (all the subject's words
    in the document's title or its top heading); None for another question, or a subject no title names
    ("What is the fee?")."""
    asked = _ASKS_WHAT_IT_IS.match(question.strip())
    subject = content_terms(asked.group("subject")) if asked else set()
    if not subject:
        return None
    return next(
        (p for p in passages if subject <= content_terms(" ".join([p.document_title, *p.heading_path[:1]]))),
        None,
    )
