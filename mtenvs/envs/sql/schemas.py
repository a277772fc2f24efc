"""The domain schemas of the SQL envs: tables, columns and foreign keys.

Every schema is plain, portable DDL (``INTEGER``, ``TEXT``, ``REAL``; dates are ISO
``YYYY-MM-DD`` text) so the same statements create the database in SQLite and PostgreSQL.
Tables are listed parents first, so creating and filling them in order satisfies every
foreign key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["SCHEMAS", "SCHEMA_NAMES", "Column", "Schema", "Table", "get_schema"]


@dataclass(frozen=True)
class Column:
    """One column: ``name``, SQL ``type``, and where it points (``"table.column"``)."""

    name: str
    type: str
    primary_key: bool = False
    nullable: bool = False
    references: str | None = None


@dataclass(frozen=True)
class Table:
    """One table; ``share`` is its fraction of the database's rows."""

    name: str
    columns: tuple[Column, ...]
    share: float

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def ddl(self) -> str:
        """``CREATE TABLE`` with primary and foreign keys."""
        lines = []
        for c in self.columns:
            line = f"  {c.name} {c.type}"
            if c.primary_key:
                line += " PRIMARY KEY"
            elif not c.nullable:
                line += " NOT NULL"
            if c.references:
                table, column = c.references.split(".")
                line += f" REFERENCES {table}({column})"
            lines.append(line)
        return f"CREATE TABLE {self.name} (\n" + ",\n".join(lines) + "\n)"


@dataclass(frozen=True)
class Schema:
    """A domain database: its name, a one-line description and its tables (parents first)."""

    name: str
    description: str
    tables: tuple[Table, ...]

    def table(self, name: str) -> Table:
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(name)

    @property
    def table_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tables)

    def ddl(self) -> list[str]:
        return [t.ddl() for t in self.tables]


def _pk(name: str = "id") -> Column:
    return Column(name, "INTEGER", primary_key=True)


def _fk(name: str, target: str) -> Column:
    return Column(name, "INTEGER", references=target)


def _c(name: str, type_: str = "TEXT", nullable: bool = False) -> Column:
    return Column(name, type_, nullable=nullable)


