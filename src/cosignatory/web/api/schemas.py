"""The shapes of the API's requests and responses, which the OpenAPI document publishes.

Times are the events' format (UTC, microseconds, ``Z``), dates ``YYYY-MM-DD``, names
and texts maps from a UN language to text. Inputs are checked here only for their
shape; the register's rules (:mod:`cosignatory.core`) judge their meaning.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    WithJsonSchema,
)

from cosignatory.core import limits

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*$"  # one line, no control characters
MAX_INDEX = 1 << 62  # the largest log index or count the register uses

Id = Annotated[str, Field(pattern=ID_PATTERN, description="an identifier")]
Time = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
Day = Annotated[str, WithJsonSchema({"type": "string", "format": "date"})]
Names = Annotated[
    dict[str, str], Field(description="a name in one or more UN languages (ar zh en fr ru es)")
]
Line = Annotated[str, Field(max_length=500, pattern=TEXT_PATTERN)]
Language = Literal["ar", "zh", "en", "fr", "ru", "es"]
Int = Annotated[int, Strict()]  # JSON numbers only: "1" is not 1


def _in_utc(moment: datetime) -> datetime:
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is before the first UTC instant
        raise ValueError("the time is out of range") from None


Instant = Annotated[AwareDatetime, AfterValidator(_in_utc)]  # with its zone, then in UTC


class _In(Schema):
    """A request body: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


class _SignedIn(BaseModel):
    """A request body of the signing path, as :class:`_In` but a plain pydantic model.

    django-ninja's ``Schema`` runs a Python validator around every model it validates,
    to read attributes of ORM objects, which a JSON body never is: for the 500 models of
    a batch of 250 statements that was a seventh of the endpoint's time.
    """

    model_config = ConfigDict(extra="forbid")


# -- problems -------------------------------------------------------------------------


class ProblemDetail(Schema):
    loc: list[str]
    msg: str
    type: str


class Problem(Schema):
    """An RFC 9457 problem document; ``code`` is the stable error code."""

    type: str = Field(description="a URI that describes the code")
    title: str
    status: int
    detail: str
    code: str = Field(pattern=r"^E_[A-Z_]+$")
    instance: str = Field(description="the path of the request")
    errors: list[ProblemDetail] | None = Field(
        None, description="for E_REQUEST_INVALID: what is wrong, and where"
    )


class ProblemTypeOut(Schema):
    code: str
    status: int
    title: str


class ProblemTypePage(Schema):
    items: list[ProblemTypeOut]


# -- the index -----------------------------------------------------------------------


class Index(Schema):
    version: str
    openapi: str
    links: dict[str, str]


# -- reference data --------------------------------------------------------------------


class BodyOut(Schema):
    id: str
    names: Names
    symbol_root: str
    symbol_format: str | None


class SessionOut(Schema):
    id: str
    body: str
    number: int
    names: Names
    start: Day
    end: Day
    symbol_prefix: str


class PartyOut(Schema):
    id: str
    kind: Literal["state", "organisation", "person", "group"]
    names: Names
    code: str | None
    members: list[str]


# -- letters and documents ---------------------------------------------------------------


class LetterOut(Schema):
    id: str
    title: Names
    addressees: list[str]
    lead_party: str
    date: Day
    session: str | None
    status: str = Field(description="draft, open, closed, transmitted, registered, published")
    accessions_open: bool
    current_version: int = Field(description="0 until a text is added")
    transmitted_on: Day | None
    symbol: str | None
    registered_session: str | None
    created_at: Time


class TextVersionOut(Schema):
    letter: str
    version: int
    texts: dict[str, str]
    text_hash: str = Field(description="SHA-256 of the RFC 8785 JSON of the texts (hex)")
    created_at: Time


class DocumentOut(Schema):
    symbol: str
    letter: str
    kind: Literal["original", "Add", "Corr", "Rev"]
    of: str | None = Field(description="the symbol an Add., Corr. or Rev. refers to")
    number: int
    series: str | None
    session: str | None
    version: int | None
    note: str | None
    issued_at: Time
    cancelled_at: Time | None


class SignatoryOut(Schema):
    """One party's standing on the letter at the instant asked about (as ``cosignatory
    export --format json`` writes it)."""

    party: str
    party_name: str
    party_names: Names
    party_code: str | None
    kind: str
    action: Literal["sign", "accede"]
    version: int
    signed_at: Time
    evidence: Literal["self-signed", "attested", "email-verified"]
    evidence_detail: str
    representative: str | None
    withdrawn_at: Time | None
    on_earlier_version: bool
    voided: bool = Field(description="voided by an upheld dispute")
    active: bool = Field(description="counted: neither withdrawn nor voided")
    signature_id: str
    log_index: int


# -- events -------------------------------------------------------------------------------


class EventOut(Schema):
    """An event as logged (docs/formats/events.md)."""

    v: int
    type: str
    at: Time
    data: dict[str, Any]
    registrar: dict[str, str] = Field(description="the registrar's seal: key and sig")


class LogEntryOut(Schema):
    index: int
    leaf_hash: str = Field(description="RFC 6962 leaf hash of the entry (hex)")
    entry: str = Field(description="the entry's exact bytes (base64)")
    event: EventOut


class WriteResult(Schema):
    """What a write recorded: the event at ``log_index``. ``new`` is false when the same
    fact was recorded already (the event then is the one recorded first)."""

    log_index: int
    new: bool
    event: EventOut


