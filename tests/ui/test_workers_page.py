"""The Workers page: the celery workers seen recently with their state, queues and running
tries (the page's poll redraws them); with the local executor it says so and lists none. In
headless Chromium against a real api-server, reached from the navigation."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import expect, sync_playwright
from remote_celery.worker_rows import add_tries, answer, record
from sqlalchemy.engine import Engine

from tradewind import config
from tradewind.api.app import create_app
from tradewind.services import db_admin, users

from . import headless
from .helpers import sign_in


@pytest.fixture
def celery_client(ui_settings: config.Settings, engine: Engine) -> Iterator[TestClient]:
    app: FastAPI = create_app(ui_settings.with_values(core__executor="celery"), engine)
    with TestClient(app, follow_redirects=False) as test_client:
        yield test_client


def test_with_the_local_executor_the_page_says_so_and_lists_no_worker(
    client: TestClient, login: Callable[[str], str], engine: Engine
) -> None:
    now = datetime.now(UTC)
    record(engine, [answer("w1@host", now)], now)  # left by an earlier celery scheduler
    login("Viewer")
    page = client.get("/workers")
    assert page.status_code == 200
    assert "The executor is local" in page.text and 'data-worker="' not in page.text
    assert 'href="/workers"' in page.text  # in the navigation
    assert client.get("/workers.json").json() == {"executor": "local", "workers": []}


def test_with_the_celery_executor_the_page_lists_the_workers(
    celery_client: TestClient, make_user: Callable[[str], str], engine: Engine
) -> None:
    sign_in(celery_client, make_user("Viewer"))
    assert "No worker seen in the last 5m 00s." in celery_client.get("/workers").text
    now = datetime.now(UTC)
    record(
        engine,
        [answer("w1@host", now, ["default", "gpu"]), answer("w2@host", now - timedelta(minutes=1))],
        now,
    )
    add_tries(engine, [("w1@host", "running", now)])
    page = celery_client.get("/workers").text
    assert page.count('data-worker="') == 2 and "default, gpu" in page
    polled = celery_client.get("/workers.json").json()
    assert polled["executor"] == "celery"
    assert [(w["worker_name"], w["state"], w["running_tries"]) for w in polled["workers"]] == [
        ("w1@host", "online", 1),
        ("w2@host", "lost", 0),
    ]


def test_the_page_needs_login(client: TestClient) -> None:
    assert client.get("/workers").status_code in (302, 303, 307)
    assert client.get("/workers.json").status_code == 401


# ---- in the browser -------------------------------------------------------------------------


@pytest.fixture
def celery_home(tmp_path: Path) -> dict[str, str]:
    """A home whose executor is celery, with a viewer."""
    home = tmp_path / "home"
    env = {
        **os.environ,
        "TRADEWIND_HOME": str(home),
        "TRADEWIND__CORE__DAGS_FOLDER": str(home / "dags"),
        "TRADEWIND__CORE__EXECUTOR": "celery",
        "TRADEWIND__CELERY__WORKER_INSPECT_INTERVAL": "10",
    }
    env.pop("TRADEWIND__DATABASE__URL", None)
    db_admin.run(
        config.load(env),
        lambda session: users.create_user(
            session, username="viewer", password="viewer-pw", role="Viewer"
        ),
    )
    return env


@pytest.mark.slow
def test_the_workers_page_in_a_browser_follows_the_registry(celery_home: dict[str, str]) -> None:
    engine = db_admin.open_engine(config.load(celery_home))
    now = datetime.now(UTC)
    record(engine, [answer("w1@host", now, ["default"], concurrency=8)], now)
    add_tries(engine, [("w1@host", "running", now)])
    log_path = Path(celery_home["TRADEWIND_HOME"]) / "api.log"
    try:
        with headless.api_server(celery_home, log_path) as base, sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=headless.chromium_path(), args=headless.CHROMIUM_ARGS
            )
            try:
                page = browser.new_page(viewport={"width": 1300, "height": 700})
                page.set_default_timeout(20_000)
                errors: list[str] = []
                page.on("pageerror", lambda error: errors.append(str(error)))
                page.goto(base + "/login")
                page.fill("#username", "viewer")
                page.fill("#password", "viewer-pw")
                page.click("button[type=submit]")
                page.wait_for_selector("#dag-table")
                page.hover("text=Browse")
                page.click(".menu a[href='/workers']")
                page.wait_for_url("**/workers")
                expect(page.locator("#executor")).to_have_text("celery")
                row = page.locator('tr[data-worker="w1@host"]')
                expect(row.locator(".state")).to_have_text("online")
                expect(row.locator("td.running")).to_have_text("1")
                expect(row).to_contain_text("8")
                # A worker recorded after the page loaded appears without a reload (the poll).
                later = datetime.now(UTC)
                record(engine, [answer("w2@host", later, ["side"])], later)
                second = page.locator('tr[data-worker="w2@host"]')
                expect(second.locator(".state")).to_have_text("online", timeout=15_000)
                expect(second).to_contain_text("side")
                expect(page.locator("tr[data-worker]")).to_have_count(2)
                headless.shot(page, "workers")
                assert errors == []
            finally:
                browser.close()
    finally:
        engine.dispose()
