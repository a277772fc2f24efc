"""The question templates of the SQL envs: gold SQL and several phrasings each.

A template's ``{name}`` placeholders are filled with one value of its ``params`` choices, in
the question and the gold SQL alike. The last phrasing of every template is held out for
the test split. Gold SQL is portable (no dialect-only functions: dates are ISO text cut
with ``substr``) and orders by a unique key wherever it limits, so its result is unique.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

__all__ = ["CATEGORIES", "TEMPLATES", "Template", "TemplateKind"]

TemplateKind = Literal["read", "write"]
#: The SQL features the templates cover (each template names one or more).
CATEGORIES: Final = (
    "filter",
    "join",
    "aggregate",
    "having",
    "order_limit",
    "nested",
    "window",
    "date",
    "null",
    "set_op",
    "insert",
    "update",
    "delete",
)

_YEARS = ("2020", "2021", "2022", "2023", "2024")
_CITIES = ("Lisbon", "Porto", "Madrid", "Paris", "Berlin", "Rome", "Vienna", "Prague")


@dataclass(frozen=True)
class Template:
    """One question template: its schema, features, phrasings, gold SQL and parameters."""

    id: str
    schema: str
    features: tuple[str, ...]
    phrasings: tuple[str, ...]
    gold: str
    params: dict[str, tuple[str, ...]] = field(default_factory=dict)
    kind: TemplateKind = "read"


TEMPLATES: Final[tuple[Template, ...]] = (
    # ------------------------------------------------------------------ shop
    Template(
        "shop_city_signups",
        "shop",
        ("filter", "date"),
        (
            "List the name and email of every customer from {city} who signed up in {year}.",
            "Which customers living in {city} joined in {year}? Give their names and emails.",
            "Show name and email for customers based in {city} whose signup date falls in {year}.",
        ),
        "SELECT name, email FROM customers WHERE city = '{city}' "
        "AND substr(signup_date, 1, 4) = '{year}'",
        {"city": _CITIES, "year": _YEARS},
    ),
    Template(
        "shop_revenue_by_category",
        "shop",
        ("join", "aggregate"),
        (
            "For orders with status '{status}', what is the total revenue (quantity times unit "
            "price, rounded to 2 decimals) per product category? Return category and revenue.",
            "Per product category, sum quantity * unit_price over the order lines of {status} "
            "orders (2 decimals). Columns: category, revenue.",
            "Break down the revenue of {status} orders by product category (category, revenue "
            "rounded to cents).",
        ),
        "SELECT p.category, ROUND(SUM(oi.quantity * oi.unit_price), 2) AS revenue "
        "FROM order_items oi JOIN orders o ON o.id = oi.order_id "
        "JOIN products p ON p.id = oi.product_id WHERE o.status = '{status}' "
        "GROUP BY p.category",
        {"status": ("delivered", "shipped", "pending", "cancelled")},
    ),
    Template(
        "shop_frequent_customers",
        "shop",
        ("join", "having"),
        (
            "Which customers placed more than {k} orders? Give customer id, name and the number "
            "of orders.",
            "List id, name and order count of the customers with over {k} orders.",
            "Find customers whose number of orders exceeds {k} (id, name, order count).",
        ),
        "SELECT c.id, c.name, COUNT(*) AS n_orders FROM customers c "
        "JOIN orders o ON o.customer_id = c.id GROUP BY c.id, c.name HAVING COUNT(*) > {k}",
        {"k": ("2", "3", "4")},
    ),
    Template(
        "shop_top_products",
        "shop",
        ("filter", "order_limit"),
        (
            "What are the {n} most expensive products in the {category} category? Give name and "
            "price, most expensive first (ties broken by product id).",
            "Top {n} {category} products by price: name and price, descending (then by id).",
            "Show the name and price of the {n} priciest {category} products, highest price "
            "first, ties by id.",
        ),
        "SELECT name, price FROM products WHERE category = '{category}' "
        "ORDER BY price DESC, id LIMIT {n}",
        {
            "n": ("3", "5"),
            "category": ("electronics", "books", "garden", "toys", "kitchen", "sports"),
        },
    ),
    Template(
        "shop_missing_email",
        "shop",
        ("null", "aggregate"),
        (
            "How many customers from {city} have no email address on file?",
            "Count the {city} customers whose email is missing.",
            "Number of customers in {city} without an email?",
        ),
        "SELECT COUNT(*) FROM customers WHERE city = '{city}' AND email IS NULL",
        {"city": _CITIES},
    ),
    Template(
        "shop_above_category_avg",
        "shop",
        ("nested",),
        (
            "Which {category} products cost more than the average price of their category? "
            "Give name and price.",
            "List name and price of {category} products priced above the {category} average.",
            "Name and price of every {category} product more expensive than its category's mean "
            "price.",
        ),
        "SELECT p.name, p.price FROM products p WHERE p.category = '{category}' AND p.price > "
        "(SELECT AVG(q.price) FROM products q WHERE q.category = p.category)",
        {"category": ("electronics", "books", "garden", "toys", "kitchen", "sports")},
    ),
    Template(
        "shop_cancel_old_pending",
        "shop",
        ("update", "date"),
        (
            "Mark every pending order placed before {date} as cancelled.",
            "Set the status of all pending orders with an order date earlier than {date} to "
            "'cancelled'.",
            "Cancel the pending orders that were placed before {date}.",
        ),
        "UPDATE orders SET status = 'cancelled' WHERE status = 'pending' AND order_date < '{date}'",
        {"date": ("2021-01-01", "2022-01-01", "2023-06-30")},
        kind="write",
    ),
    # ------------------------------------------------------------------ hospital
    Template(
        "hospital_doctor_rank",
        "hospital",
        ("join", "window", "aggregate"),
        (
            "For every doctor, give name, specialty, number of appointments and the doctor's "
            "rank by appointment count within the specialty (RANK, busiest = 1).",
            "Rank doctors within their specialty by how many appointments they have (rank 1 is "
            "the busiest; use RANK). Columns: name, specialty, appointments, rank.",
            "Doctor name, specialty, appointment count and the RANK of that count inside the "
            "specialty, largest first.",
        ),
        "SELECT d.name, d.specialty, COUNT(a.id) AS n, RANK() OVER (PARTITION BY d.specialty "
        "ORDER BY COUNT(a.id) DESC) AS rnk FROM doctors d JOIN appointments a "
        "ON a.doctor_id = d.id GROUP BY d.id, d.name, d.specialty",
    ),
    Template(
        "hospital_monthly_volume",
        "hospital",
        ("date", "aggregate", "order_limit"),
        (
            "How many appointments were there in each month of {year}? Give the month as "
            "YYYY-MM and the count, in month order.",
            "Monthly appointment counts for {year} (month as YYYY-MM, count), sorted by month.",
            "List every month of {year} that had appointments (YYYY-MM) with its number of "
            "appointments, chronologically.",
        ),
        "SELECT substr(appt_date, 1, 7) AS month, COUNT(*) AS n FROM appointments "
        "WHERE substr(appt_date, 1, 4) = '{year}' GROUP BY substr(appt_date, 1, 7) "
        "ORDER BY month",
        {"year": _YEARS},
    ),
    Template(
        "hospital_uninsured",
        "hospital",
        ("null", "filter"),
        (
            "List the names of patients in {city} whose insurance is not recorded.",
            "Which {city} patients have no insurance value on file (NULL)? Names only.",
            "Names of the patients from {city} with a missing insurance entry.",
        ),
        "SELECT name FROM patients WHERE city = '{city}' AND insurance IS NULL",
        {"city": _CITIES},
    ),
    Template(
        "hospital_fee_by_specialty",
        "hospital",
        ("join", "aggregate"),
        (
            "What is the average appointment fee per specialty for appointments diagnosed as "
            "{diagnosis}? Specialty and average fee rounded to 2 decimals.",
            "Per specialty, the mean fee (2 decimals) of {diagnosis} appointments.",
            "Average fee of appointments with diagnosis {diagnosis}, grouped by the doctor's "
            "specialty (specialty, average rounded to cents).",
        ),
        "SELECT d.specialty, ROUND(AVG(a.fee), 2) AS avg_fee FROM appointments a "
        "JOIN doctors d ON d.id = a.doctor_id WHERE a.diagnosis = '{diagnosis}' "
        "GROUP BY d.specialty",
        {"diagnosis": ("flu", "fracture", "migraine", "allergy", "hypertension")},
    ),
    Template(
        "hospital_purge_undiagnosed",
        "hospital",
        ("delete", "null", "date"),
        (
            "Delete all appointments before {date} that have no diagnosis.",
            "Remove the undiagnosed appointments (diagnosis missing) dated earlier than {date}.",
            "Purge appointments prior to {date} whose diagnosis is NULL.",
        ),
        "DELETE FROM appointments WHERE diagnosis IS NULL AND appt_date < '{date}'",
        {"date": ("2021-01-01", "2022-01-01", "2023-01-01")},
        kind="write",
    ),
    Template(
        "hospital_city_intersect",
        "hospital",
        ("set_op",),
        (
            "Which cities have both a patient with '{insurance}' insurance and a patient born "
            "after {year}-12-31? List the cities.",
            "Cities that are home to a {insurance}-insured patient and also to a patient born "
            "later than {year}.",
            "List each city with at least one patient insured '{insurance}' and at least one "
            "patient born after the end of {year}.",
        ),
        "SELECT city FROM patients WHERE insurance = '{insurance}' INTERSECT "
        "SELECT city FROM patients WHERE birth_date > '{year}-12-31'",
        {"insurance": ("public", "private", "none"), "year": ("1990", "2000", "2005")},
    ),
    # ------------------------------------------------------------------ flights
    Template(
        "flights_from_city",
        "flights",
        ("join", "filter"),
        (
            "List flight id, airline name and destination code of {status} flights departing "
            "from {city}.",
            "Which {status} flights leave from {city}? Flight id, airline name, destination.",
            "Show id, airline name and destination airport of flights out of {city} with status "
            "{status}.",
        ),
        "SELECT f.id, al.name, f.destination FROM flights f "
        "JOIN airlines al ON al.id = f.airline_id JOIN airports ap ON ap.code = f.origin "
        "WHERE ap.city = '{city}' AND f.status = '{status}'",
        {
            "city": ("Lisbon", "Madrid", "Paris", "Berlin", "Rome", "Vienna"),
            "status": ("on_time", "delayed", "cancelled"),
        },
    ),
    Template(
        "flights_busy_routes",
        "flights",
        ("aggregate", "having"),
        (
            "Which routes (origin, destination) have at least {k} flights? Give origin, "
            "destination and the number of flights.",
            "Origin, destination and flight count of every route flown {k} or more times.",
            "List routes with {k}+ flights: origin code, destination code, count.",
        ),
        "SELECT origin, destination, COUNT(*) AS n FROM flights GROUP BY origin, destination "
        "HAVING COUNT(*) >= {k}",
        {"k": ("3", "4")},
    ),
    Template(
        "flights_longest_per_airline",
        "flights",
        ("window", "nested", "join"),
        (
            "For each airline, which is its longest flight? Give airline name, flight id and "
            "duration (ties: the lower flight id).",
            "Airline name, flight id and duration of every airline's longest flight (lowest id "
            "on ties).",
            "Show each airline's single longest flight by duration: airline, flight id, minutes "
            "(smallest id wins ties).",
        ),
        "SELECT airline, id, duration_min FROM (SELECT al.name AS airline, f.id, "
        "f.duration_min, ROW_NUMBER() OVER (PARTITION BY f.airline_id ORDER BY "
        "f.duration_min DESC, f.id) AS rn FROM flights f JOIN airlines al "
        "ON al.id = f.airline_id) t WHERE rn = 1",
    ),
    Template(
        "flights_pricey_class",
        "flights",
        ("nested", "join"),
        (
            "Which passengers paid more than the average booking price for a {seat_class} "
            "booking? Distinct passenger names.",
            "Distinct names of passengers with a {seat_class} booking priced above the average "
            "price over all bookings.",
            "List (without duplicates) the passengers who booked {seat_class} above the overall "
            "mean booking price.",
        ),
        "SELECT DISTINCT p.name FROM passengers p JOIN bookings b ON b.passenger_id = p.id "
        "WHERE b.seat_class = '{seat_class}' AND b.price > (SELECT AVG(price) FROM bookings)",
        {"seat_class": ("economy", "business", "first")},
    ),
    Template(
        "flights_new_airline",
        "flights",
        ("insert",),
        (
            "Add a new airline called '{name}' based in {country} with id 7.",
            "Insert airline id 7, name '{name}', country {country}.",
            "Register the airline '{name}' ({country}) under id 7.",
        ),
        "INSERT INTO airlines (id, name, country) VALUES (7, '{name}', '{country}')",
        {"name": ("NovaSky", "Zephyr", "Boreal"), "country": ("Portugal", "Spain", "Italy")},
        kind="write",
    ),
    # ------------------------------------------------------------------ school
    Template(
        "school_course_scores",
        "school",
        ("join", "aggregate", "null"),
        (
            "For {department} courses in term {term}, what is each course's average score "
            "(missing scores ignored, 2 decimals)? Give title and average.",
            "Average score per {department} course in {term}, ignoring NULL scores, rounded to 2 "
            "decimals (title, average).",
            "Title and mean score (2 decimals, skipping missing scores) of every {department} "
            "course for term {term}.",
        ),
        "SELECT c.title, ROUND(AVG(e.score), 2) AS avg_score FROM enrollments e "
        "JOIN courses c ON c.id = e.course_id WHERE c.department = '{department}' "
        "AND e.term = '{term}' GROUP BY c.id, c.title",
        {
            "department": ("math", "science", "history", "languages", "arts"),
            "term": ("2023-fall", "2024-spring", "2024-fall"),
        },
    ),
    Template(
        "school_missing_scores",
        "school",
        ("null", "aggregate"),
        (
            "How many enrollments have no score, per term? Term and count.",
            "Count the enrollments with a missing score in each term (term, count).",
            "Per term, the number of enrollments whose score is NULL.",
        ),
        "SELECT term, COUNT(*) AS n FROM enrollments WHERE score IS NULL GROUP BY term",
    ),
    Template(
        "school_top_students",
        "school",
        ("join", "aggregate", "order_limit"),
        (
            "Who are the {n} grade-{grade} students with the highest average score? Give id, "
            "name and average (2 decimals), best first, ties by id.",
            "Top {n} students of grade {grade} by mean score: id, name, average rounded to 2 "
            "decimals, descending, ties broken by id.",
            "List the {n} best grade {grade} students by average score (id, name, average to 2 "
            "decimals), highest first, then by id.",
        ),
        "SELECT s.id, s.name, ROUND(AVG(e.score), 2) AS avg_score FROM students s "
        "JOIN enrollments e ON e.student_id = s.id WHERE s.grade_level = {grade} "
        # Students without any score would sort differently in SQLite and PostgreSQL.
        "AND e.score IS NOT NULL "
        "GROUP BY s.id, s.name ORDER BY AVG(e.score) DESC, s.id LIMIT {n}",
        {"n": ("3", "5"), "grade": ("9", "10", "11", "12")},
    ),
    Template(
        "school_fill_scores",
        "school",
        ("update", "null"),
        (
            "Give every {term} enrollment that has no score a score of {value}.",
            "Set missing scores of term {term} enrollments to {value}.",
            "Fill in the NULL scores of the {term} enrollments with {value}.",
        ),
        "UPDATE enrollments SET score = {value} WHERE term = '{term}' AND score IS NULL",
        {"term": ("2023-fall", "2024-spring", "2024-fall"), "value": ("0", "50")},
        kind="write",
    ),
    Template(
        "school_cross_department",
        "school",
        ("nested", "filter"),
        (
            "Which {department} teachers teach at least one course of another department? Names.",
            "Names of teachers in the {department} department who teach some course outside "
            "their own department.",
            "List {department} teachers (names) with a course belonging to a different department.",
        ),
        "SELECT t.name FROM teachers t WHERE t.department = '{department}' AND EXISTS "
        "(SELECT 1 FROM courses c WHERE c.teacher_id = t.id AND c.department <> t.department)",
        {"department": ("math", "science", "history", "languages", "arts")},
    ),
    # ------------------------------------------------------------------ library
    Template(
        "library_city_year_titles",
        "library",
        ("join", "date", "filter"),
        (
            "Which book titles were borrowed in {year} by members from {city}? Distinct titles.",
            "Distinct titles of books lent in {year} to members living in {city}.",
            "List (without duplicates) the titles loaned during {year} to {city} members.",
        ),
        "SELECT DISTINCT b.title FROM loans l JOIN books b ON b.id = l.book_id "
        "JOIN members m ON m.id = l.member_id WHERE substr(l.loan_date, 1, 4) = '{year}' "
        "AND m.city = '{city}'",
        {"year": _YEARS, "city": _CITIES},
    ),
    Template(
        "library_open_loans",
        "library",
        ("null", "join", "aggregate"),
        (
            "How many loans are still not returned, per genre? Genre and count.",
            "Count unreturned loans (no return date) by book genre.",
            "Per genre, the number of loans whose return date is missing.",
        ),
        "SELECT b.genre, COUNT(*) AS n FROM loans l JOIN books b ON b.id = l.book_id "
        "WHERE l.return_date IS NULL GROUP BY b.genre",
    ),
    Template(
        "library_genre_except",
        "library",
        ("set_op", "join"),
        (
            "Which members (id and name) borrowed a {genre} book but never a {other} book?",
            "Members (id, name) with at least one {genre} loan and no {other} loan.",
            "List id and name of members who have borrowed {genre} but not {other} books.",
        ),
        "SELECT m.id, m.name FROM members m JOIN loans l ON l.member_id = m.id "
        "JOIN books b ON b.id = l.book_id WHERE b.genre = '{genre}' EXCEPT "
        "SELECT m.id, m.name FROM members m JOIN loans l ON l.member_id = m.id "
        "JOIN books b ON b.id = l.book_id WHERE b.genre = '{other}'",
        {"genre": ("fiction", "mystery", "science"), "other": ("history", "poetry", "fantasy")},
    ),
    Template(
        "library_prolific_authors",
        "library",
        ("join", "having"),
        (
            "Which authors from {country} have more than {k} copies in stock across their "
            "books? Name and total copies.",
            "Name and total copies of {country} authors whose books sum to over {k} copies.",
            "Authors of {country} with a total copy count above {k} (name, total).",
        ),
        "SELECT a.name, SUM(b.copies) AS copies FROM authors a JOIN books b "
        "ON b.author_id = a.id WHERE a.country = '{country}' GROUP BY a.id, a.name "
        "HAVING SUM(b.copies) > {k}",
        {
            "country": ("Portugal", "Spain", "France", "Germany", "Italy", "Poland"),
            "k": ("5", "10"),
        },
    ),
    Template(
        "library_purge_returned",
        "library",
        ("delete", "date"),
        (
            "Delete every loan that was returned before {date}.",
            "Remove the loans with a return date earlier than {date}.",
            "Purge loans returned prior to {date}.",
        ),
        "DELETE FROM loans WHERE return_date < '{date}'",
        {"date": ("2021-01-01", "2022-01-01", "2023-01-01")},
        kind="write",
    ),
    # ------------------------------------------------------------------ finance
    Template(
        "finance_running_balance",
        "finance",
        ("window", "order_limit"),
        (
            "List the transactions of account {account} with id, date, amount and the running "
            "total of amounts (2 decimals), in date order (ties by id).",
            "For account {account}: every transaction's id, date, amount and cumulative sum of "
            "amounts so far (rounded to 2 decimals), ordered by date then id.",
            "Running total of account {account}'s transactions (id, txn_date, amount, running "
            "sum to 2 decimals), chronological, ties by id.",
        ),
        "SELECT id, txn_date, amount, ROUND(SUM(amount) OVER (ORDER BY txn_date, id), 2) "
        "AS running FROM transactions WHERE account_id = {account} ORDER BY txn_date, id",
        {"account": tuple(str(i) for i in range(1, 41))},
    ),
    Template(
        "finance_segment_kinds",
        "finance",
        ("join", "aggregate"),
        (
            "For clients in the {segment} segment, what is the total transaction amount per "
            "kind (2 decimals)? Kind and total.",
            "Sum of transaction amounts by kind over accounts of {segment} clients (kind, total "
            "rounded to 2 decimals).",
            "Per transaction kind, the total amount (2 decimals) moved by {segment} clients.",
        ),
        "SELECT t.kind, ROUND(SUM(t.amount), 2) AS total FROM transactions t "
        "JOIN accounts a ON a.id = t.account_id JOIN clients c ON c.id = a.client_id "
        "WHERE c.segment = '{segment}' GROUP BY t.kind",
        {"segment": ("retail", "premium", "business")},
    ),
    Template(
        "finance_big_withdrawals",
        "finance",
        ("filter", "date", "order_limit"),
        (
            "What were the {n} largest withdrawals of {year}? Give id, account id and amount, "
            "largest first (amounts are negative; ties by id).",
            "The {n} biggest {year} withdrawals (most negative amount first, then by id): id, "
            "account_id, amount.",
            "Show id, account id and amount of the {n} largest withdrawals made in {year} (most "
            "negative first, ties by id).",
        ),
        "SELECT id, account_id, amount FROM transactions WHERE kind = 'withdrawal' "
        "AND substr(txn_date, 1, 4) = '{year}' ORDER BY amount, id LIMIT {n}",
        {"n": ("3", "5"), "year": _YEARS},
    ),
    Template(
        "finance_merchant_totals",
        "finance",
        ("null", "aggregate"),
        (
            "Total {kind} amount per merchant, with missing merchants grouped as 'unknown' (2 "
            "decimals). Merchant and total.",
            "Sum the amounts of {kind} transactions by merchant; use 'unknown' where the "
            "merchant is NULL. Round to 2 decimals.",
            "Per merchant (NULL merchants reported as 'unknown'), the total of {kind} amounts, "
            "to 2 decimals.",
        ),
        "SELECT COALESCE(merchant, 'unknown') AS merchant, ROUND(SUM(amount), 2) AS total "
        "FROM transactions WHERE kind = '{kind}' GROUP BY COALESCE(merchant, 'unknown')",
        {"kind": ("deposit", "withdrawal", "payment", "transfer")},
    ),
    Template(
        "finance_rich_clients",
        "finance",
        ("nested", "having", "join"),
        (
            "Which clients from {city} hold more in total balance than the average account "
            "balance? Name and total balance (2 decimals).",
            "Name and summed balance (2 decimals) of {city} clients whose accounts total above "
            "the mean balance of all accounts.",
            "List {city} clients (name, total balance rounded to cents) with total balance over "
            "the overall average account balance.",
        ),
        "SELECT c.name, ROUND(SUM(a.balance), 2) AS total FROM clients c JOIN accounts a "
        "ON a.client_id = c.id WHERE c.city = '{city}' GROUP BY c.id, c.name "
        "HAVING SUM(a.balance) > (SELECT AVG(balance) FROM accounts)",
        {"city": _CITIES},
    ),
    Template(
        "finance_record_deposit",
        "finance",
        ("insert",),
        (
            "Record a deposit of {amount} into account {account} on {date} (no merchant, next "
            "free transaction id).",
            "Insert a new deposit transaction: account {account}, date {date}, amount {amount}, "
            "merchant unknown (NULL), id = the next free id.",
            "Add a {amount} deposit to account {account} dated {date}; merchant NULL, next id.",
        ),
        "INSERT INTO transactions (id, account_id, txn_date, amount, kind, merchant) "
        "VALUES ((SELECT MAX(id) + 1 FROM transactions), {account}, '{date}', {amount}, "
        "'deposit', NULL)",
        {
            "amount": ("250.0", "1000.0"),
            "account": ("3", "8", "12"),
            "date": ("2025-01-15", "2025-02-01"),
        },
        kind="write",
    ),
)
