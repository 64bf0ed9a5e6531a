"""An owner's price table for the cost estimate."""

from functions.core.auth.tokens import Principal
from functions.core.db.pool import Database, jsonb
from functions.core.insights.costs import prices_from_row
from functions.core.insights.models import Prices


async def get_prices(db: Database, principal: Principal) -> Prices:
    async with db.as_user(principal.claims) as conn:
        cur = await conn.execute("select prices from public.insight_prices")
        row = await cur.fetchone()
    return prices_from_row(None if row is None else row["prices"])


async def set_prices(db: Database, principal: Principal, prices: Prices) -> Prices:
    async with db.as_user(principal.claims) as conn:
        await conn.execute(
            "insert into public.insight_prices (prices) values (%s)"
            " on conflict (owner_id) do update set prices = excluded.prices, updated_at = now()",
            (jsonb(prices.model_dump()),),
        )
    return prices_from_row(prices.model_dump())
