"""The peer of bench/peers.py: the same conversations through Pipecat's own pipeline, in a process of its own.

Each conversation is one Pipecat pipeline, as a Pipecat bot holds per call: the user context aggregator,
Pipecat's OpenAI LLM service pointed at the scripted OpenAI-compatible server, a TTS stage that
aggregates the streamed text into sentences with Pipecat's own sentence aggregation (the TTSService
base class) and discards them, and the assistant context aggregator. Every conversation runs in this
one process and event loop, as Pipecat runs its bots. A turn appends the question to the context and
runs the LLM; the first sentence's time is when Pipecat hands it to the TTS stage's `run_tts`, the
turn ends when the LLM's full response has passed that stage.

Prints one JSON object: per measured turn its question and times (`time.monotonic`, one clock for
every process of the machine), and this process's CPU seconds over the measured window.
"""

import argparse
import asyncio
import json
import sys
import time
from collections.abc import AsyncGenerator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from loguru import logger
from pipecat.frames.frames import Frame, LLMFullResponseEndFrame, LLMMessagesAppendFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.openai.llm import OpenAILLMService
from pipecat.services.tts_service import TTSService
from pipecat.workers.runner import WorkerRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.turns import Turn


class DiscardingTTS(TTSService):
    """Pipecat's TTS stage with its sentence aggregation; synthesis itself is left out."""

    def __init__(self) -> None:
        super().__init__(sample_rate=16000)
        self.turn: Turn | None = None
        self.turn_done = asyncio.Event()

    def can_generate_metrics(self) -> bool:
        return False

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame | None, None]:
        if self.turn is not None and self.turn.first_sentence_at is None:
            self.turn.first_sentence_at = time.monotonic()
        yield None

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMFullResponseEndFrame) and self.turn is not None:
            self.turn.done_at = time.monotonic()
            self.turn_done.set()


@dataclass(slots=True)
class Window:
    """Shared by the conversations: when measuring starts and ends."""

    clients: int
    seconds: float
    warmed: int = 0
    go: asyncio.Event = field(default_factory=asyncio.Event)
    deadline: float = 0.0
    cpu_before: float = 0.0
    began: float = 0.0


async def conversation(
    index: int, llm_url: str, questions: list[str], warmup: int, window: Window, turns: list[Turn]
) -> None:
    context = LLMContext([{"role": "system", "content": "You answer from the help centre."}])
    aggregators = LLMContextAggregatorPair(context)
    tts = DiscardingTTS()
    llm = OpenAILLMService(api_key="scripted", base_url=llm_url, model="scripted")
    pipeline = Pipeline([aggregators.user(), llm, tts, aggregators.assistant()])
    worker = PipelineWorker(pipeline, params=PipelineParams(), cancel_on_idle_timeout=False)
    started = asyncio.Event()

    @worker.event_handler("on_pipeline_started")
    async def on_started(_worker: PipelineWorker, _frame: Frame) -> None:
        started.set()

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    running = asyncio.create_task(runner.run())
    await started.wait()

    async def ask(question: str) -> Turn:
        turn = Turn(question=question, sent_at=time.monotonic())
        tts.turn = turn
        tts.turn_done.clear()
        await worker.queue_frame(
            LLMMessagesAppendFrame(messages=[{"role": "user", "content": question}], run_llm=True)
        )
        await tts.turn_done.wait()
        return turn

    for n in range(warmup):
        await ask(f"{questions[n % len(questions)]} ({index}-{n}-warmup)")
    window.warmed += 1
    if window.warmed == window.clients:
        window.cpu_before = time.process_time()
        window.began = time.monotonic()
        window.deadline = window.began + window.seconds
        window.go.set()
    await window.go.wait()
    n = 0
    while time.monotonic() < window.deadline:
        turns.append(await ask(f"{questions[n % len(questions)]} ({index}-{n}-measured)"))
        n += 1
    await worker.cancel()
    await running


async def run(
    llm_url: str, clients: int, seconds: float, warmup: int, questions: list[str]
) -> dict[str, object]:
    turns: list[Turn] = []
    window = Window(clients=clients, seconds=seconds)
    await asyncio.gather(
        *(conversation(i, llm_url, questions, warmup, window, turns) for i in range(clients))
    )
    return {
        "turns": [asdict(turn) for turn in turns],
        "elapsed": time.monotonic() - window.began,
        "cpu_s": time.process_time() - window.cpu_before,
    }


def main() -> None:
    # A bot in production logs warnings, not every frame (our server runs at log level warning too).
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--llm-url", required=True)
    parser.add_argument("--clients", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--questions", required=True, help="JSON list of questions")
    args = parser.parse_args()
    result = asyncio.run(
        run(args.llm_url, args.clients, args.seconds, args.warmup, json.loads(args.questions))
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
