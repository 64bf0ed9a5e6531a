"""Logging that reaches CloudWatch at the configured level.

On Lambda the Python runtime installs its own handler on the root logger before our code runs, so
logging.basicConfig does nothing there and the root level stays WARNING: INFO lines would be lost.
The root logger is configured explicitly instead, and in the cloud every line is one JSON object
(time, level, logger, message, the invocation's request id where the runtime adds it, exception),
which CloudWatch Logs Insights reads field by field.
"""

import json
import logging
from datetime import UTC, datetime


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        # The Lambda runtime's handler filter stamps each record with the invocation's request id.
        request_id = getattr(record, "aws_request_id", None)
        if request_id:
            entry["request_id"] = request_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str, *, structured: bool) -> None:
    """Set the root logger's level, add a stderr handler where none exists, and format as JSON if asked."""
    root = logging.getLogger()
    root.setLevel(level.upper())
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    if structured:
        for handler in root.handlers:
            handler.setFormatter(JsonFormatter())
    # One line per provider request at INFO would cost more than the request's own work here.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
