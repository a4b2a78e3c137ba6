"""One statement for a bounded select per key of a batch.

"The last 20 turns of each of these conversations" is one ``ORDER BY … LIMIT``
select per conversation: each keeps its own index range and limit, so a batch
costs what its rows cost alone, whatever the size of their histories (a window
function over all their rows would not). One statement runs them all:

- PostgreSQL: the keys as arrays, ``unnest`` joined ``LATERAL`` to the select —
  one statement and one plan for any batch size.
- SQLite (no LATERAL): a ``UNION ALL`` of the select per key, with the keys as
  bound parameters. It is built once per batch size, sizes rounded up to a power
  of two (padded with NULL keys, which match no row), so a running worker
  compiles a handful of statements.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Row,
    Select,
    Subquery,
    bindparam,
    func,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeEngine

AnySelect = Select[*tuple[Any, ...]]
Statement = AnySelect | CompoundSelect[*tuple[Any, ...]]


class PerKey:
    """``PerKey(member, types)(keys, dialect)`` → the statement and its parameters.

    ``member(*key)`` is the bounded select for one key, written with the SQL
    expressions it is given where the key's values go (one per type in ``types``).
    ``outer``, if given, wraps the rows of all members (e.g. to count them).
    """

    def __init__(
        self,
        member: Callable[..., AnySelect],
        types: Sequence[TypeEngine[Any]],
        outer: Callable[[Subquery], AnySelect] | None = None,
    ) -> None:
        self._member = member
        self._types = tuple(types)
        self._outer = outer
        self._built: dict[int, Statement] = {}

    def __call__(
        self, keys: Sequence[tuple[Any, ...]], dialect: str
    ) -> tuple[Statement, dict[str, Any]]:
        if not keys:
            raise ValueError("no keys")
        arity = len(self._types)
        if any(len(key) != arity for key in keys):
            raise ValueError(f"expected {arity} values per key")
        if dialect == "postgresql":
            return self._statement(0), {f"keys_{i}": [key[i] for key in keys] for i in range(arity)}
        size = _padded_size(len(keys))
        padded = [*keys, *[(None,) * arity] * (size - len(keys))]
        params = {f"k{n}_{i}": value for n, key in enumerate(padded) for i, value in enumerate(key)}
        return self._statement(size), params

    async def rows(
        self, session: AsyncSession, keys: Sequence[tuple[Any, ...]]
    ) -> Sequence[Row[*tuple[Any, ...]]]:
        """The statement for ``keys`` run in ``session``: all its rows."""
        query, params = self(keys, session.get_bind().dialect.name)
        return (await session.execute(query, params)).all()

    async def warm(self, session: AsyncSession, most: int) -> int:
        """Run the statement once for every batch size up to ``most`` keys, keys NULL (no
        rows), so each is compiled and cached before real batches need it; returns how many
        statements ran. A SQLite union of 64 members takes tens of milliseconds to compile,
        which a worker would otherwise pay in the middle of its first batches."""
        dialect = session.get_bind().dialect.name
        largest = _padded_size(most)
        sizes = [1] if dialect == "postgresql" else [1 << n for n in range(largest.bit_length())]
        nulls = (None,) * len(self._types)
        for size in sizes:
            query, params = self([nulls] * size, dialect)
            await session.execute(query, params)
        return len(sizes)

    def _statement(self, size: int) -> Statement:
        """Size 0: the PostgreSQL statement for any number of keys."""
        statement = self._built.get(size)
        if statement is None:
            statement = self._built[size] = self._wrap(
                self._lateral() if size == 0 else self._union(size)
            )
        return statement

    def _wrap(self, statement: Statement) -> Statement:
        return statement if self._outer is None else self._outer(statement.subquery())

    def _union(self, size: int) -> Statement:
        members = [select(self._member(*self._params(n)).subquery()) for n in range(size)]
        return members[0] if size == 1 else union_all(*members)

    def _params(self, n: int) -> list[ColumnElement[Any]]:
        return [bindparam(f"k{n}_{i}", type_=t) for i, t in enumerate(self._types)]

    def _lateral(self) -> AnySelect:
        arrays = [bindparam(f"keys_{i}", type_=ARRAY(t)) for i, t in enumerate(self._types)]
        names = [f"k{i}" for i in range(len(self._types))]
        keys = func.unnest(*arrays).table_valued(*names).render_derived()
        member = self._member(*(keys.c[name] for name in names)).lateral()
        return select(member).select_from(keys).join(member, true())


def _padded_size(count: int) -> int:
    """The SQLite statement size for ``count`` keys: the next power of two."""
    return 1 << (count - 1).bit_length()
