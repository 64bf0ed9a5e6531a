from fastapi import APIRouter

from functions.core.api.deps import AppSettings
from functions.core.client_config import ClientConfig, client_config

router = APIRouter(tags=["health"])


@router.get("/v1/config")
async def config(settings: AppSettings) -> ClientConfig:
    """What the web client may know about this deployment: which parts run offline, which providers."""
    return client_config(settings)
