"""Keyset pagination: a page of a list read in index order, and opaque cursors to the pages
on either side (the Activity, Sessions and admin lists, and GET /api/v1/sessions).

A page is the rows past a cursor in the order of its keys, `limit + 1` of them read so that
the one past the end says whether there is more: PostgreSQL walks the index and stops there,
so page 1,000 costs what page 1 does (no OFFSET, no count). `after` is a cursor to the next
page (rows after it in list order), `before` to the previous one."""

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, literal, tuple_
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BinaryExpression, UnaryExpression
from sqlalchemy.types import TypeDecorator

from portal.extensions import db

CURSOR_MAX = 1024  # characters: a cursor holds a few keys, never more
BIGINT = 2**63


@dataclass
class Page:
    """One page of a list; a cursor is None where there is nothing more that way."""

    items: list
    next_cursor: str | None = None
    prev_cursor: str | None = None


class BadCursor(ValueError):
    """A cursor this portal did not write (mangled, cut short, forged, or from another list).
    Callers decide: start from the first page, or tell the client (the API's 422)."""


# -- cursors -----------------------------------------------------------------------------


def encode(values: Sequence) -> str:
    """Key values as a URL-safe string (base64 of a JSON list; datetimes and UUIDs as text)."""
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    plain = [str(v) if isinstance(v, uuid.UUID) else v for v in plain]
    raw = json.dumps(plain, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor, types: Sequence[type]) -> tuple:
    """The key values in `cursor`, each checked to be a `types` the database takes without
    complaint (a bigint, an aware datetime, a UUID, text without NUL), or BadCursor."""
    if not isinstance(cursor, str) or not 0 < len(cursor) <= CURSOR_MAX:
        raise BadCursor("no cursor")
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        values = json.loads(raw.decode())
        if not isinstance(values, list) or len(values) != len(types):
            raise BadCursor("not this list's cursor")
        return tuple(_value(kind, value) for kind, value in zip(types, values, strict=True))
    except (ValueError, TypeError, RecursionError, binascii.Error):
        raise BadCursor("mangled cursor") from None


def _value(kind: type, value):
    if kind is int and type(value) is int and -BIGINT <= value < BIGINT:
        return value
    if kind is str and isinstance(value, str):
        return text(value)
    if kind is datetime and isinstance(value, str):
        when = datetime.fromisoformat(value)
        if when.tzinfo is None:
            raise ValueError("a naive time")
        return when
    if kind is uuid.UUID and isinstance(value, str):
        return uuid.UUID(value)
    raise ValueError(f"not a {kind.__name__}")


def text(value: str, limit: int = CURSOR_MAX) -> str:
    """Text PostgreSQL stores and compares: no NUL, no lone surrogate, not too long."""
    if "\x00" in value or len(value) > limit:
        raise ValueError("not text for the database")
    value.encode()  # a lone surrogate (JSON "\ud800") raises UnicodeEncodeError
    return value


# -- reading -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Key:
    expression: object  # what is compared and ordered by (a column, maybe COLLATE "C")
    name: str  # the attribute of a row that holds its value
    kind: type  # its Python type, for reading cursors
    descending: bool


def _key(order) -> _Key:
    """`User.email`, `SecurityEvent.id.desc()`, `User.email.collate("C")`: the key, its
    direction, and the row attribute behind it."""
    descending = False
    if isinstance(order, UnaryExpression) and order.modifier in (
        operators.desc_op,
        operators.asc_op,
    ):
        descending, order = order.modifier is operators.desc_op, order.element
    column = order
    if isinstance(column, BinaryExpression) and column.operator is operators.collate:
        column = column.left
    sql_type = order.type.impl_instance if isinstance(order.type, TypeDecorator) else order.type
    return _Key(order, column.key, sql_type.python_type, descending)


def key_types(keys: Sequence) -> tuple[type, ...]:
    return tuple(_key(k).kind for k in keys)


