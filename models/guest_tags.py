"""Guest profiling: tags a host reads before the guest sits down, without
anyone typing them.

Two sources, each tag with a confidence:

- **text** (special requests, host notes, reviews; any language): each
  sentence is embedded and compared with short descriptions of every tag,
  written in English, French, Spanish and Japanese. A sentence takes the tag
  it is most similar to when that similarity clears the tag's threshold
  (fitted on diners whose profile states the fact, or a default); the
  similarity is taken relative to the sentence's median over all tags. Several
  mentions raise the confidence.
- **behaviour** (the ledger): regular (4+ visits to one restaurant in 180
  days), VIP (12+ visits in a year), high spender (spend per cover at least
  1.3x the restaurant's median over 3+ checks), late canceller (2+ diner
  cancellations inside 24 hours, 20%+ of bookings), frequent no-show (2+
  no-shows, 15%+ of bookings).

Occasions (birthday, anniversary) belong to a visit: ``tag_reservations``
tags each reservation, and ``GuestTagger.tags`` lifts them onto the guest
only for visits in the next ``occasion_days`` days, so the machine drops
them again afterwards (``booking_core.guests.set_machine_tags`` retires
machine tags a run no longer finds; a host's tags are never touched).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from models.embeddings import TextEmbedder, shared_store


@dataclass(frozen=True)
class TagSpec:
    family: str  # allergy, dietary, occasion, accessibility, family, seating
    descriptions: tuple[str, ...]


def _allergy(en: str, fr: str, es: str, ja: str) -> TagSpec:
    return TagSpec(
        "allergy",
        (
            f"severe {en} allergy, tell the kitchen",
            f"allergic to {en}",
            f"allergie aux {fr}",
            f"alergia grave a {es}",
            f"{ja}アレルギー",
        ),
    )


def _diet(en: str, fr: str, es: str, ja: str) -> TagSpec:
    return TagSpec(
        "dietary",
        (f"{en} dishes please", f"we eat {en}", f"plats {fr}", f"platos {es}", f"{ja}の料理"),
    )


def _seat(en: str, fr: str, es: str, ja: str) -> TagSpec:
    return TagSpec(
        "seating",
        (f"a {en} table please", f"we prefer sitting {en}", fr, es, ja),
    )


# The descriptions are our own words for each fact, not the generator's
# sentences: the benchmark measures how well meaning carries over.
TAG_SPECS: dict[str, TagSpec] = {
    "allergy:nuts": _allergy("nuts", "noix", "frutos secos", "ナッツ"),
    "allergy:peanuts": _allergy("peanuts", "arachides", "cacahuetes", "ピーナッツ"),
    "allergy:shellfish": _allergy("shellfish", "crustacés", "mariscos", "甲殻類"),
    "allergy:dairy": _allergy("dairy", "produits laitiers", "lácteos", "乳製品"),
    "allergy:gluten": _allergy("gluten", "gluten", "gluten", "小麦"),
    "allergy:sesame": _allergy("sesame", "sésame", "sésamo", "ごま"),
    "allergy:egg": _allergy("egg", "œufs", "huevo", "卵"),
    "dietary:vegetarian": _diet("vegetarian", "végétariens", "vegetarianos", "ベジタリアン"),
    "dietary:vegan": _diet("vegan", "végétaliens", "veganos", "ヴィーガン"),
    "dietary:gluten-free": _diet("gluten-free", "sans gluten", "sin gluten", "グルテンフリー"),
    "dietary:halal": _diet("halal", "halal", "halal", "ハラール"),
    "dietary:kosher": _diet("kosher", "casher", "kosher", "コーシャ"),
    "dietary:pescatarian": _diet("pescatarian", "pescétariens", "pescetarianos", "魚菜食"),
    "occasion:birthday": TagSpec(
        "occasion",
        (
            "it is her birthday, a candle on the dessert",
            "birthday celebration",
            "c'est son anniversaire, une bougie",
            "es su cumpleaños, una vela en el postre",
            "誕生日のお祝い",
        ),
    ),
    "occasion:anniversary": TagSpec(
        "occasion",
        (
            "we are celebrating our wedding anniversary",
            "anniversary dinner for the two of us",
            "anniversaire de mariage",
            "aniversario de boda",
            "結婚記念日のお祝い",
        ),
    ),
    "accessibility:wheelchair": TagSpec(
        "accessibility",
        (
            "wheelchair user, step-free access needed",
            "accès pour fauteuil roulant",
            "acceso para silla de ruedas",
            "車椅子で入れる席",
        ),
    ),
    "family:high-chair": TagSpec(
        "family",
        (
            "a high chair for the baby",
            "chaise haute pour enfant",
            "una trona para el niño",
            "子供用の椅子",
        ),
    ),
    "seating:window": _seat(
        "window", "table près de la fenêtre", "mesa junto a la ventana", "窓際の席"
    ),
    "seating:booth": _seat("booth", "une banquette", "un reservado", "ボックス席"),
    "seating:quiet": _seat("quiet", "une table au calme", "una mesa tranquila", "静かな席"),
    "seating:outdoor": _seat("outdoor", "en terrasse", "mesa en la terraza", "テラス席"),
    "seating:bar": _seat("bar", "au comptoir", "en la barra", "カウンター席"),
}
DEFAULT_THRESHOLD = 0.3
BEHAVIOUR_TAGS = ("regular", "vip", "high-spender", "late-canceller", "frequent-no-show")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s*")


def sentences(text: str | None) -> list[str]:
    """A text cut into sentences (the unit that carries one fact)."""
    return [s.strip() for s in _SENTENCE_END.split(text or "") if len(s.strip()) > 1]


class GuestTagger:
    """Tags from text by similarity to tag descriptions, plus behaviour rules.

    ``fit(texts, labels)`` is optional: with labels (a frame of ``diner_id``,
    ``tag`` for diners known to have the fact, e.g. stated allergies) it
    sets each tag's similarity threshold to the one that maximises F1 on
    them; tags without labels keep ``default_threshold``.
    """

    def __init__(
        self,
        *,
        default_threshold: float = DEFAULT_THRESHOLD,
        occasion_days: int = 14,
        min_threshold: float = 0.15,
    ) -> None:
        self.default_threshold = default_threshold
        self.occasion_days = occasion_days
        self.min_threshold = min_threshold

    # ------------------------------------------------------------ text

    def _prepare(self, embedder: TextEmbedder | None) -> None:
        if hasattr(self, "tag_names_"):
            return
        self.tag_names_ = list(TAG_SPECS)
        owner, texts = [], []
        for k, name in enumerate(self.tag_names_):
            for d in TAG_SPECS[name].descriptions:
                owner.append(k)
                texts.append(d)
        self._description_owner = np.array(owner)
        self._descriptions = self._embed(texts, embedder)
        self.thresholds_ = {name: self.default_threshold for name in self.tag_names_}

    def _embed(self, texts: Sequence[str], embedder: TextEmbedder | None = None) -> np.ndarray:
        chosen = embedder or getattr(self, "_embedder", None) or shared_store()
        return np.asarray(chosen.embed(list(texts)), dtype=np.float32)

    def sentence_scores(self, texts: Sequence[str]) -> tuple[list[int], np.ndarray]:
        """For every sentence of ``texts``: which text it came from, and how
        much more similar it is to each tag than to the median tag (rows:
        sentences, columns: tags)."""
        self._prepare(None)
        origin, parts = [], []
        for i, text in enumerate(texts):
            for s in sentences(text):
                origin.append(i)
                parts.append(s)
        if not parts:
            return [], np.zeros((0, len(self.tag_names_)))
        sims = self._embed(parts) @ self._descriptions.T
        best = np.full((len(parts), len(self.tag_names_)), -1.0)
        for k in range(len(self.tag_names_)):
            best[:, k] = sims[:, self._description_owner == k].max(axis=1)
        # Contrast, not raw similarity: in a language the model reads poorly
        # (Japanese) every sentence is close to every description, so what
        # counts is how far the best tag stands out from the typical one.
        return origin, best - np.median(best, axis=1, keepdims=True)

    def fit(
        self,
        texts: pl.DataFrame,
        labels: pl.DataFrame | None = None,
        *,
        embedder: TextEmbedder | None = None,
    ) -> GuestTagger:
        """``texts``: ``diner_id``, ``text`` (one row per request, note or
        review). ``labels``: ``diner_id``, ``tag`` for the facts known true;
        every diner in ``texts`` without a label for a tag counts as not
        having it, for the tags that have any label at all."""
        _require(texts, "texts", ("diner_id", "text"))
        self._embedder = embedder
        self._prepare(embedder)
        self.fitted_tags_: list[str] = []
        if labels is None or labels.is_empty():
            return self
        _require(labels, "labels", ("diner_id", "tag"))
        diners, best = self._best_per_diner(texts)
        truth = labels.group_by("tag").agg(pl.col("diner_id").unique())
        positives = {t: set(ids) for t, ids in zip(truth["tag"], truth["diner_id"], strict=True)}
        for k, name in enumerate(self.tag_names_):
            wanted = positives.get(name)
            if not wanted:
                continue
            y = np.array([d in wanted for d in diners])
            score = best[:, k]
            self.thresholds_[name] = self._best_threshold(score, y)
            self.fitted_tags_.append(name)
        return self

    def _best_threshold(self, score: np.ndarray, y: np.ndarray) -> float:
        best_t, best_f1 = self.default_threshold, -1.0
        for t in np.arange(self.min_threshold, 0.8, 0.01):
            hit = score >= t
            tp = float((hit & y).sum())
            f1 = 2 * tp / max(float(hit.sum() + y.sum()), 1.0)
            if f1 > best_f1 + 1e-9:
                best_t, best_f1 = float(t), f1
        return round(best_t, 2)

    def _best_per_diner(self, texts: pl.DataFrame) -> tuple[list[Any], np.ndarray]:
        """Per diner, the best similarity to each tag among sentences that
        the tag wins (a sentence about a booth is not evidence of a window)."""
        grouped = texts.filter(pl.col("text").is_not_null()).unique(["diner_id", "text"])
        diners = grouped["diner_id"].unique(maintain_order=True).to_list()
        row_of = {d: i for i, d in enumerate(diners)}
        origin, sims = self.sentence_scores(grouped["text"].to_list())
        best = np.full((len(diners), len(self.tag_names_)), -1.0)
        if len(origin):
            winners = _winners(sims)
            owner = np.array([row_of[grouped["diner_id"][i]] for i in origin])
            for row, scores, won in zip(owner, sims, winners, strict=True):
                best[row, won] = np.maximum(best[row, won], scores[won])
        return diners, best

    def text_tags(self, texts: pl.DataFrame) -> pl.DataFrame:
        """``diner_id``, ``tag``, ``confidence``, ``source`` ("text"),
        ``evidence`` (the sentence that said it most clearly)."""
        _require(texts, "texts", ("diner_id", "text"))
        self._prepare(None)
        grouped = texts.filter(pl.col("text").is_not_null()).unique(
            ["diner_id", "text"], maintain_order=True
        )
        ids = grouped["diner_id"].to_list()
        raw = grouped["text"].to_list()
        origin, sims = self.sentence_scores(raw)
        found: dict[tuple[Any, str], tuple[float, str]] = {}
        parts = [s for text in raw for s in sentences(text)]
        winners = _winners(sims) if len(origin) else []
        for i, scores, won, sentence in zip(origin, sims, winners, parts, strict=True):
            for k in won:
                name = self.tag_names_[k]
                threshold = self.thresholds_[name]
                if scores[k] < threshold:
                    continue
                confidence = _confidence(scores[k], threshold)
                key = (ids[i], name)
                prior, evidence = found.get(key, (0.0, sentence))
                if confidence > prior:
                    evidence = sentence
                # Independent mentions add up: 1 - product of the doubts.
                found[key] = (1.0 - (1.0 - prior) * (1.0 - confidence), evidence)
        return _tag_frame(
            [(d, t, min(c, 0.99), "text", e) for (d, t), (c, e) in found.items()], ids_like=texts
        )

    def tag_reservations(self, reservations: pl.DataFrame) -> pl.DataFrame:
        """Occasion and need tags per reservation from its special requests:
        ``reservation_id``, ``tag``, ``confidence``."""
        _require(reservations, "reservations", ("id", "special_requests"))
        frame = reservations.select(
            pl.col("id").alias("diner_id"), pl.col("special_requests").alias("text")
        ).filter(pl.col("text").str.strip_chars() != "")
        tags = self.text_tags(frame)
        return tags.select(pl.col("diner_id").alias("reservation_id"), "tag", "confidence")

    # ------------------------------------------------------------ behaviour

    def behaviour_tags(
        self,
        reservations: pl.DataFrame,
        checks: pl.DataFrame | None,
        as_of: datetime,
    ) -> pl.DataFrame:
        """Tags from what diners did before ``as_of`` (ledger columns)."""
        past = reservations.filter(
            pl.col("diner_id").is_not_null()
            & (pl.col("channel") != "walk_in")
            & (pl.col("start_at") < as_of)
            & (pl.col("start_at") >= as_of - timedelta(days=365))
        )
        rows: list[tuple[Any, str, float, str, str]] = []
        done = past.filter(pl.col("state") == "completed")
        recent = done.filter(pl.col("start_at") >= as_of - timedelta(days=180))
        per_place = recent.group_by("diner_id", "restaurant_id").len()
        regular = per_place.filter(pl.col("len") >= 4).group_by("diner_id").agg(pl.col("len").max())
        for d, n in regular.iter_rows():
            rows.append(
                (
                    d,
                    "regular",
                    min(0.6 + 0.05 * (n - 4), 0.99),
                    "behaviour",
                    f"{n} visits to one restaurant in 180 days",
                )
            )
        visits = done.group_by("diner_id").len().filter(pl.col("len") >= 12)
        for d, n in visits.iter_rows():
            rows.append(
                (d, "vip", min(0.6 + 0.02 * (n - 12), 0.99), "behaviour", f"{n} visits in a year")
            )
        booked = past.group_by("diner_id").len().rename({"len": "booked"})
        late = past.filter(
            (pl.col("state") == "cancelled")
            & (pl.col("cancelled_by").fill_null("diner") == "diner")
            & (pl.col("cancelled_at") > pl.col("start_at") - timedelta(hours=24))
        )
        for label, frame, least, share in (
            ("late-canceller", late, 2, 0.2),
            ("frequent-no-show", past.filter(pl.col("state") == "no_show"), 2, 0.15),
        ):
            counted = frame.group_by("diner_id").len().join(booked, on="diner_id")
            flagged = counted.filter(
                (pl.col("len") >= least) & (pl.col("len") / pl.col("booked") >= share)
            )
            for d, n, b in flagged.iter_rows():
                rows.append((d, label, min(0.5 + n / b, 0.99), "behaviour", f"{n} of {b} bookings"))
        if checks is not None and not checks.is_empty():
            rows += self._spenders(done, checks)
        return _tag_frame(rows, ids_like=reservations, id_column="diner_id")

    def _spenders(
        self, done: pl.DataFrame, checks: pl.DataFrame
    ) -> list[tuple[Any, str, float, str, str]]:
        per_cover = checks.filter(pl.col("covers") > 0).select(
            "reservation_id",
            "restaurant_id",
            (pl.col("subtotal_minor") / pl.col("covers")).alias("per_cover"),
        )
        # Against the restaurant's own median: currencies and price tiers cancel out.
        per_cover = per_cover.with_columns(
            (pl.col("per_cover") / pl.col("per_cover").median().over("restaurant_id")).alias(
                "ratio"
            )
        )
        joined = done.select(pl.col("id").alias("reservation_id"), "diner_id").join(
            per_cover, on="reservation_id"
        )
        spend = joined.group_by("diner_id").agg(pl.col("ratio").mean(), pl.len().alias("n"))
        flagged = spend.filter((pl.col("n") >= 3) & (pl.col("ratio") >= 1.3))
        return [
            (
                d,
                "high-spender",
                min(0.5 + (r - 1.3), 0.99),
                "behaviour",
                f"{r:.1f}x the usual spend per cover",
            )
            for d, r, _ in flagged.iter_rows()
        ]

    # ------------------------------------------------------------ everything for a ledger

    def tags(self, frames: Mapping[str, pl.DataFrame], as_of: datetime) -> pl.DataFrame:
        """Every machine tag for every diner, from ledger frames
        (``reservations``, ``guest_notes``, ``reviews``, ``pos_checks``) as of ``as_of``."""
        texts = guest_texts(frames, as_of)
        # Occasions in past requests belong to those visits, not to the guest.
        history = self.text_tags(texts).filter(~pl.col("tag").str.starts_with("occasion:"))
        found = [history]
        res = frames["reservations"]
        upcoming = res.filter(
            pl.col("diner_id").is_not_null()
            & pl.col("state").is_in(["booked", "confirmed"])
            & (pl.col("start_at") >= as_of)
            & (pl.col("start_at") < as_of + timedelta(days=self.occasion_days))
        )
        occasions = self.tag_reservations(upcoming).filter(
            pl.col("tag").str.starts_with("occasion:")
        )
        found.append(
            occasions.join(
                upcoming.select("id", "diner_id"), left_on="reservation_id", right_on="id"
            )
            .group_by("diner_id", "tag")
            .agg(pl.col("confidence").max())
            .with_columns(
                pl.lit("text").alias("source"), pl.lit("upcoming visit").alias("evidence")
            )
            .select("diner_id", "tag", "confidence", "source", "evidence")
        )
        found.append(self.behaviour_tags(res, frames.get("pos_checks"), as_of))
        out = pl.concat([f.cast({"diner_id": pl.Int64}) for f in found])
        return out.sort("diner_id", "tag")

    def predict(self, texts: pl.DataFrame) -> pl.DataFrame:
        """MLflow serving: ``diner_id``, ``text`` in; text tags out."""
        return self.text_tags(texts)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_embedder", None)
        return state


def guest_texts(frames: Mapping[str, pl.DataFrame], as_of: datetime) -> pl.DataFrame:
    """Everything a guest or host wrote about a guest before ``as_of``:
    ``diner_id``, ``text``, ``kind`` (request, note, review)."""
    parts = []
    res = frames["reservations"].filter(
        pl.col("diner_id").is_not_null()
        & (pl.col("booked_at") < as_of)
        & (pl.col("special_requests").str.strip_chars() != "")
    )
    parts.append(
        res.select(
            "diner_id", pl.col("special_requests").alias("text"), pl.lit("request").alias("kind")
        )
    )
    notes = frames.get("guest_notes")
    if notes is not None and not notes.is_empty():
        parts.append(
            notes.filter(pl.col("created_at") < as_of).select(
                "diner_id", "text", pl.lit("note").alias("kind")
            )
        )
    return pl.concat([p.cast({"diner_id": pl.Int64, "text": pl.String}) for p in parts])


def _winners(sims: np.ndarray) -> list[list[int]]:
    """For each sentence, the tag it is most like (the only one it can vote for)."""
    return [[int(np.argmax(row))] for row in sims]


def _confidence(similarity: float, threshold: float) -> float:
    # At the threshold a coin flip; as similarity approaches 1, near certain.
    return float(
        np.clip(0.5 + 0.5 * (similarity - threshold) / max(1.0 - threshold, 1e-6), 0.0, 0.99)
    )


def _tag_frame(
    rows: list[tuple[Any, str, float, str, str]],
    *,
    ids_like: pl.DataFrame,
    id_column: str = "diner_id",
) -> pl.DataFrame:
    id_type = ids_like.schema.get(id_column, pl.Int64)
    return pl.DataFrame(
        rows,
        schema={
            "diner_id": id_type,
            "tag": pl.String,
            "confidence": pl.Float64,
            "source": pl.String,
            "evidence": pl.String,
        },
        orient="row",
    )


def _require(frame: Any, what: str, columns: tuple[str, ...]) -> None:
    if not isinstance(frame, pl.DataFrame):
        raise ValueError(f"{what} must be a polars DataFrame, not {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s) {missing}; it has {frame.columns}")


__all__ = [
    "BEHAVIOUR_TAGS",
    "TAG_SPECS",
    "GuestTagger",
    "TagSpec",
    "guest_texts",
    "sentences",
]
