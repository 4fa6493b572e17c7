"""A seeded register of real, sealed events, filled fast: the data of the HTTP benchmarks.

What it records (every event valid by the register's rules, so ``cosignatory rebuild``
and bundles work on it):

- the registrar's key, a body and a session, 193 states, a few organisations; a third
  of the states have a representative with a mandate and an Ed25519 key;
- the session's letters (300 by default), each signed by 1 to 193 states (self-signed
  where the state has a key, attested on paper otherwise), about 2 % of the signatures
  withdrawn, 0.5 % disputed (half upheld), 5 % of the mandates ended, every third
  letter closed;
- a letter with exactly 200 signatories (150 states, 50 persons);
- the open letter of N persons: nine in ten verified by email, one in ten self-signed
  with their own key (a person, a representative, a mandate and a key each), 0.2 % of
  the self-signed later withdrawn;
- a letter signed by the first tenth of those persons (the export's smaller size);
- a pool of persons with keys who have not signed yet, for the signing benchmark.

Speed: events are sealed here and appended with ``Log.append_batch`` in chunks of
:data:`CHUNK`, one transaction each. The events that only create rows (parties,
representatives, mandates, keys, first signatures) are projected with ``bulk_create``
into exactly the rows ``projector.project`` would write (the smoke test checks this
with ``rebuild``); every other event goes through ``project`` itself.
"""

from __future__ import annotations

import base64
import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cosignatory.core.canonical import text_hash
from cosignatory.core.events import Event, format_time
from cosignatory.core.statements import Statement

CHUNK = 20_000
"""Events per transaction while filling."""
STEP = timedelta(microseconds=10)
"""Time between consecutive generated events."""
BODY = "bench-council"
SESSION = "bench-council-41"
BIG_LETTER = "bench-open-letter"
SMALL_LETTER = "bench-200"
TENTH_LETTER = "bench-open-letter-tenth"
ORGANISATIONS = ("org-bench-1", "org-bench-2", "org-bench-3")
_BULK = {
    "party.registered",
    "representative.registered",
    "mandate.granted",
    "key.registered",
}


def person_key(seed: int, name: str) -> Ed25519PrivateKey:
    """The Ed25519 key of a generated signer, derived from the seed (benchmark data only)."""
    digest = hashlib.sha256(f"cosignatory bench {seed} {name}".encode()).digest()
    return Ed25519PrivateKey.from_private_bytes(digest)


@dataclass(frozen=True)
class PoolSigner:
    """A person who can sign the open letter with their own key and has not yet."""

    party: str
    representative: str
    key: str
    name: str


@dataclass
class Dataset:
    """What the generator recorded: the letters the benchmarks read and sign."""

    seed: int
    big_letter: str = BIG_LETTER
    small_letter: str = SMALL_LETTER
    big_text_hash: str = ""
    session_letters: int = 0
    signatures: int = 0
    self_signed: int = 0
    email_verified: int = 0
    withdrawals: int = 0
    disputes: int = 0
    events: int = 0
    seconds: float = 0.0
    pool: list[PoolSigner] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The figures of the data set, for the report."""
        return {
            "seed": self.seed,
            "big_letter_signatures": self.signatures,
            "self_signed": self.self_signed,
            "email_verified": self.email_verified,
            "session_letters": self.session_letters,
            "withdrawals": self.withdrawals,
            "disputes": self.disputes,
            "pool": len(self.pool),
            "events": self.events,
            "seconds": round(self.seconds, 1),
        }


class Filler:
    """Seals events with the registrar's key and writes them in chunks."""

    def __init__(self, start: datetime) -> None:
        from cosignatory.web.log.services import get_log
        from cosignatory.web.register.services import registrar_key_id, registrar_signer

        self.signer = registrar_signer()
        self.key_id = registrar_key_id(self.signer)
        self.log = get_log()
        self.at = start
        self.pending: list[Event] = []
        self.count = 0

    def add(self, type: str, data: dict[str, Any]) -> Event:
        """Seal an event one step after the last and queue it; write a full chunk."""
        self.at += STEP
        event = Event.make(type, self.at, data)
        event = event.sealed(self.key_id, self.signer.sign(event.signed_bytes()))
        self.pending.append(event)
        if len(self.pending) >= CHUNK:
            self.flush()
        return event

    def flush(self) -> None:
        """Append the queued events to the log and project them, in one transaction."""
        if not self.pending:
            return
        from django.db import transaction

        with transaction.atomic():
            self.log.storage.lock()  # type: ignore[attr-defined]
            first = self.log.append_batch([e.to_bytes() for e in self.pending]).first_index
            project_many(self.pending, first)
        self.count += len(self.pending)
        self.pending = []


