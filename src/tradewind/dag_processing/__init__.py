"""dag_processing"""
