"""Bulk intake of self-signed statements (cosignatory.web.register.statement_intake).

Every test runs on SQLite and PostgreSQL (./scripts/test). The signatures are real
Ed25519 signatures; the pool of processes is real (``workers=2`` with enough statements
to use it), and a refusal is checked against a snapshot of every table and the log.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import connections, transaction

from cosignatory.core.statements import SignedStatement, Statement
from cosignatory.web.log.services import get_log, reset_log_cache
from cosignatory.web.register import intake
from cosignatory.web.register import models as m
from cosignatory.web.register import services as s
from cosignatory.web.register import statement_intake as si
from tests.web.test_register_scenarios import assert_identical, snapshot

LETTER = "bulk-letter"
TEXTS = {"en": "We, the undersigned, support the open letter."}


@dataclass
class People:
    """Persons who may sign LETTER for themselves: person-N, rep-N, key-N."""

    keys: dict[int, Ed25519PrivateKey] = field(default_factory=dict)
    text_hash: str = ""

    def statement(
        self, n: int, action: str = "sign", at: datetime | None = None, version: int = 1
    ) -> SignedStatement:
        statement = Statement(
            action,
            LETTER,
            version,
            self.text_hash,
            f"person-{n}",
            f"rep-{n}",
            f"key-{n}",
            at or datetime.now(UTC) - timedelta(minutes=1),
        )
        return SignedStatement(statement, statement.sign(self.keys[n]))


def make_people(count: int, *, contact_for: int | None = None) -> People:
    """An open letter and ``count`` persons, each with a representative (themself), a
    key and a current mandate. Person ``contact_for`` has a contact address."""
    people = People()
    start = datetime.now(UTC) - timedelta(days=30)
    s.initialise_register()
    for n in range(count):
        contact = "p@example.org" if n == contact_for else None
        s.register_party(f"person-{n}", "person", {"en": f"Person {n}"}, contact=contact)
        s.register_representative(f"rep-{n}", f"Person {n}")
        s.grant_mandate(
            f"mandate-{n}",
            f"rep-{n}",
            f"person-{n}",
            start,
            None,
            {"kind": "email", "reference": f"EM/{n}", "date": "2026-10-01"},
        )
        key = Ed25519PrivateKey.generate()
        s.register_key(f"key-{n}", f"rep-{n}", key.public_key().public_bytes_raw(), start)
        people.keys[n] = key
    s.create_letter(
        LETTER, {"en": "An open letter"}, ["The President"], "person-0", datetime.now(UTC).date()
    )
    s.add_text_version(LETTER, TEXTS)
    s.open_letter(LETTER)
    people.text_hash = m.TextVersion.objects.get(letter_id=LETTER, version=1).text_hash
    return people


def lines(statements: list[SignedStatement]) -> list[bytes]:
    return [json.dumps(signed.to_json()).encode() + b"\n" for signed in statements]


def plan_of(statements: list[SignedStatement], **options: Any) -> si.StatementPlan:
    found, errors = si.read_lines(lines(statements))
    return si.plan_statements(found, errors, letter=LETTER, **options)


@pytest.fixture
def people(log: Any) -> People:
    return make_people(6, contact_for=2)


def test_a_valid_file_is_planned_then_recorded_in_one_append(people: People) -> None:
    statements = [people.statement(n) for n in range(5)]
    before = snapshot()
    plan = plan_of(statements)
    assert plan.errors == ()
    assert [row.outcome for row in plan.rows] == [intake.NEW] * 5
    assert snapshot() == before  # planning changes nothing
    size = get_log().size()
    checkpoints = _checkpoints()
    applied = si.apply(plan)
    assert (applied.recorded, applied.unchanged, applied.log_size) == (5, 0, size + 5)
    assert [row.log_index for row in applied.rows] == list(range(size, size + 5))
    assert _checkpoints() == checkpoints + 1  # one batch append, one checkpoint
    for n, row in enumerate(applied.rows):
        sig = m.Signature.objects.get(pk=row.signature)
        assert (sig.party_id, sig.evidence_kind, sig.log_index) == (
            f"person-{n}",
            "self-signed",
            row.log_index,
        )
        assert sig.evidence["statement"] == statements[n].statement.to_json()
    # The party with a contact address is told, as for a single submission.
    from cosignatory.web.notices.models import OutboxMessage

    assert OutboxMessage.objects.filter(to="p@example.org").count() == 1
    assert_identical()


def _checkpoints() -> int:
    from cosignatory.web.log.models import LogCheckpoint

    return LogCheckpoint.objects.count()


def test_importing_twice_changes_nothing(people: People) -> None:
    statements = [people.statement(n) for n in range(3)]
    first = si.apply(plan_of(statements))
    before = snapshot()
    again = plan_of(statements)
    assert [row.outcome for row in again.rows] == [intake.UNCHANGED] * 3
    assert [row.log_index for row in again.rows] == [row.log_index for row in first.rows]
    applied = si.apply(again)
    assert (applied.recorded, applied.unchanged) == (0, 3)
    assert snapshot() == before


def test_a_duplicate_inside_the_file_is_unchanged(people: People) -> None:
    one = people.statement(1)
    plan = plan_of([one, people.statement(2), one])
    assert [row.outcome for row in plan.rows] == [intake.NEW, intake.NEW, intake.UNCHANGED]
    applied = si.apply(plan)
    assert applied.recorded == 2
    assert applied.rows[2].log_index == applied.rows[0].log_index
    assert applied.rows[2].signature == applied.rows[0].signature


def test_bad_statements_are_refused_each_with_its_line_and_nothing_changes(
    people: People,
) -> None:
    now = datetime.now(UTC)
    s.revoke_key("key-3", "lost")
    s.end_mandate("mandate-4", "left office")
    tampered = people.statement(0)
    forged = SignedStatement(tampered.statement, bytes(64))
    wrong_hash = Statement(
        "sign", LETTER, 1, "0" * 64, "person-5", "rep-5", "key-5", now - timedelta(minutes=1)
    )
    other_key = SignedStatement(
        Statement("sign", LETTER, 1, people.text_hash, "person-1", "rep-1", "key-2", now),
        people.keys[2].sign(b"x"),
    )
    data = [
        *lines([people.statement(2)]),  # line 1: fine
        *lines([forged]),  # line 2: the signature does not verify
        b"not json\n",  # line 3
        *lines([people.statement(3)]),  # line 4: the key was revoked
        *lines([people.statement(4)]),  # line 5: the mandate has ended
        *lines([SignedStatement(wrong_hash, wrong_hash.sign(people.keys[5]))]),  # line 6
        *lines([other_key]),  # line 7: key-2 is not rep-1's
        *lines([people.statement(1, at=now - timedelta(days=8))]),  # line 8: too old
        b'{"statement": {}, "signature": "AAAA"}\n',  # line 9
    ]
    found, errors = si.read_lines(data)
    before = snapshot()
    plan = si.plan_statements(found, errors, letter=LETTER)
    codes = {error.position: error.code for error in plan.errors}
    assert codes == {
        2: "E_SIG_INVALID",
        3: intake.E_IMPORT_FIELD,
        4: "E_KEY_REVOKED",
        5: "E_MANDATE",
        6: "E_TEXT_VERSION",
        7: "E_WRONG_PARTY",
        8: "E_STATEMENT",
        9: "E_STATEMENT",
    }
    with pytest.raises(intake.IntakeError) as refused:
        si.apply(plan)
    assert refused.value.code == "E_IMPORT_INVALID"
    assert snapshot() == before


def test_a_forged_signature_is_judged_as_if_it_were_not_there(people: People) -> None:
    """The plan judges while the pool verifies, as if every signature verified. A forged
    one must change the judgement of the statements after it: here person 1's genuine
    statement is new, not 'recorded already' after the forgery in its name."""
    genuine = people.statement(1)
    forged = SignedStatement(people.statement(1, at=genuine.statement.at).statement, bytes(64))
    plan = plan_of([forged, genuine, people.statement(2)], workers=2)
    assert [(error.position, error.code) for error in plan.errors] == [(1, "E_SIG_INVALID")]
    assert [(row.position, row.outcome) for row in plan.rows] == [
        (2, intake.NEW),
        (3, intake.NEW),
    ]
    assert len(plan.events) == 2
    with pytest.raises(intake.IntakeError):
        si.apply(plan)
    assert not m.Signature.objects.exists()


def test_a_statement_for_another_letter_is_refused(people: People) -> None:
    s.create_letter(
        "other", {"en": "Another"}, ["The President"], "person-0", datetime.now(UTC).date()
    )
    other = Statement(
        "sign", "other", 1, people.text_hash, "person-1", "rep-1", "key-1", datetime.now(UTC)
    )
    plan = plan_of([SignedStatement(other, other.sign(people.keys[1]))])
    assert [(e.position, e.code) for e in plan.errors] == [(1, intake.E_IMPORT_FIELD)]


def test_a_change_after_the_plan_refuses_the_whole_apply(people: People) -> None:
    plan = plan_of([people.statement(n) for n in range(3)])
    s.close_letter(LETTER)
    before = snapshot()
    with pytest.raises(intake.IntakeError, match="changed since the plan"):
        si.apply(plan)
    assert snapshot() == before
    assert m.Signature.objects.count() == 0


def test_a_withdrawal_is_recorded_and_found_again(people: People) -> None:
    signed = si.apply(plan_of([people.statement(1)]))
    # A statement must be newer than the party's last act as recorded: as one by one.
    withdraw = people.statement(1, "withdraw", at=datetime.now(UTC) + timedelta(seconds=1))
    early = people.statement(2, "withdraw", at=datetime.now(UTC))
    plan = plan_of([withdraw, early])
    assert [(e.position, e.code) for e in plan.errors] == [(2, "E_NOT_SIGNED")]
    plan = plan_of([withdraw])
    assert [row.outcome for row in plan.rows] == [intake.WITHDRAWAL]
    applied = si.apply(plan)
    first = m.Signature.objects.get(pk=signed.rows[0].signature)
    assert first.withdrawn_at is not None and not first.active
    assert first.withdrawal is not None
    assert first.withdrawal["log_index"] == applied.rows[0].log_index
    # The same withdrawal again: found recorded already, as submit_statement finds it.
    again = plan_of([withdraw])
    assert [row.outcome for row in again.rows] == [intake.UNCHANGED]
    assert again.rows[0].log_index == applied.rows[0].log_index
    assert_identical()


def test_sign_then_withdraw_in_one_file_is_judged_as_one_by_one(people: People) -> None:
    """Recorded at one moment, a withdrawal signed before that moment is older than the
    signature it would withdraw: refused, as it is when submitted right after it."""
    now = datetime.now(UTC)
    plan = plan_of(
        [
            people.statement(1, at=now - timedelta(minutes=2)),
            people.statement(1, "withdraw", at=now - timedelta(minutes=1)),
        ]
    )
    assert [(e.position, e.code) for e in plan.errors] == [(2, "E_STATEMENT")]


class _Undo(Exception):
    """Raised to roll the one-by-one run back, so the bulk run starts from the same state."""


def test_many_statements_use_the_pool_and_match_one_by_one_submission(log: Any) -> None:
    """The same statements, submitted one by one and imported in bulk on the same
    register, give the same log entries (up to the fresh signature ids and the time of
    recording) and the same tables; and rebuilding from the log gives the tables back."""
    count = 12
    people = make_people(count, contact_for=7)
    now = datetime.now(UTC)
    statements = [people.statement(n) for n in range(count)]
    statements.append(statements[5])  # a duplicate: unchanged
    statements.append(people.statement(9, "withdraw", at=now + timedelta(minutes=1)))
    start = get_log().size()
    try:
        with transaction.atomic():
            for signed in statements:
                s.submit_statement(signed)
            one_by_one = (_entries(start), _tables())
            raise _Undo
    except _Undo:
        reset_log_cache()  # its tile cache saw the rolled-back tiles
    assert get_log().size() == start and not m.Signature.objects.exists()
    plan = plan_of(statements, workers=2)
    assert plan.errors == ()
    assert len(plan.verified) == count + 1  # every distinct statement, in the pool of two
    applied = si.apply(plan)
    assert (applied.recorded, applied.unchanged) == (count + 1, 1)
    assert _normalised(_entries(start)) == _normalised(one_by_one[0])
    assert _normalised(_tables()) == _normalised(one_by_one[1])
    assert_identical()


def _entries(start: int) -> list[dict[str, Any]]:
    log = get_log()
    return [json.loads(entry) for entry in log.storage.read_entries(start, log.size())]


def _tables() -> dict[str, Any]:
    from cosignatory.web.notices.models import OutboxMessage

    def rows(model: Any, *exclude: str) -> list[dict[str, Any]]:
        columns = [f.attname for f in model._meta.concrete_fields if f.attname not in exclude]
        return [
            json.loads(json.dumps(row, default=str))
            for row in model.objects.order_by(*columns[:1]).values(*columns)
        ]

    return {
        "signatures": sorted(
            rows(m.Signature, "id", "at", "withdrawn_at"), key=lambda row: row["log_index"]
        ),
        "events": rows(m.EventRecord, "at"),
        "notices": [
            (message.to, message.kind, message.reference)
            for message in OutboxMessage.objects.order_by("reference")
        ],
    }


_SIG_ID = re.compile(r"sig-[0-9a-f]{20}")


def _normalised(value: Any) -> Any:
    """``value`` with signature ids numbered by first appearance, and what depends on
    the moment of recording (the events' times and the registrar's seal over them)
    dropped. The statements' own times stay: they are inside the signed statements."""
    names: dict[str, str] = {}
    text = json.dumps(value, sort_keys=True)
    text = _SIG_ID.sub(lambda found: names.setdefault(found[0], f"sig-{len(names)}"), text)
    loaded = json.loads(text)
    for entry in loaded if isinstance(loaded, list) else []:
        if isinstance(entry, dict):
            entry.pop("at", None)
            entry.pop("registrar", None)
    return loaded


