"""What remote execution shares between the scheduler, the API server and workers: per-try
tokens, DAG bundles and the wire form of workloads. Imports nothing above ``runner``."""
