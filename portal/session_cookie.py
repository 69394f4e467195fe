"""Flask's signed-cookie session, minus its work for requests that carry no cookie, and
with its signing serializer made once per key instead of twice per request.

API calls (bearer tokens) and first visits send no session cookie; Flask would still build a
signing serializer to open an empty session and work out every cookie attribute to save it.
"""

from flask.sessions import SecureCookieSessionInterface


class SessionCookie(SecureCookieSessionInterface):
    def __init__(self):
        self._serializers: dict = {}

    def get_signing_serializer(self, app):
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        serializer = self._serializers.get(keys)
        if serializer is None:
            serializer = self._serializers[keys] = super().get_signing_serializer(app)
        return serializer

    def open_session(self, app, request):
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app, session, response):
        if not session and not session.modified and not session.accessed:
            return  # what Flask would do, without computing the cookie's attributes first
        super().save_session(app, session, response)