@pytest.mark.django_db
def test_a_bulk_row_naming_no_field_of_its_model_is_refused_and_nothing_is_written() -> None:
    """The bulk projection's rows are dicts by attribute name; a misspelt name must not
    be dropped silently (its column would take the default)."""
    with pytest.raises(ValueError, match="has no field 'party'"):
        si._insert(
            m.EventRecord, [{"log_index": 0, "type": "x", "at": datetime.now(UTC), "party": "P"}]
        )
    assert not m.EventRecord.objects.exists()


_BULK_SAMPLES: list[Any] = [
    "text",
    "",
    "7",
    0,
    7,
    2**40,
    True,
    False,
    None,
    datetime(2026, 1, 1, 12, tzinfo=UTC),
    {"kind": "self-signed", "names": ["x"]},
]


@pytest.mark.django_db
@pytest.mark.parametrize("model", [m.Signature, m.EventRecord, m.Party, m.Mandate])
def test_bulk_values_are_prepared_exactly_as_django_prepares_them(model: Any) -> None:
    """The bulk projection skips a field's conversion where it would return the value
    unchanged; for every field and every kind of value, on this database, it must give
    what ``get_db_prep_save`` gives (or fail as it fails)."""
    wrapper = connections["default"]
    for column in model._meta.concrete_fields:
        prepare = si._preparer(column, wrapper)
        for value in _BULK_SAMPLES:
            try:
                expected = column.get_db_prep_save(value, wrapper)
            except Exception as error:  # whatever Django raises, the bulk path must raise
                with pytest.raises(type(error)):
                    prepare(value)
                continue
            found = prepare(value)
            where = f"{model.__name__}.{column.name} <- {value!r}"
            assert type(found) is type(expected), where
            if hasattr(expected, "obj"):  # psycopg's Jsonb wrapper
                assert found.obj == expected.obj, where
            else:
                assert found == expected, where


