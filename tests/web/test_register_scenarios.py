"""The register through its services: scenarios, refusals, and ``rebuild`` after each.

Every scenario ends by rebuilding the register from its log and comparing it with the
live tables (they must be identical). Every refusal the issue names is made through
the services, and leaves the database and the log exactly as they were. Tampering with
the tables or the log is caught by ``rebuild``.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import connections

from cosignatory.core.canonical import text_hash
from cosignatory.core.statements import SignedStatement, Statement
from cosignatory.errors import CosignatoryError
from cosignatory.web.log.models import LogCheckpoint, LogEntry, LogHead, LogTile
from cosignatory.web.log.services import get_log
from cosignatory.web.notices.models import OutboxMessage
from cosignatory.web.register import demo
from cosignatory.web.register import models as m
from cosignatory.web.register import services as s
from cosignatory.web.register.projector import PROJECTION_MODELS
from cosignatory.web.register.rebuild import RebuildMismatchError, RebuildReport, rebuild

PARTIES = ("FRA", "DEU", "ESP", "NOR")
LETTER = "L1"
TEXTS = {
    "en": "We, the undersigned, express our concern ...",
    "fr": "Nous, soussignés, exprimons notre préoccupation ...",
}
TEXTS_V2 = {
    "en": "We, the undersigned, express our deep concern ...",
    "fr": "Nous, soussignés, exprimons notre profonde préoccupation ...",
}


def note(reference: str) -> dict[str, str]:
    return {"kind": "note-verbale", "reference": reference, "date": "2019-07-08"}


def private_key(name: str) -> Ed25519PrivateKey:
    """A fixed test key per name, so runs are reproducible."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(name.encode()).digest())


def public_key(name: str) -> bytes:
    return private_key(name).public_key().public_bytes_raw()


# -- checking helpers -------------------------------------------------------------------


def snapshot() -> dict[str, Any]:
    """Everything a refusal must leave alone: every projection row, every other register,
    notice and log table's row count, and the log's head and root."""
    state: dict[str, Any] = {}
    for model in PROJECTION_MODELS:
        columns = [f.attname for f in model._meta.concrete_fields]
        state[model._meta.db_table] = [
            tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
            for row in model.objects.order_by("pk").values_list(*columns)
        ]
    for model in (m.PendingEmailSignature, OutboxMessage, LogEntry, LogTile, LogCheckpoint):
        state[model._meta.db_table] = model.objects.count()
    state["tlog_head"] = list(LogHead.objects.values_list("size", "checkpoint"))
    log = get_log()
    state["log"] = (log.size(), log.root())
    return state


def assert_identical() -> RebuildReport:
    """Rebuild the register from its log; the tables must come out identical."""
    report = rebuild()
    assert report.identical, "\n".join(report.details())
    assert report.compared and report.events > 0
    for table, (live, rebuilt) in report.tables.items():
        assert live == rebuilt, table
    return report


def refused(code: str, action: Callable[[], Any]) -> None:
    """``action`` is refused with ``code`` and changes nothing in the database or the log."""
    before = snapshot()
    with pytest.raises(CosignatoryError) as refusal:
        action()
    assert refusal.value.code == code, refusal.value
    assert snapshot() == before


def statement(
    action: str,
    party: str,
    *,
    letter: str = LETTER,
    version: int | None = None,
    hash_of: int | None = None,
    representative: str | None = None,
    key: str | None = None,
    signing_key: str | None = None,
) -> SignedStatement:
    """A statement signed now by the party's representative (or whoever is named)."""
    row = m.Letter.objects.get(pk=letter)
    if version is None:
        version = row.current_version
        if action == "withdraw":
            version = m.Signature.objects.get(letter=row, party_id=party, active=True).version
    hash_version = version if hash_of is None else hash_of
    found = m.TextVersion.objects.get(letter=row, version=hash_version).text_hash
    key = key or f"key-{party.lower()}"
    made = Statement(
        action,
        letter,
        version,
        found,
        party,
        representative or f"rep-{party.lower()}",
        key,
        datetime.now(UTC),
    )
    return SignedStatement(made, made.sign(private_key(signing_key or key)))


def active_signature(party: str, letter: str = LETTER) -> m.Signature:
    return m.Signature.objects.get(letter_id=letter, party_id=party, active=True)


# -- the scenarios' starting point ----------------------------------------------------------


