"""The shop site: search with filters, product pages, cart, checkout, orders, account.

``handle(state, method, path, query, form)`` is the whole app: a pure function of the
request and the in-memory ``state`` (which it mutates), returning a :class:`Response`.
"""

from __future__ import annotations

import re
from typing import Any

from pages import Response, esc, layout, money, redirect

PAGE_SIZE = 8
SORTS = {
    "relevance": "Relevance",
    "price_asc": "Price: low to high",
    "price_desc": "Price: high to low",
    "rating": "Rating",
}
_ZIP = re.compile(r"^\d{5}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]+$")
ACCOUNT_FIELDS = ("name", "email", "phone", "street", "city", "zip")


def _nav(state: dict[str, Any]) -> str:
    count = sum(item["qty"] for item in state["cart"])
    return (
        f'<nav><a href="/">Home</a><a href="/search">Search</a>'
        f'<a href="/cart">Cart ({count})</a><a href="/orders">Orders</a>'
        f'<a href="/account">Account</a></nav>'
    )


def _page(state: dict[str, Any], title: str, body: str) -> Response:
    return Response(layout(f"{title} | Shop", body, nav=_nav(state)))


def _products(state: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {p["id"]: p for p in state["products"]}


def _options(name: str, label: str, values: list[tuple[str, str]], current: str) -> str:
    opts = "".join(
        f'<option value="{esc(v)}"{" selected" if v == current else ""}>{esc(t)}</option>'
        for v, t in values
    )
    return f'<label>{esc(label)} <select name="{name}">{opts}</select></label>'


def _search_form(state: dict[str, Any], q: dict[str, str]) -> str:
    cats = sorted({p["category"] for p in state["products"]})
    brands = sorted({p["brand"] for p in state["products"]})
    return (
        '<form action="/search" method="get">'
        f'<label>Search <input type="search" name="q" value="{esc(q.get("q", ""))}" '
        'placeholder="Search products"></label>'
        + _options(
            "category", "Category", [("", "All"), *[(c, c) for c in cats]], q.get("category", "")
        )
        + _options("brand", "Brand", [("", "All"), *[(b, b) for b in brands]], q.get("brand", ""))
        + f'<label>Max price <input type="number" name="max_price" '
        f'value="{esc(q.get("max_price", ""))}"></label>'
        + _options("sort", "Sort by", list(SORTS.items()), q.get("sort", "relevance"))
        + '<button type="submit">Search</button></form>'
    )


def _stock(p: dict[str, Any]) -> str:
    return f"{p['stock']} in stock" if p["stock"] else "out of stock"


def _summary(p: dict[str, Any]) -> str:
    return (
        f'<li><a href="/product/{p["id"]}">{esc(p["name"])}</a> '
        f"<span>{money(p['price_cents'])} · {p['category']} · {p['color']} · "
        f"rating {p['rating']} · {_stock(p)}</span></li>"
    )


def _matches(p: dict[str, Any], q: dict[str, str]) -> bool:
    words = q.get("q", "").lower().split()
    text = f"{p['name']} {p['category']} {p['color']} {p['description']}".lower()
    if any(w not in text for w in words):
        return False
    if q.get("category") and p["category"] != q["category"]:
        return False
    if q.get("brand") and p["brand"] != q["brand"]:
        return False
    max_price = q.get("max_price", "").strip()
    if max_price:
        try:
            if p["price_cents"] > float(max_price) * 100:
                return False
        except ValueError:
            return False
    return True


def search(state: dict[str, Any], q: dict[str, str]) -> Response:
    hits = [p for p in state["products"] if _matches(p, q)]
    sort = q.get("sort", "relevance")
    if sort == "price_asc":
        hits.sort(key=lambda p: (p["price_cents"], p["id"]))
    elif sort == "price_desc":
        hits.sort(key=lambda p: (-p["price_cents"], p["id"]))
    elif sort == "rating":
        hits.sort(key=lambda p: (-p["rating"], p["id"]))
    try:
        page = max(1, int(q.get("page", "1")))
    except ValueError:
        page = 1
    pages = max(1, -(-len(hits) // PAGE_SIZE))
    page = min(page, pages)
    shown = hits[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    base = "&".join(f"{k}={esc(v)}" for k, v in q.items() if k != "page" and v)
    pager = "".join(
        f'<a href="/search?{base}&page={n}">Page {n}</a> ' if n != page else f"<b>Page {n}</b> "
        for n in range(1, pages + 1)
    )
    body = (
        _search_form(state, q) + f"<h1>Results</h1><p>{len(hits)} products found</p>"
        f"<ul>{''.join(map(_summary, shown))}</ul><p>{pager}</p>"
    )
    return _page(state, "Search", body)


def product(state: dict[str, Any], pid: int, message: str = "") -> Response:
    p = _products(state).get(pid)
    if p is None:
        return Response(layout("Not found", "<h1>Product not found</h1>", nav=_nav(state)), 404)
    buy = (
        (
            '<form action="/cart/add" method="post">'
            f'<input type="hidden" name="product_id" value="{pid}">'
            + _options("qty", "Quantity", [(str(n), str(n)) for n in range(1, 6)], "1")
            + '<button type="submit">Add to cart</button></form>'
        )
        if p["stock"]
        else ("<p>Currently unavailable.</p>")
    )
    body = (
        f"{message}<h1>{esc(p['name'])}</h1><table>"
        f"<tr><th>Price</th><td>{money(p['price_cents'])}</td></tr>"
        f"<tr><th>Brand</th><td>{esc(p['brand'])}</td></tr>"
        f"<tr><th>Category</th><td>{esc(p['category'])}</td></tr>"
        f"<tr><th>Color</th><td>{esc(p['color'])}</td></tr>"
        f"<tr><th>Rating</th><td>{p['rating']}</td></tr>"
        f"<tr><th>SKU</th><td>{esc(p['sku'])}</td></tr>"
        f"<tr><th>Availability</th><td>{_stock(p)}</td></tr></table>"
        f"<p>{esc(p['description'])}</p>{buy}"
        '<p><a href="/help/shipping" target="_blank">Shipping info (new tab)</a></p>'
    )
    return _page(state, p["name"], body)


def cart(state: dict[str, Any]) -> Response:
    products = _products(state)
    rows, total = [], 0
    for item in state["cart"]:
        p = products[item["product_id"]]
        total += p["price_cents"] * item["qty"]
        rows.append(
            f"<tr><td>{esc(p['name'])}</td><td>{item['qty']}</td>"
            f"<td>{money(p['price_cents'] * item['qty'])}</td><td>"
            '<form action="/cart/remove" method="post" '
            "onsubmit=\"return confirm('Remove this item from the cart?')\">"
            f'<input type="hidden" name="product_id" value="{p["id"]}">'
            f'<button type="submit">Remove {esc(p["name"])}</button></form></td></tr>'
        )
    if not rows:
        return _page(state, "Cart", "<h1>Cart</h1><p>Your cart is empty.</p>")
    body = (
        "<h1>Cart</h1><table><tr><th>Item</th><th>Qty</th><th>Subtotal</th><th></th></tr>"
        f"{''.join(rows)}</table><p>Total: {money(total)}</p>"
        '<p><a href="/checkout">Proceed to checkout</a></p>'
    )
    return _page(state, "Cart", body)


def checkout(state: dict[str, Any], form: dict[str, str], error: str = "") -> Response:
    if not state["cart"]:
        return _page(state, "Checkout", "<h1>Checkout</h1><p>Your cart is empty.</p>")
    acct = state["account"]
    fields = "".join(
        f'<label>{label} <input type="text" name="{name}" '
        f'value="{esc(form.get(name, acct[name] if name != "name" else ""))}"></label>'
        for name, label in (
            ("name", "Full name"),
            ("street", "Street"),
            ("city", "City"),
            ("zip", "ZIP code"),
        )
    )
    ship = _options(
        "shipping",
        "Shipping",
        [("standard", "Standard (free)"), ("express", "Express ($9.99)")],
        form.get("shipping", "standard"),
    )
    err = f'<p class="err">{esc(error)}</p>' if error else ""
    body = (
        f'<h1>Checkout</h1>{err}<form action="/checkout" method="post">{fields}{ship}'
        '<button type="submit">Place order</button></form>'
    )
    return _page(state, "Checkout", body)


def place_order(state: dict[str, Any], form: dict[str, str]) -> Response:
    if not state["cart"]:
        return redirect("/cart")
    data = {k: form.get(k, "").strip() for k in ("name", "street", "city", "zip")}
    missing = [k for k, v in data.items() if not v]
    if missing:
        return checkout(state, form, f"Please fill in: {', '.join(missing)}.")
    if not _ZIP.match(data["zip"]):
        return checkout(state, form, "ZIP code must be 5 digits.")
    shipping = form.get("shipping", "standard")
    if shipping not in ("standard", "express"):
        shipping = "standard"
    products = _products(state)
    for item in state["cart"]:
        if products[item["product_id"]]["stock"] < item["qty"]:
            name = products[item["product_id"]]["name"]
            return checkout(state, form, f"Not enough stock for {name}.")
    total = sum(products[i["product_id"]]["price_cents"] * i["qty"] for i in state["cart"])
    total += 999 if shipping == "express" else 0
    for item in state["cart"]:
        products[item["product_id"]]["stock"] -= item["qty"]
    number = state["next_order_id"]
    state["next_order_id"] += 1
    state["orders"].append(
        {
            "id": number,
            "items": state["cart"],
            **data,
            "shipping": shipping,
            "total_cents": total,
            "status": "processing",
            "date": "2026-11-23",
        }
    )
    state["cart"] = []
    return redirect(f"/orders/{number}?placed=1")


def orders(state: dict[str, Any]) -> Response:
    rows = "".join(
        f'<tr><td><a href="/orders/{o["id"]}">Order #{o["id"]}</a></td><td>{o["date"]}</td>'
        f"<td>{money(o['total_cents'])}</td><td>{o['status']}</td></tr>"
        for o in reversed(state["orders"])
    )
    body = (
        "<h1>Order history</h1><table><tr><th>Order</th><th>Date</th><th>Total</th>"
        f"<th>Status</th></tr>{rows}</table>"
    )
    return _page(state, "Orders", body)


def order(state: dict[str, Any], number: int, query: dict[str, str]) -> Response:
    o = next((o for o in state["orders"] if o["id"] == number), None)
    if o is None:
        return Response(layout("Not found", "<h1>Order not found</h1>", nav=_nav(state)), 404)
    products = _products(state)
    items = "".join(
        f"<li>{esc(products[i['product_id']]['name'])} × {i['qty']}</li>" for i in o["items"]
    )
    msg = '<p class="msg">Thank you! Your order has been placed.</p>' if query.get("placed") else ""
    body = (
        f"{msg}<h1>Order #{o['id']}</h1><p>Date: {o['date']} · Status: {o['status']}</p>"
        f"<ul>{items}</ul><p>Ship to: {esc(o['name'])}, {esc(o['street'])}, "
        f"{esc(o['city'])} {esc(o['zip'])} ({o['shipping']})</p>"
        f"<p>Total: {money(o['total_cents'])}</p>"
        f'<p><a href="/orders/{o["id"]}/invoice">Download invoice</a></p>'
    )
    return _page(state, f"Order #{o['id']}", body)


def account(state: dict[str, Any], message: str = "") -> Response:
    acct = state["account"]
    fields = "".join(
        f'<label>{name.capitalize()} <input type="text" name="{name}" '
        f'value="{esc(acct[name])}"></label>'
        for name in ACCOUNT_FIELDS
    )
    news = (
        f'<label><input type="checkbox" name="newsletter"'
        f"{' checked' if acct['newsletter'] else ''}> Newsletter</label>"
    )
    body = (
        f'<h1>Account</h1>{message}<form action="/account" method="post">{fields}{news}'
        '<button type="submit">Save changes</button></form>'
    )
    return _page(state, "Account", body)


def save_account(state: dict[str, Any], form: dict[str, str]) -> Response:
    new = {k: form.get(k, "").strip() for k in ACCOUNT_FIELDS}
    if not all(new.values()):
        return account(state, '<p class="err">Every field is required.</p>')
    if not _EMAIL.match(new["email"]):
        return account(state, '<p class="err">Please enter a valid email address.</p>')
    if not _ZIP.match(new["zip"]):
        return account(state, '<p class="err">ZIP code must be 5 digits.</p>')
    state["account"].update(new, newsletter="newsletter" in form)
    return account(state, '<p class="msg">Your changes have been saved.</p>')


def home(state: dict[str, Any]) -> Response:
    cats = sorted({p["category"] for p in state["products"]})
    links = "".join(f'<li><a href="/search?category={c}">{c}</a></li>' for c in cats)
    featured = sorted(state["products"], key=lambda p: (-p["rating"], p["id"]))[:4]
    body = (
        f"<h1>Welcome to the Shop</h1>{_search_form(state, {})}<h2>Categories</h2>"
        f"<ul>{links}</ul><h2>Top rated</h2><ul>{''.join(map(_summary, featured))}</ul>"
    )
    return _page(state, "Home", body)


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) < 9 else None


def handle(
    state: dict[str, Any], method: str, path: str, query: dict[str, str], form: dict[str, str]
) -> Response:
    parts = [p for p in path.split("/") if p]
    if method == "POST":
        if path == "/cart/add":
            pid, qty = _int(form.get("product_id", "")), _int(form.get("qty", "1"))
            p = _products(state).get(pid or 0)
            if p is None or not qty or not 1 <= qty <= 5 or not p["stock"]:
                return redirect("/cart")
            for item in state["cart"]:
                if item["product_id"] == pid:
                    item["qty"] = min(5, item["qty"] + qty)
                    break
            else:
                state["cart"].append({"product_id": pid, "qty": qty})
            return product(state, p["id"], '<p class="msg">Added to your cart.</p>')
        if path == "/cart/remove":
            pid = _int(form.get("product_id", ""))
            state["cart"] = [i for i in state["cart"] if i["product_id"] != pid]
            return redirect("/cart")
        if path == "/checkout":
            return place_order(state, form)
        if path == "/account":
            return save_account(state, form)
        return Response("method not allowed", 405, "text/plain")
    if not parts:
        return home(state)
    if parts == ["search"]:
        return search(state, query)
    if len(parts) == 2 and parts[0] == "product" and _int(parts[1]) is not None:
        return product(state, int(parts[1]))
    if parts == ["cart"]:
        return cart(state)
    if parts == ["checkout"]:
        return checkout(state, {})
    if parts == ["orders"]:
        return orders(state)
    if len(parts) >= 2 and parts[0] == "orders" and _int(parts[1]) is not None:
        if len(parts) == 3 and parts[2] == "invoice":
            return Response(
                f"Invoice for order {parts[1]}\n",
                content_type="text/plain",
                headers=[("Content-Disposition", f'attachment; filename="invoice-{parts[1]}.txt"')],
            )
        return order(state, int(parts[1]), query)
    if parts == ["account"]:
        return account(state)
    if parts == ["help", "shipping"]:
        return _page(
            state,
            "Shipping",
            "<h1>Shipping</h1><p>Standard shipping is free; express costs $9.99.</p>",
        )
    return Response(layout("Not found", "<h1>Page not found</h1>", nav=_nav(state)), 404)
