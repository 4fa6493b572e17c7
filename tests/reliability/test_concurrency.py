"""Many writers at once, through the services, in threads and in processes.

tests/web/test_log_storage.py shows that raw appends racing never fork the Merkle
tree. Here the writers are the register's own: signatures, withdrawals, key
revocations, registrations under a symbol, API retries. After each race:

* the log's indexes are 0..n-1, each once, and every event record names the entry
  that holds its event (:func:`assert_log_whole`);
* replaying the log gives tables identical to the live ones (``rebuild``): no update
  was lost or applied twice;
* symbols are distinct and their numbers consecutive;
* the same statement, or the same API request with the same ``Idempotency-Key``,
  sent N times at once, is recorded once, and every caller is told the same entry.

Each thread uses its own database connection (Django's are per thread) and closes it.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.cache import cache
from django.db import connection, connections
from django.test import Client
from django.utils import timezone

from cosignatory.core.events import Event
from cosignatory.core.statements import SignedStatement, Statement
from cosignatory.errors import CosignatoryError
from cosignatory.tlog.note import KeyType, Signer
from cosignatory.web.api import tokens
from cosignatory.web.log.models import LogEntry
from cosignatory.web.log.services import get_log
from cosignatory.web.register import models as m
from cosignatory.web.register import services as s
from cosignatory.web.register.rebuild import rebuild
from tests.dbutil import COSIGNATORY, child_env

pytestmark = pytest.mark.django_db(transaction=True)

PARTIES = 8
LETTER = "cc-letter"
SESSION = "cc-session"
T = TypeVar("T")


@dataclass
class Register:
    keys: dict[str, Ed25519PrivateKey]  # party -> its representative's key


@pytest.fixture
def register(log: Any, settings: Any) -> Iterator[Register]:
    """A body and session, PARTIES organisations each with a representative and a key,
    and one open letter."""
    settings.COSIGNATORY_API_WRITES_PER_MINUTE = 0
    cache.clear()
    s.initialise_register()
    s.create_body("cc-body", {"en": "Concurrency Council"}, "CC")
    s.create_session(
        SESSION, "cc-body", 1, {"en": "First"}, date(2026, 1, 1), date(2026, 12, 31), "CC/1/"
    )
    since = timezone.now() - timedelta(days=1)
    keys = {}
    for n in range(PARTIES):
        party, key = f"org-{n}", Ed25519PrivateKey.generate()
        s.register_party(party, "organisation", {"en": f"Organisation {n}"})
        s.register_representative(f"rep-{n}", f"Officer {n}")
        s.grant_mandate(f"mandate-{n}", f"rep-{n}", party, since, None, _credential(n))
        s.register_key(f"key-{n}", f"rep-{n}", key.public_key().public_bytes_raw(), since)
        keys[party] = key
    _open_letter(LETTER)
    yield Register(keys)
    cache.clear()


def _credential(n: int) -> dict[str, str]:
    return {"kind": "letter", "reference": f"CRED/{n}", "date": "2026-01-01"}


def _open_letter(letter: str) -> None:
    s.create_letter(letter, {"en": letter}, ["The President"], "org-0", date(2026, 11, 1), SESSION)
    s.add_text_version(letter, {"en": f"The text of {letter}."})
    s.open_letter(letter)


def statement(
    register: Register, n: int, action: str = "sign", letter: str = LETTER, version: int = 0
) -> Any:
    """Party ``n``'s signed statement on ``letter`` (``version``, or the current one), made now."""
    version = version or m.Letter.objects.get(pk=letter).current_version
    text = m.TextVersion.objects.get(letter_id=letter, version=version)
    st = Statement(
        action, letter, version, text.text_hash, f"org-{n}", f"rep-{n}", f"key-{n}", timezone.now()
    )
    return SignedStatement(st, st.sign(register.keys[f"org-{n}"]))


def race(jobs: list[Callable[[], T]]) -> list[T | BaseException]:
    """Run every job in its own thread, all released at once; return each one's result
    or the exception it raised, in the jobs' order."""
    results: list[T | BaseException] = [RuntimeError("not run")] * len(jobs)
    start = threading.Barrier(len(jobs))

    def run(i: int) -> None:
        try:
            start.wait()
            results[i] = jobs[i]()
        except BaseException as error:  # reported to the caller
            results[i] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def assert_log_whole() -> int:
    """The log's indexes are 0..n-1 once each, the tree verifies, every event record
    names the entry holding its event, and a replay gives the same tables. Returns n."""
    indexes = list(LogEntry.objects.order_by("index").values_list("index", flat=True))
    size = get_log().size()
    assert indexes == list(range(size))
    records = dict(m.EventRecord.objects.values_list("log_index", "type"))
    for index, entry in enumerate(get_log().entries(0, size)):
        event = Event.from_bytes(entry)
        assert records.pop(index) == event.type, index
    assert records == {}  # no record without its entry
    report = rebuild()
    assert report.identical, report.details()
    return size


