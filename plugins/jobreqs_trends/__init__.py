"""The technology-trends page (FastAPI app) mounted in the Airflow UI by ../jobreqs_trends_plugin.py.

This folder is listed in ../.airflowignore: Airflow's plugin loader imports every .py file of the
plugins folder as a top-level module named after the file, so the page's modules are imported as
the ``jobreqs_trends`` package by the plugin file instead.
"""
