"""A conversation turn: persist the question, retrieve, prompt, stream sentences, persist the reply.

`start` is the one way in. It does everything that can still refuse the turn with a plain HTTP error,
cheapest first: no such session or the session is over (before any audio is transcribed), turn_id
reused for another question; then it commits the user message. `events` then retrieves once and
yields the turn as `TurnEvent`s (models.py) in the order clients rely on: user, sources,
delta/sentence..., done or error. Nothing waits for the whole reply before the first sentence goes out.
`event_batches` yields the same events in the groups they are made in (a delta and the sentences it
completes come from one read of the model's stream), so a stream sends each group at once.

One generation per turn: the request that claims the turn's question generates its reply, renewing
the claim while it streams; a duplicate of the same turn_id (a retry racing the first attempt) waits
for the stored reply and replays it, or takes the claim over once it lapses (the first attempt died or
failed). While it streams, the generator also checks every `CHECK_SECONDS` that the session is still
live: once the session has ended, generation stops and what was generated is stored as interrupted.
"""

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from time import perf_counter
from typing import Any

from functions.core.auth.tokens import Principal
from functions.core.db.pool import Database
from functions.core.errors import AppError, Conflict, NotFound
from functions.core.llm.base import ChatMessage, ChatModel, Passage, TokenUsage, ToolCallingChat, stream_words
from functions.core.llm.embeddings import Embedder, embedder_from_settings
from functions.core.llm.factory import chat_model_from_settings
from functions.core.sessions.state import SESSION_NOT_FOUND, add_event, refuse_ended_session
from functions.core.settings import Settings
from functions.core.speech.stt import transcribe
from functions.core.text.sentences import SentenceSplitter, split_sentences
from functions.core.tools.turn_tools import SessionTool, ToolLog, ToolOutcome
from functions.core.turns import store
from functions.core.turns.models import (
    DeltaEvent,
    DoneEvent,
    ErrorEvent,
    Problem,
    Sentence,
    SentenceEvent,
    SourcesEvent,
    TurnDelta,
    TurnDone,
    TurnEvent,
    TurnRequest,
    TurnResult,
    TurnSources,
    TurnUser,
    UserEvent,
)
from functions.core.turns.prompt import GROUNDED_REFUSAL, Persona, build_messages, introduction
from functions.core.turns.reply_parts import Source, Timings
from functions.core.turns.request import AudioTurn, turn_request
from functions.core.turns.server_speech import ServerSpeech, spoken

log = logging.getLogger(__name__)

# Replies cut off by a disconnect are still stored; these tasks outlive the request that started them.
_finishing: set[asyncio.Task[None]] = set()

CLAIM_SECONDS = 60.0  # a turn's claim lapses this long after its generator last renewed it
CHECK_SECONDS = 1.0  # how often a streaming reply renews its claim and checks the session is live
WAIT_POLL_SECONDS = 0.2  # how often a duplicate of a turn being generated looks for its reply


@dataclass(frozen=True)
class PreparedTurn:
    principal: Principal
    session_id: uuid.UUID
    turn_id: str
    question: str
    user_message_id: uuid.UUID
    avatar_id: uuid.UUID
    persona: Persona
    history: list[ChatMessage]
    stored: store.StoredReply | None
    started: float
    claimed: bool  # this request generates the reply; otherwise a concurrent duplicate does
    server_speech: ServerSpeech | None = None
    # The question's embedding, computed while the turn's first transaction runs (None: full text only).
    query_embedding: "asyncio.Future[list[float] | None] | None" = None
    tools: tuple[SessionTool, ...] = ()  # the avatar's enabled tools, read with the turn's beginning
    stt_ms: float | None = None  # how long this request's transcription took (audio turns heard anew)


def _ms(since: float) -> float:
    return round((perf_counter() - since) * 1000, 2)


def _problem(exc: Exception) -> Problem:
    if isinstance(exc, AppError):
        return Problem.model_validate(exc.problem())
    return Problem(status=500, code="internal_error", detail="the reply failed; please ask again")


