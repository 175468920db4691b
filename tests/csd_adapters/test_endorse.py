"""The reference CSD endorses block headers of the hub's ledger only: canonical ones (as the hub's
verifier writes them), naming it, and one per height, with a clear HTTP status for each refusal."""

import base64
import datetime as dt
import io
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from csd_adapters import headers
from csd_adapters.base import HeightEndorsedOtherwise, NotABlockHeader
from csd_adapters.profiles import PROFILES
from csd_adapters.reference_csd.ledger import Ledger
from csd_adapters.reference_csd.service import ReferenceCsd
from hub.ledger import verifier

HEX64 = st.text("0123456789abcdef", min_size=64, max_size=64)
CODES = st.lists(
    st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_", min_size=2, max_size=16), min_size=1, max_size=6
)
MOMENTS = st.datetimes(timezones=st.just(dt.UTC))

header_fields = st.fixed_dictionaries(
    {
        "version": st.just(verifier.HEADER_VERSION),
        "height": st.integers(min_value=1, max_value=2**63),
        "previous_hash": HEX64,
        "merkle_root": HEX64,
        "entry_count": st.integers(min_value=1, max_value=10**6),
        "sealed_at": MOMENTS.map(verifier.time_text),
        "hub_key_id": st.text("0123456789abcdef", min_size=16, max_size=16),
        "csds": CODES.map(lambda codes: sorted(set(codes))),
    }
)


def test_the_csd_knows_the_fields_and_version_of_the_hubs_headers():
    assert set(verifier.HEADER_FIELDS) == headers.HEADER_FIELDS
    assert headers.HEADER_VERSION == verifier.HEADER_VERSION


@given(header_fields)
def test_every_header_the_hubs_verifier_writes_is_read_back_as_it_was(header):
    data = verifier.header_bytes(header)
    assert headers.canonical(header) == data
    assert headers.read_header(data) == header
    assert headers.header_hash(data) == verifier.block_hash(header)


@given(
    header_fields,
    st.sampled_from(sorted(verifier.HEADER_FIELDS)),
    st.one_of(st.none(), st.booleans(), st.text(max_size=3)),
)
def test_a_header_with_a_field_out_of_its_form_is_no_header(header, name, value):
    if header[name] == value:
        return
    with pytest.raises(NotABlockHeader):
        headers.read_header(headers.canonical(header | {name: value}))


class Served:
    """A reference CSD's WSGI application, called in this process."""

    def __init__(self, tmp_path, code: str = "NSD", *, admin_token: str | None = None) -> None:
        self.ledger = Ledger(f"sqlite:///{tmp_path / code}.sqlite3")
        self.app = ReferenceCsd(PROFILES[code], self.ledger, admin_token=admin_token)

    def post(self, path: str, body: bytes, *, token: str = "", method: str = "POST") -> tuple[str, bytes]:
        answer = {}
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            "HTTP_X_ADMIN_TOKEN": token,
        }
        reply = b"".join(self.app(environ, lambda status, _headers: answer.update(status=status)))
        return answer["status"], reply


def header_at(height: int, *, root: str = "11" * 32, csds: tuple[str, ...] = ("NSD", "STRATE")) -> bytes:
    return verifier.header_bytes(
        {
            "version": 1,
            "height": height,
            "previous_hash": "ab" * 32,
            "merkle_root": root,
            "entry_count": 3,
            "sealed_at": "2026-11-26T09:00:00.000000Z",
            "hub_key_id": "0123456789abcdef",
            "csds": list(csds),
        }
    )


def test_the_csd_signs_a_header_naming_it_and_the_same_header_again(tmp_path):
    csd = Served(tmp_path)
    header = header_at(7)
    first, again = csd.post("/endorse", header), csd.post("/endorse", header)
    assert first == again and first[0] == "200 OK"
    answer = json.loads(first[1])
    assert answer["key_id"] == csd.ledger.key_id
    public_key, signature = csd.ledger.public_key, bytes.fromhex(answer["signature"])
    assert verifier.signature_holds(
        base64.b64encode(public_key).decode(), header, base64.b64encode(signature).decode()
    )


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        (b"I, NSD, owe the hub 1,000,000 USD", "400 Bad Request", "not JSON"),
        (header_at(7).replace(b",", b", "), "400 Bad Request", "not in canonical form"),
        (header_at(7, csds=("STRATE",)), "422 Unprocessable Content", "block 7 names STRATE, not NSD"),
        (header_at(7, root="22" * 32), "409 Conflict", "NSD endorsed block"),
    ],
)
def test_what_the_csd_does_not_endorse_is_refused_with_a_status_that_says_why(tmp_path, body, status, says):
    csd = Served(tmp_path)
    assert csd.post("/endorse", header_at(7))[0] == "200 OK"
    answer = csd.post("/endorse", body)
    assert answer[0] == status and says in answer[1].decode()


def test_the_height_a_csd_endorsed_is_remembered_in_its_own_database(tmp_path):
    Served(tmp_path).ledger.endorse(header_at(9), csd="NSD")
    restarted = Served(tmp_path).ledger
    with pytest.raises(HeightEndorsedOtherwise, match="at height 9"):
        restarted.endorse(header_at(9, root="33" * 32), csd="NSD")


def test_the_csds_operator_releases_what_it_endorsed_from_a_height_up_and_only_with_the_admin_token(tmp_path):
    # the hub lost blocks 8 and 9 after this CSD endorsed them, and sealed those heights again
    csd = Served(tmp_path, admin_token="s3cret")
    for height in (7, 8, 9):
        assert csd.post("/endorse", header_at(height))[0] == "200 OK"
    resealed = {height: header_at(height, root="44" * 32) for height in (7, 8, 9)}
    assert csd.post("/endorse", resealed[8])[0] == "409 Conflict"
    release = json.dumps({"from_height": 8}).encode()
    assert csd.post("/admin/endorsements/release", release)[0] == "403 Forbidden"
    assert (
        csd.post("/admin/endorsements/release", b'{"from_height": 0}', token="s3cret")[0] == "400 Bad Request"
    )
    status, answer = csd.post("/admin/endorsements/release", release, token="s3cret")
    assert status == "200 OK"
    assert json.loads(answer) == {
        "from_height": 8,
        "released": 2,
        "highest": 7,
        "heights": 1,
        "heights_released": 2,
    }
    assert csd.post("/endorse", resealed[8])[0] == csd.post("/endorse", resealed[9])[0] == "200 OK"
    # once released, a height is endorsed once again: the header endorsed now is the one it keeps
    assert csd.post("/endorse", header_at(8))[0] == "409 Conflict"
    assert csd.post("/endorse", resealed[7])[0] == "409 Conflict"  # below the release: as before
    status, answer = csd.post("/admin/endorsements", b"", token="s3cret", method="GET")
    assert (status, json.loads(answer)) == ("200 OK", {"highest": 9, "heights": 3, "heights_released": 2})
