"""``/api/v2/variables``: values of sensitive variables are masked as Airflow masks them.

Ops only, reading included (Airflow's roles: variables hold secrets)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response

from tradewind.api import deps
from tradewind.api.deps import ApiSession, ConfigEditor, OrderBy, PageParams
from tradewind.api.schemas.variables import (
    VariableBody,
    VariableCollectionResponse,
    VariableResponse,
)
from tradewind.services import audit, variables
from tradewind.services.secrets import SecretCipher

router = APIRouter(
    prefix="/api/v2/variables", tags=["Variable"], generate_unique_id_function=deps.operation_id
)

Cipher = Annotated[SecretCipher, Depends(deps.cipher)]


def _no_teams(team_name: str | None) -> None:
    if team_name is not None:
        raise HTTPException(status_code=400, detail="Teams (team_name) are not supported")


@router.get("", response_model=VariableCollectionResponse)
def get_variables(
    session: ApiSession,
    user: ConfigEditor,
    cipher: Cipher,
    page: PageParams,
    order_by: OrderBy = None,
    variable_key_pattern: str | None = None,
    variable_key_prefix_pattern: str | None = None,
) -> VariableCollectionResponse:
    entries, total = variables.list_variables_page(
        session,
        cipher=cipher,
        key_pattern=variable_key_pattern,
        key_prefix_pattern=variable_key_prefix_pattern,
        order_by=order_by,
        page=page,
    )
    return VariableCollectionResponse(
        variables=[VariableResponse.of(e) for e in entries], total_entries=total
    )


@router.get("/{variable_key}", response_model=VariableResponse)
def get_variable(
    variable_key: str, session: ApiSession, user: ConfigEditor, cipher: Cipher
) -> VariableResponse:
    return VariableResponse.of(variables.get_entry(session, variable_key, cipher=cipher))


@router.post("", status_code=201, response_model=VariableResponse)
def post_variable(
    body: VariableBody, session: ApiSession, user: ConfigEditor, cipher: Cipher
) -> VariableResponse:
    """Create a variable; 409 when the key exists. A non-string value is stored as JSON."""
    _no_teams(body.team_name)
    entry = variables.create_variable(
        session, body.key, body.value, cipher=cipher, description=body.description
    )
    audit.record(session, "post_variable", owner=user.username, extra={"key": body.key})
    return VariableResponse.of(entry)


@router.patch("/{variable_key}", response_model=VariableResponse)
def patch_variable(
    variable_key: str,
    body: VariableBody,
    session: ApiSession,
    user: ConfigEditor,
    cipher: Cipher,
    update_mask: Annotated[list[str] | None, Query()] = None,
) -> VariableResponse:
    """Change the value and/or description (only the fields in ``update_mask``, if given)."""
    _no_teams(body.team_name)
    if body.key != variable_key:
        raise HTTPException(
            status_code=400,
            detail="Invalid body, key from request body doesn't match uri parameter",
        )
    fields = set(body.model_fields_set) - {"key", "team_name"}
    if update_mask:
        fields &= set(update_mask)
    entry = variables.update_variable(
        session,
        variable_key,
        cipher=cipher,
        value=body.value if "value" in fields else variables.MISSING,
        description=body.description if "description" in fields else variables.MISSING,
    )
    audit.record(
        session,
        "patch_variable",
        owner=user.username,
        extra={"key": variable_key, "fields": sorted(fields)},
    )
    return VariableResponse.of(entry)


@router.delete("/{variable_key}", status_code=204, response_class=Response)
def delete_variable(variable_key: str, session: ApiSession, user: ConfigEditor) -> Response:
    variables.delete_variable(session, variable_key)
    audit.record(session, "delete_variable", owner=user.username, extra={"key": variable_key})
    return Response(status_code=204)
