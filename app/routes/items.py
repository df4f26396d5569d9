"""`GET /items/{item_id}`: a parametrised read endpoint (route-template metrics, benchmarks)."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import FastAPI, Path
from fastapi.responses import Response
from pydantic import BaseModel

# Item ids are bounded like a 32-bit database key, so every accepted id serialises.
MAX_ITEM_ID = 2**31 - 1


class Item(BaseModel):
    """Documents the shape of `GET /items/{item_id}` in the OpenAPI schema."""

    item_id: int
    name: str


async def read_item(item_id: Annotated[int, Path(ge=0, le=MAX_ITEM_ID)]) -> Response:
    return Response(
        orjson.dumps({"item_id": item_id, "name": f"item-{item_id}"}),
        media_type="application/json",
    )


def add_routes(app: FastAPI) -> None:
    app.get(
        "/items/{item_id}",
        tags=["items"],
        summary="Read one item",
        response_model=None,
        responses={200: {"model": Item, "description": "The item."}},
    )(read_item)