@pytest.fixture
def register(log: Any) -> Any:
    """A council and session, four states each with a representative, a mandate and a key,
    and the letter L1 (lead FRA) with one text version, open for signature."""
    now = datetime.now(UTC)
    s.initialise_register()
    s.create_body("hrc", {"en": "Human Rights Council"}, "A/HRC")
    s.create_session(
        "hrc-41",
        "hrc",
        41,
        {"en": "41st session"},
        date(2019, 6, 24),
        date(2019, 7, 12),
        "A/HRC/41/",
    )
    for code in PARTIES:
        s.register_state(code)
        rep = f"rep-{code.lower()}"
        s.register_representative(rep, f"Ambassador of {code}")
        s.grant_mandate(
            f"mandate-{code.lower()}",
            rep,
            code,
            now - timedelta(days=30),
            None,
            note(f"CRED/{code}"),
        )
        s.register_key(
            f"key-{code.lower()}", rep, public_key(f"key-{code.lower()}"), now - timedelta(days=30)
        )
    s.create_letter(
        LETTER, {"en": "Joint letter"}, ["President of the Council"], "FRA", now.date(), "hrc-41"
    )
    s.add_text_version(LETTER, TEXTS)
    s.open_letter(LETTER)
    return log


# -- scenarios, each rebuilt ---------------------------------------------------------------


def test_the_demo_register_rebuilds_identically(log: Any) -> None:
    events = demo.load_demo()
    report = assert_identical()
    assert report.events == events == log.size()
    assert report.foreign_entries == 0
    assert report.tables["register_signature"][0] > 30


def test_a_letters_whole_life_rebuilds_identically(register: Any) -> None:
    s.submit_statement(statement("sign", "FRA"))
    s.submit_statement(statement("sign", "DEU"))
    s.record_attested(LETTER, "ESP", "sign", note("NV/ESP/1"))
    s.close_letter(LETTER)
    s.reopen_letter(LETTER)
    s.add_text_version(LETTER, TEXTS_V2)
    s.submit_statement(statement("sign", "FRA"))  # re-signs the new version
    s.submit_statement(statement("withdraw", "DEU"))  # withdraws from version 1
    s.transmit_letter(LETTER, date(2019, 7, 9))
    s.register_document(LETTER, "hrc-41", "G")
    s.publish_letter(LETTER)
    s.reopen_letter(LETTER)
    s.submit_statement(statement("accede", "NOR"))
    s.record_attested(LETTER, "DEU", "accede", note("NV/DEU/2"))
    s.issue_document(LETTER, "Add", note="Additional signatories")
    s.issue_document(LETTER, "Corr", version=2, note="Editorial correction")
    s.close_letter(LETTER)
    dispute = s.file_dispute(
        active_signature("ESP").id, "ESP", "We did not sign.", note("NV/ESP/9")
    )
    assert dispute.event is not None
    s.resolve_dispute(dispute.event.data["id"], "dismissed", "The note verbale is genuine.")
    s.set_party_contact("NOR", "mission@nor.example")
    s.revoke_key("key-nor", "lost")
    s.end_mandate("mandate-nor", "posted elsewhere")
    assert_identical()
    fra = m.Signature.objects.filter(letter_id=LETTER, party_id="FRA").order_by("log_index")
    assert [(x.version, x.active, x.superseded_by is not None) for x in fra] == [
        (1, False, True),
        (2, True, False),
    ]


def test_a_cancelled_registration_keeps_its_number_and_rebuilds(register: Any) -> None:
    s.record_attested(LETTER, "FRA", "sign", note("NV/1"))
    s.transmit_letter(LETTER, date(2019, 7, 9))
    first = s.register_document(LETTER, "hrc-41", "G")
    s.issue_document(LETTER, "Add")
    s.cancel_registration(LETTER, "registered in the wrong series")
    second = s.register_document(LETTER, "hrc-41", "G")
    assert first.event is not None and second.event is not None
    assert first.event.data["symbol"] == "A/HRC/41/G/1"
    assert second.event.data["symbol"] == "A/HRC/41/G/2"
    addendum = s.issue_document(LETTER, "Add").event  # numbering restarts for the new symbol
    assert addendum is not None and addendum.data["symbol"] == "A/HRC/41/G/2/Add.1"
    assert_identical()


