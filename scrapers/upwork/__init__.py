"""Upwork: obtain a bearer token, fetch every job of a day, enrich each with its client's statistics.

Modules: ``settings`` (configuration from the ``upwork_api`` connection or the environment),
``token`` (cached bearer token), ``api`` (GraphQL over HTTP with retries), ``adapter`` (the
visitor-search and official-API shapes into one raw record), ``fetch``, ``enrich`` and
``sandbox`` (a local Upwork with the real request and response shapes).
"""
