"""Logs reach CloudWatch at the configured level, as JSON, even where the Lambda runtime set up logging."""

import io
import json
import logging
from collections.abc import Iterator

import pytest

from functions.core.logs import JsonFormatter, configure_logging


@pytest.fixture
def lambda_root() -> Iterator[io.StringIO]:
    """The root logger as the Lambda Python runtime leaves it: its own handler, level WARNING."""
    root = logging.getLogger()
    saved = (root.level, root.handlers[:], logging.getLogger("httpx").level)
    stream = io.StringIO()
    runtime_handler = logging.StreamHandler(stream)

    class RequestId(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            record.aws_request_id = "8f5e-request"
            return True

    runtime_handler.addFilter(RequestId())
    root.handlers = [runtime_handler]
    root.setLevel(logging.WARNING)
    yield stream
    root.setLevel(saved[0])
    root.handlers = saved[1]
    logging.getLogger("httpx").setLevel(saved[2])


def test_basic_config_is_a_no_op_there_which_is_why_it_is_not_used(lambda_root: io.StringIO) -> None:
    logging.basicConfig(level="INFO")
    logging.getLogger("functions.core.cleanup").info("lost")
    assert lambda_root.getvalue() == ""


def test_info_lines_reach_the_runtime_handler_as_json_with_the_request_id(lambda_root: io.StringIO) -> None:
    configure_logging("INFO", structured=True)
    logging.getLogger("functions.core.cleanup").info("cleanup ended %d session(s)", 3)
    logging.getLogger("functions.core.cleanup").debug("not at INFO")
    lines = lambda_root.getvalue().splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["level"] == "INFO"
    assert entry["logger"] == "functions.core.cleanup"
    assert entry["message"] == "cleanup ended 3 session(s)"
    assert entry["request_id"] == "8f5e-request"


def test_an_exception_is_one_json_line_with_its_traceback(lambda_root: io.StringIO) -> None:
    configure_logging("WARNING", structured=True)
    try:
        raise RuntimeError("pool closed")
    except RuntimeError:
        logging.getLogger("functions.core.api").exception("request failed")
    (line,) = lambda_root.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["level"] == "ERROR"
    assert "RuntimeError: pool closed" in entry["exception"]


def test_the_configured_level_holds_and_httpx_stays_at_warning_or_above(lambda_root: io.StringIO) -> None:
    configure_logging("debug", structured=False)
    logging.getLogger("functions.core.turns").debug("a debug line")
    assert "a debug line" in lambda_root.getvalue()
    assert logging.getLogger("httpx").level == logging.WARNING


def test_a_root_logger_without_handlers_gets_one(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    level = root.level
    try:
        configure_logging("INFO", structured=True)
        assert len(root.handlers) == 1
        assert isinstance(root.handlers[0].formatter, JsonFormatter)
    finally:
        root.setLevel(level)
