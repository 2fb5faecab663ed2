"""What the synthetic world is made of: countries and cities, cuisines with
their dishes, ambiences, and the words diners use. Plain data, no logic."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class City:
    name: str
    latitude: float
    longitude: float


@dataclass(frozen=True)
class Country:
    code: str
    timezone: str
    currency: str
    locale: str
    faker_locale: str
    # Spend per cover at price tier 1, in minor units of the currency.
    spend_tier1_minor: int
    dinner: tuple[str, str, str]  # opens, closes, last seating
    lunch: tuple[str, str, str] | None
    cities: tuple[City, ...]
    holidays: tuple[tuple[int, int, str], ...]  # (month, day, name), fixed-date ones


COUNTRIES: tuple[Country, ...] = (
    Country(
        "US",
        "America/New_York",
        "USD",
        "en-US",
        "en_US",
        2200,
        ("17:00", "23:00", "21:30"),
        ("11:30", "15:00", "14:00"),
        (City("New York", 40.7306, -73.9866), City("Boston", 42.3601, -71.0589)),
        ((1, 1, "New Year's Day"), (7, 4, "Independence Day"), (12, 25, "Christmas Day")),
    ),
    Country(
        "GB",
        "Europe/London",
        "GBP",
        "en-GB",
        "en_GB",
        1800,
        ("17:30", "23:00", "21:45"),
        ("12:00", "15:00", "14:15"),
        (City("London", 51.5072, -0.1276), City("Manchester", 53.4808, -2.2426)),
        ((1, 1, "New Year's Day"), (12, 25, "Christmas Day"), (12, 26, "Boxing Day")),
    ),
    Country(
        "FR",
        "Europe/Paris",
        "EUR",
        "fr-FR",
        "fr_FR",
        2000,
        ("19:00", "23:30", "22:00"),
        ("12:00", "14:30", "13:45"),
        (City("Paris", 48.8566, 2.3522), City("Lyon", 45.7640, 4.8357)),
        (
            (1, 1, "Jour de l'an"),
            (5, 1, "Fête du Travail"),
            (7, 14, "Fête nationale"),
            (12, 25, "Noël"),
        ),
    ),
    Country(
        "ES",
        "Europe/Madrid",
        "EUR",
        "es-ES",
        "es_ES",
        1700,
        ("20:00", "00:30", "23:00"),
        ("13:30", "16:30", "15:30"),
        (City("Madrid", 40.4168, -3.7038), City("Barcelona", 41.3874, 2.1686)),
        ((1, 1, "Año Nuevo"), (1, 6, "Epifanía"), (10, 12, "Fiesta Nacional"), (12, 25, "Navidad")),
    ),
    Country(
        "JP",
        "Asia/Tokyo",
        "JPY",
        "ja-JP",
        "ja_JP",
        3000,
        ("17:30", "23:00", "21:30"),
        ("11:30", "14:30", "13:45"),
        (City("Tokyo", 35.6762, 139.6503), City("Osaka", 34.6937, 135.5023)),
        ((1, 1, "元日"), (2, 11, "建国記念の日"), (11, 3, "文化の日")),
    ),
    Country(
        "AU",
        "Australia/Sydney",
        "AUD",
        "en-AU",
        "en_AU",
        3200,
        ("17:30", "22:30", "21:00"),
        ("12:00", "15:00", "14:00"),
        (City("Sydney", -33.8688, 151.2093), City("Melbourne", -37.8136, 144.9631)),
        ((1, 1, "New Year's Day"), (1, 26, "Australia Day"), (12, 25, "Christmas Day")),
    ),
    Country(
        "MX",
        "America/Mexico_City",
        "MXN",
        "es-MX",
        "es_MX",
        25000,
        ("14:00", "23:30", "22:00"),
        None,
        (City("Ciudad de México", 19.4326, -99.1332),),
        ((1, 1, "Año Nuevo"), (9, 16, "Día de la Independencia"), (12, 25, "Navidad")),
    ),
)

CUISINES: dict[str, tuple[str, ...]] = {
    "italian": (
        "burrata with heirloom tomatoes",
        "cacio e pepe",
        "osso buco",
        "tiramisù",
        "wood-fired margherita",
        "vitello tonnato",
    ),
    "french": (
        "steak frites",
        "duck confit",
        "bouillabaisse",
        "crème brûlée",
        "onion soup",
        "sole meunière",
    ),
    "japanese": (
        "omakase nigiri",
        "chawanmushi",
        "black cod miso",
        "tonkotsu ramen",
        "wagyu tataki",
        "matcha parfait",
    ),
    "sushi": (
        "toro nigiri",
        "uni hand roll",
        "seasonal sashimi",
        "tamagoyaki",
        "salmon aburi",
        "miso soup",
    ),
    "spanish": (
        "jamón ibérico",
        "pulpo a la gallega",
        "paella valenciana",
        "patatas bravas",
        "croquetas",
        "churros con chocolate",
    ),
    "mexican": (
        "tacos al pastor",
        "mole poblano",
        "ceviche verde",
        "chiles en nogada",
        "elote",
        "tres leches",
    ),
    "indian": (
        "butter chicken",
        "lamb rogan josh",
        "masala dosa",
        "tandoori prawns",
        "dal makhani",
        "gulab jamun",
    ),
    "chinese": (
        "xiao long bao",
        "peking duck",
        "mapo tofu",
        "char siu bao",
        "dan dan noodles",
        "egg tarts",
    ),
    "thai": (
        "green curry",
        "pad kra pao",
        "som tam",
        "massaman beef",
        "tom yum",
        "mango sticky rice",
    ),
    "steakhouse": (
        "dry-aged ribeye",
        "porterhouse for two",
        "creamed spinach",
        "wedge salad",
        "bone marrow",
        "chocolate cake",
    ),
    "seafood": (
        "oysters on ice",
        "lobster roll",
        "grilled octopus",
        "crab linguine",
        "fish of the day",
        "clam chowder",
    ),
    "vegetarian": (
        "roasted cauliflower",
        "beetroot tartare",
        "mushroom wellington",
        "charred leeks",
        "lentil dal",
        "vegan chocolate torte",
    ),
    "british": (
        "fish and chips",
        "sunday roast",
        "scotch egg",
        "beef wellington",
        "sticky toffee pudding",
        "potted shrimp",
    ),
    "izakaya": (
        "karaage",
        "yakitori skewers",
        "agedashi tofu",
        "edamame",
        "grilled mackerel",
        "highball",
    ),
    "mediterranean": (
        "mezze platter",
        "grilled halloumi",
        "lamb kofta",
        "whole sea bream",
        "fattoush",
        "baklava",
    ),
}

# Which cuisines a country's restaurants draw from, most likely first.
COUNTRY_CUISINES: dict[str, tuple[str, ...]] = {
    "US": (
        "italian",
        "steakhouse",
        "seafood",
        "mexican",
        "japanese",
        "chinese",
        "vegetarian",
        "thai",
        "indian",
        "mediterranean",
    ),
    "GB": (
        "british",
        "indian",
        "italian",
        "french",
        "seafood",
        "thai",
        "chinese",
        "mediterranean",
        "vegetarian",
        "japanese",
    ),
    "FR": ("french", "italian", "japanese", "seafood", "mediterranean", "vegetarian", "thai"),
    "ES": ("spanish", "seafood", "mediterranean", "italian", "japanese", "mexican"),
    "JP": ("japanese", "sushi", "izakaya", "french", "italian", "chinese"),
    "AU": (
        "seafood",
        "italian",
        "thai",
        "japanese",
        "mediterranean",
        "indian",
        "vegetarian",
        "chinese",
    ),
    "MX": ("mexican", "seafood", "spanish", "italian", "japanese", "steakhouse"),
}

AMBIENCES: tuple[str, ...] = ("casual", "romantic", "lively", "family", "business", "trendy")

AMBIENCE_WORDS: dict[str, str] = {
    "casual": "relaxed neighbourhood spot",
    "romantic": "candle-lit room made for date nights",
    "lively": "buzzing dining room with an open kitchen",
    "family": "welcoming, child-friendly dining room",
    "business": "quiet, polished room for business lunches and client dinners",
    "trendy": "design-led room with a late-night crowd",
}

NAME_PATTERNS: dict[str, tuple[str, ...]] = {
    "italian": ("Trattoria {surname}", "Osteria {word}", "Da {first}", "La {word} Cucina"),
    "french": ("Chez {first}", "Le Petit {word}", "Bistrot {surname}", "Maison {surname}"),
    "japanese": ("{word} Kitchen", "Sakura {word}", "Kappo {surname}"),
    "sushi": ("Sushi {surname}", "{word} Sushi Bar", "Sushi Ya {word}"),
    "spanish": ("Casa {surname}", "Taberna {word}", "El Rincón de {first}"),
    "mexican": ("La Cocina de {first}", "Cantina {word}", "Taquería {surname}"),
    "indian": ("{word} Tandoor", "Spice of {word}", "{surname}'s Curry House"),
    "chinese": ("Golden {word}", "Jade {word}", "{word} Dumpling House"),
    "thai": ("Baan {word}", "{word} Thai", "Krua {first}"),
    "steakhouse": ("{surname}'s Chophouse", "The {word} Grill", "{surname} & Sons Steakhouse"),
    "seafood": ("The {word} Oyster Bar", "{surname}'s Fish House", "Harbour {word}"),
    "vegetarian": ("Green {word}", "The {word} Garden", "Root & {word}"),
    "british": ("The {word} Arms", "The {surname} Tavern", "{word} & Crown"),
    "izakaya": ("Izakaya {surname}", "{word} Tei", "Nomiya {word}"),
    "mediterranean": ("Olive & {word}", "Taverna {surname}", "The {word} Table"),
}

NAME_WORDS: tuple[str, ...] = (
    "Lantern",
    "Harbour",
    "Copper",
    "Willow",
    "Saffron",
    "Ember",
    "Juniper",
    "Maple",
    "Orchard",
    "Fig",
    "Cedar",
    "Pearl",
    "Marigold",
    "Anchor",
    "Laurel",
    "Bramble",
    "Quince",
    "Sparrow",
    "Hazel",
    "Garnet",
    "Tamarind",
    "Clover",
    "Basil",
    "Sorrel",
    "Coral",
    "Thistle",
)

DIETARY = ("vegetarian", "vegan", "gluten-free", "halal", "kosher", "pescatarian")
ALLERGIES = ("nuts", "peanuts", "shellfish", "dairy", "gluten", "sesame", "egg")
SEATING = ("window", "booth", "quiet", "outdoor", "bar")

# Requests in the diner's language: the tag models must read more than English.
REQUEST_TEMPLATES: dict[str, dict[str, str]] = {
    "en": {
        "birthday": "It's {name}'s birthday, could you bring a candle with dessert?",
        "anniversary": "We're celebrating our anniversary tonight.",
        "allergy": "One of us has a severe {allergy} allergy, please flag it to the kitchen.",
        "dietary": "{dietary} options please.",
        "seating": "A {seating} table if possible.",
        "accessible": "We need wheelchair access and a table without steps.",
        "high_chair": "Could we have a high chair for our toddler?",
    },
    "fr": {
        "birthday": "C'est l'anniversaire de {name}, une bougie sur le dessert serait parfaite.",
        "anniversary": "Nous fêtons notre anniversaire de mariage ce soir.",
        "allergy": "Allergie sévère aux {allergy} à la table, merci de prévenir la cuisine.",
        "dietary": "Des options {dietary} s'il vous plaît.",
        "seating": "Une table près de la fenêtre si possible.",
        "accessible": "Nous avons besoin d'un accès fauteuil roulant.",
        "high_chair": "Une chaise haute pour notre bébé, merci.",
    },
    "es": {
        "birthday": "Es el cumpleaños de {name}, ¿podrían traer una vela con el postre?",
        "anniversary": "Celebramos nuestro aniversario esta noche.",
        "allergy": "Alergia grave a {allergy} en la mesa, por favor avisen a cocina.",
        "dietary": "Opciones {dietary}, por favor.",
        "seating": "Una mesa en la terraza si es posible.",
        "accessible": "Necesitamos acceso para silla de ruedas.",
        "high_chair": "¿Podrían preparar una trona para el niño?",
    },
    "ja": {
        "birthday": "{name}の誕生日なので、デザートにろうそくをお願いします。",
        "anniversary": "今夜は結婚記念日のお祝いです。",
        "allergy": "{allergy}の重いアレルギーがあります。厨房にお伝えください。",
        "dietary": "{dietary}のメニューをお願いします。",
        "seating": "できれば窓際の席をお願いします。",
        "accessible": "車椅子で伺います。段差のない席をお願いします。",
        "high_chair": "子供用の椅子をお願いします。",
    },
}

REVIEW_OPENERS: dict[int, tuple[str, ...]] = {
    5: ("Outstanding evening.", "Simply wonderful.", "One of the best meals this year."),
    4: ("Really enjoyed it.", "Lovely dinner.", "Very good, will be back."),
    3: ("Decent but not memorable.", "Mixed experience.", "Fine for a weeknight."),
    2: ("Disappointing.", "Not up to the hype.", "Expected more."),
    1: ("Would not return.", "A poor evening all round.", "Very let down."),
}
REVIEW_BODIES: dict[int, tuple[str, ...]] = {
    5: (
        "The {dish} was perfect and the staff made us feel at home.",
        "We loved the {dish}; the {ambience} felt just right.",
    ),
    4: (
        "The {dish} was excellent, service a touch slow.",
        "Great {dish}, a {ambience} we'd recommend.",
    ),
    3: ("The {dish} was fine but the room was too loud.", "Good {dish}, long wait for the table."),
    2: (
        "The {dish} arrived cold and we waited a long time.",
        "Overpriced {dish} and an indifferent welcome.",
    ),
    1: (
        "The {dish} was inedible and nobody seemed to care.",
        "We waited forty minutes and the {dish} never came right.",
    ),
}
