"""A software WebAuthn authenticator for tests: real EC P-256 keys, real CBOR, real
signatures, so the server's verification (py_webauthn) runs exactly as for a browser.

`create(options)` answers creation options (WebAuthn JSON, as the server sends them) with a
"none" attestation; `get(options)` answers request options with an assertion signed by a
credential it holds. Both return WebAuthn JSON (RegistrationResponseJSON,
AuthenticationResponseJSON), what a browser's `credential.toJSON()` gives."""

import base64
import copy
import hashlib
import json
import os
import struct
from dataclasses import dataclass

import cbor2
import pyotp
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Credential:
    id: bytes
    key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    sign_count: int = 0


class SoftAuthenticator:
    """A platform authenticator with resident keys and user verification.

    `counter_step=0` behaves like authenticators that never count (synced passkeys)."""

    def __init__(self, origin: str, *, counter_step: int = 1, backup: bool = False):
        self.origin = origin
        self.counter_step = counter_step
        self.backup = backup
        self.credentials: list[Credential] = []

    def clone(self) -> "SoftAuthenticator":
        """A copy of this authenticator, keys and counters included (what cloning does)."""
        return copy.deepcopy(self)

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin or self.origin},
            separators=(",", ":"),
        ).encode()

    def _flags(self, uv: bool, extra: int = 0) -> int:
        flags = UP | extra
        if uv:
            flags |= UV
        if self.backup:
            flags |= BE | BS
        return flags

    def create(self, options: dict, *, uv: bool = True, origin: str | None = None) -> dict:
        options = options.get("publicKey", options)
        rp_id = options["rp"]["id"]
        key = ec.generate_private_key(ec.SECP256R1())
        credential = Credential(
            id=os.urandom(32),
            key=key,
            rp_id=rp_id,
            user_handle=unb64url(options["user"]["id"]),
        )
        numbers = key.public_key().public_numbers()
        cose_key = {
            1: 2,  # kty: EC2
            3: -7,  # alg: ES256
            -1: 1,  # crv: P-256
            -2: numbers.x.to_bytes(32, "big"),
            -3: numbers.y.to_bytes(32, "big"),
        }
        auth_data = (
            hashlib.sha256(rp_id.encode()).digest()
            + bytes([self._flags(uv, AT)])
            + struct.pack(">I", credential.sign_count)
            + bytes(16)  # AAGUID: none
            + struct.pack(">H", len(credential.id))
            + credential.id
            + cbor2.dumps(cose_key)
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        self.credentials.append(credential)
        return {
            "id": b64url(credential.id),
            "rawId": b64url(credential.id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": ["internal"],
            },
        }

    def get(
        self,
        options: dict,
        *,
        uv: bool = True,
        origin: str | None = None,
        credential: Credential | None = None,
        sign_count: int | None = None,
    ) -> dict:
        options = options.get("publicKey", options)
        rp_id = options.get("rpId")
        if credential is None:
            allowed = {unb64url(c["id"]) for c in options.get("allowCredentials") or []}
            matching = [
                c for c in self.credentials if c.rp_id == rp_id and (not allowed or c.id in allowed)
            ]
            credential = matching[-1]
        if sign_count is None:
            credential.sign_count += self.counter_step
            sign_count = credential.sign_count
        auth_data = (
            hashlib.sha256(rp_id.encode()).digest()
            + bytes([self._flags(uv)])
            + struct.pack(">I", sign_count)
        )
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signature = credential.key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return {
            "id": b64url(credential.id),
            "rawId": b64url(credential.id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(credential.user_handle),
            },
        }


def totp_now(secret: str, *, offset_steps: int = 0) -> str:
    """The code an authenticator app shows for `secret` (following the portal's clock)."""
    from portal import clock

    moment = clock.utcnow().timestamp() + offset_steps * 30
    return pyotp.TOTP(secret).at(moment)