async def asked_in_live_session(
    db: Database, settings: Settings, principal: Principal, session_id: uuid.UUID, turn_id: str
) -> store.Asked:
    """What turn `turn_id` of the session asked already, if anything, and the avatar's language: 404
    without such a session (or not the principal's), 409 once it is over."""
    async with db.as_user(principal.claims) as conn:
        asked = await store.asked(conn, session_id, turn_id)
    if asked is None:
        raise NotFound(SESSION_NOT_FOUND)
    if not asked.live:
        await refuse_ended_session(db, principal, session_id, settings)
    return asked


class TurnEngine:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        chat: ChatModel | None,
        embedder: Embedder | None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.chat = chat
        self.embedder = embedder

    async def start(
        self,
        principal: Principal,
        session_id: uuid.UUID,
        request: TurnRequest | AudioTurn,
        *,
        history: list[ChatMessage] | None = None,
    ) -> PreparedTurn:
        """Refuse the turn (no such session, session over, turn_id reused for another question) or
        commit its user message; `events` then runs it. An audio turn is transcribed only once the session
        is known to be live, and only the first time its turn_id comes. `history` replaces the stored
        one (OpenAI clients send the whole conversation with every request)."""
        stt_ms = None
        if isinstance(request, AudioTurn):
            request, stt_ms = await self._heard(principal, session_id, request)
        started = perf_counter()
        embedding = None if self.embedder is None else asyncio.ensure_future(self._embed(request.text))
        try:
            begun = await self._begin(principal, session_id, request)
            if begun is None:
                raise NotFound(SESSION_NOT_FOUND)
            if not begun.live:
                # Retried or not, stored reply or not: nothing more is taken once the session is over.
                await refuse_ended_session(self.db, principal, session_id, self.settings)
            assert begun.user_message_id is not None
            assert begun.question is not None
            if begun.question != request.text:
                raise Conflict(f"turn_id {request.turn_id!r} was already used for another question")
            if begun.persona is None or begun.avatar_id is None:
                raise NotFound("this session's avatar no longer exists")
        except BaseException:
            if embedding is not None:
                embedding.cancel()
            raise
        if embedding is not None and (begun.stored is not None or not begun.claimed):
            embedding.cancel()  # a replayed turn, or one another request generates, retrieves nothing here
            embedding = None
        window = self.settings.turn_history_messages
        return PreparedTurn(
            principal=principal,
            session_id=session_id,
            turn_id=request.turn_id,
            question=begun.question,
            user_message_id=begun.user_message_id,
            avatar_id=begun.avatar_id,
            persona=begun.persona,
            history=begun.history if history is None else history[-window:] if window else [],
            stored=begun.stored,
            started=started,
            claimed=begun.claimed,
            server_speech=(
                ServerSpeech(begun.provider, begun.provider_session_id)
                if begun.server_speech and begun.provider_session_id is not None
                else None
            ),
            query_embedding=embedding,
            tools=tuple(begun.tools),
            stt_ms=stt_ms,
        )

    async def _heard(
        self, principal: Principal, session_id: uuid.UUID, audio: AudioTurn
    ) -> tuple[TurnRequest, float | None]:
        """The question of an audio turn: what its first attempt stored, else the paid transcription,
        which is asked for only once the session is found live; and how long that took in ms."""
        asked = await asked_in_live_session(self.db, self.settings, principal, session_id, audio.turn_id)
        if asked.question is not None:
            return turn_request(audio.turn_id, asked.question), None
        transcribing = perf_counter()
        text = await transcribe(
            audio.audio, audio.filename, audio.content_type, self.settings, language=asked.language
        )
        return turn_request(audio.turn_id, text), _ms(transcribing)

    async def _begin(
        self, principal: Principal, session_id: uuid.UUID, request: TurnRequest
    ) -> store.Begun | None:
        import psycopg

        limit = self.settings.turn_history_messages
        for attempt in range(2):
            try:
                async with self.db.as_user(principal.claims) as conn:
                    return await store.begin(
                        conn, session_id, request.turn_id, request.text, limit, lease_seconds=CLAIM_SECONDS
                    )
            except psycopg.errors.UniqueViolation:
                # The same turn_id raced in from a retry; the second pass finds the first's message.
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def events(self, turn: PreparedTurn) -> AsyncIterator[TurnEvent]:
        """The turn's events; for an avatar set up so, its provider says each sentence as it comes."""
        if turn.server_speech is None:
            return _each(self._batches(turn))
        return spoken(_each(self._batches(turn)), turn.server_speech, self.settings)

    def event_batches(self, turn: PreparedTurn) -> AsyncIterator[list[TurnEvent]]:
        """`events` in the groups they are made in, each as soon as it is complete (an avatar whose
        provider says the sentences gets one event per group: its speech follows each sentence)."""
        if turn.server_speech is None:
            return self._batches(turn)
        return _one_by_one(self.events(turn))

    async def _batches(self, turn: PreparedTurn) -> AsyncGenerator[list[TurnEvent], None]:
        yield [
            UserEvent(
                data=TurnUser(turn_id=turn.turn_id, message_id=turn.user_message_id, text=turn.question)
            )
        ]
        stored = turn.stored
        if stored is None and not turn.claimed:
            try:
                stored = await self._await_reply(turn)
            except AppError as exc:
                yield [ErrorEvent(data=_problem(exc))]
                return
        if stored is not None:
            yield self._replay(stored)
            return
        timings = Timings()
        reply: list[str] = []
        sources: list[Source] = []
        tool_log = ToolLog()
        usage = TokenUsage()
        saved = False
        live = True
        try:
            passages = await self._retrieve(turn, timings)
            sources = store.sources_of(passages)
            yield [SourcesEvent(data=TurnSources(sources=sources))]
            splitter = SentenceSplitter()
            spoken: list[str] = []

            def sentence_events(completed: list[str]) -> list[TurnEvent]:
                if completed and timings.first_sentence_ms is None:
                    timings.first_sentence_ms = _ms(turn.started)
                first = len(spoken)
                spoken.extend(completed)
                return [SentenceEvent(data=Sentence.of(first + i, text)) for i, text in enumerate(completed)]

            llm_started = checked = perf_counter()
            answer = self._answer(turn, passages, tool_log, usage)
            async with contextlib.aclosing(answer):
                async for delta in answer:
                    if timings.llm_first_token_ms is None:
                        timings.llm_first_token_ms = _ms(llm_started)
                    reply.append(delta)
                    yield [DeltaEvent(data=TurnDelta(text=delta)), *sentence_events(splitter.feed(delta))]
                    if perf_counter() - checked >= CHECK_SECONDS:
                        live = await self._renew(turn)
                        checked = perf_counter()
                        if not live:
                            break  # the session ended: closing the stream stops the model
            if live and (last := sentence_events(splitter.flush())):
                yield last
            content = "".join(reply).strip()
            timings.total_ms = _ms(turn.started)
            message_id = None
            if content or live:
                message_id = await self._save(
                    turn,
                    content,
                    sources,
                    timings,
                    interrupted=not live,
                    tool_calls=tool_log.calls,
                    usage=usage,
                )
            saved = True
            yield [
                DoneEvent(
                    data=TurnDone(
                        assistant_message_id=message_id,
                        reply=content,
                        timings=timings,
                        offline=self.chat is None,
                        interrupted=not live,
                        tool_calls=tool_log.announced,
                        action=tool_log.action,
                    )
                )
            ]
        except (asyncio.CancelledError, GeneratorExit):
            # The client went away mid-reply (an interrupt, a closed tab): keep what was generated.
            if not saved:
                timings.total_ms = _ms(turn.started)
                self._finish_later(turn, "".join(reply).strip(), sources, timings, tool_log.calls, usage)
            raise
        except Exception as exc:
            if not isinstance(exc, AppError):
                log.exception("turn %s of session %s failed", turn.turn_id, turn.session_id)
            problem = _problem(exc)
            await self._record_failure(turn, problem)
            yield [ErrorEvent(data=problem)]

    def _replay(self, stored: store.StoredReply) -> list[TurnEvent]:
        sentences = split_sentences(stored.content)
        return [
            SourcesEvent(data=TurnSources(sources=stored.sources)),
            DeltaEvent(data=TurnDelta(text=stored.content)),
            *(SentenceEvent(data=Sentence.of(i, s)) for i, s in enumerate(sentences)),
            DoneEvent(
                data=TurnDone(
                    assistant_message_id=stored.message_id,
                    reply=stored.content,
                    timings=stored.timings,
                    offline=self.chat is None,
                    interrupted=stored.interrupted,
                )
            ),
        ]

    async def _await_reply(self, turn: PreparedTurn) -> store.StoredReply | None:
        """A duplicate of a turn another request is generating: its reply once stored, or None when this
        request took the claim over (the other one failed, or died and let the claim lapse); 409 when
        the session ended without a reply stored."""
        while True:
            async with self.db.as_user(turn.principal.claims) as conn:
                stored = await store.stored_reply(conn, turn.session_id, turn.turn_id)
                if stored is not None:
                    return stored
                claim = await store.claim(conn, turn.session_id, turn.turn_id, CLAIM_SECONDS)
            if claim.claimed:
                return None
            if not claim.live and not claim.held:
                # The other request failed or died, and the session is over: nothing generates it now.
                await refuse_ended_session(self.db, turn.principal, turn.session_id, self.settings)
            await asyncio.sleep(WAIT_POLL_SECONDS)

    async def _renew(self, turn: PreparedTurn) -> bool:
        async with self.db.as_user(turn.principal.claims) as conn:
            return await store.renew(conn, turn.session_id, turn.turn_id, CLAIM_SECONDS)

    async def _embed(self, question: str) -> list[float] | None:
        assert self.embedder is not None
        try:
            return await self.embedder.embed_query(question)
        except AppError as exc:
            # Full text alone still answers; a slow or failing embedding service must not.
            log.warning("query embedding failed, retrieving by full text only: %s", exc.detail)
            return None

    async def _retrieve(self, turn: PreparedTurn, timings: Timings) -> list[Passage]:
        started = perf_counter()
        embedding: list[float] | None = None
        model: str | None = None
        if self.embedder is not None:
            pending = turn.query_embedding or asyncio.ensure_future(self._embed(turn.question))
            embedding = await pending
            model = None if embedding is None else self.embedder.model
        async with self.db.as_user(turn.principal.claims) as conn:
            passages = await store.retrieve(
                conn, turn.avatar_id, turn.question, embedding, model, self.settings.turn_sources
            )
        timings.retrieval_ms = _ms(started)
        return passages

    def _answer(
        self, turn: PreparedTurn, passages: list[Passage], tool_log: ToolLog, usage: TokenUsage
    ) -> AsyncGenerator[str, None]:
        grounded_only = turn.persona.grounded_only
        if self.chat is None:
            # Imported by the first turn without an LLM key: with one, the streaming function never needs it.
            from functions.core.llm.offline import OfflineAnswerer

            return OfflineAnswerer().answer(
                turn.question, passages, grounded_only=grounded_only, introduction=introduction(turn.persona)
            )
        if grounded_only and not passages:
            return stream_words(GROUNDED_REFUSAL)
        messages = build_messages(turn.persona, passages, turn.history, turn.question)
        if isinstance(self.chat, ToolCallingChat):
            return self._answer_with_tools(self.chat, turn, messages, tool_log, usage)
        return self.chat.stream(
            messages,
            max_tokens=self.settings.llm_max_tokens,
            temperature=self.settings.llm_temperature,
            usage=usage,
        )

    async def _answer_with_tools(
        self,
        chat: ToolCallingChat,
        turn: PreparedTurn,
        messages: list[ChatMessage],
        tool_log: ToolLog,
        usage: TokenUsage,
    ) -> AsyncGenerator[str, None]:
        """The avatar's tools are offered when it has any; calls run as the caller, through RLS."""
        max_tokens, temperature = self.settings.llm_max_tokens, self.settings.llm_temperature
        if turn.tools:
            # Imported by the first turn that offers a tool (most avatars have none), or held by the
            # streaming function's snapshot.
            from functions.core.tools.conversation import converse
            from functions.core.tools.runtime import call_context, run_tool

            context = call_context(self.db, turn.principal, turn.session_id, self.settings)

            async def run(tool: SessionTool, arguments: dict[str, Any]) -> ToolOutcome:
                return await run_tool(context, tool, arguments)

            stream = converse(
                chat,
                messages,
                list(turn.tools),
                run,
                tool_log,
                max_tokens=max_tokens,
                temperature=temperature,
                usage=usage,
            )
        else:
            stream = chat.stream(messages, max_tokens=max_tokens, temperature=temperature, usage=usage)
        async with contextlib.aclosing(stream):
            async for piece in stream:
                yield piece

    async def _save(
        self,
        turn: PreparedTurn,
        content: str,
        sources: list[Source],
        timings: Timings,
        *,
        interrupted: bool,
        tool_calls: list[dict[str, Any]] | None = None,
        usage: TokenUsage | None = None,
    ) -> uuid.UUID:
        import psycopg

        try:
            async with self.db.as_user(turn.principal.claims) as conn:
                return await store.save_reply(
                    conn,
                    turn.session_id,
                    turn.turn_id,
                    content,
                    sources,
                    timings,
                    interrupted=interrupted,
                    tool_calls=tool_calls,
                    usage=usage,
                )
        except psycopg.errors.UniqueViolation:
            # Another request took the turn over after this one's claim lapsed, and stored first.
            async with self.db.as_user(turn.principal.claims) as conn:
                stored = await store.stored_reply(conn, turn.session_id, turn.turn_id)
            if stored is None:
                raise
            return stored.message_id

    def _finish_later(
        self,
        turn: PreparedTurn,
        content: str,
        sources: list[Source],
        timings: Timings,
        tool_calls: list[dict[str, Any]],
        usage: TokenUsage,
    ) -> None:
        async def finish() -> None:
            try:
                if content:
                    await self._save(
                        turn, content, sources, timings, interrupted=True, tool_calls=tool_calls, usage=usage
                    )
                else:
                    await self._release(turn)
            except Exception:
                log.exception("storing the cut-off reply of turn %s failed", turn.turn_id)

        task = asyncio.get_running_loop().create_task(finish())
        _finishing.add(task)
        task.add_done_callback(_finishing.discard)

    async def _release(self, turn: PreparedTurn) -> None:
        async with self.db.as_user(turn.principal.claims) as conn:
            await store.release(conn, turn.session_id, turn.turn_id)

    async def _record_failure(self, turn: PreparedTurn, problem: Problem) -> None:
        """The user message stays; the session stays live (the next turn may succeed); the log says why.
        The turn's claim is given up, so a retry generates again at once."""
        try:
            async with self.db.as_user(turn.principal.claims) as conn:
                await add_event(
                    conn, turn.session_id, "error", {"turn_id": turn.turn_id, **problem.model_dump()}
                )
                await store.release(conn, turn.session_id, turn.turn_id)
        except Exception:
            log.exception("recording the failure of turn %s failed", turn.turn_id)


