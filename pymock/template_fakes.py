"""Fake data for ``{{ fake.<field> }}``: small word lists and one generator per field.

Every generator takes a ``random.Random`` (the render env's ``rng``), so a seeded rng gives
the same data every time. Emails use the domains reserved for examples (RFC 2606) and phone
numbers the 555-01xx range reserved for fiction, so fake data never reaches a real person.

>>> import random
>>> _FAKE["name"](random.Random(7)), _FAKE["email"](random.Random(7))
('Liam Young', 'liam.young20@example.org')

Part of the template engine; ``templates`` is its public face. Names with a leading underscore
are shared between the ``template_*`` modules only. Pure (layer 0): plain data and functions
of an rng; it imports nothing, not even other pymock modules.
"""

__all__ = ["FAKE_FIELDS", "_FAKE", "_FIRST_NAMES", "_LAST_NAMES"]


_FIRST_NAMES = (
    "Ada", "Alan", "Amara", "Ana", "Ben", "Carlos", "Chen", "Chloe", "Daniel", "Elena", "Emma",
    "Farah", "Grace", "Hannah", "Hiro", "Ivan", "Jamal", "Julia", "Kai", "Leila", "Liam",
    "Lucas", "Maya", "Mei", "Noah", "Olivia", "Priya", "Rafael", "Sofia", "Tom", "Yusuf", "Zoe")
_LAST_NAMES = (
    "Adams", "Almeida", "Bauer", "Brown", "Costa", "Dubois", "Evans", "Fischer", "Garcia",
    "Gupta", "Hansen", "Ivanova", "Jones", "Kim", "Kowalski", "Lee", "Martin", "Meyer",
    "Moreau", "Nakamura", "Novak", "Okafor", "Patel", "Rossi", "Santos", "Silva", "Smith",
    "Tanaka", "Walker", "Wright", "Young")
_CITIES = (
    "Amsterdam", "Athens", "Auckland", "Austin", "Bangalore", "Barcelona", "Berlin", "Boston",
    "Buenos Aires", "Cairo", "Cape Town", "Chicago", "Dublin", "Helsinki", "Istanbul", "Kyoto",
    "Lagos", "Lima", "Lisbon", "Madrid", "Melbourne", "Montreal", "Nairobi", "Oslo", "Prague",
    "Seoul", "Singapore", "Toronto", "Vienna", "Warsaw")
_COUNTRIES = (
    "Argentina", "Australia", "Austria", "Brazil", "Canada", "Chile", "Denmark", "Egypt",
    "Finland", "France", "Germany", "Ghana", "Greece", "India", "Ireland", "Italy", "Japan",
    "Kenya", "Mexico", "Netherlands", "New Zealand", "Nigeria", "Norway", "Peru", "Poland",
    "Portugal", "South Korea", "Spain", "Sweden", "Vietnam")
_COMPANY_SUFFIXES = (
    "Labs", "Systems", "Industries", "Logistics", "Analytics", "Partners", "Group", "Holdings",
    "Software", "Foods", "Robotics", "Energy", "Media", "Health", "Studios", "Consulting",
    "Networks", "Dynamics", "Works", "& Co")
_STREET_NAMES = (
    "Oak", "Maple", "Cedar", "Elm", "Pine", "Birch", "Willow", "Chestnut", "Lake", "Hill",
    "River", "Park", "Mill", "Church", "High", "Station", "Garden", "Meadow", "Spring", "Sunset",
    "Harbor", "Forest", "Bridge", "Orchard", "Valley")
_STREET_KINDS = ("Street", "Avenue", "Road", "Lane", "Drive", "Way", "Court", "Place", "Boulevard")
_WORDS = (
    "apple", "breeze", "canyon", "delta", "ember", "falcon", "glacier", "harbor", "island",
    "jungle", "kernel", "lantern", "meadow", "nebula", "orbit", "pebble", "quartz", "river",
    "summit", "thunder", "umbra", "velvet", "willow", "xenon", "yonder", "zephyr", "amber",
    "basil", "cobalt", "dune", "echo", "fable", "garnet", "hazel", "ivory", "juniper", "koala",
    "lilac", "mango", "nectar")
_EMAIL_DOMAINS = ("example.com", "example.org", "example.net")  # reserved for examples (RFC 2606)


def _fake_sentence(rng) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(4, 9))]
    return " ".join(words).capitalize() + "."


def _fake_email(rng) -> str:
    first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
    return f"{first.lower()}.{last.lower()}{rng.randint(1, 99)}@{rng.choice(_EMAIL_DOMAINS)}"


_FAKE = {
    "name": lambda rng: f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}",
    "first_name": lambda rng: rng.choice(_FIRST_NAMES),
    "last_name": lambda rng: rng.choice(_LAST_NAMES),
    "email": _fake_email,
    "city": lambda rng: rng.choice(_CITIES),
    "country": lambda rng: rng.choice(_COUNTRIES),
    "company": lambda rng: f"{rng.choice(_LAST_NAMES)} {rng.choice(_COMPANY_SUFFIXES)}",
    # 555-0100..0199 numbers are reserved for fiction, so a fake number never rings anyone.
    "phone": lambda rng: f"+1-{rng.randint(201, 989)}-555-01{rng.randint(0, 99):02d}",
    "street": lambda rng: (f"{rng.randint(1, 999)} {rng.choice(_STREET_NAMES)} "
                           f"{rng.choice(_STREET_KINDS)}"),
    "word": lambda rng: rng.choice(_WORDS),
    "sentence": _fake_sentence,
}


FAKE_FIELDS = tuple(sorted(_FAKE))
