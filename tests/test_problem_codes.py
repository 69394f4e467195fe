"""Every error code the sources can send is in the one table (portal/problem_codes.py), with
the status the API answers it with, and the OpenAPI document lists them all."""

import re
from pathlib import Path

from portal import errors, problem_codes
from portal.api import schemas
from portal.api.errors import STATUS

PORTAL = Path(__file__).resolve().parents[1] / "portal"
# FlowError("code", ...), problem(status, "code", ...), unauthorized("code", ...): the code
# may sit on the next line.
SENT = re.compile(r'\b(FlowError|problem|unauthorized)\(\s*(?:(\d{3}),\s*)?"([a-z_]+)"')


# No operation answers these itself (a wrong method never reaches one), so no operation
# lists their status.
ANSWERED_BY_THE_ROUTER = {"method_not_allowed"}


def sent_codes() -> dict[str, set[int | None]]:
    found: dict[str, set[int | None]] = {}
    for path in PORTAL.rglob("*.py"):
        for call, status, code in SENT.findall(path.read_text()):
            known = int(status) if status else (401 if call == "unauthorized" else None)
            found.setdefault(code, set()).add(known)
    return found


def test_the_scan_finds_codes_from_flows_and_from_problem_calls():
    found = sent_codes()
    assert {"username_taken", "invalid_json", "internal_error", "session_ended"} <= set(found)


def test_every_code_sent_is_in_the_table_with_its_status():
    for code, statuses in sent_codes().items():
        assert code in problem_codes.CODES, f"{code} is sent but missing from problem_codes"
        for status in statuses - {None}:
            assert problem_codes.STATUS[code] == status, code


def test_every_http_error_code_is_in_the_table_with_its_status():
    for status, code in errors.CODES.items():
        assert problem_codes.STATUS[code] == status


def test_flow_errors_answer_with_the_table_status():
    assert STATUS is problem_codes.STATUS


def test_the_openapi_document_lists_every_code(client):
    document = client.get("/api/v1/openapi.json").get_json()
    listed = document["components"]["schemas"]["Problem"]["properties"]["code"]["description"]
    assert schemas.Problem.model_fields["code"].description == listed
    for code, (status, _) in problem_codes.CODES.items():
        assert code in listed
        if status < 500:
            answers = [
                op["responses"][str(status)]["description"]
                for item in document["paths"].values()
                for op in item.values()
                if str(status) in op["responses"]
            ]
            if code in ANSWERED_BY_THE_ROUTER:
                assert answers == [], code
            else:
                assert answers, f"no operation lists {status} for {code}"
                assert all(f"`{code}`" in text for text in answers), code
