"""schemathesis hooks for the Card API run of tests/fuzz/schemathesis.sh.

Every Card API request is authenticated by `X-JWS-Signature`, a detached JWS (HS512) over the
request's path and its exact body bytes (docs/card-api.md, "Signatures"), which no generator can
guess: without this hook every generated request would stop at 401 and the handlers would never
be reached. Before each call the hook serialises the generated body once, signs those bytes with
the fuzz partner's key, and hands schemathesis the same bytes to send (a `data` argument replaces
schemathesis's own JSON serialisation, which is not guaranteed to produce the bytes signed).

It also gives most requests a fresh `request_id`, so that they get past the duplicate check to
the validation and the rules behind it; the two status lookups instead mostly name a request
sent earlier, so that they find something. Generated ids that are not valid request ids are kept
as they are (their refusal is what those cases test), and a few valid ones too (so that the
duplicate check answers some).

The partner comes from PAYLINK_CARDAPI_AUTH_ID and PAYLINK_CARDAPI_KEY.
"""

import base64
import collections
import hashlib
import hmac
import json
import os
import random
import re
import uuid
from urllib.parse import urlencode, urlsplit

import schemathesis
from schemathesis.core import NotSet
from schemathesis.transport.serialization import Binary

AUTH_ID = os.environ.get("PAYLINK_CARDAPI_AUTH_ID", "")
KEY = os.environ.get("PAYLINK_CARDAPI_KEY", "")

# The lookups whose request_id names an earlier request instead of this one.
REQUEST_STATUS = "/v5/card-api/request/status"
TRANSACTION_REQUEST_STATUS = "/v5/card-api/transaction/request/status"

# The server's rule for a request id (core `check_request_id`, the document's RequestId).
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

# How often a valid generated request_id is replaced by a fresh one, and how often a status
# lookup names an earlier request rather than what was generated.
FRESH_SHARE = 0.9
EARLIER_SHARE = 0.8

# Not seeded from Hypothesis: fresh ids must differ from run to run anyway (the server's are
# unique per partner for good), so these choices cannot make a run reproducible either way.
rng = random.Random()
# Request ids sent by the other methods, newest last; the transaction ones apart, for
# transaction/request/status.
sent = collections.deque(maxlen=2000)
sent_transactions = collections.deque(maxlen=2000)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign(uri: str, params: str, body: bytes, method: str = "POST") -> str:
    """The `X-JWS-Signature` value: the header compact and in the documented key order (what
    partners' signers write; the server checks the header as received either way)."""
    header = json.dumps(
        {"uri": uri, "auth_id": AUTH_ID, "method": method, "params": params, "alg": "HS512"},
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    signing_input = f"{b64url(header)}.{b64url(body)}".encode("ascii")
    mac = hmac.new(KEY.encode(), signing_input, hashlib.sha512).digest()
    return f"{b64url(header)}..{b64url(mac)}"


def body_bytes(body):
    """The bytes to send for a generated body, as schemathesis would serialise it for JSON
    (`requests`' `json=`); `None` when there is no body."""
    if isinstance(body, NotSet):
        return None
    if isinstance(body, bytes):
        return body
    if isinstance(body, Binary):
        body = str(body)
    try:
        return json.dumps(body, allow_nan=False).encode()
    except ValueError:
        # NaN or infinity: not JSON, which is the server's to refuse (400).
        return json.dumps(body).encode()


def choose_request_id(path: str, generated):
    """The request_id to send instead of the generated one."""
    if path in (REQUEST_STATUS, TRANSACTION_REQUEST_STATUS):
        earlier = sent_transactions if path == TRANSACTION_REQUEST_STATUS else sent
        if generated in earlier:
            # Named by an OpenAPI link from the request just sent: keep it.
            return generated
        if earlier and rng.random() < EARLIER_SHARE:
            return rng.choice(earlier)
        return generated
    if isinstance(generated, str) and REQUEST_ID.fullmatch(generated):
        if rng.random() < FRESH_SHARE:
            return str(uuid.uuid4())
    return generated


@schemathesis.hook
def before_call(context, case, kwargs):
    path = case.formatted_path
    body = case.body
    if isinstance(body, dict) and "request_id" in body:
        request_id = choose_request_id(case.operation.path, body["request_id"])
        body["request_id"] = request_id
        lookup = case.operation.path in (REQUEST_STATUS, TRANSACTION_REQUEST_STATUS)
        if not lookup and isinstance(request_id, str) and REQUEST_ID.fullmatch(request_id):
            sent.append(request_id)
            if "/transaction/" in path or "/sandbox/" in path:
                sent_transactions.append(request_id)
    if not KEY or not AUTH_ID:
        # Unsigned, every request would stop at 401: a run without the partner is a mistake.
        raise RuntimeError("PAYLINK_CARDAPI_AUTH_ID and PAYLINK_CARDAPI_KEY must be set")
    data = body_bytes(body)
    if data is not None:
        kwargs["data"] = data
    # The path as the server sees it: the base URL's own path, if any, comes first.
    uri = urlsplit(case.operation.schema.get_base_url()).path.rstrip("/") + path
    # No query is documented; were one generated, `params` must be it as sent.
    query = case.query if isinstance(case.query, dict) else None
    params = urlencode(query, doseq=True) if query else ""
    if case.headers is None:
        case.headers = {}
    # The method as sent: POST, but the coverage phase also probes other methods (405).
    method = str(case.method).upper()
    case.headers["X-JWS-Signature"] = sign(uri, params, data if data is not None else b"", method)