def project_many(events: list[Event], first: int) -> None:
    """Project ``events`` (at ``first``, ``first + 1``, ...) as ``project`` would, in bulk
    where an event only creates rows."""
    from cosignatory.web.public.models import SearchEntry
    from cosignatory.web.register import models as m
    from cosignatory.web.register.projector import project

    rows: dict[type[Any], list[Any]] = {}

    def flush() -> None:
        for model in (m.Party, m.Representative, m.Mandate, m.Key, m.Signature, SearchEntry):
            if rows.get(model):
                model.objects.bulk_create(rows[model], batch_size=2_000)
        if rows.get(m.EventRecord):
            m.EventRecord.objects.bulk_create(rows[m.EventRecord], batch_size=2_000)
        rows.clear()

    for offset, event in enumerate(events):
        index = first + offset
        d = event.data
        bulk = event.type in _BULK or (
            event.type == "signature.recorded" and d["action"] != "withdraw"
        )
        if not bulk:
            flush()
            project(event, index)
            continue
        for model, row in _rows(event, index):
            rows.setdefault(model, []).append(row)
    flush()


def _rows(event: Event, index: int) -> list[tuple[type[Any], Any]]:
    """The rows ``project`` writes for an event that only creates rows."""
    from cosignatory.core.events import parse_time
    from cosignatory.web.public import searchindex
    from cosignatory.web.public.models import SearchEntry
    from cosignatory.web.register import models as m

    d = event.data
    found: list[tuple[type[Any], Any]] = []
    row: Any
    letter = None
    party = d.get("party")
    if event.type == "party.registered":
        party = d["id"]
        found.append(
            (
                m.Party,
                m.Party(
                    id=d["id"],
                    kind=d["kind"],
                    names=d["names"],
                    code=d.get("code"),
                    contact=d.get("contact"),
                    members=list(d.get("members") or []),
                ),
            )
        )
        entries = searchindex._names(SearchEntry.PARTY, d["id"], "name", d["names"], None)
        found.extend((SearchEntry, entry) for entry in entries)
    elif event.type == "representative.registered":
        row = m.Representative(id=d["id"], name=d["name"], contact=d.get("contact"))
        found.append((m.Representative, row))
    elif event.type == "mandate.granted":
        row = m.Mandate(
            id=d["id"],
            representative_id=d["representative"],
            party_id=d["party"],
            valid_from=parse_time(d["valid_from"]),
            valid_until=None,
            credential=d["credential"],
        )
        found.append((m.Mandate, row))
    elif event.type == "key.registered":
        row = m.Key(
            id=d["id"],
            representative_id=d["representative"],
            public_key=base64.b64decode(d["public_key"]),
            valid_from=parse_time(d["valid_from"]),
            valid_until=None,
        )
        found.append((m.Key, row))
    else:  # a first signature or accession
        letter = d["letter"]
        row = m.Signature(
            id=d["id"],
            letter_id=d["letter"],
            party_id=d["party"],
            action=d["action"],
            version=d["version"],
            text_hash=d["text_hash"],
            at=event.at,
            evidence_kind=d["evidence"]["kind"],
            evidence=d["evidence"],
            representative_id=d.get("representative"),
            log_index=index,
        )
        found.append((m.Signature, row))
    record = m.EventRecord(
        log_index=index, type=event.type, at=event.at, letter_id=letter, party_id=party
    )
    found.append((m.EventRecord, record))
    return found


# -- the generator ---------------------------------------------------------------------


