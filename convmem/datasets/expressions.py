"""A mapping's ``expression``: a column of the source, or a scalar SQL expression over its columns.

An expression is parsed with ``sqlglot`` in the source's dialect and accepted only if it is one
scalar expression: no statement, subquery, star, parameter or aggregate, columns that the source
has (unqualified), and functions from a short list of pure ones (an unknown function could be
``pg_sleep`` or one reading the server's files). What reaches the source is that checked tree
rendered again by ``sqlglot`` with every identifier quoted, never the text as given.
"""

from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

ALLOWED_FUNCTIONS: tuple[type[exp.Func], ...] = (
    exp.Lower,
    exp.Upper,
    exp.Trim,
    exp.Concat,
    exp.ConcatWs,
    exp.Coalesce,
    exp.Substring,
    exp.Length,
    exp.Cast,
    exp.TryCast,
    exp.Case,
    exp.If,
    exp.Nullif,
    exp.Round,
    exp.Abs,
    exp.Floor,
    exp.Ceil,
    exp.Left,
    exp.Right,
    exp.RegexpReplace,
    exp.Greatest,
    exp.Least,
)
_REFUSED: tuple[type[exp.Expression], ...] = (
    exp.Query,
    exp.Subquery,
    exp.Star,
    exp.Placeholder,
    exp.Parameter,
    exp.SessionParameter,
    exp.AggFunc,
    exp.Window,
)
MAX_EXPRESSION_LENGTH = 1000


class InvalidExpression(ValueError):
    pass


@dataclass(frozen=True)
class Selection:
    """What one mapped expression reads: a source column by name, or SQL rendered for the source."""

    expression: str
    column: str | None = None
    sql: str | None = None


def selection(expression: str, columns: list[str], dialect: str) -> Selection:
    """The checked selection of ``expression`` over a source with ``columns`` in ``dialect``
    (a sqlglot dialect name); raises ``InvalidExpression`` saying what is wrong."""
    if expression in columns:
        return Selection(expression, column=expression)
    tree = parse(expression, dialect)
    by_folded = {name.lower(): name for name in columns}
    for node in tree.find_all(exp.Column):
        name = node.name if node.this and isinstance(node.this, exp.Identifier) else None
        quoted = bool(node.this.args.get("quoted")) if name is not None else False
        actual = name if name in columns else (None if quoted or name is None else by_folded.get(name.lower()))
        if actual is None:
            raise InvalidExpression(f"expression '{expression}' reads '{node.sql()}', which is not a column of the source")
        node.set("this", exp.to_identifier(actual, quoted=True))
    return Selection(expression, sql=tree.sql(dialect=dialect, identify=True))


def parse(expression: str, dialect: str) -> exp.Expression:
    """The expression's tree if it is one allowed scalar expression (columns not yet checked)."""
    if not expression.strip() or len(expression) > MAX_EXPRESSION_LENGTH:
        raise InvalidExpression(f"an expression is 1 to {MAX_EXPRESSION_LENGTH} characters")
    try:
        statements = [tree for tree in sqlglot.parse(expression, read=dialect) if tree is not None]
    except SqlglotError:
        raise InvalidExpression(f"expression '{expression}' is not a column name or a SQL expression") from None
    if len(statements) != 1:
        raise InvalidExpression(f"expression '{expression}' must be one expression, not {len(statements)} statements")
    tree = statements[0]
    for node in tree.walk():
        if isinstance(node, _REFUSED) or isinstance(node, (exp.DDL, exp.DML, exp.Command, exp.Anonymous)):
            raise InvalidExpression(f"expression '{expression}' may not contain {_describe(node)}")
        if isinstance(node, exp.Func) and not isinstance(node, ALLOWED_FUNCTIONS):
            raise InvalidExpression(f"expression '{expression}' may not contain {_describe(node)}")
        if isinstance(node, exp.Column) and (node.table or not isinstance(node.this, exp.Identifier)):
            raise InvalidExpression(f"expression '{expression}' must name columns without a table: '{node.sql()}'")
    return tree


def _describe(node: exp.Expression) -> str:
    if isinstance(node, (exp.Query, exp.Subquery)):
        return "a query"
    if isinstance(node, (exp.DDL, exp.DML, exp.Command)):
        return "a statement"
    if isinstance(node, exp.Func):
        name = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
        return f"the function {name.lower()}() (allowed: {', '.join(sorted({f.sql_name().lower() for f in ALLOWED_FUNCTIONS}))})"
    return f"{node.key}"
