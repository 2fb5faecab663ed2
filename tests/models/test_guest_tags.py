"""Guest profiling: tags from text in four languages, behaviour tags, and
writing them to the ledger where a host's word always stands."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest

from booking_core.errors import InvalidRequest, UnknownDiner
from booking_core.guests import (
    DinerSpec,
    create_diner,
    get_profile,
    remove_tag,
    set_machine_tags,
    set_tag,
)
from booking_core.ledger import Ledger
from booking_core.world.generate import generate_world, world_diners
from models.embeddings import EmbeddingStore
from models.extract import LedgerSnapshot
from models.guest_tags import GuestTagger, guest_texts, sentences

AS_OF = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def tagger(embedder: EmbeddingStore) -> GuestTagger:
    return GuestTagger().fit(pl.DataFrame({"diner_id": [0], "text": [""]}), embedder=embedder)


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        ("My husband uses a wheelchair, so no steps please.", "accessibility:wheelchair"),
        ("Une chaise haute pour notre bébé, merci.", "family:high-chair"),
        ("Una trona para el niño, por favor.", "family:high-chair"),
        ("今夜は結婚記念日のお祝いです。", "occasion:anniversary"),
        ("It's Anna's birthday, could you bring a candle with dessert?", "occasion:birthday"),
        (
            "C'est l'anniversaire de Paul, une bougie sur le dessert serait parfaite.",
            "occasion:birthday",
        ),
        ("Nous fêtons notre anniversaire de mariage ce soir.", "occasion:anniversary"),
        ("He cannot eat peanuts at all.", "allergy:peanuts"),
        ("Strictly vegan please.", "dietary:vegan"),
        ("Could we sit by the window?", "seating:window"),
        ("Una mesa en la terraza si es posible.", "seating:outdoor"),
    ],
)
def test_tags_from_requests_in_any_language(tagger: GuestTagger, text: str, tag: str) -> None:
    found = tagger.text_tags(pl.DataFrame({"diner_id": [7], "text": [text]}))
    assert found["tag"].to_list() == [tag]
    row = found.row(0, named=True)
    assert 0.5 <= row["confidence"] < 1.0 and row["source"] == "text"
    assert row["evidence"] and row["evidence"] in text


def test_text_without_a_fact_gives_no_tag(tagger: GuestTagger) -> None:
    texts = pl.DataFrame(
        {
            "diner_id": [1, 2, 3, 4],
            "text": ["", "   ", None, "The osso buco was perfect and the staff were kind."],
        }
    )
    assert tagger.text_tags(texts).is_empty()
    assert sentences(None) == [] and sentences(" . ! ") == []  # punctuation alone
    assert sentences("Hello there. 窓際の席。") == ["Hello there.", "窓際の席。"]


def test_repeated_mentions_raise_confidence(tagger: GuestTagger) -> None:
    once = tagger.text_tags(pl.DataFrame({"diner_id": [1], "text": ["A quiet table please."]}))
    twice = tagger.text_tags(
        pl.DataFrame(
            {"diner_id": [1, 1], "text": ["A quiet table please.", "Somewhere quiet, if you can."]}
        )
    )
    assert twice["confidence"][0] > once["confidence"][0]


def test_thresholds_are_fitted_on_stated_facts(embedder: EmbeddingStore) -> None:
    texts = pl.DataFrame(
        {
            "diner_id": [1, 2, 3, 4],
            "text": [
                "Severe nut allergy at the table.",
                "Allergic to nuts, please check the dessert.",
                "We love your desserts.",
                "A window table please.",
            ],
        }
    )
    labels = pl.DataFrame({"diner_id": [1, 2], "tag": ["allergy:nuts", "allergy:nuts"]})
    model = GuestTagger().fit(texts, labels, embedder=embedder)
    assert model.fitted_tags_ == ["allergy:nuts"]
    found = model.text_tags(texts)
    assert set(found.filter(pl.col("tag") == "allergy:nuts")["diner_id"]) == {1, 2}
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['tag'\]"):
        GuestTagger().fit(texts, labels.drop("tag"))


def _reservation(
    rid: int, diner: int, place: int, days_ago: float, state: str, **extra: object
) -> dict[str, object]:
    start = AS_OF - timedelta(days=days_ago)
    row: dict[str, object] = {
        "id": rid,
        "diner_id": diner,
        "restaurant_id": place,
        "channel": "web",
        "state": state,
        "start_at": start,
        "booked_at": start - timedelta(days=5),
        "cancelled_at": None,
        "cancelled_by": None,
        "special_requests": "",
    }
    row.update(extra)
    return row


def test_behaviour_tags(tagger: GuestTagger) -> None:
    rows = []
    rid = 0
    for k in range(5):  # diner 1: five dinners at one place in the last months
        rid += 1
        rows.append(_reservation(rid, 1, 10, 10 + 20 * k, "completed"))
    for k in range(5):  # diner 2: three no-shows in five bookings
        rid += 1
        rows.append(_reservation(rid, 2, 11 + k, 15 + k, "no_show" if k < 3 else "completed"))
    for k in range(4):  # diner 3: two cancellations hours before, two dinners
        rid += 1
        start = AS_OF - timedelta(days=30 + k)
        late = {"cancelled_at": start - timedelta(hours=3), "cancelled_by": "diner"}
        rows.append(_reservation(rid, 3, 12, 30 + k, "cancelled" if k < 2 else "completed", **late))
    rid += 1
    rows.append(_reservation(rid, 4, 10, 400, "no_show"))  # long ago: forgotten
    reservations = pl.DataFrame(rows)
    checks = pl.DataFrame(
        {
            "reservation_id": [1, 2, 3, 4, 5, 9, 10],
            "restaurant_id": [10, 10, 10, 10, 10, 15, 15],
            "covers": [2, 2, 2, 2, 2, 2, 2],
            "subtotal_minor": [20000, 20000, 20000, 20000, 20000, 6000, 6000],
        }
    )
    other = pl.DataFrame(  # other guests at restaurant 10 spend 40.00 a cover
        {
            "reservation_id": list(range(100, 106)),
            "restaurant_id": [10] * 6,
            "covers": [2] * 6,
            "subtotal_minor": [8000] * 6,
        }
    )
    found = tagger.behaviour_tags(reservations, pl.concat([checks, other]), AS_OF)
    tags = {(d, t) for d, t in found.select("diner_id", "tag").iter_rows()}
    assert tags == {
        (1, "regular"),
        (1, "high-spender"),
        (2, "frequent-no-show"),
        (3, "late-canceller"),
    }
    assert (found["source"] == "behaviour").all()


def test_the_world_replay_matches_the_ledger(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/w.db"
    today = date(2026, 3, 1)
    generate_world(Ledger.open(url), size="tiny", seed=4, today=today)
    people = world_diners("tiny", 4, today)
    with LedgerSnapshot.from_url(url) as snap:
        diners = snap.diners()
    assert diners["id"].to_list() == [d.id for d in people]
    stated = [(row["allergies"], row["dietary"]) for row in diners.iter_rows(named=True)]
    replayed = [
        (str(list(d.allergies)).replace("'", '"'), str(list(d.dietary)).replace("'", '"'))
        for d in people
    ]
    assert stated == replayed


def test_machine_tags_yield_to_hosts_and_retire_their_own(ledger: Ledger) -> None:
    a = create_diner(ledger, DinerSpec("Ada", email="ada@example.com"))
    b = create_diner(ledger, DinerSpec("Bo"))
    set_tag(ledger, a, "VIP", source="host", set_by="maria")
    set_tag(ledger, a, "allergy:nuts", source="machine", set_by="profiler", confidence=0.7)
    remove_tag(ledger, a, "allergy:nuts", removed_by="maria")
    set_tag(ledger, b, "seating:window", source="machine", set_by="profiler", confidence=0.8)

    run = set_machine_tags(
        ledger,
        {a: {"vip": 0.6, "allergy:nuts": 0.9, "regular": 0.7}, b: {"dietary:vegan": 0.65}},
        set_by="profiler",
    )
    assert (run.set, run.yielded, run.retired) == (2, 2, 1)
    tags_a = {t.tag: t for t in get_profile(ledger, a).tags}
    assert tags_a["vip"].source == "host" and tags_a["vip"].confidence == 1.0
    assert tags_a["allergy:nuts"].removed_at is not None  # the host's removal stands
    assert tags_a["regular"].source == "machine" and tags_a["regular"].removed_at is None
    tags_b = {t.tag: t for t in get_profile(ledger, b).tags}
    assert tags_b["seating:window"].removed_at is not None  # no longer found
    assert tags_b["dietary:vegan"].removed_at is None

    again = set_machine_tags(
        ledger, {a: {"regular": 0.705}}, set_by="profiler", retire_missing=False
    )
    assert (again.set, again.unchanged) == (0, 1)


def test_a_bad_run_writes_nothing(ledger: Ledger) -> None:
    a = create_diner(ledger, DinerSpec("Ada"))
    with pytest.raises(InvalidRequest, match="between 0 and 1"):
        set_machine_tags(ledger, {a: {"regular": 0.5, "vip": 1.5}}, set_by="profiler")
    with pytest.raises(UnknownDiner):
        set_machine_tags(ledger, {a: {"regular": 0.5}, 999: {"vip": 0.5}}, set_by="profiler")
    assert get_profile(ledger, a).tags == []


def test_tags_for_a_whole_ledger(tmp_path: object, tagger: GuestTagger) -> None:
    url = f"sqlite:///{tmp_path}/w.db"
    today = date(2026, 3, 1)
    ledger = Ledger.open(url)
    generate_world(ledger, size="tiny", seed=4, today=today)
    with LedgerSnapshot.from_url(url) as snap:
        frames = {
            n: snap.table(n)
            for n in ("reservations", "guest_notes", "reviews", "pos_checks", "diners")
        }
    as_of = datetime(2026, 3, 1, tzinfo=UTC)
    texts = guest_texts(frames, as_of)
    assert set(texts["kind"].unique()) <= {"request", "note", "review"}
    found = tagger.tags(frames, as_of)
    assert not found.is_empty()
    assert found.select("diner_id", "tag").is_duplicated().sum() == 0
    people = {d.id: d for d in world_diners("tiny", 4, today)}
    allergies = found.filter(pl.col("tag").str.starts_with("allergy:"))
    right = sum(
        tag.removeprefix("allergy:") in people[d].allergies
        for d, tag in allergies.select("diner_id", "tag").iter_rows()
    )
    assert allergies.height and right / allergies.height >= 0.8
    wanted = {
        d: dict(zip(g["tag"], g["confidence"], strict=True))
        for (d,), g in found.partition_by("diner_id", as_dict=True).items()
    }
    run = set_machine_tags(ledger, wanted, set_by="profiler")
    assert run.set == found.height
    ledger.dispose()
