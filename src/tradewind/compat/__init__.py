"""Compatibility with DAG files written for Apache Airflow."""
