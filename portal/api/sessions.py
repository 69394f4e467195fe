"""/sessions: the account's signed-in devices, web and API alike (one list)."""

from flask import current_app, request

from portal.api import bp
from portal.api.auth import no_content
from portal.api.bearer import current_session, current_user
from portal.api.schemas import SessionList, SessionOut, session_list_json
from portal.api.spec import operation
from portal.flows import invalid
from portal.flows import sessions as flows
from portal.origin import Origin


@operation(bp, "GET", "/sessions", tag="sessions", response=SessionList, auth=True)
def list_sessions():
    """Active sessions of the account, newest first; `is_current` marks this one.

    Up to 100 at a time (`?limit=1..100`, default 100: under the cap of 100 active sessions
    that is every one); `next_cursor` is null on the last page, else pass it back as
    `?cursor=` for the next.
    """
    limit = request.args.get("limit", flows.API_SESSIONS_PAGE)
    try:
        limit = int(limit)
    except (TypeError, ValueError):
        limit = 0
    if not 1 <= limit <= flows.API_SESSIONS_PAGE:
        raise invalid({"limit": ["Use a whole number from 1 to 100."]})
    current = current_session()
    page = flows.sessions_page(current_user(), request.args.get("cursor") or None, limit)
    return current_app.response_class(
        session_list_json(page.items, current.id, page.next_cursor), mimetype="application/json"
    )


@operation(
    bp,
    "GET",
    "/sessions/<session_id>",
    tag="sessions",
    response=SessionOut,
    auth=True,
    errors=(404,),
)
def get_session(session_id: str):
    """One active session of the account (anyone else's is 404)."""
    session = flows.get_own_session(current_user(), session_id)
    return SessionOut.of(session, current_session().id).model_dump(mode="json")


@operation(
    bp, "DELETE", "/sessions/<session_id>", tag="sessions", status=204, auth=True, errors=(404,)
)
def end_session(session_id: str):
    """End one session (this one or another device); its tokens stop working at once."""
    flows.end_session(current_user(), session_id, Origin.of_request())
    return no_content()


@operation(bp, "DELETE", "/sessions", tag="sessions", status=204, auth=True)
def end_other_sessions():
    """End every session except this one."""
    flows.end_other_sessions(current_user(), current_session(), Origin.of_request())
    return no_content()