def test_email_signatures_and_disputes_rebuild(register: Any) -> None:
    s.create_letter("open", {"en": "Open letter"}, ["Everyone"], "FRA", date(2019, 8, 1))
    s.add_text_version("open", {"en": "We support open data."})
    s.open_letter("open")
    for n, name in enumerate(("Ada", "Grace")):
        token = s.request_email_signature("open", name, f"p{n}@example.org", send=False)
        s.confirm_email_signature(token)
        s.confirm_email_signature(token)  # a mail scanner opens the link again
    person = m.Signature.objects.filter(letter_id="open").order_by("log_index").first()
    assert person is not None and person.evidence_kind == "email-verified"
    upheld = s.file_dispute(person.id, person.party_id, "Not me.", note("X/1"))
    assert upheld.event is not None
    s.resolve_dispute(upheld.event.data["id"], "upheld", "A stranger used the address.")
    assert m.Signature.objects.filter(letter_id="open", voided=True).count() == 1
    assert_identical()


def test_entries_that_are_not_events_are_counted_as_foreign(register: Any) -> None:
    get_log().append(b"a note that is not a register event")
    s.record_attested(LETTER, "FRA", "sign", note("NV/1"))
    get_log().append(b'{"kind": "also not an event"}')
    report = assert_identical()
    assert report.foreign_entries == 2
    assert report.events == report.log_size - 2
    assert "2 foreign entries" in report.summary()


# -- refusals through the services: nothing changes ------------------------------------------


def test_signing_a_closed_letter_is_refused(register: Any) -> None:
    s.close_letter(LETTER)
    refused("E_LETTER_CLOSED", lambda: s.submit_statement(statement("sign", "FRA")))
    refused("E_LETTER_CLOSED", lambda: s.record_attested(LETTER, "FRA", "sign", note("NV/1")))
    s.reopen_letter(LETTER)
    s.transmit_letter(LETTER, date(2019, 7, 9))
    refused("E_LETTER_CLOSED", lambda: s.submit_statement(statement("sign", "DEU")))
    assert_identical()


def test_acceding_before_transmission_is_refused(register: Any) -> None:
    refused("E_NOT_TRANSMITTED", lambda: s.submit_statement(statement("accede", "FRA")))
    refused("E_NOT_TRANSMITTED", lambda: s.record_attested(LETTER, "FRA", "accede", note("1")))
    s.transmit_letter(LETTER, date(2019, 7, 9))
    # Transmitted but not reopened for accessions.
    refused("E_ACCESSIONS_CLOSED", lambda: s.submit_statement(statement("accede", "FRA")))
    assert_identical()


def test_withdrawing_twice_is_refused(register: Any) -> None:
    s.submit_statement(statement("sign", "FRA"))
    s.record_attested(LETTER, "DEU", "sign", note("NV/DEU/1"))
    withdrawal = statement("withdraw", "FRA")
    first = s.submit_statement(withdrawal)
    assert first.new
    # The same signed withdrawal again is the same fact: answered, not recorded twice.
    before = snapshot()
    again = s.submit_statement(withdrawal)
    assert (again.new, again.log_index) == (False, first.log_index)
    assert snapshot() == before
    # A second, new withdrawal has nothing left to withdraw.
    later = dataclasses.replace(withdrawal.statement, at=datetime.now(UTC))
    second = SignedStatement(later, later.sign(private_key("key-fra")))
    refused("E_NOT_SIGNED", lambda: s.submit_statement(second))
    s.record_attested(LETTER, "DEU", "withdraw", note("NV/DEU/2"))
    refused("E_NOT_SIGNED", lambda: s.record_attested(LETTER, "DEU", "withdraw", note("NV/3")))
    assert_identical()


def test_withdrawing_for_another_party_is_refused(register: Any) -> None:
    s.submit_statement(statement("sign", "DEU"))
    # France's representative, with France's own valid key, withdraws Germany's signature.
    forged = statement("withdraw", "DEU", representative="rep-fra", key="key-fra")
    refused("E_WRONG_PARTY", lambda: s.submit_statement(forged))
    # A party that never signed has nothing to withdraw.
    refused("E_NOT_SIGNED", lambda: s.record_attested(LETTER, "ESP", "withdraw", note("1")))
    assert active_signature("DEU").withdrawn_at is None
    assert_identical()


def test_a_revoked_key_is_refused(register: Any) -> None:
    s.revoke_key("key-fra", "compromised")
    refused("E_KEY_REVOKED", lambda: s.submit_statement(statement("sign", "FRA")))
    assert_identical()


