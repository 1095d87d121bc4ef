"""A stand-in for NCALayer's local WebSocket: it greets with a version, then answers
`kz.gov.pki.knca.commonUtils.createCAdESFromBase64` by signing the given bytes as CMS with
demo credentials, or as a user who cancels."""

import base64
import json
import threading
from dataclasses import dataclass, field

from websockets.sync.server import Server, ServerConnection, serve

from webapp.signing import PersonCredentials, sign_cms

MODULE, METHOD = "kz.gov.pki.knca.commonUtils", "createCAdESFromBase64"


@dataclass
class NCALayerStandIn:
    """Signs with `credentials` (the key the user would pick), or cancels when `cancel` is set;
    keeps every request it received."""

    credentials: PersonCredentials
    cancel: bool = False
    requests: list[dict] = field(default_factory=list)
    server: Server | None = None

    url: str = ""

    def answer(self, request: dict) -> dict:
        """Return NCALayer's answer to one request."""
        if request.get("module") != MODULE or request.get("method") != METHOD:
            return {"code": "500", "message": "unknown.method"}
        if self.cancel:
            return {"code": "500", "message": "action.canceled"}
        _storage, _key_type, data, attached = request["args"]
        person = self.credentials
        cms = sign_cms(
            base64.b64decode(data), person.certificate, person.private_key, attached=attached
        )
        return {"code": "200", "responseObject": base64.b64encode(cms).decode("ascii")}

    def handle(self, connection: ServerConnection) -> None:
        """Greet a connection, then answer each request on it."""
        connection.send(json.dumps({"result": {"version": "stand-in"}}))
        for message in connection:
            request = json.loads(message)
            self.requests.append(request)
            connection.send(json.dumps(self.answer(request)))

    def start(self) -> "NCALayerStandIn":
        """Listen on a free local port in a background thread."""
        self.server = serve(self.handle, "127.0.0.1", 0)
        self.url = f"ws://127.0.0.1:{self.server.socket.getsockname()[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening (once); connecting is refused from then on."""
        if self.server is not None:
            self.server.shutdown()
            self.server.socket.close()
            self.server = None
