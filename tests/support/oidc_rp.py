"""A relying party for tapbridge's OpenID Connect tests, built on Authlib, the way an
application would use it: a small web application that signs its users in with tapbridge.

It prints "ready <port>" once it listens on 127.0.0.1, then waits for POST /configure (the
test registers the application once the port is known). Pages:

  GET /login[?break=MODE&prompt=…]  starts an authorization (code + PKCE S256, state, nonce)
  GET /callback                     redeems the code with Authlib, validates the ID token
                                    (signature from the JWKS, iss, aud, nonce, exp, at_hash),
                                    calls UserInfo; shows who signed in (or, with a break
                                    MODE, what went wrong on purpose)
  GET /refresh                      refresh-token rotation and reuse detection
  GET /client-credentials           an application token, then a Graph-style call with it
  GET /logout, /logged-out          RP-initiated logout and its return

Every JSON answer is what the Rust test asserts on. Break modes, each a negative case:
  verifier  redeem with a wrong PKCE verifier                (expect invalid_grant)
  reuse     redeem the code twice                            (expect invalid_grant, and the
                                                              first tokens revoked)
  redirect  redeem with another redirect_uri                 (expect invalid_grant)
  nonce     validate the ID token against another nonce      (expect Authlib to refuse it)
  none      present an unsigned ("alg": "none") copy of the access token to UserInfo
"""

import base64
import html
import json
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from authlib.oidc.core import CodeIDToken

CONFIG = {}
PENDING = {}  # state -> {"verifier", "nonce", "break"}
SESSION = {}  # the one signed-in user of this test application
LOCK = threading.Lock()


def meta():
    return requests.get(CONFIG["issuer"] + "/.well-known/openid-configuration", timeout=10).json()


def session(**kw):
    return OAuth2Session(
        CONFIG["client_id"],
        CONFIG["client_secret"],
        scope="openid profile email groups offline_access",
        redirect_uri=CONFIG["base"] + "/callback",
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
        **kw,
    )


def error_of(exc):
    """The OAuth error code of an Authlib exception, or its class name."""
    return getattr(exc, "error", None) or type(exc).__name__


def validate_id_token(id_token, nonce, access_token):
    keys = JsonWebKey.import_key_set(requests.get(meta()["jwks_uri"], timeout=10).json())
    claims = jwt.decode(
        id_token,
        keys,
        claims_cls=CodeIDToken,
        claims_options={"iss": {"essential": True, "value": CONFIG["issuer"]}},
        claims_params={"nonce": nonce, "client_id": CONFIG["client_id"], "access_token": access_token},
    )
    claims.validate(leeway=5)
    return dict(claims)


def unsigned(token):
    """The same claims with "alg": "none" and no signature."""
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"at+jwt"}').rstrip(b"=").decode()
    return header + "." + token.split(".")[1] + "."


def callback(query):
    m = meta()
    state = query.get("state", [""])[0]
    with LOCK:
        pending = PENDING.pop(state, None)
    if pending is None:
        return 400, {"error": "unknown state"}
    if "error" in query:
        return 200, {"error": query["error"][0], "state_ok": True, "iss": query.get("iss", [None])[0]}
    if query.get("iss", [None])[0] != CONFIG["issuer"]:
        return 400, {"error": "authorization response from another issuer"}
    here = CONFIG["base"] + "/callback?" + urllib.parse.urlencode({k: v[0] for k, v in query.items()})
    client = session(state=state)
    mode = pending["break"]
    verifier = pending["verifier"]
    if mode == "verifier":
        verifier = generate_token(48)
    redirect = None
    if mode == "redirect":
        redirect = CONFIG["base"] + "/other-callback"
    try:
        token = client.fetch_token(
            m["token_endpoint"],
            authorization_response=here,
            code_verifier=verifier,
            **({"redirect_uri": redirect} if redirect else {}),
        )
    except Exception as exc:  # noqa: BLE001 - the test wants whatever the server said
        return 200, {"error": error_of(exc), "break": mode}
    result = {"break": mode, "scope": token.get("scope")}
    if mode == "reuse":
        try:
            session(state=state).fetch_token(m["token_endpoint"], authorization_response=here, code_verifier=verifier)
            result["second"] = "accepted"
        except Exception as exc:  # noqa: BLE001
            result["second"] = error_of(exc)
        info = requests.get(m["userinfo_endpoint"], headers={"Authorization": "Bearer " + token["access_token"]}, timeout=10)
        result["userinfo_after_replay"] = info.status_code
        return 200, result
    try:
        claims = validate_id_token(token["id_token"], "not-the-nonce" if mode == "nonce" else pending["nonce"], token["access_token"])
    except Exception as exc:  # noqa: BLE001
        return 200, {"error": error_of(exc), "break": mode}
    if mode == "none":
        info = requests.get(m["userinfo_endpoint"], headers={"Authorization": "Bearer " + unsigned(token["access_token"])}, timeout=10)
        return 200, {"break": mode, "userinfo_status": info.status_code}
    info = requests.get(m["userinfo_endpoint"], headers={"Authorization": "Bearer " + token["access_token"]}, timeout=10)
    info.raise_for_status()
    with LOCK:
        SESSION.clear()
        SESSION.update({"token": token, "claims": claims, "userinfo": info.json()})
    result.update({"signed_in": claims.get("preferred_username"), "claims": claims, "userinfo": info.json(), "has_refresh_token": "refresh_token" in token})
    return 200, result


