"""Questions the knowledge base failed, grouped when they ask the same thing, answered by an entry."""

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from functions.core.auth.tokens import Principal
from functions.core.db.pool import Database
from functions.core.insights.models import (
    AnsweredGroup,
    AnswerGroup,
    Reason,
    UnansweredGroup,
    UnansweredQuestion,
)
from functions.core.knowledge.documents import add_document
from functions.core.knowledge.extract import Upload, inspect_upload
from functions.core.llm.offline import NO_KNOWLEDGE_YET, NOT_IN_KNOWLEDGE_BASE
from functions.core.text.terms import content_terms
from functions.core.turns.prompt import GROUNDED_REFUSAL

SAME_QUESTION = 0.5  # share of content words two questions have in common to count as one
MAX_QUESTIONS = 500
EXAMPLES = 5
_REFUSALS = (GROUNDED_REFUSAL, NOT_IN_KNOWLEDGE_BASE, NO_KNOWLEDGE_YET)


def question_key(question: str) -> str:
    """What a question asks, as its content words in order; rephrasings with the same words share it."""
    terms = sorted(content_terms(question))
    return (" ".join(terms) if terms else " ".join(question.lower().split()))[:500]


def _reason(row: dict[str, Any]) -> Reason:
    if row["rating"] == -1:
        return "rated_down"
    if row["answer"].strip().startswith(_REFUSALS):
        return "refused"
    return "no_sources"


@dataclass
class _Group:
    avatar_id: uuid.UUID
    terms: set[str]
    rows: list[dict[str, Any]] = field(default_factory=list)

    def similarity(self, terms: set[str]) -> float:
        if not terms or not self.terms:
            return 0.0
        return len(terms & self.terms) / len(terms | self.terms)


def group_questions(rows: list[dict[str, Any]]) -> list[UnansweredGroup]:
    """Rows newest first; a question joins the first group of its avatar it is similar enough to."""
    groups: list[_Group] = []
    for row in rows:
        terms = content_terms(row["question"])
        match = next(
            (g for g in groups if g.avatar_id == row["avatar_id"] and g.similarity(terms) >= SAME_QUESTION),
            None,
        )
        if match is None:
            match = _Group(avatar_id=row["avatar_id"], terms=set(terms))
            groups.append(match)
        match.rows.append(row)
    out = [
        UnansweredGroup(
            avatar_id=g.avatar_id,
            question=g.rows[0]["question"],
            count=len(g.rows),
            reasons=sorted({_reason(r) for r in g.rows}),
            keys=sorted({question_key(r["question"]) for r in g.rows}),
            last_asked_at=g.rows[0]["asked_at"].isoformat(),
            examples=[
                UnansweredQuestion(
                    question_id=r["question_id"],
                    answer_id=r["answer_id"],
                    session_id=r["session_id"],
                    question=r["question"],
                    answer=r["answer"],
                    reason=_reason(r),
                    comment=r["comment"] or None,
                    asked_at=r["asked_at"].isoformat(),
                )
                for r in g.rows[:EXAMPLES]
            ],
        )
        for g in groups
    ]
    return sorted(out, key=lambda g: -g.count)


async def unanswered_questions(
    db: Database, principal: Principal, start: date, end: date, avatar_id: uuid.UUID | None
) -> list[UnansweredGroup]:
    async with db.as_user(principal.claims) as conn:
        rows_cur = await conn.execute(
            "select * from public.insights_unanswered(%s, %s, %s, %s)",
            (start, end, avatar_id, MAX_QUESTIONS),
        )
        answered_cur = await conn.execute(
            "select avatar_id, question_key, created_at from public.answered_questions"
        )
        rows = await rows_cur.fetchall()
        answered = {
            (r["avatar_id"], r["question_key"]): r["created_at"] for r in await answered_cur.fetchall()
        }
    # A question asked before its group was answered is settled; asked again after, the entry did not help.
    still_open = [
        r
        for r in rows
        if (at := answered.get((r["avatar_id"], question_key(r["question"])))) is None or r["asked_at"] > at
    ]
    return group_questions(still_open)


def answer_upload(body: AnswerGroup, max_bytes: int) -> Upload:
    # The question is part of the text (headings are not), so full-text retrieval finds the entry by it.
    text = f"{' '.join(body.question.split())}\n\n{body.answer.strip()}\n"
    return inspect_upload(
        "answer.md", "text/markdown", text.encode(), title=body.question[:300], max_bytes=max_bytes
    )


async def answer_group(
    db: Database, principal: Principal, body: AnswerGroup, upload: Upload
) -> tuple[AnsweredGroup, bool]:
    """Add the owner's answer as a knowledge entry and mark the group's questions answered; the bool says
    whether the entry still needs indexing."""
    accepted = await add_document(db, principal, body.avatar_id, upload)
    document_id = accepted.uploaded.document_id
    async with db.as_user(principal.claims) as conn:
        for key in sorted(set(body.keys)):
            await conn.execute(
                "insert into public.answered_questions (avatar_id, question_key, question, document_id)"
                " values (%s, %s, %s, %s) on conflict (avatar_id, question_key) do update"
                " set question = excluded.question, document_id = excluded.document_id, created_at = now()",
                (body.avatar_id, key[:500], body.question, document_id),
            )
    answered = AnsweredGroup(
        document_id=document_id, status=accepted.uploaded.status, keys=sorted(set(body.keys))
    )
    return answered, accepted.needs_indexing
