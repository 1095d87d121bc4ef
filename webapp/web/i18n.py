"""Languages of the interface (English, Kazakh and Russian, chosen by a cookie) and local time.

Catalogues live in `translations/`. After changing texts: `pybabel extract -F babel.cfg -k _l
-o webapp/web/translations/messages.pot .`, then `pybabel update -i ... -d
webapp/web/translations`, translate, and `pybabel compile -d webapp/web/translations` (the
compiled `.mo` files are committed, so the installed product needs no build step).

Every time a person reads is in the service's zone (`BABEL_DEFAULT_TIMEZONE`, Asia/Almaty) and
written the way their language writes it, by the one `local_time` filter; what programs read
(exports, the API) stays ISO 8601 with its offset.
"""

from datetime import UTC, date, datetime, tzinfo

from babel import Locale
from babel.dates import format_date, format_skeleton, format_time, get_datetime_format
from flask import Flask, g, request
from flask_babel import Babel, get_locale, get_timezone

LANGUAGES = {"en": "English", "kk": "Қазақша", "ru": "Русский"}
LANGUAGE_COOKIE = "lang"
# Each form of `local_time`: how it writes the day (a CLDR width, or a skeleton the language
# orders) and the time of day (a CLDR width); None leaves that part out.
FORMS = {
    "datetime": ("medium", "short"),
    "precise": ("medium", "medium"),
    "date": ("medium", None),
    "time": (None, "short"),
    "weekday": ("MMMEd", None),
    "day": ("MMMd", None),
}
WIDTHS = ("short", "medium", "long", "full")
NOTHING = "—"


def select_locale() -> str:
    """Return the language from the cookie, else the browser's best match, else English."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(list(LANGUAGES)) or "en"


def reader() -> tuple[Locale, tzinfo]:
    """Return the request's language and the service's zone, resolved once per request."""
    if "time_reader" not in g:
        g.time_reader = (get_locale(), get_timezone())
    return g.time_reader


def local_today() -> date:
    """Return today's date where the service is given."""
    return datetime.now(get_timezone()).date()


def local_moment(value: datetime) -> datetime:
    """Return the moment in the service's zone; a naive value is UTC, as databases keep it."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(reader()[1])


def parsed(value: str) -> date | datetime:
    """Return the day or the moment that ISO 8601 text names."""
    return date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)


def local_time(value: datetime | date | str | None, form: str = "datetime") -> str:
    """Return a moment or a day as the reader writes it, in the service's zone.

    `form` is one of FORMS: "datetime", "precise" (with seconds), "date", "time", "weekday"
    (weekday, day and month) or "day" (day and month); a day has no time of day to show. A
    missing value is a dash; ISO 8601 text is read first, other text (a registry's odd value)
    is shown as it is.
    """
    if value is None or value == "":
        return NOTHING
    if isinstance(value, str):
        try:
            value = parsed(value)
        except ValueError:
            return value
    locale = reader()[0]
    day_form, time_form = FORMS[form]
    moment = local_moment(value) if isinstance(value, datetime) else None
    clock = format_time(moment, time_form, locale=locale) if moment and time_form else ""
    if day_form is None:
        return clock
    day = moment.date() if moment else value
    if day_form in WIDTHS:
        written = format_date(day, day_form, locale=locale)
    else:
        written = format_skeleton(day_form, day, locale=locale)
    if not clock:
        return written
    joined = get_datetime_format(day_form, locale=locale).replace("'", "")
    return joined.replace("{1}", written).replace("{0}", clock)


def init_app(app: Flask) -> None:
    """Install Flask-Babel with our catalogues, and the `local_time` filter."""
    Babel(app, locale_selector=select_locale, default_translation_directories="translations")
    app.jinja_env.globals.update(LANGUAGES=LANGUAGES, get_locale=get_locale)
    app.add_template_filter(local_time)
