"""Write the demo shop, Trail & Lantern Outfitters, to ``memory/demo/shop.json``.

Deterministic (seeded): running it again writes the same file. The first five
customers are hand-written so the demo page and the tests can rely on them (see
``memory/demo/README.md``); the rest of the shop is generated.

    python -m memory.demo.generate [OUTPUT]
"""

from __future__ import annotations

import json
import random
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

SEED = 20260630
NEWEST = datetime(2026, 6, 30, 9, 30, tzinfo=UTC)  # the newest date in the file
DEFAULT_OUTPUT = Path(__file__).resolve().parent / "shop.json"
FREE_SHIPPING_FROM = Decimal("75.00")
SHIPPING_FEE = Decimal("4.95")

PRODUCTS: list[tuple[str, str, str, str]] = [
    ("TL-TENT-2P", "Lantern Ridge 2P Tent", "289.00", "Two-person, three-season tent, 2.1 kg."),
    ("TL-TENT-4P", "Basecamp 4P Family Tent", "449.00", "Four-person tunnel tent, 2 porches."),
    ("TL-TARP-3X3", "Canopy Tarp 3x3", "69.00", "Ripstop tarp with 16 guy-out points."),
    ("TL-BAG-SUMMER", "Glowworm Summer Sleeping Bag", "89.00", "Comfort 10 °C, 780 g."),
    ("TL-BAG-3S", "Ember 3-Season Down Bag", "239.00", "Comfort 0 °C, 650 fill power down."),
    ("TL-MAT-AIR", "Cloudrest Air Mat", "119.00", "Insulated air mat, R-value 4.2."),
    ("TL-MAT-FOAM", "Trailfoam Sit Pad", "19.00", "Folding closed-cell foam pad."),
    ("TL-PACK-28", "Daybreak 28 L Daypack", "99.00", "Hip belt, rain cover, hydration sleeve."),
    ("TL-PACK-55", "Long Haul 55 L Backpack", "229.00", "Adjustable back, 1.6 kg."),
    ("TL-PACK-KIDS", "Little Trail 12 L Kids Pack", "39.00", "For children aged 4–9."),
    ("TL-JKT-RAIN-M", "Downpour Rain Jacket (men)", "179.00", "3-layer waterproof shell."),
    ("TL-JKT-RAIN-W", "Downpour Rain Jacket (women)", "179.00", "3-layer waterproof shell."),
    ("TL-JKT-DOWN", "Firefly Down Jacket", "199.00", "Packable 800 fill power down."),
    ("TL-FLEECE", "Hearth Grid Fleece", "79.00", "Recycled grid fleece mid-layer."),
    ("TL-BASE-MERINO", "Merino 200 Base Layer Top", "69.00", "100% merino wool, 200 g/m²."),
    ("TL-PANTS-HIKE", "Switchback Hiking Trousers", "89.00", "Stretch, zip-off legs."),
    ("TL-BOOT-MID", "Granite Mid Hiking Boots", "169.00", "Waterproof membrane, Vibram sole."),
    ("TL-SHOE-TRAIL", "Scree Trail Runners", "139.00", "Light trail shoes, 8 mm drop."),
    ("TL-SOCK-3PK", "Merino Hiking Socks (3 pairs)", "36.00", "Cushioned merino blend."),
    ("TL-LAMP-HEAD", "Lantern 400 Headlamp", "45.00", "400 lumen, USB-C rechargeable."),
    ("TL-LAMP-CAMP", "Glow Camp Lantern", "39.00", "Dimmable, 3 days on low."),
    ("TL-STOVE", "Pocket Flame Gas Stove", "49.00", "Fits standard screw-thread canisters."),
    ("TL-POT-SET", "Nesting Cook Pot Set", "59.00", "Hard-anodised aluminium, 2 pots + pan."),
    ("TL-BOTTLE", "Insulated Bottle 750 ml", "32.00", "Keeps drinks hot 12 h, cold 24 h."),
    ("TL-FILTER", "ClearFlow Water Filter", "42.00", "0.1 micron hollow-fibre filter."),
    ("TL-POLES", "Carbon Trekking Poles (pair)", "119.00", "Three sections, cork grips."),
    ("TL-KNIFE", "Whittler Folding Knife", "29.00", "Locking blade, 7.5 cm."),
    ("TL-FIRSTAID", "Trail First-Aid Kit", "34.00", "For 2 people, 3 days."),
    ("TL-GIFT-50", "Gift Card 50 EUR", "50.00", "Delivered by email, valid 3 years."),
]


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST = _words(
    "Noah Lea Mila Finn Elias Nora Jasper Ines Oskar Freya Mateo Lucia Tomas Hanna Milan Zoe "
    "Anton Clara Leon Ida Felix Amira Jonah Rosa Emil Alva Luca Mirela Karim Saskia Bram "
    "Yara Tobias Ayla Pavel Greta Ravi Selma Arjun Elif Viktor Maren Diego Liv Hugo Nadia "
    "Samuel Teresa Malik Fenna Iker Joanna Stefan Olga"
)
LAST = _words(
    "Jansen Moreau Novak Berg Kowalski Silva Haddad Visser Fischer Rossi Dubois Nieminen "
    "Costa Horvat Schmidt Larsen Ferreira Kaya Meyer Byrne Dekker Laurent Petrov Sorensen "
    "Lindgren Martins Vogel Romano Janssen Keller Ortega Bakker Wolff Andersen Popescu "
    "Meijer Brandt"
)
DOMAINS = ("example.com", "example.org", "example.net")
PHONE_PREFIXES = ("+31 6", "+49 151", "+32 470", "+33 6", "+43 660", "+45 20")
CARRIERS = (("PostNL", "postnl"), ("DHL", "dhl"), ("DPD", "dpd"), ("UPS", "ups"))

