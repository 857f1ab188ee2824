"""schemathesis hooks for the Procard run of tests/fuzz/schemathesis.sh.

Procard requests are authenticated by a signature over some of their own fields, which no
generator can guess: without this hook every generated request would stop at -4 (bad signature)
and the validation behind it would never be reached. Before each call, a body naming the fuzz
merchant's login gets the signature the server expects over the fields as generated (their text
as the server reads it), so generated values reach the handlers. The key comes from
PAYLINK_FUZZ_PROCARD_KEY.
"""

import hashlib
import hmac
import json
import os

import schemathesis

KEY = os.environ.get("PAYLINK_FUZZ_PROCARD_KEY", "")
LOGIN = os.environ.get("PAYLINK_FUZZ_PROCARD_LOGIN", "")

# The fields each operation signs, in order (docs/procard-api.md).
SIGNED = {
    "/permanent-links/list": ("merchant_id",),
    "/permanent-links/create": ("merchant_id", "operation", "amount", "language"),
    "/permanent-links/update": ("merchant_id", "id", "amount", "language"),
    "/permanent-links/operations": ("merchant_id", "id"),
}


def as_text(value):
    """A field's text as the server reads it: strings as they are, numbers as their JSON text,
    booleans as 1/0, absent and null as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, str):
        return value
    return json.dumps(value)


@schemathesis.hook
def before_call(context, case, kwargs):
    fields = SIGNED.get(case.operation.path)
    body = case.body
    if not fields or not KEY or not isinstance(body, dict) or body.get("merchant_id") != LOGIN:
        return
    # paylink's own callback_url is signed after them whenever it is sent, empty too (a JSON
    # null is no field; docs/procard-api.md).
    if case.operation.path in ("/permanent-links/create", "/permanent-links/update") and (
        body.get("callback_url") is not None
    ):
        fields = fields + ("callback_url",)
    message = ";".join(as_text(body.get(f)) for f in fields)
    body["signature"] = hmac.new(KEY.encode(), message.encode(), hashlib.sha512).hexdigest()
