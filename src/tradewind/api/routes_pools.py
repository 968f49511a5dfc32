"""``/api/v2/pools``: pools with their slot usage; ``default_pool`` cannot be deleted or renamed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response

from tradewind.api import deps
from tradewind.api.deps import ApiSession, ConfigEditor, OrderBy, PageParams, Reader
from tradewind.api.schemas.pools import (
    PoolBody,
    PoolCollectionResponse,
    PoolPatchBody,
    PoolResponse,
)
from tradewind.services import audit, pools

router = APIRouter(
    prefix="/api/v2/pools", tags=["Pool"], generate_unique_id_function=deps.operation_id
)


def _no_teams(team_name: str | None) -> None:
    if team_name is not None:
        raise HTTPException(status_code=400, detail="Teams (team_name) are not supported")


def _response(session: ApiSession, info: pools.PoolInfo) -> PoolResponse:
    return PoolResponse.of(pools.usage(session, [info])[0])


@router.get("", response_model=PoolCollectionResponse)
def get_pools(
    session: ApiSession,
    user: Reader,
    page: PageParams,
    order_by: OrderBy = None,
    pool_name_pattern: str | None = None,
    pool_name_prefix_pattern: str | None = None,
) -> PoolCollectionResponse:
    infos, total = pools.list_pools_page(
        session,
        name_pattern=pool_name_pattern,
        name_prefix_pattern=pool_name_prefix_pattern,
        order_by=order_by,
        page=page,
    )
    return PoolCollectionResponse(
        pools=[PoolResponse.of(use) for use in pools.usage(session, infos)], total_entries=total
    )


@router.get("/{pool_name}", response_model=PoolResponse)
def get_pool(pool_name: str, session: ApiSession, user: Reader) -> PoolResponse:
    return _response(session, pools.get_pool(session, pool_name))


@router.post("", status_code=201, response_model=PoolResponse)
def post_pool(body: PoolBody, session: ApiSession, user: ConfigEditor) -> PoolResponse:
    _no_teams(body.team_name)
    info = pools.create_pool(
        session, body.name, body.slots, body.description, include_deferred=body.include_deferred
    )
    audit.record(
        session,
        "post_pool",
        owner=user.username,
        extra=body.model_dump(mode="json", exclude_none=True),
    )
    return _response(session, info)


@router.patch("/{pool_name}", response_model=PoolResponse)
def patch_pool(
    pool_name: str,
    body: PoolPatchBody,
    session: ApiSession,
    user: ConfigEditor,
    update_mask: Annotated[list[str] | None, Query()] = None,
) -> PoolResponse:
    """Change the fields given (only those in ``update_mask``, if given); ``pool`` renames."""
    _no_teams(body.team_name)
    fields = set(body.model_fields_set) - {"team_name"}
    if update_mask:
        mask = {"pool" if name == "name" else name for name in update_mask}
        fields &= mask
    changes = {name: getattr(body, name) for name in fields}
    if "slots" in changes and changes["slots"] is None:
        raise HTTPException(status_code=400, detail="slots must be a number (-1 for unlimited)")
    if "include_deferred" in changes and changes["include_deferred"] is None:
        raise HTTPException(status_code=400, detail="include_deferred must be true or false")
    if "pool" in changes and changes["pool"] is None:
        raise HTTPException(status_code=400, detail="pool (the name) must not be null")
    info = pools.update_pool(session, pool_name, changes)
    audit.record(
        session,
        "patch_pool",
        owner=user.username,
        extra={"pool": pool_name, **body.model_dump(mode="json", include=fields)},
    )
    return _response(session, info)


@router.delete("/{pool_name}", status_code=204, response_class=Response)
def delete_pool(pool_name: str, session: ApiSession, user: ConfigEditor) -> Response:
    pools.delete_pool(session, pool_name)
    audit.record(session, "delete_pool", owner=user.username, extra={"pool": pool_name})
    return Response(status_code=204)
