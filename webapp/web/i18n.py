"""Languages of the interface: English, Kazakh and Russian, chosen by a cookie.

Catalogues live in `translations/`. After changing texts: `pybabel extract -F babel.cfg -k _l
-o webapp/web/translations/messages.pot .`, then `pybabel update -i ... -d
webapp/web/translations`, translate, and `pybabel compile -d webapp/web/translations` (the
compiled `.mo` files are committed, so the installed product needs no build step).
"""

from flask import Flask, request
from flask_babel import Babel, get_locale

LANGUAGES = {"en": "English", "kk": "Қазақша", "ru": "Русский"}
LANGUAGE_COOKIE = "lang"


def select_locale() -> str:
    """Return the language from the cookie, else the browser's best match, else English."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(list(LANGUAGES)) or "en"


def init_app(app: Flask) -> None:
    """Install Flask-Babel with our catalogues."""
    Babel(app, locale_selector=select_locale, default_translation_directories="translations")
    app.jinja_env.globals.update(LANGUAGES=LANGUAGES, get_locale=get_locale)