# -- pages ---------------------------------------------------------------------------------

_NEXT = Field(description="the next page's path, or null on the last page")


class BodyPage(Schema):
    items: list[BodyOut]
    next: str | None = _NEXT


class SessionPage(Schema):
    items: list[SessionOut]
    next: str | None = _NEXT


class PartyPage(Schema):
    items: list[PartyOut]
    next: str | None = _NEXT


class LetterPage(Schema):
    items: list[LetterOut]
    next: str | None = _NEXT


class TextVersionPage(Schema):
    items: list[TextVersionOut]
    next: str | None = _NEXT


class DocumentPage(Schema):
    items: list[DocumentOut]
    next: str | None = _NEXT


class LogEntryPage(Schema):
    items: list[LogEntryOut]
    next: str | None = _NEXT


class SignatoryPage(Schema):
    letter: str
    as_of: Time | None = Field(description="the instant the list is as of; null: now")
    count: int = Field(description="rows in the whole list, not only this page")
    active: int = Field(description="rows counted as signatories in the whole list")
    items: list[SignatoryOut]
    next: str | None = _NEXT


# -- signed statements ------------------------------------------------------------------------


class StatementBody(_SignedIn):
    """What a representative signs (docs/formats/events.md, "Evidence")."""

    v: Literal[1]
    kind: Literal["cosignatory.statement"]
    action: Literal["sign", "accede", "withdraw"]
    letter: Id
    version: Int = Field(ge=1, le=10_000)
    text_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    party: Id
    representative: Id
    key: Id
    at: str = Field(
        pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$",
        description="the signer's time, UTC with microseconds",
    )


class SignedStatementIn(_SignedIn):
    """A statement file (``cosignatory sign``): the statement and its Ed25519 signature."""

    statement: StatementBody
    signature: str = Field(
        pattern=r"^[A-Za-z0-9+/]{85}[AQgw]==$",  # canonical: the padding bits are zero
        description="Ed25519 signature (base64, 64 bytes)",
    )


# -- the registrar's writes ---------------------------------------------------------------------


class Instrument(_In):
    """The document an act was received by, e.g. a note verbale."""

    kind: Literal["note-verbale", "letter", "email", "fax", "in-person"]
    reference: Line
    date: date


class BodyIn(_In):
    id: Id
    names: Names
    symbol_root: Line
    symbol_format: Line | None = None


class SessionIn(_In):
    id: Id
    body: Id
    number: Int = Field(ge=1, le=100_000)
    names: Names
    start: date
    end: date
    symbol_prefix: Line


class PartyIn(_In):
    id: Id
    kind: Literal["state", "organisation", "person", "group"]
    names: Names
    code: Line | None = None
    contact: Line | None = Field(None, description="email address for notices")
    members: list[Id] | None = Field(None, description="a group's member parties")
    allow_confusable: bool = Field(
        False,
        description="record the name even if it looks like a registered one "
        "(otherwise 409 E_NAME_CONFUSABLE)",
    )


class StateIn(_In):
    code: str = Field(pattern=r"^[A-Za-z]{3}$", description="ISO 3166-1 alpha-3")
    contact: Line | None = None
    allow_confusable: bool = Field(
        False,
        description="record the name even if it looks like a registered one "
        "(otherwise 409 E_NAME_CONFUSABLE)",
    )


class ContactIn(_In):
    contact: Line | None = Field(description="email address for notices; null: none")


class RepresentativeIn(_In):
    id: Id
    name: Line
    contact: Line | None = None
    allow_confusable: bool = Field(
        False,
        description="record the name even if it looks like a registered one "
        "(otherwise 409 E_NAME_CONFUSABLE)",
    )


class MandateIn(_In):
    id: Id
    representative: Id
    party: Id
    valid_from: Instant
    valid_until: Instant | None = None
    credential: Instrument


class KeyIn(_In):
    id: Id
    representative: Id
    public_key: str = Field(
        pattern=r"^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$",  # canonical: padding bits zero
        description="Ed25519 public key (base64, 32 bytes)",
    )
    valid_from: Instant
    valid_until: Instant | None = None


class ReasonIn(_In):
    reason: Line


class LetterIn(_In):
    id: Id
    title: Names
    addressees: list[Line] = Field(min_length=1, max_length=limits.ADDRESSEES_MAX)
    lead_party: Id
    date: date
    session: Id | None = None


class TextVersionIn(_In):
    texts: dict[Language, str] = Field(description="Markdown in one or more UN languages")


class TransmitIn(_In):
    date: date


class RegisterIn(_In):
    session: Id
    series: str = Field(pattern=r"^[A-Z][A-Z0-9]{0,9}$", examples=["G"])


class IssueIn(_In):
    kind: Literal["Add", "Corr", "Rev"]
    version: Int | None = Field(None, ge=1, le=10_000, description="Corr. and Rev.")
    note: Line | None = None


class AttestedIn(_In):
    party: Id
    action: Literal["sign", "accede", "withdraw"]
    instrument: Instrument
    representative: Id | None = None


class DisputeIn(_In):
    signature: Id
    party: Id
    statement: str = Field(min_length=1, max_length=500)
    instrument: Instrument


class ResolveIn(_In):
    outcome: Literal["upheld", "dismissed"]
    note: Line
