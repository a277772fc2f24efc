"""The question templates on the ``shop`` database (customers, products, orders and their lines)."""

from __future__ import annotations

from typing import Final

from mtenvs.envs.sql.template_spec import CITIES, YEARS, Template

__all__ = ["TEMPLATES"]

#: In catalogue order (see :data:`mtenvs.envs.sql.templates.TEMPLATES`).
TEMPLATES: Final[tuple[Template, ...]] = (
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
        {"city": CITIES, "year": YEARS},
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
        {"city": CITIES},
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
)