def test_threads_signing_at_once_lose_nothing(register: Register) -> None:
    signed = [statement(register, n) for n in range(PARTIES)]
    before = get_log().size()
    results = race([partial(s.submit_statement, item) for item in signed])
    assert [r for r in results if isinstance(r, BaseException)] == []
    indexes = sorted(r.log_index for r in results if not isinstance(r, BaseException))
    assert indexes == list(range(before, before + PARTIES))
    assert m.Signature.objects.filter(letter_id=LETTER, active=True).count() == PARTIES
    size = assert_log_whole()
    print(f"\nconcurrency: {PARTIES} threads signed at once; log 0..{size - 1}, no gap")


def test_the_same_statement_sent_at_once_is_recorded_once(register: Register) -> None:
    item = statement(register, 0)
    copies = 8
    results = race([lambda: s.submit_statement(item)] * copies)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == [], errors
    recorded = [r for r in results if not isinstance(r, BaseException)]
    assert len({r.log_index for r in recorded}) == 1
    assert sum(r.new for r in recorded) == 1
    assert m.Signature.objects.filter(letter_id=LETTER, party_id="org-0").count() == 1
    assert_log_whole()
    print(f"\nconcurrency: the same statement {copies} times at once: one signature")


def test_two_withdrawals_of_one_signature_at_once(register: Register) -> None:
    s.submit_statement(statement(register, 1))
    first, second = statement(register, 1, "withdraw"), statement(register, 1, "withdraw")
    results = race([lambda: s.submit_statement(first), lambda: s.submit_statement(second)])
    done = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    # One withdrawal; the other is either the same (nothing new) or refused by the rules.
    assert sum(r.new for r in done) == 1
    assert all(isinstance(r, CosignatoryError) for r in refused), refused
    signature = m.Signature.objects.get(letter_id=LETTER, party_id="org-1")
    assert not signature.active and signature.withdrawn_at is not None
    assert_log_whole()


def test_a_key_revoked_while_it_signs(register: Register) -> None:
    """Either the signature comes first (and stands, made before the revocation), or
    the revocation does (and the signature is refused): never a signature after it."""
    rounds = 4
    for n in range(rounds):
        item = statement(register, n)
        results: list[Any] = race(
            [partial(s.submit_statement, item), partial(s.revoke_key, f"key-{n}", "x")]
        )
        signed, revoked = results
        assert not isinstance(revoked, BaseException), revoked
        revocation = m.EventRecord.objects.get(log_index=revoked.log_index)
        if isinstance(signed, BaseException):
            assert isinstance(signed, CosignatoryError) and signed.code == "E_KEY_REVOKED"
            assert not m.Signature.objects.filter(party_id=f"org-{n}").exists()
        else:
            assert signed.log_index < revocation.log_index
    assert_log_whole()


def test_sign_and_withdraw_racing_for_one_party(register: Register) -> None:
    """A party withdraws its signature on version 1 while it signs version 2 (which
    would replace the first), both statements made before either is recorded. The one
    the log takes first is recorded; the other is then judged against it and refused
    (its target replaced, or its statement older than the party's last act). The
    tables always say what the log says."""
    orders = {"withdrawal first": 0, "signature first": 0}
    for n in range(PARTIES):
        letter = f"cc-race-{n}"
        _open_letter(letter)
        s.submit_statement(statement(register, n, letter=letter))
        s.add_text_version(letter, {"en": f"The amended text of {letter}."})
        withdraw = statement(register, n, "withdraw", letter=letter, version=1)
        sign = statement(register, n, letter=letter, version=2)
        results: list[Any] = race(
            [partial(s.submit_statement, withdraw), partial(s.submit_statement, sign)]
        )
        refused = [r for r in results if isinstance(r, BaseException)]
        assert len(refused) <= 1 and all(isinstance(r, CosignatoryError) for r in refused)
        withdrawn, signed = results
        rows = m.Signature.objects.filter(letter_id=letter, party_id=f"org-{n}")
        first = rows.get(version=1)
        if isinstance(signed, BaseException):
            assert first.withdrawn_at is not None and not rows.filter(active=True).exists()
            orders["withdrawal first"] += 1
        elif isinstance(withdrawn, BaseException):
            assert first.withdrawn_at is None and first.superseded_by is not None
            assert rows.filter(active=True).get().version == 2
            orders["signature first"] += 1
        else:  # both: only if the withdrawal came first
            assert withdrawn.log_index < signed.log_index
            assert first.withdrawn_at is not None
            assert rows.filter(active=True).get().version == 2
            orders["withdrawal first"] += 1
    assert_log_whole()
    print(f"\nconcurrency: sign and withdraw raced {PARTIES} times: {orders}")


