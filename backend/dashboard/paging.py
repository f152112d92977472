"""Page numbers from the query string, with a clear 400 for nonsense."""

from dataclasses import dataclass

import sqlalchemy as sa
from flask import abort, request
from flask_babel import gettext as _

from backend import db


@dataclass(frozen=True)
class Page:
    items: list
    number: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def first_index(self) -> int:
        return (self.number - 1) * self.per_page + 1 if self.total else 0

    @property
    def last_index(self) -> int:
        return min(self.number * self.per_page, self.total)


def int_arg(name: str, default: int, maximum: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        abort(
            400,
            description=_(
                "'%(name)s' must be a whole number from 1 to %(max)s.", name=name, max=maximum
            ),
        )
    return int(raw)


def paginate(query: sa.Select, default_per_page: int = 25) -> Page:
    number = int_arg("page", 1, 1_000_000)
    per_page = int_arg("per_page", default_per_page, 200)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    rows = db.session.scalars(query.limit(per_page).offset((number - 1) * per_page)).all()
    return Page(rows, number, per_page, total)
