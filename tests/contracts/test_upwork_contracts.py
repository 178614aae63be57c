"""The Upwork client's documents and hosts against the contracts of the real services.

Every GraphQL document the client sends is validated with graphql-core against the schema the
sandbox enforces (scrapers/upwork/sandbox_schema), and the schema itself is checked against what
public code that works with Upwork shows: the official search node as Upwork's API docs render it
(muhammedaksam/upwork-node), a public client's search document (tryAGI/Upwork), and the hosts of
Upwork's own OAuth client (upwork/python-upwork-oauth2). The documents the project sent before
(unused variables, a node field that does not exist, the login-gated client block) are refused.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql import parse, validate

from scrapers.upwork import api, sandbox_graphql
from scrapers.upwork.sandbox_graphql import load_schema

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "upwork"


def _answer(schema: str, query: str, variables: dict, scope: str) -> dict:
    return sandbox_graphql.run(schema, {"query": query, "variables": variables}, scope, {})


@pytest.mark.parametrize("schema, query, scope", [
    ("visitor", api.VISITOR_SEARCH_QUERY, "visitor"),      # the visitor token of the home page
    ("visitor", api.AUTH_DETAILS_QUERY, "login"),          # the fallback: a logged-in token
    ("official", api.OFFICIAL_SEARCH_QUERY, "login"),
])
def test_every_document_the_client_sends_validates_for_the_token_it_goes_with(schema, query, scope):
    assert validate(load_schema(schema), parse(query)) == []
    variables = {"visitor": {"requestVariables": {}}, "official": {}}.get(schema, {})
    if query is api.AUTH_DETAILS_QUERY:
        variables = {"id": "~01"}
    answer = _answer(schema, query, variables, scope)
    assert not answer.get("errors") or all(e["extensions"]["classification"] == "DataFetchingException"
                                           for e in answer["errors"]), answer


# The documents the project sent before issue 10, as they were.
OLD_PUB_DETAILS = """
query JobPubDetailsQuery($id: ID!, $isLoggedIn: Boolean!) {
  jobPubDetails(id: $id) { opening { info { ciphertext id } } buyer { location { city country } } }
}"""
OLD_OFFICIAL_NODE = """
query { marketplaceJobPostingsSearch(searchType: USER_JOBS_SEARCH) { edges { node { id type } } } }"""
OLD_VISITOR_SEARCH = """
query VisitorJobSearch($requestVariables: VisitorJobSearchV1Request!) {
  search { universalSearchNuxt { visitorJobSearchV1(request: $requestVariables) {
    results { id upworkHistoryData { client { country paymentVerificationStatus } } }
  } } }
}"""


@pytest.mark.parametrize("schema, query, variables, message", [
    ("visitor", OLD_PUB_DETAILS, {"id": "~01", "isLoggedIn": True},
     "Validation error (UnusedVariable) : Unused variable 'isLoggedIn'"),
    ("official", OLD_OFFICIAL_NODE, {},
     "Validation error (FieldUndefined) : Field 'type' in type 'MarketplaceJobPostingSearchResult' is undefined"),
    ("visitor", OLD_VISITOR_SEARCH, {"requestVariables": {}},
     "Execution aborted: field 'upworkHistoryData' of type 'VisitorJobResult' requires a logged-in token"),
])
def test_the_old_documents_are_refused_as_the_real_service_refuses_them(schema, query, variables, message):
    answer = _answer(schema, query, variables, "visitor" if schema == "visitor" else "login")
    assert answer["data"] is None and answer["errors"][0]["message"].startswith(message)


def test_fields_upworks_own_document_guards_with_include_pass_for_a_visitor_when_excluded():
    query = """query Q($id: ID!, $isLoggedIn: Boolean!) {
      jobPubDetails(id: $id) { buyer { company { name @include(if: $isLoggedIn) contractDate } } } }"""
    assert "errors" not in _answer("visitor", query, {"id": "~01", "isLoggedIn": False}, "visitor")
    refused = _answer("visitor", query, {"id": "~01", "isLoggedIn": True}, "visitor")
    assert refused["errors"][0]["extensions"]["classification"] == "ExecutionAborted"


def test_a_public_clients_official_search_document_validates_against_the_sandboxs_schema():
    query = (FIXTURES / "official_search_query.graphql").read_text()
    assert validate(load_schema("official"), parse(query)) == []


def _ts_fields(interface: str) -> set[str]:
    text = (FIXTURES / "official_schema_excerpt.generated-types.ts").read_text()
    body = re.search(rf"export interface {interface} \{{(.*?)\n\}}", text, re.S).group(1)
    return set(re.findall(r"^  (\w+)\??:", body, re.M))


@pytest.mark.parametrize("interface", ["MarketplaceJobPostingSearchResult", "MarketplaceJobPostingSearchClientInfo",
                                       "Money", "MarketPlaceJobSearchLocation", "MarketplaceJobPostingsSearchFilter"])
def test_the_official_schema_has_the_fields_upworks_docs_give(interface):
    schema_type = load_schema("official").get_type(interface)
    documented = _ts_fields(interface) - {"job"}  # the node's `job` aggregate is not modelled
    # the one field not in the docs' rendering was reported working by a public live test
    assert documented and set(schema_type.fields) - documented <= {"daysPosted_eq"}
    assert documented <= set(schema_type.fields), documented - set(schema_type.fields)


def test_hosts_and_paths_match_upworks_own_oauth_client():
    from scrapers.upwork.settings import OFFICIAL_API_URL, UpworkSettings
    from scrapers.upwork.token import AUTHORIZE_PATH, TOKEN_PATH

    text = (FIXTURES / "python-upwork-oauth2_endpoints.py.txt").read_text()
    base = re.search(r'BASE_HOST = "([^"]+)"', text).group(1)
    graphql = re.search(r'GQL_EPOINT = "([^"]+)"', text).group(1)
    authorize = re.search(r'__uri_auth = "([^"]+)"', text).group(1)
    token = re.search(r'__uri_atoken = "([^"]+)"', text).group(1)
    settings = UpworkSettings(base_url=base)
    assert settings.api_root + api.OFFICIAL_GRAPHQL_PATH == graphql == "https://api.upwork.com/graphql"
    assert OFFICIAL_API_URL + api.OFFICIAL_GRAPHQL_PATH == graphql
    assert settings.root + AUTHORIZE_PATH == base + authorize
    assert settings.root + TOKEN_PATH == f"{base}/api{token}"  # full_url(uri, "api")
