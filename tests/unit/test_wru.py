"""The WRU arithmetic of the capacity bench (bench/wru.py), against hand-computed cases."""

from __future__ import annotations

from bench.wru import Charge, Index, Table, item_size, units, value_size, write_charges

OUTBOX = Table(
    "outbox",
    "id",
    None,
    (
        Index("by_status", "status", "created_at", "ALL"),
        Index("by_due", "queue_state", "due_at", "KEYS_ONLY"),
        Index("by_channel", "channel_id", "created_at", "INCLUDE", ("subject",)),
    ),
)


def s(text: str) -> dict[str, str]:
    return {"S": text}


def n(number: int | str) -> dict[str, str]:
    return {"N": str(number)}


def test_value_sizes_follow_the_aws_rules() -> None:
    assert value_size(s("héllo")) == 6  # UTF-8 bytes: é is two
    assert value_size(n("12345")) == 4  # 5 significant digits: 3 bytes + 1
    assert value_size(n("1200")) == 2  # trailing zeroes trimmed: "12" -> 1 + 1
    assert value_size(n("0.0012")) == 2  # leading zeroes trimmed too
    assert value_size({"BOOL": True}) == 1
    assert value_size({"NULL": True}) == 1
    assert value_size({"L": []}) == 3
    assert value_size({"L": [s("ab"), n(7)]}) == 3 + (1 + 2) + (1 + 2)
    assert value_size({"M": {"k": s("v")}}) == 3 + 1 + 1 + 1
    assert value_size({"SS": ["a", "bc"]}) == 3
    assert value_size({"B": "AAEC"}) == 3  # base64 of three raw bytes


def test_item_size_counts_attribute_names() -> None:
    assert item_size({"id": n(42), "status": s("pending")}) == (2 + 2) + (6 + 7)
    assert item_size(None) == 0


def test_units_round_up_per_kilobyte_with_a_minimum_of_one() -> None:
    assert [units(0), units(1), units(1024), units(1025), units(2048), units(2049)] == [1, 1, 1, 2, 2, 3]


def _item(status: str, body: int, queue_state: bool = True) -> dict[str, dict[str, str]]:
    item = {
        "id": n(7),
        "status": s(status),
        "created_at": s("2026-01-01T00:00:00Z"),
        "channel_id": n(3),
        "subject": s("hi"),
        "body": s("x" * body),
    }
    if queue_state:
        item |= {"queue_state": s("pending"), "due_at": s("2026-01-01T00:02:00Z")}
    return item


def test_a_new_item_is_put_in_the_table_and_in_every_index_it_has_keys_for() -> None:
    item = _item("pending", 1500)  # 4+13+30+12+9+(4+1500)+18+26 = 1,616 bytes: 2 WRU wherever copied whole
    charges = write_charges(OUTBOX, None, item)
    assert charges == [
        Charge("outbox", None, "7", 2, "put"),
        Charge("outbox", "by_status", "pending", 2, "put"),
        Charge("outbox", "by_due", "pending", 1, "put"),  # keys only
        Charge("outbox", "by_channel", "3", 1, "put"),  # keys + subject
    ]


def test_an_update_costs_the_larger_item_and_a_changed_index_key_is_a_delete_plus_a_put() -> None:
    before = _item("pending", 900)  # 1,016 bytes: 1 WRU
    after = _item("sent", 1100, queue_state=False)  # 1,169 bytes: 2 WRU, the larger one counts
    charges = write_charges(OUTBOX, before, after)
    assert charges == [
        Charge("outbox", None, "7", 2, "update"),
        Charge("outbox", "by_status", "pending", 1, "delete"),  # the old entry, as it was
        Charge("outbox", "by_status", "sent", 2, "put"),
        Charge("outbox", "by_due", "pending", 1, "delete"),  # left the sparse index
        # by_channel: key and projected subject unchanged, the body is not projected: no write
    ]
    assert sum(charge.wru for charge in charges) == 6


def test_an_unchanged_projection_writes_nothing_to_the_index_a_changed_one_updates_it() -> None:
    before = _item("pending", 10)
    after = {**before, "subject": s("changed")}
    charges = write_charges(OUTBOX, before, after)
    assert [(c.index, c.action) for c in charges] == [
        (None, "update"),
        ("by_status", "update"),
        ("by_channel", "update"),
    ]


def test_delete_failed_condition_and_transactions() -> None:
    item = _item("sent", 3100, queue_state=False)  # 4+10+30+12+9+(4+3100) = 3,169 bytes: 4 WRU
    assert write_charges(OUTBOX, item, None) == [
        Charge("outbox", None, "7", 4, "delete"),
        Charge("outbox", "by_status", "sent", 4, "delete"),
        Charge("outbox", "by_channel", "3", 1, "delete"),
    ]
    # A failed condition is charged on the table by the item as it is, and touches no index.
    assert write_charges(OUTBOX, item, None, applied=False) == [Charge("outbox", None, "7", 4, "failed")]
    # A delete of an absent item still costs 1.
    assert write_charges(OUTBOX, None, None, key={"id": n(8)}) == [Charge("outbox", None, "8", 1, "delete")]
    # In a transaction the table write counts twice; the index writes do not.
    small = _item("pending", 10, queue_state=False)
    assert write_charges(OUTBOX, None, small, transactional=True) == [
        Charge("outbox", None, "7", 2, "put"),
        Charge("outbox", "by_status", "pending", 1, "put"),
        Charge("outbox", "by_channel", "3", 1, "put"),
    ]


def test_table_from_describe_table() -> None:
    table = Table.from_description(
        {
            "TableName": "t",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": "g",
                    "KeySchema": [
                        {"AttributeName": "sk", "KeyType": "RANGE"},
                        {"AttributeName": "a", "KeyType": "HASH"},
                    ],
                    "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["b"]},
                }
            ],
        }
    )
    assert table == Table("t", "pk", "sk", (Index("g", "a", "sk", "INCLUDE", ("b",)),))
