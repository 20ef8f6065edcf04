"""Users, the connected app, sessions and the OAuth token endpoint.

``POST /services/oauth2/token`` serves the JWT bearer, username-password, refresh-token and
authorization-code (web server flow, with PKCE: :mod:`.web_login`) grants with Salesforce's
response and error shapes; ``POST /services/oauth2/revoke`` revokes a token (a refresh
token with every access token issued from it). Credentials are generated on the first
start and kept in the state directory's database; tokens are opaque random strings.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from runner.errors import SandboxError
from runner.sandbox.salesforce import ids
from runner.sandbox.salesforce.errors import OAuthError
from runner.sandbox.salesforce.store import OrgStore
from runner.sandbox.salesforce.web_login import KNOWN_SCOPES, ConnectedAppPolicy, WebLogin

__all__ = ["ORG_ID", "Auth", "ConnectedApp", "OAuthError", "User"]

ORG_ID = ids.make_id("00D", 1)
PUBLIC_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")
JWT_SKEW_SECONDS = 180
REFRESH_TTL_SECONDS = 90 * 24 * 3600


@dataclass(frozen=True)
class User:
    id: str
    username: str
    password: str
    security_token: str
    first_name: str
    last_name: str

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def as_dict(self) -> dict:
        return {"id": self.id, "username": self.username, "password": self.password,
                "security_token": self.security_token}


@dataclass(frozen=True)
class ConnectedApp:
    consumer_key: str
    consumer_secret: str
    private_key_file: Path
    certificate_file: Path


@dataclass
class Session:
    token: str
    kind: str
    user_id: str
    expires_at: float | None
    parent: str | None = None  # the refresh token an access token was issued from


def _credentials(store: OrgStore) -> dict:
    saved = store.get_setting("credentials")
    if isinstance(saved, dict):
        return saved
    users = []
    for number, (username, first, last) in enumerate(
        [("integration@fieldbridge.test", "Fieldbridge", "Integration"),
         ("admin@fieldbridge.test", "Avery", "Admin")], start=1):
        users.append({"id": ids.make_id("005", number), "username": username,
                      "password": secrets.token_urlsafe(12),
                      "security_token": secrets.token_hex(12), "first_name": first,
                      "last_name": last})
    saved = {
        "users": users,
        "consumer_key": "3MVG9" + secrets.token_urlsafe(60).replace("-", "A").replace("_", "b"),
        "consumer_secret": secrets.token_hex(32).upper(),
        "admin_token": secrets.token_urlsafe(24),
    }
    store.set_setting("credentials", saved)
    return saved


def _ensure_jwt_key(state_dir: Path) -> tuple[Path, Path]:
    key_file, cert_file = state_dir / "jwt_private_key.pem", state_dir / "jwt_cert.pem"
    if key_file.exists() and cert_file.exists():
        return key_file, cert_file
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Fieldbridge connected app")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    key_file.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    key_file.chmod(0o600)
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


class Auth:
    def __init__(self, store: OrgStore, state_dir: Path, *, session_ttl: float,
                 connected_apps: Sequence[Mapping] = ()) -> None:
        self.store = store
        self.session_ttl = session_ttl
        creds = _credentials(store)
        self.users = [User(u["id"], u["username"], u["password"], u["security_token"],
                           u["first_name"], u["last_name"]) for u in creds["users"]]
        key_file, cert_file = _ensure_jwt_key(state_dir)
        self.app = ConnectedApp(creds["consumer_key"], creds["consumer_secret"], key_file,
                                cert_file)
        self.admin_token: str = creds["admin_token"]
        # The sandbox's own app is a native app: any loopback redirect (RFC 8252 7.3).
        own = ConnectedAppPolicy("Fieldbridge", self.app.consumer_key,
                                 self.app.consumer_secret, scopes=KNOWN_SCOPES, loopback=True)
        self.web = WebLogin([own, *(ConnectedAppPolicy.from_metadata(a)
                                    for a in connected_apps)])
        public_key = x509.load_pem_x509_certificate(cert_file.read_bytes()).public_key()
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise SandboxError(f"{cert_file}: the JWT bearer certificate must hold an RSA key "
                               "(assertions are RS256); delete it to have a new one made")
        self._public_key: rsa.RSAPublicKey = public_key
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {
            row["token"]: Session(row["token"], row["kind"], row["user_id"], row["expires_at"],
                                  row.get("parent"))
            for row in store.load_sessions()
        }

    @property
    def integration_user(self) -> User:
        return self.users[0]

    def user_by_name(self, username: str) -> User | None:
        return next((u for u in self.users if u.username.lower() == username.lower()), None)

    # -- sessions ------------------------------------------------------------------------
    def issue(self, user: User, kind: str = "access", *, parent: str | None = None) -> str:
        secret = secrets.token_urlsafe(72 if kind == "access" else 48)
        token = f"{ORG_ID[:15]}!{secret}" if kind == "access" else f"5Aep861{secret}"
        ttl = self.session_ttl if kind == "access" else REFRESH_TTL_SECONDS
        expires = time.time() + ttl
        with self._lock:
            self._sessions[token] = Session(token, kind, user.id, expires, parent)
        self.store.save_session(token, kind, user.id, expires, parent)
        return token

    def revoke(self, token: str) -> None:
        """``POST /services/oauth2/revoke``: an access token alone, or a refresh token and
        every access token issued from it (Salesforce's "Revoke OAuth Tokens")."""
        if not token:
            raise OAuthError("unsupported_token_type", "Token type not supported")
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                raise OAuthError("invalid_token", "Token was invalid")
            gone = [token] + [s.token for s in self._sessions.values() if s.parent == token]
            for revoked in gone:
                del self._sessions[revoked]
        self.store.delete_sessions(gone)

    def user_for_token(self, token: str, kind: str = "access") -> User | None:
        with self._lock:
            session = self._sessions.get(token)
        if session is None or session.kind != kind:
            return None
        if session.expires_at is not None and session.expires_at <= time.time():
            return None
        return next((u for u in self.users if u.id == session.user_id), None)

    def expire_sessions(self) -> None:
        now = time.time()
        with self._lock:
            for session in self._sessions.values():
                if session.kind == "access":
                    session.expires_at = now
        self.store.expire_sessions(now)

    # -- the token endpoint ------------------------------------------------------------
    def token_response(self, form: dict[str, str], *, login_url: str,
                       instance_url: str) -> dict:
        grant = form.get("grant_type", "")
        if grant == "authorization_code":
            user_id, request = self.web.redeem(form)
            approver = next(u for u in self.users if u.id == user_id)
            scope = " ".join(request.scope)
            return self._response(approver, login_url, instance_url,
                                  refresh="refresh_token" in request.scope
                                  or "offline_access" in request.scope, scope=scope)
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            user = self._jwt_user(form.get("assertion", ""), login_url)
            return self._response(user, login_url, instance_url, refresh=False,
                                  scope="api web full refresh_token")
        if grant == "password":
            self._check_client(form, secret_required=True)
            named = self.user_by_name(form.get("username", ""))
            if named is None or form.get("password", "") not in (
                named.password + named.security_token, named.password
            ):
                raise OAuthError("invalid_grant", "authentication failure")
            return self._response(named, login_url, instance_url, refresh=True,
                                  scope="api web full refresh_token")
        if grant == "refresh_token":
            self._check_client(form, secret_required=False)
            refresh_token = form.get("refresh_token", "")
            holder = self.user_for_token(refresh_token, kind="refresh")
            if holder is None:
                raise OAuthError("invalid_grant", "expired access/refresh token")
            return self._response(holder, login_url, instance_url, refresh=False,
                                  scope="api web full refresh_token", parent=refresh_token)
        if not grant:
            raise OAuthError("invalid_request", "grant type not specified")
        raise OAuthError("unsupported_grant_type", "grant type not supported")

    def _check_client(self, form: dict[str, str], *, secret_required: bool) -> None:
        app = self.web.app(form.get("client_id", ""))
        if app is None:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        secret = form.get("client_secret")
        if (secret_required or secret is not None) and not hmac.compare_digest(
            str(secret or ""), app.consumer_secret
        ):
            raise OAuthError("invalid_client", "invalid client credentials")

    def _jwt_user(self, assertion: str, login_url: str) -> User:
        if not assertion:
            raise OAuthError("invalid_request", "assertion is required")
        try:
            claims = jwt.decode(
                assertion, self._public_key, algorithms=["RS256"],
                # exp is checked below: Salesforce accepts it as a numeric string too.
                options={"verify_exp": False, "verify_aud": False, "verify_iss": False,
                         "verify_nbf": False, "verify_iat": False},
            )
        except jwt.PyJWTError:
            raise OAuthError("invalid_grant", "invalid assertion") from None
        if claims.get("iss") != self.app.consumer_key:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        audiences = claims.get("aud")
        audiences = audiences if isinstance(audiences, list) else [audiences]
        allowed = {login_url.rstrip("/"), *PUBLIC_AUDIENCES}
        if not any(isinstance(a, str) and a.rstrip("/") in allowed for a in audiences):
            raise OAuthError("invalid_grant", "audience is invalid")
        try:
            exp = float(claims["exp"])
        except (KeyError, TypeError, ValueError):
            raise OAuthError("invalid_grant", "invalid assertion") from None
        if exp + JWT_SKEW_SECONDS < time.time():
            raise OAuthError("invalid_grant", "expired authorization code")
        user = self.user_by_name(str(claims.get("sub", "")))
        if user is None:
            raise OAuthError("invalid_grant", "user hasn't approved this consumer")
        return user

    def identity(self, user: User, *, login_url: str, instance_url: str) -> dict:
        """The identity URL's answer (``GET /id/<orgId>/<userId>``): who the session is."""
        base = f"{instance_url}/services/data/v{{version}}"
        return {
            "id": f"{login_url}/id/{ORG_ID}/{user.id}", "asserted_user": True,
            "user_id": user.id, "organization_id": ORG_ID, "username": user.username,
            "nick_name": user.first_name.lower(), "display_name": user.display_name,
            "email": user.username, "first_name": user.first_name,
            "last_name": user.last_name, "active": True, "user_type": "STANDARD",
            "language": "en_US", "locale": "en_US", "utcOffset": 0,
            "urls": {"rest": base + "/", "sobjects": base + "/sobjects/",
                     "query": base + "/query/",
                     "profile": f"{instance_url}/{user.id}"},
        }

    def userinfo(self, user: User, *, login_url: str, instance_url: str) -> dict:
        """``GET /services/oauth2/userinfo``: the OpenID Connect form of the identity."""
        identity = self.identity(user, login_url=login_url, instance_url=instance_url)
        return {"sub": identity["id"], "user_id": user.id, "organization_id": ORG_ID,
                "preferred_username": user.username, "nickname": identity["nick_name"],
                "name": user.display_name, "email": user.username, "email_verified": True,
                "given_name": user.first_name, "family_name": user.last_name,
                "zoneinfo": "GMT", "locale": "en_US", "active": True,
                "user_type": "STANDARD", "language": "en_US", "utcOffset": 0,
                "urls": identity["urls"]}

    def _response(self, user: User, login_url: str, instance_url: str, *, refresh: bool,
                  scope: str, parent: str | None = None) -> dict:
        issued_at = str(int(time.time() * 1000))
        identity = f"{login_url}/id/{ORG_ID}/{user.id}"
        signature = base64.b64encode(hmac.new(
            self.app.consumer_secret.encode(), (identity + issued_at).encode(), hashlib.sha256
        ).digest()).decode()
        refresh_token = self.issue(user, kind="refresh") if refresh else None
        body = {"access_token": self.issue(user, parent=refresh_token or parent),
                "instance_url": instance_url, "id": identity, "token_type": "Bearer",
                "issued_at": issued_at, "signature": signature, "scope": scope}
        if refresh_token is not None:
            body["refresh_token"] = refresh_token
        return body
