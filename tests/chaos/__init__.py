"""Chaos suite: SIGKILL the scheduler, DAG processor, fork server, launchers and tries at random
moments while a mixed workload runs, then prove from the metastore and the tasks' own records
that every run finished, no try ran twice, no success was lost and no task was left stuck."""
