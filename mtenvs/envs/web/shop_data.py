"""Seeded content of the shop site (``assets/web/shop.json``), generated deterministically.

``python -m mtenvs.envs.web.shop_data`` rewrites the asset; a test checks that the shipped
file equals :func:`generate`'s output, so the data and its generator cannot drift apart.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

__all__ = ["ASSET", "generate", "load"]

ASSET = Path(__file__).resolve().parents[2] / "assets" / "web" / "shop.json"

_SEED = 20_261_123
_CATEGORIES: dict[str, tuple[str, ...]] = {
    "Headphones": ("Over-Ear Headphones", "Earbuds", "Studio Monitors Headset"),
    "Keyboards": ("Mechanical Keyboard", "Compact Keyboard", "Ergonomic Keyboard"),
    "Mice": ("Wireless Mouse", "Gaming Mouse", "Trackball"),
    "Backpacks": ("Laptop Backpack", "Travel Pack", "Daypack"),
    "Lamps": ("Desk Lamp", "Clip Lamp", "Floor Lamp"),
    "Bottles": ("Water Bottle", "Insulated Flask", "Sports Bottle"),
}
_BRANDS = ("Acme", "Nimbus", "Zenith", "Orbit", "Kestrel")
_COLORS = ("black", "white", "red", "blue", "green", "grey")


def generate() -> dict[str, Any]:
    """The shop's initial state: products, account, past orders (same output every call)."""
    rng = random.Random(_SEED)
    products: list[dict[str, Any]] = []
    for category, kinds in _CATEGORIES.items():
        for kind in kinds:
            for brand in rng.sample(_BRANDS, 3):
                color = rng.choice(_COLORS)
                pid = 101 + len(products)
                products.append(
                    {
                        "id": pid,
                        "name": f"{brand} {kind}",
                        "sku": f"SK-{pid * 37 % 9000 + 1000}",
                        "brand": brand,
                        "category": category,
                        "color": color,
                        "price_cents": rng.randrange(900, 25_000, 50) - 1,
                        "rating": rng.randrange(25, 51) / 10,
                        "stock": rng.choice((0, 3, 7, 12, 25, 40)),
                        "description": f"A {color} {kind.lower()} by {brand}, "
                        f"model {rng.randrange(100, 999)}.",
                    }
                )
    account = {
        "name": "Jordan Lee",
        "email": "jordan.lee@example.org",
        "phone": "555-0142",
        "street": "12 Harbor Road",
        "city": "Portsmouth",
        "zip": "03801",
        "newsletter": False,
    }
    orders = []
    for i, number in enumerate((1001, 1002, 1003)):
        picks = rng.sample(products, 2)
        items = [{"product_id": p["id"], "qty": 1 + (i + j) % 2} for j, p in enumerate(picks)]
        total = sum(p["price_cents"] * it["qty"] for p, it in zip(picks, items, strict=True))
        orders.append(
            {
                "id": number,
                "items": items,
                "name": account["name"],
                "street": account["street"],
                "city": account["city"],
                "zip": account["zip"],
                "shipping": "standard",
                "total_cents": total,
                "status": "delivered",
                "date": f"2026-0{i + 3}-1{i + 2}",
            }
        )
    return {
        "products": products,
        "account": account,
        "orders": orders,
        "cart": [],
        "next_order_id": 1004,
    }


def load() -> dict[str, Any]:
    """The shipped asset (what the server starts from)."""
    data: dict[str, Any] = json.loads(ASSET.read_text(encoding="utf-8"))
    return data


if __name__ == "__main__":
    ASSET.parent.mkdir(parents=True, exist_ok=True)
    ASSET.write_text(json.dumps(generate(), indent=1) + "\n", encoding="utf-8")
