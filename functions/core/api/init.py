"""A function's init: its code imported and its app built with the cyclic garbage collector paused.

Everything an init makes (modules, classes, pydantic schemas, routes) lives as long as the instance, so a
collection during it only walks objects that cannot be garbage: on its import a handler crossed the
threshold of one full collection (about 14 ms of CPU, a sixth of what our code added to the framework).
The handler modules import the framework (FastAPI, Mangum) before the pause, so its import is collected
as in any FastAPI function. After the init, what it made is frozen (`gc.freeze`): no later collection
walks it again, which also spares the requests the full collection the pause saved."""

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def long_lived_init() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
    gc.freeze()
