"""Request bodies and response models of the REST API, with Airflow 3's field names.

Each response model has every field the ``apache-airflow-client`` model of the same name
requires, with the same type, so the client's strict validation accepts our answers. The
``from_*`` constructors turn service results into responses; they do no I/O.
"""
