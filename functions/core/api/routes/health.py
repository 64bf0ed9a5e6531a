from fastapi import APIRouter
from fastapi.responses import JSONResponse

from functions.core.api.deps import Db
from functions.core.api.openapi import problems
from functions.core.api.problems import problem_response

router = APIRouter(tags=["health"])


@router.get("/health", response_model=None, responses=problems(503))
async def health(db: Db) -> dict[str, str] | JSONResponse:
    try:
        await db.ping()
    except Exception as exc:
        return problem_response(
            503,
            "database_unavailable",
            f"the database is not reachable: {type(exc).__name__}",
            database="down",
        )
    return {"status": "ok", "database": "ok"}