def test_an_expired_key_is_refused(register: Any) -> None:
    now = datetime.now(UTC)
    s.register_key(
        "key-fra-old",
        "rep-fra",
        public_key("key-fra-old"),
        now - timedelta(days=60),
        now - timedelta(days=1),
    )
    refused(
        "E_KEY_EXPIRED", lambda: s.submit_statement(statement("sign", "FRA", key="key-fra-old"))
    )
    s.register_key("key-fra-next", "rep-fra", public_key("key-fra-next"), now + timedelta(days=1))
    refused(
        "E_KEY_EXPIRED", lambda: s.submit_statement(statement("sign", "FRA", key="key-fra-next"))
    )
    assert_identical()


def test_a_mandate_out_of_period_is_refused(register: Any) -> None:
    now = datetime.now(UTC)
    s.register_representative("rep-deu-old", "Former Ambassador of Germany")
    s.grant_mandate(
        "mandate-deu-old",
        "rep-deu-old",
        "DEU",
        now - timedelta(days=400),
        now - timedelta(days=30),
        note("CRED/OLD"),
    )
    s.register_key(
        "key-deu-old", "rep-deu-old", public_key("key-deu-old"), now - timedelta(days=400)
    )
    refused(
        "E_MANDATE",
        lambda: s.submit_statement(
            statement("sign", "DEU", representative="rep-deu-old", key="key-deu-old")
        ),
    )
    s.end_mandate("mandate-esp", "recalled")
    refused("E_MANDATE", lambda: s.submit_statement(statement("sign", "ESP")))
    assert_identical()


def test_a_signature_over_another_text_version_is_refused(register: Any) -> None:
    s.add_text_version(LETTER, TEXTS_V2)
    refused("E_TEXT_VERSION", lambda: s.submit_statement(statement("sign", "FRA", version=1)))
    # The current version's number with the earlier version's hash.
    refused(
        "E_TEXT_VERSION", lambda: s.submit_statement(statement("sign", "FRA", version=2, hash_of=1))
    )
    assert text_hash(TEXTS_V2) == m.TextVersion.objects.get(letter_id=LETTER, version=2).text_hash
    assert_identical()


def test_a_reused_symbol_is_refused(register: Any) -> None:
    # A second session given the same prefix would hand out the same symbols again.
    s.create_session(
        "hrc-41-bis",
        "hrc",
        42,
        {"en": "Resumed session"},
        date(2019, 8, 1),
        date(2019, 8, 2),
        "A/HRC/41/",
    )
    s.create_letter("L2", {"en": "Another letter"}, ["President"], "DEU", date(2019, 7, 9))
    s.add_text_version("L2", {"en": "Another text."})
    s.open_letter("L2")
    for letter in (LETTER, "L2"):
        s.record_attested(letter, "FRA", "sign", note(f"NV/{letter}"))
        s.transmit_letter(letter, date(2019, 7, 9))
    s.register_document(LETTER, "hrc-41", "G")
    refused("E_SYMBOL", lambda: s.register_document("L2", "hrc-41-bis", "G"))
    assert_identical()


def test_signing_again_is_idempotent(register: Any) -> None:
    signed = statement("sign", "FRA")
    first = s.submit_statement(signed)
    attested = s.record_attested(LETTER, "DEU", "sign", note("NV/DEU/1"))
    before = snapshot()
    for again in (
        s.submit_statement(signed),
        s.submit_statement(statement("sign", "FRA")),  # a fresh statement, same version
    ):
        assert (again.new, again.log_index, again.event) == (False, first.log_index, None)
    repeat = s.record_attested(LETTER, "DEU", "sign", note("NV/DEU/1-bis"))
    assert (repeat.new, repeat.log_index) == (False, attested.log_index)
    assert snapshot() == before
    assert_identical()


