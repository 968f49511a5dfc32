"""``/api/v2/config``: the server's settings, secrets hidden (Op and Admin only)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response

from tradewind import config
from tradewind.api import deps
from tradewind.api.deps import ConfigEditor
from tradewind.api.schemas.monitoring import Config, ConfigOption, ConfigSection, config_value

router = APIRouter(
    prefix="/api/v2/config", tags=["Config"], generate_unique_id_function=deps.operation_id
)

HIDDEN = "< hidden >"


def _config(request: Request, section: str | None = None, option: str | None = None) -> Config:
    settings = deps.app_settings(request)
    sections: dict[str, list[ConfigOption]] = {}
    for (name, key), declared in config.OPTIONS.items():
        if section is not None and name != section or option is not None and key != option:
            continue
        value = HIDDEN if declared.secret else config_value(settings.get(name, key))
        sections.setdefault(name, []).append(ConfigOption(key=key, value=value))
    if section is not None and not sections:
        raise HTTPException(
            status_code=404,
            detail=f"Section {section} not found."
            if option is None
            else f"Option [{section}/{option}] not found.",
        )
    return Config(
        sections=[ConfigSection(name=name, options=options) for name, options in sections.items()]
    )


def _answer(request: Request, found: Config) -> Config | Response:
    if deps.preferred_media_type(request, ("application/json", "text/plain")) == "text/plain":
        return Response(found.as_text(), media_type="text/plain")
    return found


@router.get(
    "",
    response_model=Config,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
        404: {"description": "No such section"},
    },
)
def get_config(
    request: Request, user: ConfigEditor, section: str | None = None
) -> Config | Response:
    return _answer(request, _config(request, section))


@router.get(
    "/section/{section}/option/{option}",
    response_model=Config,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def get_config_value(
    section: str, option: str, request: Request, user: ConfigEditor
) -> Config | Response:
    return _answer(request, _config(request, section, option))
