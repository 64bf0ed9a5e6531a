"""Wraps a FastAPI app for API Gateway HTTP API events."""

from fastapi import FastAPI
from mangum import Mangum
from mangum.adapter import DEFAULT_TEXT_MIME_TYPES

TEXT_MIME_TYPES = [*DEFAULT_TEXT_MIME_TYPES, "application/problem+json"]


def lambda_handler(app: FastAPI) -> Mangum:
    """Lifespan off: Mangum would run it on every invocation; the pool opens lazily instead."""
    return Mangum(app, lifespan="off", text_mime_types=TEXT_MIME_TYPES)