async def _each(batches: AsyncGenerator[list[TurnEvent], None]) -> AsyncIterator[TurnEvent]:
    """The events of `batches` one by one; closing this closes `batches` (a cut-off reply is stored)."""
    async with contextlib.aclosing(batches):
        async for batch in batches:
            for event in batch:
                yield event


async def _one_by_one(events: AsyncIterator[TurnEvent]) -> AsyncIterator[list[TurnEvent]]:
    async for event in events:
        yield [event]


async def collect(turn: PreparedTurn, events: AsyncIterator[TurnEvent]) -> TurnResult:
    """The whole turn as one object, for `Accept: application/json`; an `error` event raises."""
    sources: list[Source] = []
    sentences: list[Sentence] = []
    async for event in events:
        match event:
            case SourcesEvent(data=found):
                sources = found.sources
            case SentenceEvent(data=sentence):
                sentences.append(sentence)
            case ErrorEvent(data=problem):
                raise TurnFailed(problem)
            case DoneEvent(data=done):
                return TurnResult(
                    turn_id=turn.turn_id,
                    user_message_id=turn.user_message_id,
                    assistant_message_id=done.assistant_message_id,
                    reply=done.reply,
                    sentences=sentences,
                    sources=sources,
                    timings=done.timings,
                    offline=done.offline,
                    interrupted=done.interrupted,
                    tool_calls=done.tool_calls,
                    action=done.action,
                )
    raise AssertionError("a turn ends with done or error")


class TurnFailed(AppError):
    """A turn that failed after its user message was stored, answered as the problem it reported."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.detail)
        self.status = problem.status
        self.code = problem.code
        self.extra = problem.model_extra or {}

    def problem(self) -> dict[str, Any]:
        return {**super().problem(), **self.extra}


def turn_engine(db: Database, settings: Settings) -> TurnEngine:
    return TurnEngine(
        db, settings, chat=chat_model_from_settings(settings), embedder=embedder_from_settings(settings)
    )