SCHEMAS: Final[dict[str, Schema]] = {
    s.name: s
    for s in (
        Schema(
            "shop",
            "An online shop: customers, products, orders and order lines.",
            (
                Table(
                    "customers",
                    (_pk(), _c("name"), _c("city"), _c("signup_date"), _c("email", nullable=True)),
                    0.15,
                ),
                Table("products", (_pk(), _c("name"), _c("category"), _c("price", "REAL")), 0.05),
                Table(
                    "orders",
                    (_pk(), _fk("customer_id", "customers.id"), _c("order_date"), _c("status")),
                    0.3,
                ),
                Table(
                    "order_items",
                    (
                        _pk(),
                        _fk("order_id", "orders.id"),
                        _fk("product_id", "products.id"),
                        _c("quantity", "INTEGER"),
                        _c("unit_price", "REAL"),
                    ),
                    0.5,
                ),
            ),
        ),
        Schema(
            "hospital",
            "A hospital: doctors, patients and appointments.",
            (
                Table("doctors", (_pk(), _c("name"), _c("specialty"), _c("hire_date")), 0.05),
                Table(
                    "patients",
                    (
                        _pk(),
                        _c("name"),
                        _c("birth_date"),
                        _c("city"),
                        _c("insurance", nullable=True),
                    ),
                    0.3,
                ),
                Table(
                    "appointments",
                    (
                        _pk(),
                        _fk("patient_id", "patients.id"),
                        _fk("doctor_id", "doctors.id"),
                        _c("appt_date"),
                        _c("fee", "REAL"),
                        _c("diagnosis", nullable=True),
                    ),
                    0.65,
                ),
            ),
        ),
        Schema(
            "flights",
            "Airline flights between airports, with bookings by passengers.",
            (
                Table(
                    "airports",
                    (Column("code", "TEXT", primary_key=True), _c("city"), _c("country")),
                    0.0,
                ),
                Table("airlines", (_pk(), _c("name"), _c("country")), 0.0),
                Table(
                    "passengers",
                    (_pk(), _c("name"), _c("nationality"), _c("frequent_flyer", "INTEGER")),
                    0.25,
                ),
                Table(
                    "flights",
                    (
                        _pk(),
                        _fk("airline_id", "airlines.id"),
                        Column("origin", "TEXT", references="airports.code"),
                        Column("destination", "TEXT", references="airports.code"),
                        _c("departure_date"),
                        _c("duration_min", "INTEGER"),
                        _c("status"),
                    ),
                    0.25,
                ),
                Table(
                    "bookings",
                    (
                        _pk(),
                        _fk("flight_id", "flights.id"),
                        _fk("passenger_id", "passengers.id"),
                        _c("seat_class"),
                        _c("price", "REAL"),
                    ),
                    0.5,
                ),
            ),
        ),
        Schema(
            "school",
            "A school: teachers, students, courses and enrollments with scores.",
            (
                Table("teachers", (_pk(), _c("name"), _c("department")), 0.03),
                Table(
                    "students",
                    (
                        _pk(),
                        _c("name"),
                        _c("grade_level", "INTEGER"),
                        _c("city"),
                        _c("enrolled_date"),
                    ),
                    0.27,
                ),
                Table(
                    "courses",
                    (
                        _pk(),
                        _c("title"),
                        _c("department"),
                        _fk("teacher_id", "teachers.id"),
                        _c("credits", "INTEGER"),
                    ),
                    0.03,
                ),
                Table(
                    "enrollments",
                    (
                        _pk(),
                        _fk("student_id", "students.id"),
                        _fk("course_id", "courses.id"),
                        _c("term"),
                        _c("score", "REAL", nullable=True),
                    ),
                    0.67,
                ),
            ),
        ),
        Schema(
            "library",
            "A lending library: authors, books, members and loans.",
            (
                Table(
                    "authors", (_pk(), _c("name"), _c("country"), _c("birth_year", "INTEGER")), 0.05
                ),
                Table(
                    "books",
                    (
                        _pk(),
                        _c("title"),
                        _fk("author_id", "authors.id"),
                        _c("genre"),
                        _c("published_year", "INTEGER"),
                        _c("copies", "INTEGER"),
                    ),
                    0.2,
                ),
                Table("members", (_pk(), _c("name"), _c("city"), _c("joined_date")), 0.2),
                Table(
                    "loans",
                    (
                        _pk(),
                        _fk("book_id", "books.id"),
                        _fk("member_id", "members.id"),
                        _c("loan_date"),
                        _c("return_date", nullable=True),
                    ),
                    0.55,
                ),
            ),
        ),
        Schema(
            "finance",
            "A bank: clients, their accounts and account transactions.",
            (
                Table("clients", (_pk(), _c("name"), _c("city"), _c("segment")), 0.1),
                Table(
                    "accounts",
                    (
                        _pk(),
                        _fk("client_id", "clients.id"),
                        _c("account_type"),
                        _c("opened_date"),
                        _c("balance", "REAL"),
                    ),
                    0.15,
                ),
                Table(
                    "transactions",
                    (
                        _pk(),
                        _fk("account_id", "accounts.id"),
                        _c("txn_date"),
                        _c("amount", "REAL"),
                        _c("kind"),
                        _c("merchant", nullable=True),
                    ),
                    0.75,
                ),
            ),
        ),
    )
}
SCHEMA_NAMES: Final[tuple[str, ...]] = tuple(SCHEMAS)


def get_schema(name: str) -> Schema:
    """The schema called ``name`` (one of :data:`SCHEMA_NAMES`)."""
    return SCHEMAS[name]