def read(
    statement,
    keys: Sequence,
    past: tuple | None,
    count: int,
    *,
    backwards=False,
    params: dict | None = None,
) -> list:
    """Up to `count` rows of `statement` in the order of `keys` (all one direction), starting
    past the key values `past` (None: from the start); `backwards` reads the other way from
    there. One statement: a row-value comparison, ORDER BY the keys and LIMIT, which
    PostgreSQL serves from an index on the keys in order and stops after `count` rows.

    With `params`, `statement` and `keys` are built once (module constants, their values as
    bind parameters named in `params`): the page's statement is then composed once too and
    reused, which spares composing and compiling it again on every request (hot lists).

    A statement of one entity (`select(Model)`) gives model objects; one of columns gives
    rows (read-only, and much cheaper per row)."""
    if params is None:
        composed, values = _compose(statement, keys, past, count, backwards, _literal), {}
        one_entity = _one_entity(statement)
    else:
        cache_key = (id(statement), id(keys), past is None, count, backwards)
        entry = _composed.get(cache_key)
        if entry is None:
            if len(_composed) > 1000:  # a caller building its statement per call: no leak
                _composed.clear()
            composed = _compose(statement, keys, past, count, backwards, _bound)
            # The statement and keys are kept with it, so their ids are not reused.
            entry = _composed[cache_key] = (composed, _one_entity(statement), statement, keys)
        composed, one_entity, values = entry[0], entry[1], dict(params)
        if past is not None:
            values.update({f"keyset_{n}": value for n, value in enumerate(past)})
    if one_entity:
        return db.session.scalars(composed, values).all()
    # Rows: run on the session's connection, without the ORM's pass over a statement that
    # loads no model (a fifth of a short list's statement); what the transaction has
    # pending is written first, as the ORM would.
    db.session.flush()
    return db.session.connection().execute(composed, values).all()  # fetchall: one call


def _one_entity(statement) -> bool:
    described = statement.column_descriptions
    return len(described) == 1 and described[0]["expr"] is described[0]["entity"]


_composed: dict[tuple, tuple] = {}


def _literal(value, sql_type, _n: int):
    return literal(value, sql_type)


def _bound(_value, sql_type, n: int):
    return bindparam(f"keyset_{n}", type_=sql_type)


def _compose(statement, keys, past, count: int, backwards: bool, bound):
    parsed = [_key(k) for k in keys]
    if len({k.descending for k in parsed}) != 1:
        raise ValueError("keyset keys must all go one way (a row-value comparison)")
    descending = parsed[0].descending != backwards
    columns = [k.expression for k in parsed]
    if past is not None:
        bounds = [bound(v, c.type, n) for n, (c, v) in enumerate(zip(columns, past, strict=True))]
        if len(columns) == 1:
            left, right = columns[0], bounds[0]
        else:
            left, right = tuple_(*columns), tuple_(*bounds)
        statement = statement.where(left < right if descending else left > right)
    order = [c.desc() if descending else c.asc() for c in columns]
    return statement.order_by(*order).limit(count)


def values_of(row, keys: Sequence) -> tuple:
    return tuple(getattr(row, _key(k).name) for k in keys)


def page_of(
    rows: list,
    limit: int,
    cursor_of: Callable[[object], str],
    *,
    after: str | None = None,
    before: str | None = None,
) -> Page:
    """A Page from up to `limit + 1` rows read after the cursor `after` (or from the start),
    or backwards from `before` (in reading order: nearest first). An empty page still links
    back to where it was opened from, so no link ever leads to a dead end."""
    more = len(rows) > limit
    if before is not None:
        items = rows[:limit][::-1]
        return Page(
            items,
            next_cursor=cursor_of(items[-1]) if items else before,
            prev_cursor=cursor_of(items[0]) if more else None,
        )
    items = rows[:limit]
    return Page(
        items,
        next_cursor=cursor_of(items[-1]) if more else None,
        prev_cursor=(cursor_of(items[0]) if items else after) if after is not None else None,
    )


def keyset_page(
    statement,
    keys: Sequence,
    limit: int,
    *,
    after: str | None = None,
    before: str | None = None,
    params: dict | None = None,
) -> Page:
    """One page of `statement` ordered by `keys` (e.g. `[Model.created_at.desc(),
    Model.id.desc()]`, unique together): the first, the one after the cursor `after`, or
    the one before the cursor `before`. A cursor this list did not write raises BadCursor
    before any SQL is sent. `params`: see read()."""
    after, before = after or None, before or None
    cursor = before if before is not None else after
    past = decode(cursor, key_types(keys)) if cursor is not None else None
    rows = read(statement, keys, past, limit + 1, backwards=before is not None, params=params)
    return page_of(
        rows, limit, lambda row: encode(values_of(row, keys)), after=after, before=before
    )


def keyset_page_or_first(statement, keys: Sequence, limit: int, *, after=None, before=None):
    """keyset_page, but a cursor this list did not write (a link mangled or typed by hand)
    shows the first page: for pages, where a person follows links."""
    try:
        return keyset_page(statement, keys, limit, after=after, before=before)
    except BadCursor:
        return keyset_page(statement, keys, limit)
