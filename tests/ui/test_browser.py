"""End to end in a real browser: headless Chromium (the Debian package) driven by Playwright,
against real ``tradewind api-server`` and ``tradewind scheduler`` processes.

Screenshots of the main pages are saved under ``tests/artifacts/``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tradewind import config
from tradewind.services import db_admin, users

from . import headless

pytestmark = pytest.mark.slow

DAGS = Path(__file__).parent / "dags"
TRADEWIND = str(Path(sys.executable).parent / "tradewind")
RUN_DEADLINE = 60.0


@pytest.fixture
def chromium() -> str:
    return headless.chromium_path()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """A migrated home with the test DAGs parsed, two users, an api-server and a scheduler."""
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **os.environ,
        "TRADEWIND_HOME": str(home),
        "TRADEWIND__CORE__DAGS_FOLDER": str(DAGS),
        "TRADEWIND__WEBSERVER__DEFAULT_UI_TIMEZONE": "Asia/Seoul",
        "TRADEWIND__DATABASE__URL": "",
    }
    env.pop("TRADEWIND__DATABASE__URL")
    subprocess.run(
        [TRADEWIND, "dags", "reserialize"], env=env, check=True, capture_output=True, timeout=60
    )
    settings = config.load(env)

    def create_users(session: object) -> None:
        users.create_user(session, username="admin", password="admin-pw", role="Admin")  # type: ignore[arg-type]
        users.create_user(session, username="viewer", password="viewer-pw", role="Viewer")  # type: ignore[arg-type]

    db_admin.run(settings, create_users)
    port = headless.free_port()
    with (
        (tmp_path / "api.log").open("wb") as api_log,
        (tmp_path / "scheduler.log").open("wb") as scheduler_log,
    ):
        api = subprocess.Popen(
            [TRADEWIND, "api-server", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=api_log,
            stderr=subprocess.STDOUT,
        )
        scheduler = subprocess.Popen(
            [TRADEWIND, "scheduler"], env=env, stdout=scheduler_log, stderr=subprocess.STDOUT
        )
        try:
            headless.wait_for(
                f"http://127.0.0.1:{port}/api/v2/monitor/health", time.monotonic() + 30, api
            )
            yield f"http://127.0.0.1:{port}"
        finally:
            headless.stop(api)
            headless.stop(scheduler)


def _sign_in(page: object, base: str, username: str, password: str) -> None:
    page.goto(base + "/dags")  # type: ignore[attr-defined]
    assert "/login" in page.url  # type: ignore[attr-defined]
    page.fill("#username", username)  # type: ignore[attr-defined]
    page.fill("#password", password)  # type: ignore[attr-defined]
    page.click("button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_selector("#dag-table")  # type: ignore[attr-defined]


def test_admin_runs_a_dag_and_a_viewer_cannot(chromium: str, server: str) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=headless.CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            context.set_default_timeout(15_000)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("dialog", lambda dialog: dialog.accept())

            # Sign in as admin: the DAG list with the broken file's import error.
            _sign_in(page, server, "admin", "admin-pw")
            row = page.locator('tr[data-dag-id="ui_e2e"]')
            expect(row).to_contain_text("At 00:00, every day")
            expect(page.locator("#import-errors")).to_contain_text(
                "1 DAG file could not be imported"
            )
            expect(page.locator("body")).to_contain_text("KST")

            # Unpause (the toggle posts in the background), then trigger.
            toggle = row.locator("input[type=checkbox]")
            expect(toggle).not_to_be_checked()
            with page.expect_response(
                lambda response: response.url.endswith("/dags/ui_e2e/pause")
            ) as answer:
                row.locator(".toggle span").click()
            assert answer.value.status == 200
            expect(toggle).to_be_checked()
            page.reload()
            expect(page.locator('tr[data-dag-id="ui_e2e"] input[type=checkbox]')).to_be_checked()
            page.locator('tr[data-dag-id="ui_e2e"] [data-trigger="ui_e2e"]').click()
            page.wait_for_url(re.compile(r"/dags/ui_e2e$"))
            message = page.locator(".flash.ok").inner_text()
            run_id = re.search(r"run (\S+) is queued", message).group(1)  # type: ignore[union-attr]

            # The slow task's log is followed while it runs.
            slow = page.locator(f'.cell[data-node="slow"][data-run="{run_id}"]')
            expect(slow).to_have_attribute("data-state", "running", timeout=RUN_DEADLINE * 1000)
            slow.click()
            page.wait_for_url(re.compile(r"/tasks/slow"))
            expect(page.locator("#follow")).to_be_visible()
            expect(page.locator("#log")).to_contain_text("tick 8", timeout=RUN_DEADLINE * 1000)
            expect(page.locator("#follow")).to_be_hidden(timeout=RUN_DEADLINE * 1000)
            expect(page.locator("#ti-state")).to_have_text("success")
            headless.shot(page, "task_log_followed")
            page.go_back()

            # The grid turns green without a reload.
            bar = page.locator(f'.runbar[data-run="{run_id}"]')
            expect(bar).to_have_count(1)
            expect(bar).to_have_attribute("data-state", "success", timeout=RUN_DEADLINE * 1000)
            page.click("#expand-all")
            expect(
                page.locator(f'.cell[data-node="work.greet"][data-run="{run_id}"]')
            ).to_have_attribute("data-state", "success")
            headless.shot(page, "grid")

            # The graph of that run, with the group expanded, coloured by state.
            page.click("#tab-graph")
            expect(page.locator('g.gnode[data-node="work"]')).to_have_attribute(
                "data-state", "success"
            )
            page.locator('g.gnode[data-node="work"] a').click()
            greet = page.locator('g.gnode[data-node="work.greet"]')
            expect(greet).to_have_attribute("data-state", "success")
            headless.shot(page, "graph")

            # A task's log.
            greet.locator("a").click()
            page.wait_for_url(re.compile(r"/tasks/work\.greet"))
            expect(page.locator("#log")).to_contain_text("hello from the browser test")
            headless.shot(page, "task_log")

            for name, path in [
                ("gantt", "/dags/ui_e2e/gantt"),
                ("run", "/dags/ui_e2e/runs/" + run_id),
                ("code", "/dags/ui_e2e/code"),
                ("trigger_form", "/dags/ui_e2e_params/trigger"),
                ("audit_log", "/audit-log"),
                ("pools", "/pools"),
                ("dags", "/dags"),
            ]:
                page.goto(server + path)
                page.wait_for_load_state("networkidle")
                headless.shot(page, name)
            expect(page.locator("body")).to_contain_text("ui_e2e")

            # Sign out.
            page.click("#logout")
            page.wait_for_url(re.compile(r"/login"))
            expect(page.locator(".flash.ok")).to_contain_text("signed out")

            # A viewer sees no trigger button, and a forged trigger is refused.
            _sign_in(page, server, "viewer", "viewer-pw")
            expect(page.locator("[data-trigger]")).to_have_count(0)
            expect(page.locator('tr[data-dag-id="ui_e2e"] input[type=checkbox]')).to_be_disabled()
            page.goto(server + "/dags/ui_e2e")
            expect(page.locator("#trigger-button")).to_have_count(0)
            csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")
            refused = page.request.post(
                server + "/dags/ui_e2e/trigger", form={"csrf_token": csrf or ""}
            )
            assert refused.status == 403
            headless.shot(page, "viewer_dag")
            assert errors == []
        finally:
            browser.close()