class Generator:
    """Records the data set, deterministically for a seed."""

    def __init__(self, seed: int, filler: Filler) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.f = filler
        self.valid_from = format_time(filler.at - timedelta(days=30))
        self.keys: dict[str, tuple[str, str, Ed25519PrivateKey]] = {}  # party: rep, key id
        self.serial = 0
        self.data = Dataset(seed)
        self._active: dict[tuple[str, str], str] = {}  # (letter, party): signature

    def new_id(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}-{self.seed:x}-{self.serial:08d}"

    # -- parties and keys --------------------------------------------------------------

    def party(self, id: str, kind: str, names: dict[str, str], code: str | None = None) -> None:
        data: dict[str, Any] = {"id": id, "kind": kind, "names": names}
        if code:
            data["code"] = code
        self.f.add("party.registered", data)

    def holder(self, party: str, label: str) -> None:
        """Give ``party`` a representative with a mandate and an Ed25519 key."""
        rep, key = f"rep-{label}", f"key-{label}"
        private = person_key(self.seed, label)
        self.f.add("representative.registered", {"id": rep, "name": f"Representative {label}"})
        self.f.add(
            "mandate.granted",
            {
                "id": f"mandate-{label}",
                "representative": rep,
                "party": party,
                "valid_from": self.valid_from,
                "credential": {
                    "kind": "letter",
                    "reference": f"BENCH/{label}",
                    "date": "2019-05-20",
                },
            },
        )
        public = private.public_key().public_bytes_raw()
        self.f.add(
            "key.registered",
            {
                "id": key,
                "representative": rep,
                "public_key": base64.b64encode(public).decode(),
                "valid_from": self.valid_from,
            },
        )
        self.keys[party] = (rep, key, private)

    # -- letters -----------------------------------------------------------------------

    def letter(self, id: str, title: str, lead: str, session: str | None) -> str:
        data: dict[str, Any] = {
            "id": id,
            "title": {"en": title},
            "addressees": ["President of the Bench Council"],
            "lead_party": lead,
            "date": "2019-07-08",
        }
        if session:
            data["session"] = session
        self.f.add("letter.created", data)
        texts = {"en": f"{title}: we, the undersigned, call for action. (Benchmark data.)"}
        digest = text_hash(texts)
        self.f.add(
            "letter.text_version_added",
            {"letter": id, "version": 1, "texts": texts, "text_hash": digest},
        )
        self.f.add("letter.opened", {"letter": id})
        return digest

    def sign(self, letter: str, digest: str, party: str, action: str = "sign") -> str:
        """Record ``party``'s signature: self-signed if it holds a key, else attested."""
        id = self.new_id("sig")
        data: dict[str, Any] = {
            "id": id,
            "action": action,
            "letter": letter,
            "version": 1,
            "text_hash": digest,
            "party": party,
        }
        if party in self.keys:
            data.update(self._self_signed(letter, digest, party, action))
        else:
            note = {"kind": "note-verbale", "reference": f"BENCH/NV/{id}", "date": "2019-07-08"}
            data["evidence"] = {"kind": "attested", "instrument": note}
        if action == "withdraw":
            data["withdraws"] = self._active.pop((letter, party))
            self.data.withdrawals += 1
        else:
            self._active[(letter, party)] = id
        self.f.add("signature.recorded", data)
        return id

    def _self_signed(self, letter: str, digest: str, party: str, action: str) -> dict[str, Any]:
        rep, key, private = self.keys[party]
        # Between the last event and the next: newer than the party's last act, older
        # than the event that records it.
        moment = self.f.at + STEP / 2
        statement = Statement(action, letter, 1, digest, party, rep, key, moment)
        signature = statement.sign(private)
        return {
            "representative": rep,
            "evidence": {
                "kind": "self-signed",
                "key": key,
                "statement": statement.to_json(),
                "signature": base64.b64encode(signature).decode(),
            },
        }

    def email_signature(self, letter: str, digest: str, party: str) -> None:
        email = f"{party}@bench.invalid"
        self.f.add(
            "signature.recorded",
            {
                "id": self.new_id("sig"),
                "action": "sign",
                "letter": letter,
                "version": 1,
                "text_hash": digest,
                "party": party,
                "evidence": {
                    "kind": "email-verified",
                    "email_sha256": hashlib.sha256(f"{letter}\n{email}".encode()).hexdigest(),
                    "confirmed_at": format_time(self.f.at),
                },
            },
        )

    def dispute(self, signature: str, party: str) -> None:
        id = self.new_id("dsp")
        note = {"kind": "note-verbale", "reference": f"BENCH/DSP/{id}", "date": "2019-07-10"}
        self.f.add(
            "dispute.filed",
            {
                "id": id,
                "signature": signature,
                "party": party,
                "statement": "We did not sign this letter.",
                "evidence": note,
            },
        )
        outcome = "upheld" if self.rng.random() < 0.5 else "dismissed"
        self.f.add("dispute.resolved", {"id": id, "outcome": outcome, "note": "Benchmark."})
        self.data.disputes += 1