def test_a_failure_after_the_append_leaves_log_and_tables_unchanged(
    register: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Boom(CosignatoryError):
        code = "E_TEST_BOOM"

    def fail(*args: Any, **kwargs: Any) -> None:
        raise Boom("the disk is full")

    monkeypatch.setattr(s, "project", fail)
    refused("E_TEST_BOOM", lambda: s.record_attested(LETTER, "FRA", "sign", note("NV/1")))
    monkeypatch.undo()
    monkeypatch.setattr(s, "_queue_notices", fail)
    refused("E_TEST_BOOM", lambda: s.submit_statement(statement("sign", "FRA")))
    monkeypatch.undo()
    s.record_attested(LETTER, "FRA", "sign", note("NV/1"))
    assert_identical()


# -- tampering is caught ----------------------------------------------------------------------


def test_a_changed_projection_row_is_reported(register: Any) -> None:
    s.record_attested(LETTER, "FRA", "sign", note("NV/1"))
    signature = active_signature("FRA")
    m.Signature.objects.filter(pk=signature.pk).update(party_id="DEU")
    m.TextVersion.objects.filter(letter_id=LETTER, version=1).update(texts={"en": "Other text"})
    report = rebuild()
    assert not report.identical and not report.problems
    assert report.rows_differing == 2
    found = {(d.table, d.pk, d.field): (d.live, d.rebuilt) for d in report.differences}
    assert found[("register_signature", signature.pk, "party_id")] == ("DEU", "FRA")
    assert found[("register_textversion", f"{LETTER}/1", "texts")] == ({"en": "Other text"}, TEXTS)
    with pytest.raises(RebuildMismatchError) as mismatch:
        report.check()
    assert mismatch.value.code == "E_REBUILD_MISMATCH"
    assert "2 rows differ" in str(mismatch.value)


def test_missing_and_extra_rows_are_reported(register: Any) -> None:
    last = m.EventRecord.objects.order_by("-log_index").first()
    assert last is not None
    index = last.log_index
    last.delete()
    m.Party.objects.create(id="XXX", kind="state", names={"en": "Nowhere"})
    report = rebuild()
    found = {(d.table, d.pk, d.field, d.live, d.rebuilt) for d in report.differences}
    assert ("register_eventrecord", str(index), "(row)", "missing", "present") in found
    assert ("register_party", "XXX", "(row)", "present", "missing") in found
    assert report.tables["register_party"] == (len(PARTIES) + 1, len(PARTIES))


def test_a_changed_log_entry_is_detected(register: Any) -> None:
    entry = LogEntry.objects.order_by("-index").first()
    assert entry is not None
    # Still a well-formed event, now saying the letter was closed: only the seal and
    # the log's root can tell.
    data = bytes(entry.data).replace(b'"letter.opened"', b'"letter.closed"')
    assert data != bytes(entry.data)
    LogEntry.objects.filter(pk=entry.pk).update(data=data)
    report = rebuild()
    assert not report.identical
    assert any("root of the stored entries" in problem for problem in report.problems)
    assert any(
        f"entry {entry.index} (letter.closed) is refused" in problem and "E_SIG_INVALID" in problem
        for problem in report.problems
    )


def test_a_changed_checkpoint_is_detected(register: Any) -> None:
    head = LogHead.objects.get()
    lines = head.checkpoint.split("\n")
    lines[1] = str(int(lines[1]) + 1)  # claim one more entry than was signed
    LogHead.objects.filter(pk=head.pk).update(checkpoint="\n".join(lines))
    report = rebuild()
    assert not report.identical
    assert any("does not verify" in problem for problem in report.problems)


def test_rebuild_leaves_no_database_behind(register: Any) -> None:
    before = snapshot()
    aliases = set(connections.settings)
    assert_identical()
    assert set(connections.settings) == aliases
    assert not any(alias.startswith("cosignatory-rebuild") for alias in connections.settings)
    assert snapshot() == before


def test_a_deleted_log_entry_is_reported_not_raised(register: Any) -> None:
    LogEntry.objects.filter(index=3).delete()
    report = rebuild()
    assert not report.identical
    assert any("E_LOG_STATE" in problem for problem in report.problems)
    with pytest.raises(RebuildMismatchError):
        report.check()


def test_rebuild_without_compare_only_replays(register: Any) -> None:
    m.Letter.objects.filter(pk=LETTER).update(status="published")
    report = rebuild(compare=False)
    assert report.identical and not report.compared and not report.tables
    assert report.summary() == f"replayed: {report.events} events"
    assert not rebuild().identical


def test_a_mangled_register_event_is_a_problem_not_a_foreign_entry(register: Any) -> None:
    LogEntry.objects.filter(index=2).update(data=b'{"registrar": {}, "type": "body.created"}')
    report = rebuild()
    assert report.foreign_entries == 0
    assert any("entry 2 is a malformed register event" in p for p in report.problems)