def refresh():
    m = meta()
    with LOCK:
        token = dict(SESSION["token"])
    client = session(token=token)
    first = client.refresh_token(m["token_endpoint"], refresh_token=token["refresh_token"])
    out = {"rotated": first["refresh_token"] != token["refresh_token"]}
    info = requests.get(m["userinfo_endpoint"], headers={"Authorization": "Bearer " + first["access_token"]}, timeout=10)
    out["userinfo_with_new_token"] = info.status_code
    try:
        session().refresh_token(m["token_endpoint"], refresh_token=token["refresh_token"])
        out["old_token"] = "accepted"
    except Exception as exc:  # noqa: BLE001
        out["old_token"] = error_of(exc)
    try:
        session().refresh_token(m["token_endpoint"], refresh_token=first["refresh_token"])
        out["new_token_after_reuse"] = "accepted"
    except Exception as exc:  # noqa: BLE001
        out["new_token_after_reuse"] = error_of(exc)
    info = requests.get(m["userinfo_endpoint"], headers={"Authorization": "Bearer " + first["access_token"]}, timeout=10)
    out["userinfo_after_reuse"] = info.status_code
    return 200, out


def client_credentials():
    m = meta()
    client = OAuth2Session(CONFIG["cc_id"], CONFIG["cc_secret"], scope="https://graph.microsoft.com/.default", token_endpoint_auth_method="client_secret_post")
    token = client.fetch_token(m["token_endpoint"], grant_type="client_credentials")
    users = requests.get(CONFIG["issuer"] + "/v1.0/users", headers={"Authorization": "Bearer " + token["access_token"]}, timeout=10)
    return 200, {"token_type": token.get("token_type"), "users_status": users.status_code, "users": [u["userPrincipalName"] for u in users.json().get("value", [])]}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def send(self, status, body, content_type="application/json", location=None):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        if location:
            self.send_header("Location", location)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def page(self, status, result):
        title = "Signed in as " + result["signed_in"] if result.get("signed_in") else "Result"
        body = "<!doctype html><title>Test application</title><h1 id='who'>%s</h1><pre id='result'>%s</pre>" % (
            html.escape(title),
            html.escape(json.dumps(result)),
        )
        self.send(status, body.encode(), "text/html; charset=utf-8")

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        if self.path == "/configure":
            CONFIG.update(json.loads(body))
            return self.send(200, {"ok": True})
        if self.path == "/callback":
            # response_mode=form_post: the same answer, as a form.
            try:
                return self.page(*callback(urllib.parse.parse_qs(body.decode())))
            except Exception as exc:  # noqa: BLE001
                return self.send(500, {"error": error_of(exc), "detail": str(exc)})
        self.send(404, {"error": "not found"})

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        query = urllib.parse.parse_qs(url.query)
        try:
            if url.path == "/login":
                verifier, nonce = generate_token(48), generate_token(20)
                extra = {k: v[0] for k, v in query.items() if k in ("prompt", "login_hint", "max_age", "response_mode")}
                uri, state = session().create_authorization_url(meta()["authorization_endpoint"], code_verifier=verifier, nonce=nonce, **extra)
                with LOCK:
                    PENDING[state] = {"verifier": verifier, "nonce": nonce, "break": query.get("break", [None])[0]}
                return self.send(302, b"", "text/plain", location=uri)
            if url.path == "/callback":
                return self.page(*callback(query))
            if url.path == "/refresh":
                return self.send(*refresh())
            if url.path == "/client-credentials":
                return self.send(*client_credentials())
            if url.path == "/logout":
                with LOCK:
                    id_token = SESSION["token"]["id_token"]
                params = {"id_token_hint": id_token, "post_logout_redirect_uri": CONFIG["base"] + "/logged-out", "state": "bye-" + generate_token(8)}
                with LOCK:
                    SESSION["logout_state"] = params["state"]
                return self.send(302, b"", "text/plain", location=meta()["end_session_endpoint"] + "?" + urllib.parse.urlencode(params))
            if url.path == "/logged-out":
                with LOCK:
                    ok = query.get("state", [None])[0] == SESSION.get("logout_state")
                return self.page(200, {"logged_out": True, "state_ok": ok})
            return self.send(404, {"error": "not found"})
        except Exception as exc:  # noqa: BLE001 - report, do not hang the test
            return self.send(500, {"error": error_of(exc), "detail": str(exc)})


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    CONFIG["base"] = "http://localhost:%d" % port
    print("ready %d" % port, flush=True)
    threading.Thread(target=lambda: (sys.stdin.read(), server.shutdown()), daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
