"""A remote try's log through the REST logs route (PostgreSQL and Redis): followed with
continuation tokens while the try runs on a worker, the lines printed so far are there; once
the worker is gone, the whole log is."""

from __future__ import annotations

import signal
import time

import httpx2

from .conftest import END_TO_END

pytestmark = END_TO_END

LINES = 12

DAG = """
    import time
    from tradewind import DAG, PythonOperator

    def chatter():
        for i in range({n}):
            print(f"line {{i}} of the chatter", flush=True)
            time.sleep(0.5)

    with DAG("chatty", schedule=None) as dag:
        PythonOperator(task_id="chatter", python_callable=chatter)
"""


def test_the_log_of_a_remote_try_is_followed_live_and_kept(celery_deployment) -> None:
    d = celery_deployment
    d.write("chatty.py", DAG.format(n=LINES))
    d.parse()
    d.start_api()
    worker = d.start_worker("w1")
    d.start("scheduler")
    headers = {"Authorization": f"Bearer {d.api_token()}"}
    assert d.cli("dags", "trigger", "chatty", "--run-id", "r1").returncode == 0
    url = f"{d.api_url}/api/v2/dags/chatty/dagRuns/r1/taskInstances/chatter/logs/1"

    events: list[str] = []
    seen_while_running: list[str] | None = None
    token: str | None = None
    deadline = time.monotonic() + 40
    while True:
        answer = httpx2.get(url, params={"token": token} if token else {}, headers=headers)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        events += [message["event"] for message in body["content"]]
        token = body["continuation_token"]
        if token is None:
            break  # the try is over and everything it wrote was read
        if seen_while_running is None and any("line 2 of" in event for event in events):
            state = d.states("chatty", "r1")["tasks"]["chatter"]["state"]
            assert state == "running", (state, events)
            seen_while_running = list(events)
        assert time.monotonic() < deadline, (events, d.tails())
        time.sleep(0.3)
    assert seen_while_running is not None, events
    assert not any(f"line {LINES - 1} of" in event for event in seen_while_running)
    chatter = [event for event in events if "of the chatter" in event]
    assert chatter == [f"line {i} of the chatter" for i in range(LINES)], events

    d.wait_for_run("chatty", "r1", 20)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0, d.output(worker)[-3000:]
    whole = httpx2.get(
        url, params={"full_content": "true"}, headers={**headers, "Accept": "text/plain"}
    )
    assert whole.status_code == 200 and "Airflow-Continuation-Token" not in whole.headers
    assert all(f"line {i} of the chatter\n" in whole.text for i in range(LINES)), whole.text
