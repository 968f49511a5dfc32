"""The compose smoke test's DAG: parallel tries that report the host they ran on, then a join
that reads every one's XCom (so values cross workers in the Celery topology)."""

from __future__ import annotations

import socket
import time
from datetime import datetime

from tradewind import DAG, task

WIDTH = 6

with DAG("smoke_fanout", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):

    @task
    def report_host(number: int) -> str:
        time.sleep(2)  # long enough that one worker cannot take every try
        host = socket.gethostname()
        print(f"smoke-marker: try {number} ran on {host}")
        return host

    @task
    def join(hosts: list[str]) -> int:
        print(f"smoke-marker: hosts {sorted(set(hosts))}")
        if len(hosts) != WIDTH:
            raise ValueError(f"expected {WIDTH} XCom values, got {hosts!r}")
        return len(set(hosts))

    join([report_host.override(task_id=f"work_{n}")(n) for n in range(WIDTH)])