# -- batches side by side (the batch API) --------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_batches_side_by_side_are_each_judged_once_and_all_recorded(
    log: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """plan_and_apply judges under the log's lock, so a batch that waited for another's
    write is not judged a second time, and each is recorded whole."""
    from tests.reliability.test_concurrency import race

    people = make_people(8)
    judged: list[int] = []
    real = si._judge

    def counting(statements: Any, *args: Any) -> Any:
        judged.append(len(statements))
        return real(statements, *args)

    monkeypatch.setattr(si, "_judge", counting)
    batches = [list(enumerate(people.statement(n) for n in range(k, k + 4))) for k in (0, 4)]
    size = get_log().size()
    results = race([lambda batch=batch: si.plan_and_apply(batch, workers=1) for batch in batches])
    assert all(isinstance(r, si.AppliedStatements) and r.recorded == 4 for r in results), results
    assert judged == [4, 4]
    assert get_log().size() == size + 8
    assert_identical()


def test_a_refused_statement_leaves_the_whole_batch_unrecorded(people: People) -> None:
    """plan_and_apply returns every refusal, in order, and records none of the batch."""
    good, bad = people.statement(0), people.statement(1)
    forged = SignedStatement(bad.statement, bytes(64))
    before, size = snapshot(), get_log().size()
    refused = si.plan_and_apply([(0, good), (1, forged), (2, people.statement(0))], workers=1)
    assert isinstance(refused, tuple) and [error.position for error in refused] == [1]
    assert snapshot() == before and get_log().size() == size
    applied = si.plan_and_apply([(0, good), (1, bad)], workers=1)
    assert isinstance(applied, si.AppliedStatements) and applied.recorded == 2