# Hand-written demo customers: (shop id, name, email, phone, tags, orders).
# Each order: (status, days before NEWEST it was created, [(sku, qty)]).
DEMO_CUSTOMERS: list[tuple[str, str, str, str, list[str], list[tuple[str, float, list[Any]]]]] = [
    (
        "C1001",
        "Maya Okafor",
        "maya.okafor@example.com",
        "+31 6 1234 5678",
        ["newsletter"],
        [
            ("shipped", 2.5, [("TL-PACK-28", 1), ("TL-BOTTLE", 1)]),
            ("delivered", 24, [("TL-BOOT-MID", 1), ("TL-SOCK-3PK", 2)]),
            ("delivered", 140, [("TL-LAMP-HEAD", 1)]),
        ],
    ),
    (
        "C1002",
        "Jonas Becker",
        "jonas.becker@example.org",
        "+49 151 2345 6789",
        [],
        [
            ("delivered", 8, [("TL-TENT-2P", 1), ("TL-MAT-AIR", 1)]),
            ("pending", 0.5, [("TL-STOVE", 1), ("TL-POT-SET", 1)]),
        ],
    ),
    (
        "C1003",
        "Sofia Marchetti",
        "sofia.marchetti@example.net",
        "+39 347 555 0199",
        ["vip"],
        [
            ("pending", 0, [("TL-JKT-RAIN-W", 1), ("TL-BASE-MERINO", 2)]),
            ("cancelled", 35, [("TL-FLEECE", 1)]),
            ("delivered", 90, [("TL-PACK-55", 1), ("TL-POLES", 1)]),
        ],
    ),
    (
        "C1004",
        "Liam O'Connor",
        "liam.oconnor@example.com",
        "+353 87 555 0142",
        [],
        [
            ("return_requested", 16, [("TL-JKT-DOWN", 1)]),
            ("refunded", 60, [("TL-TENT-4P", 1)]),
        ],
    ),
    ("C1005", "Emma Verhoeven", "emma.verhoeven@example.org", "+31 6 8765 4321", [], []),
]


def money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


