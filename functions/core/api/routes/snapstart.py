"""The streaming function's SnapStart hooks, called by the Lambda Web Adapter (v1.1.0 and later).

The adapter starts the app in a process of its own, which the Python runtime's SnapStart hooks
(`functions/core/snapstart.py`) never reach. With AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH and
AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH set to these paths, it POSTs to the first before the snapshot is
taken and to the second after each restore, before any request is let in; a failure of either fails
that phase. The adapter answers 403 to a request for either path from outside, and the OpenAPI document
leaves them out. They do what the runtime hooks do, on the app's running loop: before the snapshot,
import what the routes would import on their first request and close the database pool and the HTTP
clients, whose sockets every restored instance would otherwise share; after a restore, reseed `random`
and open the pool again.
"""

from collections.abc import Sequence

from fastapi import APIRouter, Request, Response

from functions.core.db.pool import get_database
from functions.core.snapstart import release, renew

BEFORE_CHECKPOINT_PATH = "/snapstart/before-checkpoint"
AFTER_RESTORE_PATH = "/snapstart/after-restore"


def snapstart_router(modules: Sequence[str]) -> APIRouter:
    """The two hook routes; the snapshot also imports `modules`, what the app's routes import lazily.

    Plain Starlette routes: they take no parameters, so FastAPI's building of a route (its dependencies'
    signatures, a validator per parameter) would add to the app's import for nothing."""

    async def before_checkpoint(request: Request) -> Response:
        await release(get_database(), modules)
        return Response(status_code=204)

    async def after_restore(request: Request) -> Response:
        await renew(get_database())
        return Response(status_code=204)

    router = APIRouter()
    router.add_route(BEFORE_CHECKPOINT_PATH, before_checkpoint, methods=["POST"], include_in_schema=False)
    router.add_route(AFTER_RESTORE_PATH, after_restore, methods=["POST"], include_in_schema=False)
    return router