def generate(
    signatures: int,
    seed: int = 2019,
    letters: int = 300,
    pool: int = 0,
    progress: Callable[[str], None] | None = None,
) -> Dataset:
    """Record the data set into the register (which must hold only the registrar's key)."""
    import time

    from cosignatory.core.states import all_states
    from cosignatory.web.register import models as m
    from cosignatory.web.register.services import initialise_register

    t0 = time.perf_counter()
    say = progress or (lambda message: None)
    initialise_register()
    last = m.EventRecord.objects.order_by("-log_index").values_list("at", flat=True).first()
    filler = Filler((last or datetime.now(UTC)) + timedelta(seconds=1))
    g = Generator(seed, filler)
    f = filler
    f.add(
        "body.created",
        {"id": BODY, "names": {"en": "Bench Council"}, "symbol_root": "BENCH/C"},
    )
    f.add(
        "session.created",
        {
            "id": SESSION,
            "body": BODY,
            "number": 41,
            "names": {"en": "Forty-first session (benchmark)"},
            "start": date(2019, 6, 24).isoformat(),
            "end": date(2019, 7, 12).isoformat(),
            "symbol_prefix": "BENCH/C/41/",
        },
    )
    states = [s.code for s in all_states()][:193]
    for found in all_states()[:193]:
        g.party(found.code, "state", dict(found.names), code=found.code)
    for code in states[::3]:
        g.holder(code, code.lower())
    for org in ORGANISATIONS:
        g.party(org, "organisation", {"en": f"Bench organisation {org[-1]}"})

    say(f"{letters} session letters signed by up to {len(states)} states")
    for n in range(letters):
        _session_letter(g, n, states)
    g.data.session_letters = letters
    for code in states[::3][::20]:  # 5 % of the mandates end
        f.add("mandate.ended", {"id": f"mandate-{code.lower()}", "reason": "Benchmark rotation."})
        del g.keys[code]

    say("the letter of 200 signatories")
    digest = g.letter(SMALL_LETTER, "Letter of 200 signatories", ORGANISATIONS[0], None)
    for code in states[:150]:
        g.sign(SMALL_LETTER, digest, code)
    for n in range(50):
        person = f"person-small-{n:04d}"
        g.party(person, "person", {"en": f"Signer {n}"})
        g.email_signature(SMALL_LETTER, digest, person)

    say(f"the open letter of {signatures:,} persons")
    digest = g.letter(BIG_LETTER, "Open letter of the many", ORGANISATIONS[1], None)
    g.data.big_text_hash = digest
    big_withdrawals = 0
    for n in range(signatures):
        person = f"person-{n:08d}"
        g.party(person, "person", {"en": f"Person {n}"})
        if n % 10 == 9:
            g.holder(person, f"p{n:08d}")
            g.sign(BIG_LETTER, digest, person)
            g.data.self_signed += 1
            if n % 5000 == 4999:  # 0.2 % of the self-signed withdraw
                g.sign(BIG_LETTER, digest, person, "withdraw")
                big_withdrawals += 1
        else:
            g.email_signature(BIG_LETTER, digest, person)
            g.data.email_verified += 1
        if n and n % 100_000 == 0:
            say(f"{n:,} signatures")
    g.data.signatures = signatures - big_withdrawals

    say(f"a letter signed by a tenth of them ({signatures // 10:,})")
    digest = g.letter(TENTH_LETTER, "Open letter of a tenth", ORGANISATIONS[2], None)
    for n in range(signatures // 10):
        g.email_signature(TENTH_LETTER, digest, f"person-{n:08d}")

    for n in range(pool):
        person = f"person-pool-{n:08d}"
        g.party(person, "person", {"en": f"Pool person {n}"})
        g.holder(person, f"pool{n:08d}")
        rep, key, _ = g.keys[person]
        g.data.pool.append(PoolSigner(person, rep, key, f"pool{n:08d}"))
    f.flush()
    g.data.events = f.count
    g.data.seconds = time.perf_counter() - t0
    return g.data


def _session_letter(g: Generator, n: int, states: list[str]) -> None:
    """One session letter: signed by 1 to 193 states, a few withdrawals and disputes."""
    rng = g.rng
    letter = f"bench-l{n:03d}"
    lead = states[rng.randrange(len(states))]
    digest = g.letter(letter, f"Joint letter {n}", lead, SESSION)
    count = 1 + int((len(states) - 1) * rng.random() ** 2)
    signers = rng.sample(states, count)
    if lead not in signers:
        signers[0] = lead
    ids = {party: g.sign(letter, digest, party) for party in signers}
    for party in signers:
        roll = rng.random()
        if roll < 0.02:
            g.sign(letter, digest, party, "withdraw")
        elif roll < 0.025 and party not in g.keys:
            g.dispute(ids[party], party)
    if n % 3 == 2:
        g.f.add("letter.closed", {"letter": letter})