class ShopWriter:
    def __init__(self, seed: int = SEED) -> None:
        self.rng = random.Random(seed)
        self.prices = {sku: Decimal(price) for sku, _, price, _ in PRODUCTS}
        self.names = {sku: name for sku, name, _, _ in PRODUCTS}
        self.orders: list[dict[str, Any]] = []

    def order(
        self, email: str, status: str, age_days: float, lines: list[tuple[str, int]]
    ) -> dict[str, Any]:
        rng = self.rng
        created = NEWEST - timedelta(days=age_days, minutes=rng.randint(0, 600))
        created = min(created, NEWEST) if age_days > 0 else NEWEST
        items = [
            {"name": self.names[sku], "sku": sku, "qty": qty, "price": money(self.prices[sku])}
            for sku, qty in lines
        ]
        subtotal = sum((self.prices[sku] * qty for sku, qty in lines), Decimal("0"))
        shipping = Decimal("0") if subtotal >= FREE_SHIPPING_FROM else SHIPPING_FEE
        shipped = delivered = None
        if status in ("shipped", "delivered", "return_requested", "refunded"):
            shipped = created + timedelta(hours=rng.randint(18, 40))
        if status in ("delivered", "return_requested", "refunded"):
            assert shipped is not None
            delivered = shipped + timedelta(days=rng.randint(1, 4), hours=rng.randint(0, 8))
        if shipped is not None:
            shipped = min(shipped, NEWEST)
        if delivered is not None:
            delivered = min(delivered, NEWEST)
        order: dict[str, Any] = {
            "id": "",
            "customer_email": email,
            "status": status,
            "created_at": iso(created),
            "shipped_at": iso(shipped),
            "delivered_at": iso(delivered),
            "currency": "EUR",
            "total": money(subtotal + shipping),
            "items": items,
        }
        if shipped is not None:
            carrier, slug = CARRIERS[rng.randrange(len(CARRIERS))]
            number = f"{slug[:2].upper()}{rng.randint(10**9, 10**10 - 1)}NL"
            order["tracking"] = {
                "carrier": carrier,
                "number": number,
                "url": f"https://track.example.net/{slug}/{number}",
            }
        order = {k: v for k, v in order.items() if v is not None}
        self.orders.append(order)
        return order

    def random_lines(self) -> list[tuple[str, int]]:
        count = self.rng.choices((1, 2, 3, 4), weights=(45, 30, 17, 8))[0]
        skus = self.rng.sample([p[0] for p in PRODUCTS], count)
        return [(sku, self.rng.choices((1, 2), weights=(85, 15))[0]) for sku in skus]

    def random_status(self) -> tuple[str, float]:
        rng = self.rng
        status = rng.choices(
            ("delivered", "shipped", "pending", "cancelled", "return_requested", "refunded"),
            weights=(46, 14, 10, 10, 10, 10),
        )[0]
        age = {
            "pending": rng.uniform(0.1, 3),
            "shipped": rng.uniform(1.5, 7),
            "return_requested": rng.uniform(7, 35),
        }.get(status, rng.uniform(6, 300))
        return status, age


def build_shop(seed: int = SEED) -> dict[str, Any]:
    writer = ShopWriter(seed)
    rng = writer.rng
    customers: list[dict[str, Any]] = []
    for ref, name, email, phone, tags, planned in DEMO_CUSTOMERS:
        customers.append(_customer(ref, name, email, phone, tags))
        for status, age, lines in planned:
            writer.order(email, status, age, lines)
    used = {c["email"] for c in customers}
    number = 1006
    while len(customers) < 66:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = f"{first}.{last}@{rng.choice(DOMAINS)}".lower()
        if email in used:
            continue
        used.add(email)
        phone = f"{rng.choice(PHONE_PREFIXES)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}"
        tags = rng.choices(([], ["newsletter"], ["vip"], ["wholesale"]), weights=(70, 20, 7, 3))[0]
        customers.append(_customer(f"C{number}", f"{first} {last}", email, phone, tags))
        number += 1
    regulars = [c["email"] for c in customers[5:]]
    while len(writer.orders) < 236:
        status, age = writer.random_status()
        writer.order(rng.choice(regulars), status, age, writer.random_lines())
    # Guest checkouts: the importer creates these customers from the order's email.
    for email, name in (
        ("guest.hiker@example.net", "Pia Sandberg"),
        ("weekend.camper@example.com", "Ruben Smit"),
    ):
        order = writer.order(email, "delivered", rng.uniform(20, 120), writer.random_lines())
        order["customer_name"] = name
    orders = sorted(writer.orders, key=lambda o: o["created_at"])
    for number, order in enumerate(orders, start=10001):
        order["id"] = f"TL-{number}"
    products = [
        {"sku": sku, "name": name, "price": price, "currency": "EUR", "description": desc}
        for sku, name, price, desc in PRODUCTS
    ]
    return {
        "version": 1,
        "shop": {"name": "Trail & Lantern Outfitters", "currency": "EUR"},
        "customers": customers,
        "products": products,
        "orders": [_ordered_keys(o) for o in orders],
    }


def _customer(ref: str, name: str, email: str, phone: str, tags: list[str]) -> dict[str, Any]:
    return {
        "email": email,
        "name": name,
        "phone": phone,
        "external_ids": {"shop": ref},
        "tags": tags,
    }


def _ordered_keys(order: dict[str, Any]) -> dict[str, Any]:
    keys = (
        *("id", "customer_email", "customer_name", "status", "created_at", "shipped_at"),
        *("delivered_at", "currency", "total", "items", "tracking"),
    )
    return {k: order[k] for k in keys if k in order}


def main(argv: list[str]) -> int:
    output = Path(argv[0]) if argv else DEFAULT_OUTPUT
    output.write_text(json.dumps(build_shop(), indent=2, ensure_ascii=False) + "\n", "utf-8")
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
