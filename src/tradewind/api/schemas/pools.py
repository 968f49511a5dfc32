"""Pools with their slot usage."""

from __future__ import annotations

from pydantic import BaseModel, Field

from tradewind.api.schemas.common import RequestBody
from tradewind.services import pools


class PoolResponse(BaseModel):
    name: str
    slots: int
    description: str | None = None
    include_deferred: bool
    occupied_slots: int
    running_slots: int
    queued_slots: int
    scheduled_slots: int
    open_slots: int
    deferred_slots: int
    team_name: str | None = None

    @classmethod
    def of(cls, use: pools.PoolUsage) -> PoolResponse:
        return cls(
            name=use.info.pool,
            slots=use.info.slots,
            description=use.info.description,
            include_deferred=use.info.include_deferred,
            occupied_slots=use.occupied,
            running_slots=use.running,
            queued_slots=use.queued,
            scheduled_slots=use.scheduled,
            open_slots=use.open,
            deferred_slots=use.deferred,
        )


class PoolCollectionResponse(BaseModel):
    pools: list[PoolResponse]
    total_entries: int


class PoolBody(RequestBody):
    name: str = Field(max_length=256)
    slots: int = Field(ge=-1)
    description: str | None = None
    include_deferred: bool = False
    team_name: str | None = Field(None, max_length=50)


class PoolPatchBody(RequestBody):
    pool: str | None = None
    slots: int | None = Field(None, ge=-1)
    description: str | None = None
    include_deferred: bool | None = None
    team_name: str | None = Field(None, max_length=50)
