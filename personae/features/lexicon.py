"""Column names in readable words, and a lexicon of the columns behaviour tables commonly have.

:func:`name_words` splits snake, camel and upper case; :func:`column_words` spells out common
abbreviations (``PURCHASES_TRX`` -> "purchase transactions": a plural noun that modifies the
next noun reads singular) and keeps the rest as it is. :func:`lexicon_meaning` words a column whose
head word the lexicon knows (visits, sessions, duration, pages viewed, items bought, cart
abandons, reviews, balance, tenure, charges, plays, skips, likes, shares, levels, attempts,
wins...): a verb instead of "have high". Any other column speaks plainly from its name.

Purchase words are licensed by the data, never assumed: :func:`names_purchases` says whether a
column's own name is about buying (purchases, orders, items bought, spend, revenue...).
"""

from __future__ import annotations

from dataclasses import dataclass

ABBREVIATIONS: dict[str, str] = {
    "trx": "transactions", "txn": "transactions", "txns": "transactions",
    "qty": "quantity", "amt": "amount", "avg": "average", "cnt": "count", "num": "number",
    "nb": "number", "pct": "percent", "freq": "frequency", "dur": "duration",
    "prc": "percent", "perc": "percent", "sess": "sessions", "mins": "minutes",
    "secs": "seconds", "hrs": "hours", "yrs": "years", "msgs": "messages",
}
# participles after a plural noun keep it plural: "pages viewed", "items bought"
PARTICIPLES = frozenset({"bought", "sold", "seen", "won", "lost", "spent", "made", "read",
                         "done", "given", "taken", "paid"})
FUNCTION_WORDS = frozenset({"per", "of", "in", "on", "by", "for", "to", "and", "at", "a",
                            "the", "since", "with", "from"})
UNITS: dict[str, str] = {"days": "days", "day": "days", "hours": "hours", "minutes": "minutes",
                         "seconds": "seconds", "months": "months", "weeks": "weeks",
                         "years": "years", "percent": "%"}
# a column is about buying when one of these stems starts one of its words
PURCHASE_STEMS: tuple[str, ...] = ("purchas", "order", "bought", "buy", "spend", "spent",
                                   "basket", "revenue", "checkout", "invoice", "sales",
                                   "monetary")


def name_words(name: str) -> list[str]:
    """A column name's words, lower-cased, as written: snake, camel, upper case and digits
    split (``mouse_click_left``; ``SessionID`` -> session, id; ``HTTPStatus`` -> http,
    status; ``price_2`` and ``price2`` -> price, 2; ``duréeMoyenne`` -> durée, moyenne)."""
    words: list[str] = []
    word = ""
    for i, char in enumerate(name):
        if not char.isalnum():
            words, word = words + [word] * bool(word), ""
            continue
        before, after = name[i - 1] if i else "", name[i + 1:i + 2]
        starts = bool(word) and (
            char.isdigit() != before.isdigit()  # price2, 2nd
            or (char.isupper() and before.islower())  # cartAbandon, duréeMoyenne
            or (char.isupper() and before.isupper() and after.islower()))  # HTTPStatus
        if starts:
            words, word = words + [word], ""
        word += char
    return [w.lower() for w in words + [word] * bool(word)]


def column_words(name: str) -> str:
    """``PURCHASES_TRX`` -> "purchase transactions", ``ProductRelated_Duration`` ->
    "product related duration", ``cartAbandonCount`` -> "cart abandon count"."""
    words = [ABBREVIATIONS.get(w, w) for w in name_words(name)]
    out = []
    for i, word in enumerate(words):
        following = words[i + 1] if i + 1 < len(words) else None
        if following is not None and _plural(word) and following not in FUNCTION_WORDS \
                and not (following.endswith("ed") or following in PARTICIPLES):
            word = word[:-3] + "y" if word.endswith("ies") else word[:-1]
        out.append(word)
    return " ".join(out)


def _plural(word: str) -> bool:
    return len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is"))


def names_purchases(name: str) -> bool:
    """Whether a column's own name is about buying (licenses purchase words)."""
    return any(w.startswith(PURCHASE_STEMS) for w in column_words(name).split())


def unit_of(words: str) -> str:
    """The unit a column's words name ("days since last visit" -> days), else ""."""
    for word in words.split():
        if word in UNITS:
            return UNITS[word]
    return ""


@dataclass(frozen=True)
class Entry:
    """How a known head word reads: phrases for high and low values, themes, the pain side."""

    high: str
    low: str
    themes: tuple[str, ...]
    pain_when: str | None = None


LEXICON: dict[str, Entry] = {
    "visits": Entry("visit often", "visit rarely", ("engagement",), "low"),
    "sessions": Entry("have many sessions", "have few sessions", ("engagement",), "low"),
    "duration": Entry("stay longer", "stay briefly", ("engagement",)),
    "viewed": Entry("view more", "view less", ("engagement",)),
    "views": Entry("view more", "view less", ("engagement",)),
    "bought": Entry("buy more", "buy less", ("value",), "low"),
    "purchases": Entry("buy more", "buy less", ("value",), "low"),
    "orders": Entry("order more", "order less", ("value", "loyalty"), "low"),
    "abandons": Entry("abandon more often", "rarely abandon", ("risk",), "high"),
    "reviews": Entry("write more reviews", "write few reviews", ("creation",)),
    "balance": Entry("keep a higher balance", "keep a lower balance", ("value",)),
    "tenure": Entry("have been with you longer", "are newer", ("loyalty",)),
    "charges": Entry("are charged more", "are charged less", ("value",)),
    "plays": Entry("play more", "play less", ("engagement",), "low"),
    "skips": Entry("skip more", "skip less", ("risk",), "high"),
    "likes": Entry("like more", "like less", ("social",)),
    "shares": Entry("share more", "share less", ("social",)),
    "levels": Entry("reach higher levels", "stay at lower levels", ("engagement",)),
    "level": Entry("reach higher levels", "stay at lower levels", ("engagement",)),
    "attempts": Entry("make more attempts", "make fewer attempts", ("engagement",)),
    "wins": Entry("win more", "win less", ("engagement",)),
    "logins": Entry("log in more", "log in less", ("engagement",), "low"),
    "clicks": Entry("click more", "click less", ("engagement",)),
    "recency": Entry("have been away longer", "were here more recently", ("loyalty", "risk"),
                     "high"),
}


def lexicon_entry(words: str) -> Entry | None:
    """The entry of the column's head word (its last word that the lexicon knows)."""
    for word in reversed(words.split()):
        if word in LEXICON:
            return LEXICON[word]
    return None