def _transmitted(count: int) -> list[str]:
    letters = []
    for n in range(count):
        letter = f"cc-reg-{n}"
        _open_letter(letter)
        s.transmit_letter(letter, date(2026, 11, 2))
        letters.append(letter)
    return letters


def test_registering_letters_at_once_gives_distinct_consecutive_symbols(
    register: Register,
) -> None:
    letters = _transmitted(6)
    results = race([partial(s.register_document, x, SESSION, "G") for x in letters])
    assert [r for r in results if isinstance(r, BaseException)] == []
    symbols = sorted(
        str(x) for x in m.Letter.objects.filter(pk__in=letters).values_list("symbol", flat=True)
    )
    assert symbols == sorted(f"CC/1/G/{k}" for k in range(1, len(letters) + 1))
    assert m.SeriesCounter.objects.get(session_id=SESSION, series="G").last_number == len(letters)

    # Addenda of one letter, issued at once: Add.1, Add.2, ... each once.
    adds = 5
    results = race([lambda: s.issue_document(letters[0], "Add")] * adds)
    assert [r for r in results if isinstance(r, BaseException)] == []
    documents = m.Document.objects.filter(letter_id=letters[0], kind="Add")
    symbol = m.Letter.objects.get(pk=letters[0]).symbol
    assert sorted(documents.values_list("number", flat=True)) == list(range(1, adds + 1))
    assert {d.symbol for d in documents} == {f"{symbol}/Add.{k}" for k in range(1, adds + 1)}
    assert_log_whole()
    print(f"\nconcurrency: {len(letters)} registrations and {adds} addenda at once: distinct")


def test_an_api_retry_with_the_same_idempotency_key_records_once(register: Register) -> None:
    _, secret = tokens.create_token("cc-registrar", "registrar")
    before = get_log().size()
    copies = 6

    def close() -> Any:
        response = Client().post(
            f"/api/v1/letters/{LETTER}/close",
            b"",
            content_type="application/json",
            headers={"Authorization": f"Bearer {secret}", "Idempotency-Key": "close-once"},
        )
        return response.status_code, json.loads(response.content)

    results = race([close] * copies)
    assert [r for r in results if isinstance(r, BaseException)] == []
    statuses = sorted(r[0] for r in results if not isinstance(r, BaseException))
    assert statuses == [200] * (copies - 1) + [201] or statuses == [201] * copies
    bodies = {json.dumps(r[1], sort_keys=True) for r in results if not isinstance(r, BaseException)}
    assert len(bodies) == 1  # every caller is told the same entry
    assert get_log().size() == before + 1
    assert m.Letter.objects.get(pk=LETTER).status == "closed"
    assert_log_whole()


def test_processes_signing_at_once(register: Register, log_settings: Any, tmp_path: Path) -> None:
    """``cosignatory sign --submit`` in one process per party, plus one party signing
    from three processes at once: every party once, the log whole."""
    connection.close()
    env = child_env(log_settings)
    children = []
    jobs = [*range(PARTIES), 0, 0]  # party 0 three times
    for i, n in enumerate(jobs):
        skey = tmp_path / f"rep-{n}-{i}.skey"
        seed = register.keys[f"org-{n}"].private_bytes_raw()
        skey.write_text(Signer(f"rep-{n}", KeyType.ED25519, seed).to_skey() + "\n")
        argv = [*COSIGNATORY, "sign", LETTER, "--skey", str(skey), "--party", f"org-{n}"]
        argv += ["--representative", f"rep-{n}", "--key", f"key-{n}", "--submit", "--json"]
        children.append(
            subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        )
    outcomes = []
    for child in children:
        out, err = child.communicate(timeout=300)
        outcomes.append((child.returncode, out, err))
    for (code, _, err), n in zip(outcomes, jobs, strict=True):
        # Party 0's later statements are new statements on a version it has signed:
        # recorded already (exit 0, not new) or refused by the rules, never twice.
        assert code == 0 or (n == 0 and b"[E_" in err), err
    assert m.Signature.objects.filter(letter_id=LETTER, active=True).count() == PARTIES
    assert m.Signature.objects.filter(letter_id=LETTER, party_id="org-0").count() == 1
    size = assert_log_whole()
    print(f"\nconcurrency: {len(jobs)} processes signed at once; log 0..{size - 1}, no gap")
